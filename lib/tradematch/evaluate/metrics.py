"""Ranking and rank-correlation metrics computed in Spark, shared by every report section."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window


def _avg_rank(df: DataFrame, col: str) -> DataFrame:
    """Rank of `col` with ties sharing their average rank (as Spearman needs)."""
    return (df.withColumn(f"_{col}_rank", F.rank().over(Window.orderBy(col)) +
                          (F.count("*").over(Window.partitionBy(col)) - 1) / 2.0))


def spearman(df: DataFrame, x: str, y: str) -> float | None:
    """Spearman's rank correlation of two columns (a small frame: one row per party)."""
    ranked = _avg_rank(_avg_rank(df.select(x, y).dropna(), x), y)
    value = ranked.agg(F.corr(f"_{x}_rank", f"_{y}_rank")).head()[0]
    return None if value is None else round(float(value), 4)


def ranking_metrics(recs: DataFrame, relevant: DataFrame, users: DataFrame, k: int = 10,
                    catalogue: int | None = None) -> dict:
    """precision, recall, NDCG and MAP at k, averaged over `users` (a user without a list scores 0).

    recs: (buyer_id, rank, supplier_id); relevant: (buyer_id, supplier_id); users: (buyer_id).
    """
    rel = relevant.select("buyer_id", "supplier_id").distinct()
    n_rel = rel.groupBy("buyer_id").agg(F.count("*").alias("n_rel"))
    top = recs.where(F.col("rank") <= k).join(users, "buyer_id")
    hits = (top.join(rel.withColumn("hit", F.lit(1)), ["buyer_id", "supplier_id"], "left")
            .fillna(0, ["hit"])
            .withColumn("cum_hits", F.sum("hit").over(Window.partitionBy("buyer_id").orderBy("rank")
                                                      .rowsBetween(Window.unboundedPreceding, Window.currentRow))))
    per_user = hits.groupBy("buyer_id").agg(
        F.sum("hit").alias("hits"),
        F.sum(F.col("hit") / F.log2(F.col("rank") + 1)).alias("dcg"),
        F.sum(F.col("hit") * F.col("cum_hits") / F.col("rank")).alias("ap_sum"))
    scored = (users.join(n_rel, "buyer_id", "left").join(per_user, "buyer_id", "left")
              .fillna(0, ["hits", "dcg", "ap_sum", "n_rel"])
              .withColumn("idcg", F.expr(f"aggregate(sequence(1, greatest(1, least(n_rel, {k}))), 0D, "
                                         "(a, i) -> a + 1D / log2(i + 1))"))
              .withColumn("cut", F.greatest(F.lit(1), F.least(F.col("n_rel"), F.lit(k)))))
    row = scored.agg(
        F.avg(F.col("hits") / k).alias("precision"),
        F.avg(F.when(F.col("n_rel") > 0, F.col("hits") / F.col("n_rel")).otherwise(0.0)).alias("recall"),
        F.avg(F.when(F.col("n_rel") > 0, F.col("dcg") / F.col("idcg")).otherwise(0.0)).alias("ndcg"),
        F.avg(F.col("ap_sum") / F.col("cut")).alias("map"),
        F.count("*").alias("users")).head()
    out = {f"precision_at_{k}": row.precision, f"recall_at_{k}": row.recall, f"ndcg_at_{k}": row.ndcg,
           f"map_at_{k}": row["map"], "users": row.users}
    out = {key: (round(float(v), 4) if isinstance(v, float) else v) for key, v in out.items()}
    if catalogue:
        out["coverage"] = round(top.select("supplier_id").distinct().count() / catalogue, 4)
    return out
