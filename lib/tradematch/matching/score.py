"""Scores, exclusions, newcomer slots, top K and reasons.

score = need weight x affinity x reliability x experience x risk, each in 0..1, so a score is in 0..1
and comparable across a buyer's needs:
- affinity: repeat_share x the buyer's own share with the supplier (when it has one in the chapter) +
  the rest x the cluster's smoothed share of the buyer's chapter x the supplier's share of its pool;
- reliability: (score in the buyer's market, else overall, else unscored_score) / 100, to reliability_power;
- experience: 1 - experience_weight x exp(-decayed orders with the market / experience_orders);
- risk: risk_factor of the supplier's state; blacklisted suppliers are dropped before ranking.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window


def risk_factor(conf: dict, state: Column) -> Column:
    """The multiplier of a risk state (risk_factor in conf); a state it does not name gets 0."""
    items = list(conf["matching"]["risk_factor"].items())
    out = F.when(state == items[0][0], F.lit(float(items[0][1])))
    for name, value in items[1:]:
        out = out.when(state == name, F.lit(float(value)))
    return out.otherwise(F.lit(0.0))


def scored(cands: DataFrame, needs: DataFrame, group: list[str], pools: DataFrame, facts: DataFrame,
           market: DataFrame, conf: dict) -> DataFrame:
    """Candidates -> with cluster, newcomer, state, the score's parts and score; blacklisted suppliers and
    the buyer itself removed. The supplier-side tables are broadcast (a row per supplier, pool member or
    supplier and market), so the candidates are not shuffled for them; the clusters come from the need
    row's map, not from a join on (buyer, chapter, cluster)."""
    m = conf["matching"]
    mine = F.sum("own_share").over(Window.partitionBy(*group)) > 0
    repeat = F.when(mine, F.lit(float(m["repeat_share"]))).otherwise(F.lit(0.0))
    rel = F.coalesce("market_score", "score", F.lit(float(m["unscored_score"]))) / 100.0
    experience = 1 - F.lit(float(m["experience_weight"])) * F.exp(
        -F.coalesce("market_orders", F.lit(0.0)) / F.lit(float(m["experience_orders"])))
    cluster = F.col("clusters")[F.col("cluster")]
    return (cands.where(F.col("supplier_id") != F.col("buyer_id"))
            .join(F.broadcast(facts.where(F.col("state") != "blacklisted")), "supplier_id")
            .join(needs.select(*group, "need", "need_weight", "similar_to", "clusters"), group)
            .withColumn("p_cluster", cluster["p_cluster"]).withColumn("buys_cluster", cluster["buys_cluster"])
            .drop("clusters")
            .join(F.broadcast(pools.select("hs_chapter", "supplier_id", "pool_share")), ["hs_chapter", "supplier_id"], "left")
            .join(F.broadcast(market), ["supplier_id", "market"], "left")
            .fillna(0.0, ["p_cluster", "pool_share"]).fillna(False, ["buys_cluster"])
            .withColumn("affinity", repeat * F.col("own_share") +
                        (1 - repeat) * F.col("p_cluster") * F.col("pool_share"))
            .withColumn("score", F.col("need_weight") * F.col("affinity") * F.pow(rel, float(m["reliability_power"]))
                        * experience * risk_factor(conf, F.col("state"))))


def top_k(group: list[str], k: int, newcomer_share: float, item: str = "supplier_id") -> callable:
    """Scored rows -> the K best per group, ranked 1..K by score (ties by the item's id), with up to
    floor(newcomer_share x K) slots held for the group's best newcomers; adds rank and matches."""
    slots = int(newcomer_share * k)
    by_score = [F.col("score").desc(), F.col(item)]

    def apply(df: DataFrame) -> DataFrame:
        g = Window.partitionBy(*group)
        # Only the k best newcomers and the k best others of a group can make its list (below them are k
        # better ones of the same kind). Filtering on the row number lets Spark keep just those in each
        # partition before it shuffles (WindowGroupLimit), so the windows below sort ~2k rows per group.
        df = (df.withColumn("_r", F.row_number().over(Window.partitionBy(*group, "newcomer").orderBy(*by_score)))
              .where(F.col("_r") <= k))
        df = df.withColumn("_held", F.col("newcomer") & (F.col("_r") <= slots))
        df = df.withColumn("_n_held", F.sum(F.col("_held").cast("int")).over(g))
        df = df.withColumn("_rest", F.row_number().over(Window.partitionBy(*group, "_held").orderBy(*by_score)))
        kept = df.where(F.col("_held") | (F.col("_rest") <= F.lit(k) - F.col("_n_held")))
        return (kept.withColumn("rank", F.row_number().over(g.orderBy(*by_score)))
                .withColumn("matches", F.count("*").over(g).cast("int")).drop("_r", "_held", "_n_held", "_rest"))
    return apply


def supplier_reasons(df: DataFrame) -> DataFrame:
    """Add reasons: why this supplier for this need, in plain words."""
    items = [
        F.when(F.col("need") == "rfq", F.format_string("makes what your open RFQ asks for (chapter %s)", "hs_chapter")),
        F.when(F.col("need") == "similar", F.format_string("buyers of chapter %s also buy chapter %s",
                                                           "similar_to", "hs_chapter")),
        F.when(F.col("own_orders") == 1, F.lit("ordered from this supplier once")),
        F.when(F.col("own_orders") > 1, F.format_string("ordered from this supplier %d times", "own_orders")),
        F.when(F.col("buys_cluster"),
               F.format_string("cluster you buy from (%s)", "cluster")),
        F.when(F.col("market_tier").isin("gold", "silver"), F.format_string("%s tier in your market", "market_tier")),
        F.when(F.col("newcomer"), F.lit("promising newcomer: short record, all good so far")),
        F.when(F.col("state").isin("warning", "demoted"), F.format_string("ranked lower: risk state %s", "state")),
    ]
    return df.withColumn("reasons", F.filter(F.array(*items), lambda x: x.isNotNull()))
