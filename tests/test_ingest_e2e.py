"""Ingest on the generated world (2% dirty records, a history batch and three daily ones): every record
the generator dirtied is quarantined under the rule its ledger names, no good record is held back, and
silver has one current row per generated order."""
from tradematch.evaluate.ingest import section
from tradematch.tables import Tables


def test_generated_world_ingests_with_every_dirty_record_caught_and_no_good_one_lost(spark, ingested_lake):
    lake, world = ingested_lake  # the generated world, ingested once for the session
    result = section(Tables(spark, lake))
    injected = result["dirty_rows_injected"]
    assert injected > 0
    assert result == {"dirty_rows_injected": injected, "dirty_rows_quarantined_with_right_rule": injected,
                      "good_rows_lost": 0, "duplicate_orders_in_silver": 0}
    orders = spark.read.format("delta").load(lake.path("silver", "orders"))
    assert orders.count() == world["orders_generated"]
