"""Where every landed record of a batch ended: accepted (current or superseded version), pending or
quarantined. A record found in none of them is lost, which the job refuses to hide.

A record counts as accepted when silver's current table holds its key (the current version, or a newer
one that superseded it), as pending or quarantined when those tables hold its landed position.
"""
from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tradematch.ingest.settle import ID
from tradematch.ingest.values import field
from tradematch.keys import among_batch_keys

PLACES = ("accepted", "pending", "quarantined", "lost")


def places(records: DataFrame, quarantine: DataFrame, pending: DataFrame,
           current: dict[str, tuple[DataFrame, list[str]]]) -> DataFrame:
    """(entity, batch, landed, accepted, pending, quarantined, lost) for the bronze records given."""
    found = []
    for entity, (table, keys) in current.items():
        names = [f"_k{i}" for i in range(len(keys))]
        rows = records.where(F.col("entity") == entity).select(
            *ID, *[field(k).alias(n) for k, n in zip(keys, names)])
        held = among_batch_keys(table.select(*[F.col(k).cast("string").alias(n) for k, n in zip(keys, names)]),
                                rows.select(*names), names).distinct()
        found.append(rows.join(held.withColumn("_held", F.lit(True)), names, "left").select(*ID, "_held"))
    place = (F.when(F.col("_q"), "quarantined").when(F.col("_p"), "pending")
             .when(F.col("_held"), "accepted").otherwise("lost"))
    located = (reduce(DataFrame.unionByName, found)
               .join(quarantine.select(*ID, F.lit(True).alias("_q")), ID, "left")
               .join(pending.select(*ID, F.lit(True).alias("_p")), ID, "left")
               .withColumn("place", place))
    return located.groupBy("entity", "batch").agg(
        F.count("*").alias("landed"), *[F.sum((F.col("place") == p).cast("long")).alias(p) for p in PLACES])
