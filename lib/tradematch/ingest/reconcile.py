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
    """(entity, batch, landed, accepted, pending, quarantined, lost) for the bronze records given.

    Every entity's keys are looked up at once, as text under shared names (`_k0`, `_k1`, ...; an entity with
    fewer keys pads them with ""): a daily batch's keys are set aside and broadcast once for all its silver
    tables, not once per table, each a handful of small Spark jobs."""
    width = max(len(keys) for _, keys in current.values())
    names = [f"_k{i}" for i in range(width)]

    def keyed(cols: list) -> list:
        return [c.alias(n) for c, n in zip([*cols, *[F.lit("")] * (width - len(cols))], names)]

    rows = reduce(DataFrame.unionByName, [records.where(F.col("entity") == e)
                                          .select(*ID, *keyed([field(k) for k in keys]))
                                          for e, (_, keys) in current.items()])
    held = reduce(DataFrame.unionByName, [table.select(F.lit(e).alias("entity"),
                                                       *keyed([F.col(k).cast("string") for k in keys]))
                                          for e, (table, keys) in current.items()])
    held = among_batch_keys(held, rows.select("entity", *names), ["entity", *names]).distinct()
    place = (F.when(F.col("_q"), "quarantined").when(F.col("_p"), "pending")
             .when(F.col("_held"), "accepted").otherwise("lost"))
    located = (rows.join(held.withColumn("_held", F.lit(True)), ["entity", *names], "left").select(*ID, "_held")
               .join(quarantine.select(*ID, F.lit(True).alias("_q")), ID, "left")
               .join(pending.select(*ID, F.lit(True).alias("_p")), ID, "left")
               .withColumn("place", place))
    return located.groupBy("entity", "batch").agg(
        F.count("*").alias("landed"), *[F.sum((F.col("place") == p).cast("long")).alias(p) for p in PLACES])
