"""Where a record goes, decided from the record, every landed record and the as-of only: pending until the
grace period ends, then an orphan, accepted whenever its parent has landed; the first landed copy of a
content is the one accepted, whatever order the copies arrived in."""
import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from ingest_fixtures.landing import ORDER, REVIEW
from tradematch.ingest import settle
from tradematch.ingest.policy import load_policy
from tradematch.keys import lookup
from tradematch.schema import Catalog

D = dt.date.fromisoformat
RECORD = ("entity string, batch date, source_file string, record_number bigint, record_hash string, "
          "raw_record string, fields map<string,string>, previous string, quarantined_at timestamp")


def records(spark, rows):
    """rows: (entity, batch, file, number, hash, fields)."""
    return spark.createDataFrame([(e, D(b), f, n, h, None, fields, None, None) for e, b, f, n, h, fields in rows],
                                 RECORD)


def decided(spark, rows, entity, as_of, arrived_orders=()):
    recs = records(spark, rows)
    orders = spark.createDataFrame([(o,) for o in arrived_orders], "order_id string")
    arrived = {"orders": ("order_id", settle.arrived_ids("orders", "order_id", orders, [recs])),
               "parties": ("party_id", spark.createDataFrame([("B1",), ("P1",)], "id string"))}
    missing = {parent: (column, settle.missing_ids(settle.referenced_ids(recs, load_policy(), parent, column),
                                                   column, ids)) for parent, (column, ids) in arrived.items()}
    out = settle.decide(recs, settle.first_copies(recs), missing, entity, Catalog().landing(entity),
                        load_policy(), D(as_of))
    return out.select("batch", "record_number", "outcome", "rule", "waiting_for")


@pytest.mark.parametrize("as_of,outcome,rule", [("2025-06-01", "pending", None), ("2025-06-03", "pending", None),
                                                ("2025-06-04", "quarantined", "orphan_reference")])
def test_a_child_waits_out_its_grace_period_then_is_an_orphan(spark, as_of, outcome, rule):
    got = decided(spark, [("reviews", "2025-06-01", "r.json", 1, "h1", REVIEW)], "reviews", as_of).head()
    assert (got.outcome, got.rule, list(got.waiting_for)) == (outcome, rule, ["orders.order_id=O1"])


def test_a_child_is_accepted_once_its_parent_has_landed_even_after_its_grace(spark):
    got = decided(spark, [("reviews", "2025-06-01", "r.json", 1, "h1", REVIEW)], "reviews", "2025-06-30",
                  arrived_orders=["O1"]).head()
    assert (got.outcome, got.rule, list(got.waiting_for)) == ("accepted", None, [])


def test_a_parent_landing_in_the_same_run_counts_as_arrived(spark):
    rows = [("reviews", "2025-06-01", "r.json", 1, "h1", REVIEW), ("orders", "2025-06-02", "o.csv", 1, "h2", ORDER)]
    assert decided(spark, rows, "reviews", "2025-06-02").head().outcome == "accepted"


def test_the_first_landed_copy_is_accepted_and_later_copies_are_duplicates(spark):
    rows = [("orders", "2025-06-02", "a.csv", 1, "same", ORDER), ("orders", "2025-06-01", "b.csv", 7, "same", ORDER),
            ("orders", "2025-06-01", "b.csv", 9, "same", ORDER), ("orders", "2025-06-01", "b.csv", 8, "other", ORDER)]
    got = decided(spark, rows, "orders", "2025-06-02").select("batch", "record_number", "outcome", "rule")
    expected = spark.createDataFrame([(D("2025-06-02"), 1, "quarantined", "duplicate_record"),
                                      (D("2025-06-01"), 7, "accepted", None),
                                      (D("2025-06-01"), 9, "quarantined", "duplicate_record"),
                                      (D("2025-06-01"), 8, "accepted", None)],
                                     "batch date, record_number bigint, outcome string, rule string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_rows_kept_are_those_not_decided_again(spark):
    table = records(spark, [("orders", "2025-06-01", "a.csv", n, "h", ORDER) for n in (1, 2)])
    again = records(spark, [("orders", "2025-06-01", "a.csv", 2, "h", ORDER)])
    assert [r.record_number for r in settle.keep_others(table, again).collect()] == [1]
    assert settle.keep_others(table, again).where(F.col("record_number") == 2).count() == 0


def test_a_decision_looks_up_only_the_parent_ids_its_records_name(spark):
    rows = [("orders", "2025-06-01", "o.csv", 1, "h1", ORDER), ("reviews", "2025-06-01", "r.json", 1, "h2", REVIEW),
            ("rfqs", "2025-06-01", "q.csv", 1, "h3", {"buyer_id": "B9"}), ("rfqs", "2025-06-01", "q.csv", 2, "h4", {})]
    parties = settle.referenced_ids(records(spark, rows), load_policy(), "parties", "party_id")
    assert sorted(r.party_id for r in parties.collect()) == ["B1", "B9", "P1"]  # the order's two, the RFQ's one
    orders = settle.referenced_ids(records(spark, rows), load_policy(), "orders", "order_id")
    assert [r.order_id for r in orders.collect()] == ["O1"]  # the review's


def test_only_referenced_ids_that_have_not_landed_are_missing(spark):
    referenced = spark.createDataFrame([("B1",), ("B9",), ("B9",), ("P1",)], "party_id string")
    arrived = spark.createDataFrame([("B1",), ("P1",), ("P7",)], "id string")
    assert [r.id for r in settle.missing_ids(referenced, "party_id", arrived).collect()] == ["B9"]


def test_only_contents_landed_more_than_once_have_a_first_copy(spark):
    rows = records(spark, [("orders", "2025-06-02", "a.csv", 1, "same", ORDER),
                           ("orders", "2025-06-01", "b.csv", 7, "same", ORDER),
                           ("orders", "2025-06-01", "b.csv", 8, "once", ORDER)])
    got = settle.first_copies(rows).select("record_hash", "_first.*")
    expected = spark.createDataFrame([("same", D("2025-06-01"), "b.csv", 7)],
                                     "record_hash string, batch date, source_file string, record_number bigint")
    assert_df_equality(got, expected, ignore_nullable=True)


def test_a_decision_looks_up_copies_and_missing_parents_without_shuffling_its_records(spark):
    before = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")  # only lookup()'s hint may broadcast
    try:
        recs = records(spark, [("reviews", "2025-06-01", "r.json", 1, "h1", REVIEW),
                               ("reviews", "2025-06-01", "r.json", 2, "h1", REVIEW)])
        none = spark.createDataFrame([], "id string")
        missing = {p: (c, lookup(settle.missing_ids(settle.referenced_ids(recs, load_policy(), p, c), c, none)))
                   for p, c in (("orders", "order_id"), ("parties", "party_id"))}
        out = settle.decide(recs, lookup(settle.first_copies(recs)), missing, "reviews",
                            Catalog().landing("reviews"), load_policy(), D("2025-06-01"))
        plan = out._jdf.queryExecution().executedPlan().toString()
        assert "BroadcastHashJoin" in plan and "SortMergeJoin" not in plan
        assert sorted((r.record_number, r.outcome, r.rule) for r in out.collect()) == [
            (1, "pending", None), (2, "quarantined", "duplicate_record")]
    finally:
        spark.conf.set("spark.sql.autoBroadcastJoinThreshold", before)


def test_a_few_batches_are_read_from_their_partitions_alone(spark, tmp_path):
    """A join with the (checkpointed) batches prunes no partition: bronze's every landed field was read."""
    records(spark, [("orders", "2025-06-01", "a.csv", 1, "h1", ORDER), ("orders", "2025-06-02", "b.csv", 1, "h2", ORDER),
                    ("reviews", "2025-06-02", "r.json", 1, "h3", REVIEW)]
            ).write.partitionBy("entity", "batch").parquet(str(tmp_path / "bronze"))
    bronze = spark.read.parquet(str(tmp_path / "bronze"))
    batches = spark.createDataFrame([("orders", D("2025-06-02")), ("orders", D("2025-06-02"))],
                                    "entity string, batch date").localCheckpoint()
    got = bronze.where(settle.in_batches(batches))
    assert [(r.entity, r.batch, r.source_file) for r in got.collect()] == [("orders", D("2025-06-02"), "b.csv")]
    scan = got._jdf.queryExecution().executedPlan().toString()
    assert "PartitionFilters: [" in scan and "PartitionFilters: []" not in scan
    assert "Join" not in scan
    assert bronze.where(settle.in_batches(batches.limit(0))).count() == 0


def test_the_tally_counts_decisions_per_batch_entity_previous_place_and_outcome(spark):
    schema = "entity string, batch date, previous string, outcome string"
    decisions = spark.createDataFrame([
        ("orders", D("2025-06-01"), None, "accepted"), ("orders", D("2025-06-01"), None, "accepted"),
        ("orders", D("2025-06-01"), "pending", "accepted"), ("orders", D("2025-06-02"), None, "quarantined"),
        ("reviews", D("2025-06-01"), None, "accepted")], schema)
    expected = spark.createDataFrame([
        ("orders", D("2025-06-01"), None, "accepted", 2), ("orders", D("2025-06-01"), "pending", "accepted", 1),
        ("orders", D("2025-06-02"), None, "quarantined", 1), ("reviews", D("2025-06-01"), None, "accepted", 1)],
        schema + ", records bigint")
    assert_df_equality(settle.tally(decisions), expected, ignore_row_order=True, ignore_nullable=True)
