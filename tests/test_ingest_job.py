"""The ingest job end to end on hand-made landing files (ingest_fixtures/story.py): versions, pending,
duplicates, re-pricing, exactly-once, reconciliation, and the same silver when batches come in reverse."""
import datetime as dt
import shutil
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from ingest_fixtures.landing import buyer, csv_text, land, order, party
from ingest_fixtures.story import D1, D2, H, land_batch
from tradematch import pipeline
from tradematch.ingest import job as ingest_job
from tradematch.ingest.job import BadBatch, _kept
from tradematch.ingest.silver import valid_at
from tradematch.lake import Lake, LakeError
from tradematch.schema import Catalog, SchemaError
from tradematch.tables import Tables

SILVER = ["orders_history", "orders", "parties", "party_identity", "disputes", "reviews", "fx_rates", "pending",
          "quarantine", "ingest_batches"]
RUN_TIMES = ["quarantined_at", "settled_at"]
INGEST = pipeline.job_named("ingest")


def same(got, expected):
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)


def ingest(spark, settings, lake, as_of, catalog=None, **options):
    day = dt.date.fromisoformat(as_of)
    return pipeline.execute(INGEST, spark, settings, lake, f"run-{as_of}-{len(options)}", day, catalog or Catalog(),
                            options)


def table(spark, lake, name):
    return spark.read.format("delta").load(Tables(spark, lake).path(name))


def silver(spark, lake, name):
    """A silver table without its run times; maps as JSON text, so rows can be sorted and compared."""
    df = table(spark, lake, name)
    df = df.withColumn("fields", F.to_json("fields")) if "fields" in df.columns else df
    return df.drop(*[c for c in RUN_TIMES if c in df.columns])


@pytest.fixture(scope="module")
def forward(spark, settings, tmp_path_factory):
    """The story ingested in order: the history and the first day in one run, the second day the next;
    each run's job_runs record kept by its as-of."""
    lake = Lake(str(tmp_path_factory.mktemp("forward") / "lake"))
    runs = {}
    for batches in ((H, D1), (D2,)):
        for batch in batches:
            land_batch(lake, batch)
        runs[batches[-1]] = ingest(spark, settings, lake, batches[-1])
    return lake, runs


def test_late_version_lands_between_the_known_ones_with_validity(spark, forward):
    lake, _ = forward
    got = silver(spark, lake, "orders_history").where("order_id = 'O1'").select("status", "valid_from", "valid_to")
    t = lambda text: dt.datetime.fromisoformat(text)  # noqa: E731
    expected = spark.createDataFrame([("open", t("2025-03-01T09:00:00"), t("2025-05-10T10:00:00")),
                                      ("open", t("2025-05-10T10:00:00"), t("2025-05-20T10:00:00")),
                                      ("completed", t("2025-05-20T10:00:00"), None)],
                                     "status string, valid_from timestamp, valid_to timestamp")
    same(got, expected)


def test_orders_history_answers_what_was_known_on_a_past_date(spark, forward):
    lake, _ = forward
    history = silver(spark, lake, "orders_history").where("order_id = 'O1'")
    known = {day: [(r.status, r.shipped_date) for r in history.transform(valid_at(dt.datetime.fromisoformat(day))).collect()]
             for day in ("2025-03-01T08:00:00", "2025-05-05T00:00:00", "2025-05-15T00:00:00", "2025-06-01T00:00:00")}
    assert known == {"2025-03-01T08:00:00": [], "2025-05-05T00:00:00": [("open", None)],
                     "2025-05-15T00:00:00": [("open", dt.date(2025, 3, 8))],
                     "2025-06-01T00:00:00": [("completed", dt.date(2025, 3, 8))]}


def test_current_orders_hold_one_row_per_order_priced_in_usd_at_the_order_dates_rate(spark, forward):
    lake, _ = forward
    got = silver(spark, lake, "orders").select("order_id", "status", "hs_chapter", "amount_usd", "batch")
    expected = spark.createDataFrame([
        ("O1", "completed", "44", Decimal("180.00"), dt.date(2025, 6, 1)),   # 1200 CNY at the 03-01 rate 0.15
        ("O2", "open", "44", Decimal("880.00"), dt.date(2025, 6, 1)),        # 800 EUR at 1.10
        ("O3", "open", "44", Decimal("180.00"), dt.date(2025, 6, 1)),        # waited a day for buyer B3
        ("O5", "open", "44", Decimal("180.00"), dt.date(2025, 6, 3)),
        ("O6", "open", "44", Decimal("99.90"), dt.date(2025, 6, 2))],
        "order_id string, status string, hs_chapter string, amount_usd decimal(18,2), batch date")
    same(got, expected)


def test_parties_keep_pii_apart_and_the_newest_version(spark, forward):
    lake, _ = forward
    assert "legal_name" not in table(spark, lake, "parties").columns
    got = silver(spark, lake, "parties").select("party_id", "city", "batch")
    expected = spark.createDataFrame([("P1", "Yiwu", dt.date(2025, 6, 3)), ("B1", "Oakland", dt.date(2025, 6, 1)),
                                      ("B2", "Oakland", dt.date(2025, 6, 1)), ("B3", "Oakland", dt.date(2025, 6, 2))],
                                     "party_id string, city string, batch date")
    same(got, expected)
    identity = table(spark, lake, "party_identity").where("party_id = 'P1'").head()
    assert identity.address == 'No. 5 "Frame" Road\nDongyang'


def test_quarantine_and_pending_hold_the_rest_with_their_rules(spark, forward):
    lake, _ = forward
    quarantined = sorted((r.entity, r.batch.isoformat(), r.record_number, r.rule)
                         for r in table(spark, lake, "quarantine").collect())
    assert quarantined == [("orders", H, 4, "duplicate_record"), ("orders", H, 6, "bad_number"),
                           ("parties", D2, 2, "duplicate_record")]
    waiting = [(r.entity, r.batch.isoformat(), list(r.waiting_for), r.orphan_on.isoformat())
               for r in table(spark, lake, "pending").collect()]
    assert waiting == [("reviews", H, ["orders.order_id=O404"], "2025-06-04")]
    disputes = table(spark, lake, "disputes").select("dispute_id", "claim_amount_usd").collect()
    assert [(d.dispute_id, str(d.claim_amount_usd)) for d in disputes] == [("D1", "45.00")]


def test_every_landed_record_is_accepted_pending_or_quarantined(spark, forward):
    lake, runs = forward
    last = {}
    for run in runs.values():  # a later run re-counts the batches whose records it moved
        last.update(run.metrics)
    batches = {(k.split(".")[1], k.split(".")[2]) for k in last if k.startswith("batch.")}
    for batch, entity in batches:
        m = {p: last[f"batch.{batch}.{entity}.{p}"] for p in ("landed", "accepted", "pending", "quarantined")}
        assert m["landed"] == m["accepted"] + m["pending"] + m["quarantined"], (batch, entity, m)
    assert {k: v for k, v in last.items() if k.startswith(f"batch.{H}.orders")} == {
        f"batch.{H}.orders.landed": 6, f"batch.{H}.orders.accepted": 4, f"batch.{H}.orders.pending": 0,
        f"batch.{H}.orders.quarantined": 2}
    bronze = table(spark, lake, "bronze_records").groupBy("entity", "batch").count()
    ledger = table(spark, lake, "ingest_batches")
    assert ledger.where("landed != accepted + pending + quarantined").count() == 0
    same(ledger.select("entity", "batch", F.col("landed").alias("count")), bronze)
    assert ledger.where(f"entity = 'orders' and batch = '{H}'").head().accepted == 4


def test_extra_landing_column_is_ignored_and_noted(forward):
    _, runs = forward
    assert f"landing/orders/batch={D1}/part-0.csv: extra column(s) channel ignored" in runs[D1].notes


def test_ingesting_again_changes_nothing(spark, settings, forward):
    lake, _ = forward
    tables = Tables(spark, lake)
    before = {n: tables.version(n) for n in [*SILVER, "bronze_records"]}
    run = ingest(spark, settings, lake, D2)
    assert {n: tables.version(n) for n in before} == before
    assert run.rows_written == {} and table(spark, lake, "bronze_records").count() == 20


def test_a_rerun_with_nothing_landed_or_pending_writes_nothing(spark, settings, lake):
    land(lake, "parties", H, [party(), buyer("B1")])
    land(lake, "orders", H, [order()])
    ingest(spark, settings, lake, H)
    assert table(spark, lake, "pending").count() == 0
    run = ingest(spark, settings, lake, H)
    assert run.rows_written == {} and "nothing new to ingest" in run.notes[-1]
    assert table(spark, lake, "orders").count() == 1


def test_batches_in_reverse_order_and_kept_apart_give_the_same_silver(spark, settings, forward, tmp_path, monkeypatch):
    """The backward runs keep their records apart per entity, as a history batch does; the forward runs, a few
    records each, keep them as one frame."""
    monkeypatch.setattr(ingest_job, "APART_FROM", 0)
    lake, _ = forward
    backward = Lake(str(tmp_path / "lake"))
    for batches in ((H, D2), (D1,)):  # the second day lands before the first; the as-of is the newest landed
        for batch in batches:
            land_batch(backward, batch)
        ingest(spark, settings, backward, D2)
    for name in SILVER:
        same(silver(spark, backward, name), silver(spark, lake, name))


def test_a_missing_required_column_stops_the_run_before_anything_is_written(spark, settings, lake):
    land(lake, "parties", H, [party()])
    rows = [order()]
    header = [c for c in rows[0] if c != "amount"]
    land(lake, "orders", H, csv_text("orders", rows, header=header))
    with pytest.raises(SchemaError, match=rf"landing/orders/batch={H}/part-0.csv lacks required column\(s\) amount"):
        ingest(spark, settings, lake, H)
    tables = Tables(spark, lake)
    assert not any(tables.exists(n) for n in ["bronze_records", *SILVER])


def test_a_bad_batch_stops_until_accepted_and_a_fixed_rule_replays_quarantine(spark, settings, lake, tmp_path,
                                                                               test_catalog):
    land(lake, "parties", H, [party(), party(party_id="B1", country="US")])
    land(lake, "orders", H, [order(order_id=f"O{i}", currency="ABC" if i % 5 == 0 else "CNY") for i in range(25)])
    with pytest.raises(BadBatch, match=rf"batch {H}: 5 of 27 records quarantined \(18.5%, limit 10%\): orders 5/25"):
        ingest(spark, settings, lake, H)
    assert table(spark, lake, "bronze_records").count() == 27 and table(spark, lake, "orders").count() == 0

    run = ingest(spark, settings, lake, H, accept_bad_batch=True)
    assert (table(spark, lake, "orders").count(), table(spark, lake, "quarantine").count()) == (20, 5)
    assert run.metrics[f"batch.{H}.orders.quarantined"] == 5 and "published with --accept-bad-batch" in run.notes[-1]

    fixed = tmp_path / "fixed"  # the rule fixed: ABC becomes a known currency
    shutil.copytree(test_catalog.root, fixed)
    with (fixed / "conf" / "reference" / "currencies.csv").open("a") as out:
        out.write("ABC,A test currency\n")
    run = ingest(spark, settings, lake, H, catalog=Catalog(fixed), replay_quarantine=True)
    assert (table(spark, lake, "orders").count(), table(spark, lake, "quarantine").count()) == (25, 0)
    assert run.metrics[f"batch.{H}.orders.accepted"] == 25


def test_a_lake_without_parties_or_orders_is_refused(spark, settings, lake):
    with pytest.raises(LakeError, match="nothing has landed"):
        pipeline.execute(INGEST, spark, settings, lake, "empty", None, Catalog(), {})
    land(lake, "disputes", H, [{"dispute_id": "D1"}], "json")
    with pytest.raises(LakeError, match="no landed batch of required entity 'parties'"):
        ingest(spark, settings, lake, H)


@pytest.mark.parametrize("apart, parts", [(True, 7), (False, 1)])
def test_records_kept_apart_per_entity_are_read_one_entity_at_a_time(spark, apart, parts):
    """Apart, a filter on entity leaves one of the seven persisted parts in the plan; as one frame, the one
    frame. Either way the filtered rows and the whole are the records'."""
    schema = "entity string, record_number long"
    records = spark.createDataFrame([("orders", 1), ("parties", 2), ("orders", 3)], schema)
    together, kept = _kept(records, apart)
    try:
        assert len(kept) == parts
        orders = together.where(F.col("entity") == "orders")
        assert str(orders._jdf.queryExecution().optimizedPlan()).count("InMemoryRelation") == 1
        same(orders, spark.createDataFrame([("orders", 1), ("orders", 3)], schema))
        same(together, records)
    finally:
        for part in kept:
            part.unpersist()
