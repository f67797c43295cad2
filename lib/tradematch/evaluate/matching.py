"""The `matching` section: supplier lists on a time split, tradematch against popularity, implicit ALS
and the oracle that knows the true tastes.

Cutoff: the world's cutoff (as-of minus history_cutoff_days). tradematch is fitted as of the cutoff by
its own jobs (history to matching) in a scratch lake holding a copy of silver, so published gold tables
are never touched. Scored buyers have an order on or before the cutoff and one after it; relevant are
the suppliers a buyer ordered from after it (re-orders count). Each model gives each buyer one list of
10 suppliers:
- tradematch: the buyer's best 10 of supplier_matches over all its needs (a supplier once, its best score);
- popularity: suppliers by orders in the year before the cutoff in the buyer's chapters, weighted by the
  buyer's share of orders in each chapter;
- als: pyspark.ml ALS with implicit feedback on (buyer, supplier, orders) before the cutoff, its
  parameters picked on a validation window (fit before cutoff - VALIDATION_DAYS, scored on the orders
  up to the cutoff) from a small grid;
- oracle: the truth's buyer_top_suppliers.
`new_needs`: the same, counting only orders after the cutoff in chapters the buyer never bought before,
each model ranking only suppliers of such chapters (a supplier's chapters: those it sold before the cutoff).
"""
from __future__ import annotations

import datetime as dt
import shutil
import uuid

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from tradematch.evaluate import MissingInput
from tradematch.evaluate.metrics import ranking_metrics
from tradematch.lake import Lake
from tradematch.tables import Tables

K = 10
POPULARITY_DAYS, VALIDATION_DAYS, LONG_LIST = 365, 180, 200
ALS_GRID = ({"rank": 16, "regParam": 0.1, "alpha": 10.0}, {"rank": 32, "regParam": 0.1, "alpha": 10.0},
            {"rank": 16, "regParam": 0.05, "alpha": 40.0}, {"rank": 32, "regParam": 0.3, "alpha": 40.0})
INPUTS = ("orders", "orders_history", "disputes", "reviews", "parties", "rfqs", "risk_overrides", "buyer_top_suppliers")


def _top(scores: DataFrame, n: int = K) -> DataFrame:
    """(buyer_id, supplier_id, score) -> (buyer_id, rank, supplier_id), the n best per buyer."""
    best = Window.partitionBy("buyer_id").orderBy(F.col("score").desc(), "supplier_id")
    return (scores.groupBy("buyer_id", "supplier_id").agg(F.max("score").alias("score"))
            .withColumn("rank", F.row_number().over(best)).where(F.col("rank") <= n)
            .select("buyer_id", "rank", "supplier_id"))


def fit_tradematch(tables: Tables, cutoff: dt.date) -> DataFrame:
    """supplier_matches as of the cutoff, from every job after ingest run in a scratch lake on a copy of
    silver; the scratch lake is removed afterwards."""
    from tradematch import pipeline
    from tradematch.runs import JobRun

    lake = tables.lake
    if not lake.is_local:
        raise MissingInput(f"the matching section fits in a local scratch lake; {lake.root} is not local")
    scratch = Lake(lake.path("_scratch", "matching", uuid.uuid4().hex[:12]))
    shutil.copytree(lake.local_root / "silver", scratch.local_root / "silver")
    names = [j.name for j in pipeline.JOBS]
    for job in pipeline.JOBS[names.index("history"):names.index("matching") + 1]:
        run = JobRun(f"evaluate-matching-{job.name}", job.name, cutoff)
        scratch_tables = Tables(tables.spark, scratch, tables.catalog, run, keep_failed_staging=False)
        job.run(pipeline.JobContext(tables.spark, None, scratch, scratch_tables, run, cutoff, {}))
    matches = (Tables(tables.spark, scratch, tables.catalog).read("supplier_matches")
               .select("buyer_id", "hs_chapter", "supplier_id", "score").localCheckpoint())
    shutil.rmtree(scratch.local_root, ignore_errors=True)
    return matches


def popularity(before: DataFrame, cutoff: dt.date, per_chapter: int) -> DataFrame:
    """(buyer_id, hs_chapter, supplier_id, score): the buyer's chapter share x the supplier's orders in
    the chapter in the year before the cutoff, for the per_chapter most ordered suppliers of each chapter."""
    year = before.where(F.col("order_date") > F.lit(cutoff - dt.timedelta(days=POPULARITY_DAYS)))
    best = (year.groupBy("hs_chapter", "supplier_id").agg(F.count("*").alias("n"))
            .withColumn("_r", F.row_number().over(Window.partitionBy("hs_chapter").orderBy(F.col("n").desc(), "supplier_id")))
            .where(F.col("_r") <= per_chapter))
    share = (before.groupBy("buyer_id", "hs_chapter").agg(F.count("*").alias("b"))
             .withColumn("share", F.col("b") / F.sum("b").over(Window.partitionBy("buyer_id"))))
    return share.join(best, "hs_chapter").select("buyer_id", "hs_chapter", "supplier_id",
                                                 (F.col("share") * F.col("n")).alias("score"))


def _als_fit(train: DataFrame, params: dict):
    from pyspark.ml.recommendation import ALS

    als = ALS(userCol="u", itemCol="i", ratingCol="n", implicitPrefs=True, coldStartStrategy="drop",
              maxIter=10, seed=7, **params)
    return als.fit(train)


def als(before: DataFrame, users: DataFrame, cutoff: dt.date, n: int) -> tuple[DataFrame, dict]:
    """(buyer_id, supplier_id, score) for the n best suppliers of each user, and the parameters chosen."""
    ids = lambda col, name: (before.select(col).distinct()  # noqa: E731
                             .withColumn(name, F.dense_rank().over(Window.orderBy(col)) - 1).localCheckpoint())
    b_ids, s_ids = ids("buyer_id", "u"), ids("supplier_id", "i")
    indexed = before.join(b_ids, "buyer_id").join(s_ids, "supplier_id")
    counts = lambda df: df.groupBy("u", "i").agg(F.count("*").cast("float").alias("n"))  # noqa: E731
    split = F.lit(cutoff - dt.timedelta(days=VALIDATION_DAYS))
    train = counts(indexed.where(F.col("order_date") <= split)).localCheckpoint()
    held = indexed.where(F.col("order_date") > split)
    val_users = (indexed.where(F.col("order_date") <= split).select("buyer_id", "u").distinct()
                 .join(held.select("buyer_id").distinct(), "buyer_id"))
    tried = []
    for params in ALS_GRID:
        model = _als_fit(train, params)
        recs = _als_recs(model, val_users, s_ids, K)
        ndcg = ranking_metrics(recs, held.select("buyer_id", "supplier_id"), val_users.select("buyer_id"), K)["ndcg_at_10"]
        tried.append({**params, "validation_ndcg_at_10": ndcg})
    best = max(tried, key=lambda t: t["validation_ndcg_at_10"])
    params = {k: best[k] for k in ("rank", "regParam", "alpha")}
    model = _als_fit(counts(indexed), params)
    recs = _als_recs(model, users.join(b_ids, "buyer_id"), s_ids, n)
    scored = recs.select("buyer_id", "supplier_id", (-F.col("rank")).cast("double").alias("score"))
    return scored, {"chosen": params, "grid": tried, "validation_days": VALIDATION_DAYS, "max_iter": 10}


def _als_recs(model, users: DataFrame, s_ids: DataFrame, n: int) -> DataFrame:
    """(buyer_id, rank, supplier_id) from the model's n best items for users (buyer_id, u)."""
    recs = model.recommendForUserSubset(users.select("u"), n)
    return (recs.select("u", F.posexplode("recommendations").alias("pos", "r"))
            .select("u", (F.col("pos") + 1).alias("rank"), F.col("r.i").alias("i"))
            .join(users, "u").join(s_ids, "i").select("buyer_id", "rank", "supplier_id"))


def section(tables: Tables, baselines: tuple[str, ...] = ("popularity", "als", "oracle")) -> dict:
    """The section's figures for tradematch and the baselines named (the CI test leaves ALS out)."""
    for name in INPUTS:
        if not tables.exists(name):
            raise MissingInput(f"no {name} table: run `tradematch job ingest` first")
    world = tables.read("world").head()
    cutoff, as_of = world.cutoff, world.as_of
    orders = tables.read("orders").select("buyer_id", "supplier_id", "hs_chapter", "order_date")
    before = orders.where(F.col("order_date") <= F.lit(cutoff)).localCheckpoint()
    after = orders.where((F.col("order_date") > F.lit(cutoff)) & (F.col("order_date") <= F.lit(as_of)))
    users = before.select("buyer_id").distinct().join(after.select("buyer_id").distinct(), "buyer_id").localCheckpoint()
    catalogue = before.select("supplier_id").distinct().count()
    had = before.select("buyer_id", "hs_chapter").distinct()
    sells = before.select("supplier_id", "hs_chapter").distinct()
    new_after = after.join(had, ["buyer_id", "hs_chapter"], "left_anti")
    new_users = new_after.select("buyer_id").distinct().join(users, "buyer_id").localCheckpoint()
    # a supplier qualifies for a buyer when it sold a chapter the buyer never bought: scored buyers x the
    # short list of chapters (a few dozen), then a join on the chapter, never buyers x suppliers
    new_chapters = (new_users.crossJoin(F.broadcast(sells.select("hs_chapter").distinct()))
                    .join(had, ["buyer_id", "hs_chapter"], "left_anti")).localCheckpoint()
    qualifies = new_chapters.join(sells, "hs_chapter").select("buyer_id", "supplier_id").distinct()

    matches = fit_tradematch(tables, cutoff)
    lists = {"tradematch": (matches.select("buyer_id", "supplier_id", "score"),
                            matches.join(new_chapters, ["buyer_id", "hs_chapter"]).select("buyer_id", "supplier_id", "score"))}
    extra = {}
    if "popularity" in baselines:
        lists["popularity"] = (popularity(before, cutoff, 3 * K).select("buyer_id", "supplier_id", "score"),
                               popularity_new(before, cutoff, new_chapters))
    if "als" in baselines:
        scores, extra["als"] = als(before, users, cutoff, LONG_LIST)
        scores = scores.localCheckpoint()
        lists["als"] = (scores, scores.join(qualifies, ["buyer_id", "supplier_id"]))
    if "oracle" in baselines:
        oracle = tables.read("buyer_top_suppliers").select("buyer_id", "supplier_id",
                                                           (-F.col("rank")).cast("double").alias("score"))
        lists["oracle"] = (oracle, oracle.join(qualifies, ["buyer_id", "supplier_id"]))
    relevant, new_relevant = after.select("buyer_id", "supplier_id"), new_after.select("buyer_id", "supplier_id")
    models = {m: ranking_metrics(_top(all_), relevant, users, K, catalogue) for m, (all_, _) in lists.items()}
    new_models = {m: ranking_metrics(_top(new), new_relevant, new_users, K, catalogue) for m, (_, new) in lists.items()}
    return {"cutoff": cutoff.isoformat(), "k": K, "scored_buyers": models["tradematch"]["users"],
            "catalogue": catalogue, "models": models, **extra, "ndcg_ratio": _ratios(models),
            "new_needs": {"models": new_models, "ndcg_ratio": _ratios(new_models)}}


def popularity_new(before: DataFrame, cutoff: dt.date, new_chapters: DataFrame) -> DataFrame:
    """Popularity for new needs: the most ordered suppliers of the chapters the buyer never bought."""
    year = before.where(F.col("order_date") > F.lit(cutoff - dt.timedelta(days=POPULARITY_DAYS)))
    best = (year.groupBy("hs_chapter", "supplier_id").agg(F.count("*").cast("double").alias("score"))
            .withColumn("_r", F.row_number().over(Window.partitionBy("hs_chapter").orderBy(F.col("score").desc(), "supplier_id")))
            .where(F.col("_r") <= K))
    return new_chapters.join(best, "hs_chapter").select("buyer_id", "supplier_id", "score")


def _ratios(models: dict) -> dict:
    tm = models["tradematch"]["ndcg_at_10"]
    return {f"tradematch_over_{m}": (round(tm / v["ndcg_at_10"], 3) if v["ndcg_at_10"] else None)
            for m, v in models.items() if m != "tradematch"}
