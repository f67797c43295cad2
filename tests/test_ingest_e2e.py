"""Ingest on the generated world (2% dirty records, a history batch and three daily ones): every record
the generator dirtied is quarantined under the rule its ledger names, no good record is held back, and
silver has one current row per generated order."""
import shutil

from tradematch import pipeline
from tradematch.evaluate.ingest import section
from tradematch.lake import Lake
from tradematch.schema import Catalog
from tradematch.tables import Tables


def test_generated_world_ingests_with_every_dirty_record_caught_and_no_good_one_lost(spark, settings, generated_lake,
                                                                                     tmp_path):
    source, world = generated_lake
    lake = Lake(str(tmp_path / "lake"))
    for part in ("landing", "truth"):  # the shared world stays read-only
        shutil.copytree(source.path(part), lake.path(part))
    pipeline.execute(pipeline.job_named("ingest"), spark, settings, lake, "e2e", world["as_of"], Catalog(), {})
    result = section(Tables(spark, lake))
    injected = result["dirty_rows_injected"]
    assert injected > 0
    assert result == {"dirty_rows_injected": injected, "dirty_rows_quarantined_with_right_rule": injected,
                      "good_rows_lost": 0, "duplicate_orders_in_silver": 0}
    orders = spark.read.format("delta").load(lake.path("silver", "orders"))
    assert orders.count() == world["orders_generated"]
