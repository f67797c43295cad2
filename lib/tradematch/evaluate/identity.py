"""The `identity` section: the published party_links against the generator's evader links, and how soon
an evader's new id is warned.

- link_precision: published links whose two ids are an evader's old and new id (truth/evader_links);
- link_recall: evader links (new id registered by the as-of) that are published;
- evaders_warned_within_30d: evaders whose new id placed its first order at least WARN_DAYS before the
  as-of, warned (warning or worse, in the evader's role) at a weekly as-of no later than WARN_DAYS after
  that first order, in a weekly replay of the risk policy with the links (risk.backtest.replay, point in
  time, nothing published, starting the links' lookback before the first of those orders) limited to the
  evaders' old and new ids, whose states depend only on their own records and on each other.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import functions as F

from tradematch.evaluate import MissingInput
from tradematch.identity.job import LINKS
from tradematch.risk.policy import load_policy
from tradematch.tables import Tables

WARN_DAYS, STEP_DAYS = 30, 7


def _rate(num, den) -> float | None:
    return None if not den else round(num / den, 4)


def _pairs(df, a: str, b: str):
    return df.select(F.least(a, b).alias("a"), F.greatest(a, b).alias("b")).distinct()


def section(tables: Tables) -> dict:
    from tradematch.risk.backtest import as_ofs, replay

    for name in ("orders_history", "disputes", "reviews", "risk_overrides", "evader_links"):
        if not tables.exists(name):
            raise MissingInput(f"no {name} table: run `tradematch job ingest` first")
    if not tables.exists(LINKS):
        raise MissingInput(f"no {LINKS} table: run `tradematch job identity` first")
    as_of = tables.read("world").head().as_of
    truth = tables.read("evader_links").where(F.col("new_registered_on") <= F.lit(as_of)).cache()
    found, true = _pairs(tables.read(LINKS), "party_id", "linked_party_id"), _pairs(truth, "old_party_id", "new_party_id")
    n_found, n_true = found.count(), true.count()
    hits = found.join(true, ["a", "b"]).count()

    orders = tables.read("orders_history")
    first = (orders.select(F.col("supplier_id").alias("party_id"), F.lit("supplier").alias("role"), "order_date")
             .unionByName(orders.select(F.col("buyer_id").alias("party_id"), F.lit("buyer").alias("role"), "order_date"))
             .groupBy("party_id", "role").agg(F.min("order_date").alias("first_order")))
    evaders = (truth.select(F.col("new_party_id").alias("party_id"), "role").join(first, ["party_id", "role"])
               .where(F.date_add("first_order", WARN_DAYS) <= F.lit(as_of)).cache())
    start = evaders.agg(F.min("first_order")).head()[0]  # one row
    warned = n_evaders = 0
    if start is not None:
        ids = truth.select(F.col("old_party_id").alias("party_id")).unionByName(
            truth.select(F.col("new_party_id").alias("party_id"))).distinct()
        policy = load_policy(tables.catalog.root)
        lookback = max(int(rule["lookback_days"]) for rule in policy["links"])  # the old ids' states the links read
        steps = as_ofs(start - dt.timedelta(days=lookback + STEP_DAYS), as_of, STEP_DAYS)
        status = replay(tables, policy, steps, STEP_DAYS, parties=ids)
        on_time = (status.where(F.col("state") != "good").join(evaders, ["party_id", "role"])
                   .where(F.col("as_of") <= F.date_add("first_order", WARN_DAYS)).select("party_id", "role").distinct())
        warned, n_evaders = on_time.count(), evaders.count()
    truth.unpersist()
    evaders.unpersist()
    return {
        "as_of": as_of.isoformat(),
        "links": n_found, "evader_links": n_true, "true_links": hits,
        "link_precision": _rate(hits, n_found), "link_recall": _rate(hits, n_true),
        "evaders_with_first_order": n_evaders, "evaders_warned": warned,
        "evaders_warned_within_30d": _rate(warned, n_evaders),
    }
