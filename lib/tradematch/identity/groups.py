"""A canonical id per linked group: the connected components of the links, each named by its earliest
registered party (then the smallest id), so the id a business first traded under names it."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


class NotConverged(RuntimeError):
    """Label propagation did not settle within max_rounds (a chain longer than the rounds allow)."""


def canonical_ids(links: DataFrame, registered: DataFrame, max_rounds: int) -> DataFrame:
    """links (party_id, linked_party_id) and registered (party_id, registered_on) -> (party_id,
    canonical_id) for every linked party, by min-label propagation: each round a party takes the
    smallest (registered_on, party_id) label among itself and its neighbours; the links are few (one
    pair per business that registered again), so each round is a small join."""
    edges = links.select(F.col("party_id").alias("a"), F.col("linked_party_id").alias("b"))
    edges = edges.unionByName(edges.select(F.col("b").alias("a"), F.col("a").alias("b"))).localCheckpoint()
    nodes = edges.select(F.col("a").alias("party_id")).distinct().join(registered, "party_id")
    labels = nodes.select("party_id", F.struct("registered_on", "party_id").alias("label")).localCheckpoint()
    for _ in range(max_rounds):
        offered = edges.join(labels.withColumnRenamed("party_id", "b"), "b").select(F.col("a").alias("party_id"), "label")
        new = labels.unionByName(offered).groupBy("party_id").agg(F.min("label").alias("label")).localCheckpoint()
        changed = new.join(labels.withColumnRenamed("label", "_old"), "party_id").where(F.col("label") != F.col("_old")).count()
        labels = new
        if not changed:
            return labels.select("party_id", F.col("label.party_id").alias("canonical_id"))
    raise NotConverged(f"canonical ids did not settle in {max_rounds} rounds (conf/identity.yaml max_rounds)")
