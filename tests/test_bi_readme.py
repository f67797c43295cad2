"""The README's gold tables are exactly what schemas/gold/*.json render to."""
from tradematch.bi_readme import BEGIN, END, generated_part, render
from tradematch.schema import Catalog
from tradematch.settings import project_root


def test_the_readme_lists_every_gold_table_as_its_schema_file_says():
    readme = (project_root() / "README.md").read_text()
    assert generated_part(readme) == render(Catalog()), \
        "README.md's gold tables differ from schemas/gold: run `.venv/bin/python -m tradematch.bi_readme --write`"


def test_the_rendering_names_each_gold_table_its_grain_and_every_column(test_catalog):
    text = render(test_catalog)
    assert text.startswith(BEGIN) and text.endswith(END)
    gold = [s for s in test_catalog.schemas().values() if s.layer == "gold"]
    assert gold
    for schema in gold:
        assert f"#### `{schema.name}`\n\n{schema.comment}\n" in text
        assert "One row per " + ", ".join(f"`{k}`" for k in schema.keys) in text
        for field in schema.struct.fields:
            assert f"| `{field.name}` | {field.dataType.simpleString()}" in text
    assert "buyer \\| supplier" in text  # a pipe inside a comment does not break the Markdown table
