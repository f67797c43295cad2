"""buyer_matches: for each supplier the top K buyers, by the buyer's fit (its need for the supplier's
chapter x its affinity with the supplier, from the same blocked candidates as supplier_matches, so no
supplier x buyer product) and its reliability as a buyer; blacklisted buyers never appear, demoted and
warned ones rank lower."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from tradematch.matching.score import risk_factor, top_k


def buyer_facts(reliability: DataFrame, risk: DataFrame) -> DataFrame:
    """(buyer_id, buyer_score, buyer_tier, buyer_state) of every scored or risk-rated buyer."""
    buyer = lambda df: df.where(F.col("role") == "buyer").select(F.col("party_id").alias("buyer_id"), *df.columns[1:])  # noqa: E731
    return (buyer(reliability.select("party_id", "role", F.col("score").alias("buyer_score"), F.col("tier").alias("buyer_tier")))
            .join(buyer(risk.select("party_id", "role", F.col("state").alias("buyer_state"))), ["buyer_id", "role"], "full")
            .drop("role"))


def buyer_matches(scored: DataFrame, facts: DataFrame, conf: dict) -> DataFrame:
    """Scored supplier candidates of buyers' needs -> the top K buyers per supplier with score (0..1),
    rank, matches, the chapter of the best fit and reasons."""
    m = conf["matching"]
    fit = F.col("need_weight") * F.col("affinity")
    best = Window.partitionBy("supplier_id", "buyer_id").orderBy(fit.desc(), "hs_chapter")
    rel = F.coalesce("buyer_score", F.lit(float(m["unscored_score"]))) / 100.0
    state = F.coalesce("buyer_state", F.lit("good"))
    # one shuffle by supplier serves both windows (per supplier and buyer, then per supplier); the buyer
    # facts (a row per buyer) are broadcast so the rows stay where that shuffle put them
    rows = (scored.where(fit > 0).repartition("supplier_id")
            .withColumn("fit", fit).withColumn("_n", F.row_number().over(best)).where("_n = 1")
            .select("supplier_id", "buyer_id", "hs_chapter", "need", "fit", "own_orders", "buys_cluster", "cluster")
            .join(F.broadcast(facts), "buyer_id", "left")
            .where(state != "blacklisted")
            .withColumn("score", F.col("fit") * F.pow(rel, float(m["reliability_power"])) * risk_factor(conf, state))
            .withColumn("newcomer", F.lit(False)))
    ranked = rows.transform(top_k(["supplier_id"], int(m["k"]), 0.0, item="buyer_id"))
    items = [
        F.when(F.col("own_orders") == 1, F.lit("ordered from you once")),
        F.when(F.col("own_orders") > 1, F.format_string("ordered from you %d times", "own_orders")),
        F.when(F.col("buys_cluster"), F.format_string("buys chapter %s from your cluster (%s)", "hs_chapter", "cluster")),
        F.when(F.col("need") == "similar", F.format_string("likely new need: chapter %s", "hs_chapter")),
        F.when(F.col("buyer_tier").isin("gold", "silver"), F.format_string("%s tier buyer", "buyer_tier")),
        F.when(state.isin("warning", "demoted"), F.format_string("ranked lower: risk state %s", state)),
    ]
    return ranked.withColumn("buyer_state", state).withColumn(
        "reasons", F.filter(F.array(*items), lambda x: x.isNotNull()))
