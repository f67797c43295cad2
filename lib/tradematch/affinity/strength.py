"""buyer_supplier_affinity: per buyer, supplier and HS chapter, the orders weighted 2^-(age / half-life)
(age from the order date to the as-of), with the disputes the buyer opened and its complaints counted
against them (SAR-style strengths), and buyer_cluster_affinity summed from it.

Every event is dated at its order, so the sums roll forward as the reliability evidence does:
sum(t2) = sum(t1) * 2^-((t2 - t1) / h) + the decayed events that became known after t1 (order versions
that appeared, minus the versions they replaced; disputes and reviews dated or landed after t1).
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from tradematch.history import end_of, orders_as_of
from tradematch.reliability.evidence import decay_factor

KEYS = ["buyer_id", "supplier_id", "hs_chapter"]
WEIGHTS = ["orders_weight", "disputes_weight", "complaints_weight"]
COUNTS = ["orders", "disputes", "complaints"]


def _decay(as_of: dt.date, half_life_days: float) -> Column:
    return F.pow(F.lit(2.0), -F.datediff(F.lit(as_of), F.col("order_date")) / F.lit(float(half_life_days)))


def _events(orders: DataFrame, disputes: DataFrame, reviews: DataFrame, sign: float = 1.0) -> DataFrame:
    """Order rows (order_id, buyer_id, supplier_id, hs_chapter, order_date) and the buyer's disputes and
    complaints on them -> one row per event with 0/1 counts (times sign)."""
    o = orders.select("order_id", *KEYS, "order_date")
    opened = disputes.where(F.col("opened_by") == "buyer").select("order_id")
    complained = reviews.where((F.col("reviewer_role") == "buyer") & F.col("complaint")).select("order_id")
    s = F.lit(int(sign))
    return (o.select(*KEYS, "order_date", s.alias("orders"), F.lit(0).alias("disputes"), F.lit(0).alias("complaints"))
            .unionByName(o.join(opened, "order_id").select(*KEYS, "order_date", F.lit(0).alias("orders"),
                                                          s.alias("disputes"), F.lit(0).alias("complaints")))
            .unionByName(o.join(complained, "order_id").select(*KEYS, "order_date", F.lit(0).alias("orders"),
                                                              F.lit(0).alias("disputes"), s.alias("complaints"))))


def _known(day_col: str, day: dt.date) -> Column:
    """Rows dated by `day` that had landed by then: what a run at that day saw."""
    return (F.col(day_col) <= F.lit(day)) & (F.col("batch") <= F.lit(day))


def _weighted(events: DataFrame, as_of: dt.date, conf: dict) -> DataFrame:
    w = _decay(as_of, float(conf["affinity"]["half_life_days"]))
    return events.select(*KEYS, *COUNTS, *[(F.col(c) * w).alias(f"{c}_weight") for c in COUNTS],
                         F.when(F.col("orders") > 0, F.col("order_date")).alias("last_order_date"))


def _totals(rows: DataFrame, as_of: dt.date, conf: dict) -> DataFrame:
    """Weighted rows -> one row per buyer, supplier and chapter that still has orders, with its strength."""
    a = conf["affinity"]
    return (rows.groupBy(*KEYS)
            .agg(*[F.sum(c).cast("bigint").alias(c) for c in COUNTS], *[F.sum(c).alias(c) for c in WEIGHTS],
                 F.max("last_order_date").alias("last_order_date"))
            .where(F.col("orders") > 0)
            .withColumn("strength", F.col("orders_weight") - F.lit(float(a["dispute_weight"])) * F.col("disputes_weight")
                        - F.lit(float(a["complaint_weight"])) * F.col("complaints_weight"))
            .withColumn("as_of", F.lit(as_of)))


def full(history: DataFrame, disputes: DataFrame, reviews: DataFrame, as_of: dt.date, conf: dict) -> DataFrame:
    """buyer_supplier_affinity rows at the as-of from every order version known then."""
    events = _events(history.transform(orders_as_of(as_of)), disputes.where(F.col("opened_on") <= F.lit(as_of)),
                     reviews.where(F.col("created_on") <= F.lit(as_of)))
    return _totals(_weighted(events, as_of, conf), as_of, conf)


def rolled_forward(previous: DataFrame, since: dt.date, history: DataFrame, disputes: DataFrame,
                   reviews: DataFrame, as_of: dt.date, conf: dict) -> DataFrame:
    """buyer_supplier_affinity rows at the as-of from the snapshot at `since` (previous: its rows) and
    what became known after it: the orders with a new version (their events now minus their events as
    the snapshot saw them) and the new disputes and reviews of the other orders."""
    factor = decay_factor(since, as_of, float(conf["affinity"]["half_life_days"]))
    changed = (history.where((F.col("valid_from") >= end_of(since)) & (F.col("valid_from") < end_of(as_of)))
               .select("order_id").distinct())
    versions = history.join(changed, "order_id", "left_semi")
    d_now, r_now = disputes.where(F.col("opened_on") <= F.lit(as_of)), reviews.where(F.col("created_on") <= F.lit(as_of))
    d_then, r_then = disputes.where(_known("opened_on", since)), reviews.where(_known("created_on", since))
    unchanged = history.transform(orders_as_of(as_of)).join(changed, "order_id", "left_anti")
    new = (_events(versions.transform(orders_as_of(as_of)), d_now, r_now)
           .unionByName(_events(versions.transform(orders_as_of(since)), d_then, r_then, -1.0))
           .unionByName(_events(unchanged, d_now.where(~_known("opened_on", since)),
                                r_now.where(~_known("created_on", since))).where(F.col("orders") == 0)))
    carried = previous.select(*KEYS, *COUNTS, *[(F.col(c) * F.lit(factor)).alias(c) for c in WEIGHTS], "last_order_date")
    return _totals(carried.unionByName(_weighted(new, as_of, conf)), as_of, conf)


def cluster_affinity(affinity: DataFrame, parties: DataFrame) -> DataFrame:
    """buyer_supplier_affinity rows -> buyer_cluster_affinity: per buyer, chapter and supplier cluster (the
    supplier's country when it names none), the suppliers, orders, strength and the cluster's share of
    the buyer's positive strength in the chapter."""
    clusters = parties.select(F.col("party_id").alias("supplier_id"),
                              F.coalesce("cluster", "country").alias("cluster"))
    per = (affinity.join(clusters, "supplier_id", "left").fillna("unknown", ["cluster"])
           .groupBy("as_of", "buyer_id", "hs_chapter", "cluster")
           .agg(F.count("*").cast("int").alias("suppliers"), F.sum("orders").alias("orders"),
                F.sum("strength").alias("strength")))
    total = per.groupBy("as_of", "buyer_id", "hs_chapter").agg(
        F.sum(F.greatest(F.col("strength"), F.lit(0.0))).alias("_total"))
    return (per.join(total, ["as_of", "buyer_id", "hs_chapter"])
            .withColumn("share", F.coalesce(F.try_divide(F.greatest(F.col("strength"), F.lit(0.0)), F.col("_total")),
                                            F.lit(0.0)))
            .drop("_total"))
