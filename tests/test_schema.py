import json

import pytest
from pyspark.sql import types as T

from tradematch.schema import Catalog, SchemaError, addable_columns, describe_difference, parse_type, read_schema_file


def test_parse_type_reads_nested_types():
    assert parse_type("map<string,bigint>") == T.MapType(T.StringType(), T.LongType(), True)
    assert parse_type("decimal(18, 2)") == T.DecimalType(18, 2)
    assert parse_type("array<struct<a:string,b:map<string,int>>>") == T.ArrayType(T.StructType([
        T.StructField("a", T.StringType()), T.StructField("b", T.MapType(T.StringType(), T.IntegerType()))]))
    with pytest.raises(SchemaError, match="unknown column type 'strang'"):
        parse_type("strang")


def test_every_shipped_schema_file_loads_with_a_comment_per_column():
    schemas = Catalog().schemas()
    assert {"job_runs", "dq_results"} <= set(schemas)
    for schema in schemas.values():
        assert all(f.metadata["comment"].strip() for f in schema.struct.fields), schema.name


def test_schema_file_that_does_not_parse_is_named(tmp_path):
    bad = tmp_path / "schemas" / "gold" / "broken.json"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"table": "broken", "columns": [')
    with pytest.raises(SchemaError, match=r"broken\.json: schema file does not parse"):
        Catalog(tmp_path).schemas()


def test_column_without_comment_is_refused(tmp_path):
    file = tmp_path / "gold" / "t.json"
    file.parent.mkdir()
    file.write_text(json.dumps({"table": "t", "columns": [{"name": "a", "type": "string"}]}))
    with pytest.raises(SchemaError, match="needs name, type and comment"):
        read_schema_file(file)


@pytest.mark.parametrize("properties", [{"enableDeletionVectors": "true"}, {"delta.enableDeletionVectors": True}])
def test_table_properties_must_be_delta_properties_with_string_values(tmp_path, properties):
    file = tmp_path / "silver" / "t.json"
    file.parent.mkdir()
    file.write_text(json.dumps({"table": "t", "properties": properties,
                                "columns": [{"name": "a", "type": "string", "comment": "A"}]}))
    with pytest.raises(SchemaError, match=r"t\.json: properties must map delta\.\* table properties to strings"):
        read_schema_file(file)


def test_the_big_silver_tables_a_daily_merge_updates_turn_deletion_vectors_on():
    """A daily MERGE changes a few thousand rows spread over every file of these tables (the orders over the
    newest months' files; disputes, reviews and rfqs, unpartitioned, over all of theirs): with deletion
    vectors Delta writes those rows, not the whole files again."""
    schemas = Catalog().schemas()
    assert ({n for n, s in schemas.items() if s.properties}
            == {"orders_history", "orders", "disputes", "reviews", "rfqs"})
    assert schemas["orders_history"].properties == (("delta.enableDeletionVectors", "true"),)


def test_difference_and_addable_columns():
    table = T.StructType([T.StructField("a", T.StringType(), False), T.StructField("b", T.LongType())])
    grown = T.StructType([*table.fields, T.StructField("c", T.DateType(), True)])
    retyped = T.StructType([table.fields[0], T.StructField("b", T.StringType())])
    assert describe_difference(table, table) == []
    assert [f.name for f in addable_columns(table, grown)] == ["c"]
    assert addable_columns(table, retyped) is None
    assert describe_difference(table, retyped) == ["column 'b' is bigint in the table, string in the file"]
    required = T.StructType([*table.fields, T.StructField("c", T.DateType(), False)])
    assert addable_columns(table, required) is None
