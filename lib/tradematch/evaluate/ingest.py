"""The ingest section of the evaluation: the generator's dirty records against what ingest did with them.

Records are matched by (entity, batch, record_hash) as multisets, since an exact duplicate and its
original share a hash: the ledger holds one row per extra copy, and so does quarantine. A malformed
record did not parse into values, so it is matched by (entity, batch) only.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tradematch.evaluate import MissingInput
from tradematch.tables import Tables

MALFORMED = "malformed_record"


def section(tables: Tables) -> dict:
    spark, lake = tables.spark, tables.lake
    for name in ("quarantine", "pending", "orders"):
        if not tables.exists(name):
            raise MissingInput(f"no silver {name} table: run `tradematch job ingest` first")
    truth_path = lake.path("truth", "dirty_records")
    truth = (spark.read.format("delta").load(truth_path)
             .select("entity", F.col("batch").cast("date").alias("batch"), "record_hash", "rule"))
    read = lambda name: spark.read.format("delta").load(tables.path(name))  # noqa: E731
    quarantined = read("quarantine").select("entity", "batch", "record_hash", "rule")
    waiting = read("pending").select("entity", "batch", "record_hash", F.lit(None).cast("string").alias("rule"))
    right = (_counted(truth, ["rule"], "injected").join(_counted(quarantined, ["rule"], "caught"), [*_KEY, "rule"])
             .agg(F.sum(F.least("injected", "caught"))).head()[0])
    not_accepted = _counted(quarantined.unionByName(waiting), [], "out")
    lost = (not_accepted.join(_counted(truth, [], "dirty"), _KEY, "left")
            .agg(F.sum(F.greatest(F.col("out") - F.coalesce("dirty", F.lit(0)), F.lit(0)))).head()[0])
    orders = read("orders").agg((F.count("*") - F.count_distinct("order_id")).alias("extra")).head()
    return {"dirty_rows_injected": truth.count(), "dirty_rows_quarantined_with_right_rule": int(right or 0),
            "good_rows_lost": int(lost or 0), "duplicate_orders_in_silver": int(orders.extra)}


_KEY = ["entity", "batch", "_content"]


def _counted(df: DataFrame, by: list[str], name: str) -> DataFrame:
    """Counts per entity, batch and content (the hash; for a malformed record, the rule's name)."""
    content = F.when(F.col("rule") == MALFORMED, F.lit(MALFORMED)).otherwise(F.col("record_hash"))
    return df.withColumn("_content", content).groupBy(*_KEY, *by).agg(F.count("*").alias(name))
