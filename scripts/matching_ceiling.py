"""How close to the oracle can a model that learns from orders get? (issue 7's 0.8x-oracle bar)

Rebuilds the generated world's internals (the same seed, scale and as-of give the same world as
`tradematch generate`) and scores lists of 10 suppliers against the suppliers each buyer ordered from
after the cutoff, on the evaluation's terms (scored buyers: an order on each side of the cutoff):
- oracle: the truth's propensity, every regular known (buyer_top_suppliers);
- informed: the same propensity, but a regular counts as known only when the buyer ordered from it in
  the chapter on or before the cutoff; the rest is spread over its favourite cluster's pool. It still
  knows every parameter (chapter weights and adoption dates, loyalty, favourite clusters, pool shares),
  so no model that learns from the orders should expect to beat it;
- learned: the oracle's formula with every part estimated from the orders on or before the cutoff.

Usage: scripts/matching_ceiling --orders 200000 [--seed 7] [--as-of 2026-11-20] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from tradematch.evaluate.matching import _top as top
from tradematch.evaluate.metrics import ranking_metrics
from tradematch.generate import orders as O
from tradematch.generate import truth as TR
from tradematch.generate.config import load_config
from tradematch.generate.parties import World, businesses

K, EPOCH = 10, dt.date(1970, 1, 1)


def world_orders(spark: SparkSession, w: World) -> tuple[dict, DataFrame]:
    """The world's parts the propensity needs, and its orders (buyer_id, supplier_id, chapter, d0) by business."""
    parts = {"suppliers": businesses(spark, w, "supplier").localCheckpoint()}
    days, buckets = O.calendar(spark, w)
    parts["buyers"] = O.active_window(w, businesses(spark, w, "buyer"), days).localCheckpoint()
    tickets, sizes = O.ticket_pools(w, O.supplier_chapters(w, parts["suppliers"]))
    parts["tickets"], parts["sizes"] = tickets.localCheckpoint(), sizes.localCheckpoint()
    parts["bc"] = O.buyer_chapters(spark, w, parts["buyers"], O.chapter_clusters(spark, w)).localCheckpoint()
    parts["regs"] = O.regulars(w, parts["bc"], parts["tickets"], parts["sizes"], parts["suppliers"]).localCheckpoint()
    slots = O.order_slots(w, parts["buyers"], buckets, parts["bc"])
    picks = O.choose_suppliers(w, slots, parts["bc"], parts["regs"], parts["tickets"], parts["sizes"])
    orders = O.settle_supplier(w, picks, parts["suppliers"]).select(
        F.col("b_biz").alias("buyer_id"), F.col("s_biz").alias("supplier_id"), "chapter", "d0")
    return parts, orders.localCheckpoint()


def learned(before: DataFrame, suppliers: DataFrame, cutoff: int, half_life: float = 365.0,
            prior_loyalty: float = 0.6, prior_orders: float = 4.0) -> DataFrame:
    """The oracle's formula from the orders alone: chapter weights from decayed chapter shares, loyalty
    from the buyer's repeat rate (smoothed toward prior_loyalty by prior_orders), regulars from its own
    shares, clusters from its orders in the chapter, pool shares from the year before the cutoff."""
    b = (before.join(suppliers.select(F.col("biz").alias("supplier_id"), "cluster"), "supplier_id")
         .withColumn("wt", F.pow(F.lit(2.0), -(F.lit(cutoff) - F.col("d0")) / half_life)))
    need = (b.groupBy("buyer_id", "chapter").agg(F.sum("wt").alias("wc"), F.count("*").alias("n_ch"))
            .withColumn("p_chapter", F.col("wc") / F.sum("wc").over(Window.partitionBy("buyer_id"))))
    nth = lambda *keys: F.row_number().over(Window.partitionBy(*keys).orderBy("d0"))  # noqa: E731
    repeats = (b.withColumn("k", nth("buyer_id", "chapter", "supplier_id")).withColumn("j", nth("buyer_id", "chapter"))
               .where(F.col("j") > 1).groupBy("buyer_id")
               .agg(((F.sum((F.col("k") > 1).cast("double")) + prior_loyalty * prior_orders) /
                     (F.count("*") + prior_orders)).alias("loyalty")))
    need = need.join(repeats, "buyer_id", "left").fillna(prior_loyalty, ["loyalty"])
    own = (b.groupBy("buyer_id", "chapter", "supplier_id").agg(F.count("*").alias("n")).join(need, ["buyer_id", "chapter"])
           .select("buyer_id", "supplier_id", (F.col("p_chapter") * F.col("loyalty") * F.col("n") / F.col("n_ch")).alias("p")))
    pool = Window.partitionBy("cluster", "chapter")
    pools = (b.where(F.col("d0") > cutoff - 365).groupBy("cluster", "chapter", "supplier_id").agg(F.count("*").alias("n"))
             .withColumn("share", F.col("n") / F.sum("n").over(pool))
             .withColumn("rk", F.row_number().over(pool.orderBy(F.desc("share"), "supplier_id")))
             .where(F.col("rk") <= 30).select("cluster", "chapter", "supplier_id", "share"))
    overall = (b.groupBy("chapter", "cluster").agg(F.count("*").alias("g"))
               .withColumn("g", F.col("g") / F.sum("g").over(Window.partitionBy("chapter"))))
    mine = b.groupBy("buyer_id", "chapter", "cluster").agg(F.count("*").alias("m"))
    explore = (need.join(F.broadcast(overall), "chapter").join(mine, ["buyer_id", "chapter", "cluster"], "left")
               .fillna(0, ["m"]).join(pools, ["cluster", "chapter"])
               .select("buyer_id", "supplier_id", (F.col("p_chapter") * (1 - F.col("loyalty")) * F.col("share") *
                                                   (F.col("m") + 2.0 * F.col("g")) / (F.col("n_ch") + 2.0)).alias("p")))
    return own.unionByName(explore).groupBy("buyer_id", "supplier_id").agg(F.sum("p").alias("p"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, required=True)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", default="2026-11-20")
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    spark = (SparkSession.builder.master(args.master).appName("tradematch-matching-ceiling")
             .config("spark.driver.memory", "4g").config("spark.sql.shuffle.partitions", "8")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false").getOrCreate())
    start = time.monotonic()
    cfg = load_config()
    end_day = (dt.date.fromisoformat(args.as_of) - EPOCH).days
    w = World(args.seed, cfg, end_day - args.years * 365, end_day, args.orders)
    cutoff = end_day - cfg["time"]["history_cutoff_days"]
    t_mid = end_day - cfg["time"]["history_cutoff_days"] // 2
    parts, orders = world_orders(spark, w)
    before = orders.where(F.col("d0") <= cutoff)
    after = orders.where((F.col("d0") > cutoff) & (F.col("d0") <= end_day))
    users = before.select("buyer_id").distinct().join(after.select("buyer_id").distinct(), "buyer_id").localCheckpoint()
    revealed = before.select(F.col("buyer_id").alias("biz"), "chapter", F.col("supplier_id").alias("s_biz")).distinct()
    pool = TR.pool_shares(parts["tickets"], parts["sizes"])
    truth = lambda known: TR.propensity(w, parts["buyers"], parts["bc"], parts["regs"], pool, t_mid, known)  # noqa: E731
    as_scores = lambda df, buyer, supplier, score: df.select(  # noqa: E731
        F.col(buyer).alias("buyer_id"), F.col(supplier).alias("supplier_id"), F.col(score).alias("score"))
    lists = {"oracle": top(as_scores(truth(None), "biz", "s_biz", "propensity")),
             "informed": top(as_scores(truth(revealed), "biz", "s_biz", "propensity")),
             "learned": top(as_scores(learned(before, parts["suppliers"], cutoff), "buyer_id", "supplier_id", "p"))}
    relevant = after.select("buyer_id", "supplier_id")
    models = {name: ranking_metrics(recs, relevant, users, K) for name, recs in lists.items()}
    oracle = models["oracle"]["ndcg_at_10"]
    report = {"orders": args.orders, "seed": args.seed, "as_of": args.as_of, "cutoff": str(EPOCH + dt.timedelta(cutoff)),
              "scored_buyers": models["oracle"]["users"], "models": models,
              "ndcg_over_oracle": {m: round(v["ndcg_at_10"] / oracle, 3) for m, v in models.items() if m != "oracle"},
              "seconds": round(time.monotonic() - start, 1)}
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
