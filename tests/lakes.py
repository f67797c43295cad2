"""Comparing a table in two lakes, for tests that prove a run (submitted, crashed and rerun, replayed)
wrote what a clean in-process run wrote."""
from __future__ import annotations

from chispa import assert_approx_df_equality
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DecimalType, DoubleType, MapType, StructField, StructType

from tradematch.lake import Lake
from tradematch.schema import Catalog
from tradematch.tables import Tables

# Columns that say when a run did something, so they differ between two equal runs.
RUN_TIME = ("ingested_at", "quarantined_at", "settled_at")


def tables_in(spark, lake: Lake, layers: tuple[str, ...]) -> list[str]:
    """The tables of these layers that exist in the lake."""
    tables = Tables(spark, lake)
    return sorted(n for n, s in Catalog().schemas().items() if s.layer in layers and tables.exists(n))


def assert_same_table(spark, lake: Lake, reference: Lake, name: str) -> None:
    """The current version of `name` holds the same rows in both lakes (run-time columns aside)."""
    actual, expected = (spark.read.format("delta").load(Tables(spark, x).path(name)) for x in (lake, reference))
    assert_approx_df_equality(orderable(actual.drop(*RUN_TIME)), orderable(expected.drop(*RUN_TIME)),
                              precision=1e-9, ignore_row_order=True)


def orderable(df):
    """chispa orders rows by every column and Spark cannot order by a map: a map as its sorted entries.
    Doubles, nested ones too, are rounded to 9 decimals: two runs may sum in another order (last-digit
    noise), and chispa's precision reaches only top-level columns."""
    cols = [F.array_sort(F.map_entries(f.name)).alias(f.name) if isinstance(f.dataType, MapType)
            else F.col(f.name) for f in df.schema.fields]
    out = df.select(cols)
    return out.select([F.col(f.name).cast(_rounded(f.dataType)).alias(f.name) for f in out.schema.fields])


def _rounded(t):
    if isinstance(t, DoubleType):
        return DecimalType(38, 9)
    if isinstance(t, ArrayType):
        return ArrayType(_rounded(t.elementType), t.containsNull)
    if isinstance(t, StructType):
        return StructType([StructField(f.name, _rounded(f.dataType), f.nullable) for f in t.fields])
    return t
