"""The README's list of gold tables for BI users, rendered from schemas/gold/*.json.

Each table's grain (its keys), partitioning, comment and columns' meaning come from its schema file, so
the README stays true as gold tables are added: `python -m tradematch.bi_readme --write` rewrites the
part of README.md between the markers, and a test fails when the README differs from the rendering.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tradematch.schema import Catalog, TableSchema
from tradematch.settings import project_root

BEGIN = "<!-- gold tables: generated from schemas/gold/*.json by `python -m tradematch.bi_readme --write` -->"
END = "<!-- end of the generated gold tables -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(schema: TableSchema) -> str:
    grain = ", ".join(f"`{k}`" for k in schema.keys) or "no key (one row per event)"
    parts = f"; partitioned by {', '.join(f'`{p}`' for p in schema.partition_by)}" if schema.partition_by else ""
    rows = [f"| `{f.name}` | {f.dataType.simpleString()}{'' if f.nullable else ', not null'} | "
            f"{_cell(f.metadata['comment'])} |" for f in schema.struct.fields]
    return "\n".join([f"#### `{schema.name}`", "", schema.comment, "",
                      f"One row per {grain}{parts}.", "",
                      "| column | type | meaning |", "|---|---|---|", *rows])


def render(catalog: Catalog) -> str:
    """The generated block, markers included."""
    gold = sorted((s for s in catalog.schemas().values() if s.layer == "gold"), key=lambda s: s.name)
    return "\n\n".join([BEGIN, *(_table(s) for s in gold), END])


def generated_part(readme: str) -> str:
    """The block between the markers as it stands in the README ('' when the markers are missing)."""
    start, end = readme.find(BEGIN), readme.find(END)
    return readme[start:end + len(END)] if 0 <= start < end else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradematch.bi_readme", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite README.md's block (default: print it)")
    args = parser.parse_args(argv)
    text = render(Catalog())
    if not args.write:
        print(text)
        return 0
    readme = project_root() / "README.md"
    current = readme.read_text()
    old = generated_part(current)
    if not old:
        print(f"{readme}: no generated block ({BEGIN} ... {END}) to rewrite", file=sys.stderr)
        return 2
    readme.write_text(current.replace(old, text))
    print(f"{readme}: gold tables rewritten from {Path('schemas/gold')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
