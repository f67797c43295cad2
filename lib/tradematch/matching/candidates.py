"""Candidate suppliers per need by blocking, never a buyer x supplier product: the suppliers the buyer
bought from in the chapter, the top of each (chapter, cluster) pool it may buy from, the most reliable
suppliers of the chapter in its market and the best newcomers of the pools. Each candidate carries what
its score needs: the buyer's own share with it, the cluster's share of the buyer's chapter and the
supplier's share of its pool."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

POOL = ["hs_chapter", "cluster"]


def supplier_facts(parties: DataFrame, reliability: DataFrame, market_reliability: DataFrame,
                   risk: DataFrame, conf: dict) -> tuple[DataFrame, DataFrame]:
    """(per supplier: cluster, score, tier, tenure, state, newcomer; per supplier and market: score,
    tier, evidence): the supplier side of every score. A supplier without a risk row is good."""
    m = conf["matching"]
    sup = lambda df: df.where(F.col("role") == "supplier")  # noqa: E731
    facts = (parties.select(F.col("party_id").alias("supplier_id"), F.coalesce("cluster", "country").alias("cluster"))
             .join(sup(reliability).select(F.col("party_id").alias("supplier_id"), "score", "tier", "tenure_months"),
                   "supplier_id", "left")
             .join(sup(risk).select(F.col("party_id").alias("supplier_id"), "state"), "supplier_id", "left")
             .fillna("good", ["state"])
             .withColumn("newcomer", F.coalesce((F.col("tenure_months") <= int(m["newcomer_months"])) &
                                                (F.col("score") >= float(m["newcomer_min_score"])) &
                                                (F.col("state") == "good"), F.lit(False))))
    market = sup(market_reliability).select(F.col("party_id").alias("supplier_id"), "market",
                                            F.col("score").alias("market_score"), F.col("tier").alias("market_tier"),
                                            F.col("evidence_orders").alias("market_orders"))
    return facts, market


def pools(affinity: DataFrame, facts: DataFrame) -> DataFrame:
    """(hs_chapter, cluster, supplier_id, pool_share, pool_rank, newcomer_rank, chapter_share): each
    supplier's share of its (chapter, cluster) pool's decayed orders, its rank there (and among the
    pool's newcomers), and the cluster's share of the chapter."""
    per = (affinity.groupBy("supplier_id", "hs_chapter").agg(F.sum("orders_weight").alias("_w"))
           .join(facts.select("supplier_id", "cluster", "newcomer", "state"), "supplier_id"))
    pool = Window.partitionBy(*POOL)
    best = pool.orderBy(F.col("_w").desc(), "supplier_id")
    newest = Window.partitionBy(*POOL, "newcomer").orderBy(F.col("_w").desc(), "supplier_id")
    return (per.withColumn("pool_share", F.col("_w") / F.sum("_w").over(pool))
            .withColumn("chapter_share", F.sum("_w").over(pool) / F.sum("_w").over(Window.partitionBy("hs_chapter")))
            .withColumn("pool_rank", F.row_number().over(best))
            .withColumn("newcomer_rank", F.when(F.col("newcomer"), F.row_number().over(newest)))
            .drop("_w"))


def need_clusters(needs: DataFrame, clusters: DataFrame, pools: DataFrame, conf: dict) -> DataFrame:
    """(buyer_id, hs_chapter, clusters): per need, a map from every cluster that supplies its chapter to
    (p_cluster, buys_cluster), the buyer's share of it smoothed toward the chapter's share by cluster_prior
    decayed orders. A map, so each need row carries its clusters and candidates never join on the cluster."""
    prior = float(conf["matching"]["cluster_prior"])
    shares = pools.select(*POOL, "chapter_share").distinct()
    own = clusters.select("buyer_id", *POOL, F.greatest(F.col("strength"), F.lit(0.0)).alias("_s"))
    long = (needs.select("buyer_id", "hs_chapter").distinct().join(F.broadcast(shares), "hs_chapter")
            .join(own, ["buyer_id", *POOL], "left").fillna(0.0, ["_s"])
            .withColumn("_t", F.sum("_s").over(Window.partitionBy("buyer_id", "hs_chapter")))
            .select("buyer_id", *POOL, ((F.col("_s") + F.lit(prior) * F.col("chapter_share")) /
                                        (F.col("_t") + F.lit(prior))).alias("p_cluster"),
                    (F.col("_s") > 0).alias("buys_cluster")))
    return long.groupBy("buyer_id", "hs_chapter").agg(F.map_from_entries(F.collect_list(F.struct(
        "cluster", F.struct("p_cluster", "buys_cluster")))).alias("clusters"))


def candidates(needs: DataFrame, group: list[str], affinity: DataFrame, pools: DataFrame, market: DataFrame,
               facts: DataFrame, conf: dict) -> DataFrame:
    """Needs (group keys, buyer_id, hs_chapter, market, ...) -> one row per need and candidate supplier
    with own_share (the buyer's share of its chapter strength with the supplier), own_orders and
    supplier_id; the union of the blocks, de-duplicated.

    The candidates grow in place from the need rows, which arrive partitioned by buyer and chapter (their
    join with the cluster map): the small blocks are broadcast and the buyer's own shares ride along, so
    the de-duplicating aggregate, the join with the need rows and the ranking windows reuse that
    partitioning. At 1M orders there are ~20M candidates, and each join that re-shuffled them cost ~0.8 GB."""
    m = conf["matching"]
    strength = F.greatest(F.col("strength"), F.lit(0.0))
    own = (affinity.select("buyer_id", "hs_chapter", "supplier_id", "orders", strength.alias("_s"))
           .withColumn("own_share", F.coalesce(F.try_divide(
               F.col("_s"), F.sum("_s").over(Window.partitionBy("buyer_id", "hs_chapter"))), F.lit(0.0)))
           .select("buyer_id", "hs_chapter", "supplier_id", "own_share", F.col("orders").alias("own_orders")))
    in_pool = pools.where((F.col("pool_rank") <= int(m["pool_top"])) | (F.col("newcomer_rank") <= int(m["k"])))
    best_here = (pools.select("hs_chapter", "supplier_id").distinct()
                 .join(market.where(F.col("market_tier") != "unrated"), "supplier_id")
                 .withColumn("_r", F.row_number().over(Window.partitionBy("hs_chapter", "market")
                                                       .orderBy(F.col("market_score").desc(), "supplier_id")))
                 .where(F.col("_r") <= int(m["market_top"])).select("hs_chapter", "market", "supplier_id"))
    keys = list(dict.fromkeys([*group, "buyer_id", "hs_chapter", "market"]))
    base = needs.select(*keys)
    # the buyer's own suppliers carry their share; the other blocks add none, and max() keeps the own one
    none = [F.lit(0.0).alias("own_share"), F.lit(0).cast(own.schema["own_orders"].dataType).alias("own_orders")]
    blocks = (base.join(own, ["buyer_id", "hs_chapter"]).select(*keys, "supplier_id", "own_share", "own_orders")
              .unionByName(base.join(F.broadcast(in_pool.select("hs_chapter", "supplier_id")), "hs_chapter")
                           .select(*keys, "supplier_id", *none))
              .unionByName(base.join(F.broadcast(best_here), ["hs_chapter", "market"]).select(*keys, "supplier_id", *none)))
    return (blocks.groupBy(*keys, "supplier_id")
            .agg(F.max("own_share").alias("own_share"), F.max("own_orders").alias("own_orders")))
