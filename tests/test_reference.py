"""The DuckDB reference run of party_market_monthly (benchmark, issue 9) gives the history job's rows."""
import datetime as dt
from decimal import Decimal as Dec
from pathlib import Path

import pytest
from conftest import WORLD_AS_OF
from test_history import _story, _version

from tradematch import history, reference
from tradematch.reliability import load_conf
from tradematch.schema import Catalog
from tradematch.tables import Tables

D = dt.date.fromisoformat


def test_duckdb_gives_the_rows_of_the_history_job_on_the_pipeline_lake(spark, pipeline_lake, tmp_path):
    lookback = int(load_conf()["repeat_lookback_months"])
    table = Tables(spark, pipeline_lake).read(history.MONTHLY)  # one run as of WORLD_AS_OF: a full build
    assert {r[0] for r in table.select("computed_as_of").distinct().collect()} == {D(WORLD_AS_OF)}
    out = str(tmp_path / "monthly.parquet")
    seconds, rows = reference.duckdb_monthly(pipeline_lake.root, D(WORLD_AS_OF), lookback, out)
    assert seconds > 0 and rows == table.count() > 0
    assert reference.same_rows(spark, table, out) == []
    assert reference.same_rows(spark, table, out, ignore=()) == []  # computed_as_of too


def _edge_cases(spark):
    """The history story plus a repeat counterpart 12 months on and one 13 months on (no repeat), an order
    without an FX rate, and a dispute the supplier wins later than the early as-ofs."""
    orders, disputes, reviews = _story(spark)
    cat = Catalog()
    struct = cat.schema("orders_history").struct
    more = spark.createDataFrame([{c: r[c] for c in struct.fieldNames()} for r in [
        _version("O4", "B1", "S1", "2027-03-02", "2027-03-02T08:00:00", None, None, amount=Dec("12.00"),
                 currency="TRY", status="cancelled_by_buyer"),
        _version("O5", "B2", "S1", "2027-02-15", "2027-02-15T08:00:00", "2027-03-01T00:00:00", Dec("7.50")),
        _version("O5", "B2", "S1", "2027-02-15", "2027-03-01T00:00:00", None, Dec("7.50"), shipped_date="2027-03-01",
                 paid_date="2027-06-30", status="completed"),
    ]], struct)
    dispute = spark.createDataFrame([{
        "dispute_id": "D2", "order_id": "O3", "opened_by": "supplier", "reason": "contract_breach",
        "opened_on": D("2026-02-22"), "closed_on": D("2027-01-10"), "outcome": "supplier_favoured",
        "claim_amount": None, "currency": None, "claim_amount_usd": None, "batch": D("2027-01-10"),
        "record_hash": "D2"}], cat.schema("disputes").struct)
    return orders.unionByName(more), disputes.unionByName(dispute), reviews


@pytest.fixture(scope="module")
def edge_cases(spark, tmp_path_factory):
    """The edge cases as Spark frames and as Parquet files per silver table, written once."""
    root = tmp_path_factory.mktemp("edge_cases")
    frames = dict(zip(reference.SILVER, (df.cache() for df in _edge_cases(spark))))
    for name, df in frames.items():
        df.coalesce(1).write.parquet(str(root / name))
    return frames, {name: sorted(str(p) for p in (root / name).glob("*.parquet")) for name in frames}


@pytest.mark.parametrize("as_of", ["2026-02-21", "2026-03-15", "2027-03-31"],
                         ids=["later_versions_ignored", "dispute_still_open", "repeat_boundary_and_no_fx_rate"])
def test_duckdb_gives_the_rows_of_history_build_on_hand_made_edge_cases(spark, edge_cases, tmp_path, as_of):
    frames, files = edge_cases
    out = str(tmp_path / "monthly.parquet")
    _, rows = reference.monthly_from_files(files, D(as_of), 12, out)
    expected = history.build(frames["orders_history"], frames["disputes"], frames["reviews"], D(as_of), 12)
    assert rows == expected.count()
    assert reference.same_rows(spark, expected, out, ignore=()) == []


def test_rows_hidden_by_deletion_vectors_are_read_as_delta_reads_them(spark, tmp_path):
    """DuckDB over a table's Parquet files would read the rows a deletion vector hides: such a table's rows
    come through deltalake's reader instead (a, b, c written; b deleted: a and c remain)."""
    from deltalake import DeltaTable

    path = str(tmp_path / "t")
    spark.createDataFrame([("a",), ("b",), ("c",)], "order_id string").coalesce(1).write.format("delta").save(path)
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
    assert not reference._hides_rows(DeltaTable(path))  # the feature alone hides nothing: files are read
    spark.sql(f"DELETE FROM delta.`{path}` WHERE order_id = 'b'")
    table = DeltaTable(path)
    assert len(table.file_uris()) == 1 and reference._hides_rows(table)
    assert sorted(reference._visible_rows(table, ["order_id"]).column("order_id").to_pylist()) == ["a", "c"]
