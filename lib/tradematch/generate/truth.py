"""The truth behind the landing files, kept apart under truth/ where no scoring job reads.

party_truth gives each party's p_bad over time; evader_links the old and new ids of one business;
buyer_tastes the parameters of each buyer's needs; buyer_top_suppliers each buyer's 50 most likely
suppliers for the months after the evaluation cutoff, scored from candidates (its regulars and the top
of the pools it explores), never from a buyer x supplier product.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from tradematch.generate.parties import World, day_to_date, party_id_at

POOL_CANDIDATES = 20
TOP_N = 50


def party_truth(w: World, biz: DataFrame) -> DataFrame:
    """(party, role, valid_from, valid_to, p_bad, kind, ...): one row per id and phase of behaviour."""
    phases = F.array(
        F.struct(F.col("registered_day").alias("lo"), F.coalesce("onset_day", "recovery_day").alias("hi"),
                 F.when(F.col("kind").isin("chronic", "evader", "recovers"), F.col("p_bad_when_bad"))
                 .otherwise(F.col("p_bad_when_good")).alias("p")),
        F.struct(F.coalesce("onset_day", "recovery_day").alias("lo"), F.lit(None).cast("bigint").alias("hi"),
                 F.when(F.col("kind") == "turns_bad", F.col("p_bad_when_bad"))
                 .otherwise(F.col("p_bad_when_good")).alias("p")))
    rows = biz.withColumn("ph", F.explode(phases)).where(F.col("ph.lo").isNotNull())
    ids = F.array(
        F.struct(F.col("party_id").alias("id"), F.lit(-1 << 40).alias("from_day"),
                 F.coalesce(F.col("exit_day"), F.lit(1 << 40)).alias("to_day")),
        F.struct(F.col("new_party_id").alias("id"), F.col("new_registered_day").alias("from_day"),
                 F.lit(1 << 40).alias("to_day")))
    rows = (rows.withColumn("pid", F.explode(ids)).where(F.col("pid.id").isNotNull())
            .withColumn("lo", F.greatest("ph.lo", "pid.from_day"))
            .withColumn("hi", F.least(F.coalesce(F.col("ph.hi"), F.lit(1 << 40)), F.col("pid.to_day")))
            .where((F.col("lo") < F.col("hi")) & (F.col("lo") <= w.end_day)))
    weak = F.col("weak_market") if "weak_market" in biz.columns else F.lit(None).cast("string")
    return rows.select(
        F.col("pid.id").alias("party_id"), "role", day_to_date(F.col("lo")).alias("valid_from"),
        F.when(F.col("hi") < (1 << 40), day_to_date(F.col("hi"))).alias("valid_to"),
        F.col("ph.p").alias("p_bad"), "kind",
        day_to_date(F.col("onset_day")).alias("onset_date"), day_to_date(F.col("recovery_day")).alias("recovery_date"),
        weak.alias("weak_market"),
        F.when(weak.isNotNull(), F.least(F.lit(0.95), F.col("ph.p") + w.cfg["traits"]["weak_market_extra"]))
        .alias("weak_market_p_bad"))


def evader_links(w: World, biz: DataFrame) -> DataFrame:
    """Old and new id of each evader that had come back by the as-of."""
    return biz.where(F.col("new_party_id").isNotNull() & (F.col("new_registered_day") <= w.end_day)).select(
        "role", F.col("party_id").alias("old_party_id"), "new_party_id",
        day_to_date(F.col("exit_day")).alias("old_exit_date"),
        day_to_date(F.col("new_registered_day")).alias("new_registered_on"))


def buyer_tastes(w: World, buyers: DataFrame, bc: DataFrame, regs: DataFrame, suppliers: DataFrame) -> DataFrame:
    """One row per buyer and chapter it needs: when adopted, weight, clusters, regular suppliers (ids at the as-of)."""
    end = F.lit(w.end_day)
    sup_ids = suppliers.select(F.col("biz").alias("s_biz"), party_id_at(end).alias("sid"))
    reg_ids = (regs.select("biz", "chapter", F.posexplode("regulars").alias("pos", "reg"))
               .join(sup_ids, F.col("reg.s_biz") == F.col("s_biz"))
               .groupBy("biz", "chapter").agg(F.sort_array(F.collect_list(F.struct("pos", "sid"))).alias("rs"))
               .select("biz", "chapter", F.transform("rs", lambda x: x["sid"]).alias("regular_supplier_ids")))
    b = buyers.select("biz", F.coalesce(party_id_at(end), F.col("party_id")).alias("buyer_id"),
                      F.col("loyalty"))
    return (bc.join(b, "biz").join(reg_ids, ["biz", "chapter"], "left")
            .select("buyer_id", "chapter", "archetype", "loyalty", day_to_date(F.col("adopt_day")).alias("adopted_on"),
                    "base_weight", "fav_cluster", "alt_cluster",
                    F.coalesce("regular_supplier_ids", F.array().cast("array<string>")).alias("regular_supplier_ids")))


def pool_shares(tickets: DataFrame, sizes: DataFrame) -> DataFrame:
    """(cluster, chapter, s_biz, share): the POOL_CANDIDATES biggest holders of each pool's tickets, each
    with its share, the chance that one exploring draw from the pool picks it."""
    pool = tickets.where(F.col("pool") == "all").groupBy("cluster", "chapter", "biz").agg(F.count("*").alias("n"))
    return (pool.join(sizes.where(F.col("pool") == "all").drop("pool"), ["cluster", "chapter"])
            .withColumn("share", F.col("n") / F.col("tickets"))
            .withColumn("rk", F.row_number().over(Window.partitionBy("cluster", "chapter").orderBy(F.desc("share"), "biz")))
            .where(F.col("rk") <= POOL_CANDIDATES)
            .select("cluster", "chapter", F.col("biz").alias("s_biz"), "share"))


def propensity(w: World, buyers: DataFrame, bc: DataFrame, regs: DataFrame, pool: DataFrame, day: int,
               revealed: DataFrame | None = None) -> DataFrame:
    """(biz, s_biz, propensity): the chance that one of the buyer's orders on `day` goes to the supplier,
    from its needs adopted by then, its loyalty, its regulars and the pools it explores.

    With `revealed` (biz, chapter, s_biz), a regular counts as known only when it is there (the buyer
    ordered from it in the chapter): an unknown regular's chance is spread over its favourite cluster's
    pool by share, where the generator drew it from. That is the best list a model that knew every
    parameter of the world, but only the regulars the orders show, could give (scripts/matching_ceiling.py).
    """
    cfg = w.cfg["buyers"]
    boost = F.when(F.col("is_new") & (F.lit(day) - F.col("adopt_day") < 180), cfg["new_chapter_boost"]).otherwise(1.0)
    need = (bc.where(F.col("adopt_day") <= day).withColumn("wc", F.col("base_weight") * boost)
            .withColumn("p_chapter", F.col("wc") / F.sum("wc").over(Window.partitionBy("biz")))
            .join(buyers.select("biz", "loyalty"), "biz"))
    # loyal share: the regular at 0-based index i of r is drawn with probability sqrt((i+1)/r) - sqrt(i/r)
    loyal = (need.join(regs, ["biz", "chapter"]).select("biz", "chapter", "fav_cluster", "p_chapter", "loyalty",
                                                        F.size("regulars").alias("r"),
                                                        F.posexplode("regulars").alias("i", "reg"))
             .select("biz", "chapter", "fav_cluster", F.col("reg.s_biz").alias("s_biz"),
                     (F.col("p_chapter") * F.col("loyalty") * (F.sqrt((F.col("i") + 1) / F.col("r")) -
                                                              F.sqrt(F.col("i") / F.col("r")))).alias("p")))
    if revealed is not None:
        loyal = loyal.join(revealed.select("biz", "chapter", "s_biz", F.lit(True).alias("known")),
                           ["biz", "chapter", "s_biz"], "left")
        unknown = (loyal.where(F.col("known").isNull()).drop("s_biz")
                   .join(F.broadcast(pool.withColumnRenamed("cluster", "fav_cluster")), ["fav_cluster", "chapter"])
                   .select("biz", "s_biz", (F.col("p") * F.col("share")).alias("p")))
        loyal = loyal.where(F.col("known")).select("biz", "s_biz", "p").unionByName(unknown)
    else:
        loyal = loyal.select("biz", "s_biz", "p")
    fav = cfg["favourite_cluster_share"]
    explore = None
    for col, weight in (("fav_cluster", fav), ("alt_cluster", 1.0 - fav)):
        part = (need.join(F.broadcast(pool), (F.col(col) == pool.cluster) & (need.chapter == pool.chapter))
                .select("biz", "s_biz", (F.col("p_chapter") * (1 - F.col("loyalty")) * weight * F.col("share")).alias("p")))
        explore = part if explore is None else explore.unionByName(part)
    return loyal.unionByName(explore).groupBy("biz", "s_biz").agg(F.sum("p").alias("propensity"))


def top_suppliers(w: World, buyers: DataFrame, bc: DataFrame, regs: DataFrame, tickets: DataFrame,
                  sizes: DataFrame, suppliers: DataFrame) -> DataFrame:
    """Each buyer's TOP_N suppliers by true propensity at the middle of the months after the cutoff."""
    t_mid = w.end_day - w.cfg["time"]["history_cutoff_days"] // 2
    sup_ids = suppliers.select(F.col("biz").alias("s_biz"), party_id_at(F.lit(w.end_day)).alias("supplier_id"))
    scores = (propensity(w, buyers, bc, regs, pool_shares(tickets, sizes), t_mid)
              .join(sup_ids, "s_biz").where(F.col("supplier_id").isNotNull())
              .withColumn("rank", F.row_number().over(Window.partitionBy("biz").orderBy(
                  F.desc("propensity"), "supplier_id"))).where(F.col("rank") <= TOP_N))
    ids = buyers.select("biz", F.coalesce(party_id_at(F.lit(w.end_day)), F.col("party_id")).alias("buyer_id"))
    return scores.join(ids, "biz").select("buyer_id", F.col("rank").cast("int"), "supplier_id", "propensity")
