"""Hostile landing files: ingest never crashes, and every record of them ends accepted, pending or
quarantined, with the counts in job_runs. Then the same batch ingested four more times changes nothing."""
import datetime as dt
import random
import shutil

import pytest
from pyspark.sql import functions as F

from tradematch import pipeline
from tradematch.lake import Lake
from tradematch.schema import Catalog
from tradematch.tables import Tables

BATCH = "2026-11-21"


def _hostile_files(header: str, rows: list[list[str]]) -> dict[str, tuple[bytes, int]]:
    """name -> (bytes, records Spark finds in it). Rows are good orders with new ids; some get a bad value."""
    columns = header.split(",")

    def row(i, **change):
        r = list(rows[i % len(rows)])
        r[0] = f"OH{BATCH.replace('-', '')}{i:04d}"
        for k, v in change.items():
            r[columns.index(k)] = v
        return ",".join(r)

    garbage = bytes(random.Random(3).getrandbits(8) for _ in range(4096))
    quoted = row(4, status='"com""plet\ned"')  # a quote and a line end inside a quoted field
    return {
        "random_bytes.csv": (garbage, None),  # as many records as its bytes hold line ends
        "truncated.csv": (f"{header}\n{row(1)}\n{row(2)[:40]}".encode(), 2),
        "semicolons.csv": (f"{header}\n{row(3)}\n".replace(",", ";").encode(), 2),  # header and row, as lines
        "quoted.csv": (f"{header}\n{quoted}\n{row(5)}\n".encode(), 2),
        "bom.csv": (f"\ufeff{header}\n{row(6)}\n".encode("utf-8"), 1),
        "cr_only.csv": (f"{header}\r{row(7)}\r{row(8)}\r".encode(), 2),
        "enormous.csv": (f"{header}\n{row(9, status='x' * 3_000_000)}\n".encode(), 1),
        "latin1.csv": (f"{header}\n{row(10, status='cancelled café')}\n".encode("latin-1"), 1),
        "empty.csv": (b"", 0),
        "header_only.csv": (f"{header}\n".encode(), 0),
        "not_json.json": (b"this is { not json\n[1, 2\n", 2),
    }


@pytest.fixture(scope="module")
def hostile(spark, settings, pipeline_lake, tmp_path_factory):
    """A copy of the run lake with a batch of hostile order files, ingested five times."""
    lake = Lake(str(tmp_path_factory.mktemp("hostile") / "lake"))
    shutil.copytree(pipeline_lake.root, lake.root)
    landing = lake.local_root / "landing" / "orders"
    sample = next(landing.glob("batch=*/*.csv")).read_text().splitlines()
    files = _hostile_files(sample[0], [line.split(",") for line in sample[1:12]])
    folder = landing / f"batch={BATCH}"
    folder.mkdir()
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
    as_of = dt.date.fromisoformat(BATCH)
    runs, versions = [], []
    for i in range(5):
        options = {"accept_bad_batch": True}  # nearly all of it is quarantined, past the batch limit
        runs.append(pipeline.execute(pipeline.job_named("ingest"), spark, settings, lake, f"hostile-{i}", as_of,
                                     Catalog(), options))
        versions.append(_versions(spark, lake))
    return lake, files, runs, versions


def _versions(spark, lake):
    tables = Tables(spark, lake)
    names = [n for n, s in Catalog().schemas().items() if s.layer in ("bronze", "silver")]
    return {n: tables.version(n) for n in names if tables.exists(n)}


def test_every_hostile_record_is_accepted_pending_or_quarantined(spark, hostile):
    lake, files, _, _ = hostile
    ledger = spark.read.format("delta").load(lake.path("ops", "job_runs")).where("run_id = 'hostile-0'")
    (metrics,) = [r.metrics for r in ledger.collect()]  # the one job_runs row of the first ingest
    places = {p: metrics.get(f"batch.{BATCH}.orders.{p}", 0) for p in ("landed", "accepted", "pending", "quarantined")}
    bronze = Tables(spark, lake).read("bronze_records").where(F.col("batch") == F.lit(BATCH))
    per_file = {r.source_file: r["count"] for r in bronze.groupBy("source_file").count().collect()}  # a row per file
    assert places["landed"] == sum(per_file.values()) > 0
    assert places["landed"] == places["accepted"] + places["pending"] + places["quarantined"]
    for name, (_, records) in files.items():
        assert per_file.get(name, 0) == (records if records is not None else per_file[name]), name
    assert per_file["random_bytes.csv"] >= 1


def test_unreadable_and_empty_files_are_named_in_the_run_notes(hostile):
    notes = "\n".join(hostile[2][0].notes)
    for name in ("random_bytes.csv", "semicolons.csv"):
        assert f"batch={BATCH}/{name}: its header names no column" in notes
    assert f"batch={BATCH}/empty.csv: ignored (empty file)" in notes


def test_a_byte_order_mark_and_cr_line_ends_do_not_stop_good_records(spark, hostile):
    lake = hostile[0]
    orders = Tables(spark, lake).read("orders").where(F.col("batch") == F.lit(BATCH))
    accepted = {r.order_id for r in orders.select("order_id").collect()}  # a handful of rows
    assert {f"OH{BATCH.replace('-', '')}{i:04d}" for i in (6, 7, 8)} <= accepted


def test_quarantine_keeps_the_unparsable_lines_whole(spark, hostile):
    lake = hostile[0]
    quarantine = Tables(spark, lake).read("quarantine").where(F.col("batch") == F.lit(BATCH))
    rules = {(r.source_file, r.rule) for r in quarantine.select("source_file", "rule").distinct().collect()}
    assert ("semicolons.csv", "malformed_record") in rules and ("not_json.json", "malformed_record") in rules
    assert ("random_bytes.csv", "malformed_record") in rules


def test_the_same_batch_ingested_five_times_equals_once(hostile):
    _, _, runs, versions = hostile
    assert all(v == versions[0] for v in versions[1:])
    assert all(not r.rows_written for r in runs[1:])
    assert all(any("nothing new to ingest" in n for n in r.notes) for r in runs[1:])
