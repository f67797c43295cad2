"""The `reliability` section: how well the published score ranks parties by their true reliability.

Spearman between the party_reliability score of the world's as-of snapshot and 1 - p_bad of the truth
at that date, per role, over every scored party with an order whose outcome is known and over those
with 20+ orders; and the same for the
raw unshrunk bad-outcome rate (outcomes.bad_outcome, every order known at the as-of, no decay). Reads
the published snapshot; fits nothing.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tradematch.evaluate import MissingInput
from tradematch.evaluate.metrics import spearman
from tradematch.evaluate.world import p_bad_at
from tradematch.history import disputes_as_of, orders_as_of, reviews_as_of
from tradematch.outcomes import ROLES, bad_outcome, with_counterpart_flags
from tradematch.reliability.job import PARTY_TABLE
from tradematch.tables import Tables

MIN_ORDERS = 20


def raw_rates(tables: Tables, as_of) -> DataFrame:
    """(party_id, role, orders, raw_bad_rate): every order known at the as-of, undecayed, unshrunk."""
    orders = tables.read("orders_history").transform(orders_as_of(as_of))
    flagged = orders.transform(with_counterpart_flags(tables.read("reviews").transform(reviews_as_of(as_of)),
                                                      tables.read("disputes").transform(disputes_as_of(as_of))))
    per_role = [flagged.groupBy(F.col(f"{role}_id").alias("party_id")).agg(
        F.lit(role).alias("role"), F.count("*").alias("orders"),
        F.avg(bad_outcome(role).cast("double")).alias("raw_bad_rate")) for role in ROLES]
    return per_role[0].unionByName(per_role[1])


def section(tables: Tables) -> dict:
    if not tables.exists(PARTY_TABLE):
        raise MissingInput(f"no gold {PARTY_TABLE} table: run `tradematch run` first")
    as_of = tables.read("world").head().as_of
    scores = tables.read(PARTY_TABLE).where(F.col("as_of") == F.lit(as_of))
    if scores.isEmpty():
        raise MissingInput(f"no {PARTY_TABLE} snapshot for the world's as-of {as_of}")
    rows = scores.select("party_id", "role", "score").join(raw_rates(tables, as_of), ["party_id", "role"], "left").cache()
    out = {"as_of": as_of.isoformat()}
    for role in ROLES:
        truth = p_bad_at(tables, role, as_of).select("party_id", (1 - F.col("p_bad")).alias("true_good"))
        mine = rows.where(F.col("role") == role).join(truth, "party_id", "inner").select(
            "score", (1 - F.col("raw_bad_rate")).alias("raw_good"), "true_good", "orders"
        ).where(F.col("raw_good").isNotNull())  # both on the same parties: those with a known outcome
        for label, subset in (("all", mine), (f"min{MIN_ORDERS}", mine.where(F.col("orders") >= MIN_ORDERS))):
            out[f"{role}_spearman_{label}"] = spearman(subset, "score", "true_good")
            out[f"{role}_raw_spearman_{label}"] = spearman(subset, "raw_good", "true_good")
            out[f"{role}_parties_{label}"] = subset.count()
    rows.unpersist()
    return out
