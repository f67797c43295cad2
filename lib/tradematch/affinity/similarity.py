"""chapter_similarity: how often buyers of one HS chapter also buy another, so a buyer can be offered a
need it has not had yet. Counted on distinct (buyer, chapter) pairs, so a pair of chapters costs what its
buyers in common cost, never a buyer x buyer or chapter x everything product.

jaccard = buyers of both / buyers of either; lift = buyers of both x all buyers / (buyers of a x buyers of b).
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window


def chapter_similarity(affinity: DataFrame, conf: dict) -> DataFrame:
    """buyer_supplier_affinity rows of one as-of -> (as_of, hs_chapter, similar_chapter, buyers_both,
    buyers, similar_buyers, jaccard, lift, similarity, rank): the `top` most similar chapters per chapter
    with at least `min_buyers` buyers in common, by the measure conf names."""
    s = conf["similarity"]
    bought = affinity.select("as_of", "buyer_id", "hs_chapter").distinct()
    buyers = bought.groupBy("as_of", "hs_chapter").agg(F.count("*").alias("buyers"))
    everyone = F.lit(bought.select("buyer_id").distinct().count())  # buyers with an order: one number
    other = bought.select("as_of", "buyer_id", F.col("hs_chapter").alias("similar_chapter"))
    pairs = (bought.join(other, ["as_of", "buyer_id"]).where(F.col("hs_chapter") != F.col("similar_chapter"))
             .groupBy("as_of", "hs_chapter", "similar_chapter").agg(F.count("*").alias("buyers_both"))
             .where(F.col("buyers_both") >= int(s["min_buyers"])))
    scored = (pairs.join(buyers, ["as_of", "hs_chapter"])
              .join(buyers.select("as_of", F.col("hs_chapter").alias("similar_chapter"),
                                  F.col("buyers").alias("similar_buyers")), ["as_of", "similar_chapter"])
              .withColumn("jaccard", F.col("buyers_both") / (F.col("buyers") + F.col("similar_buyers") - F.col("buyers_both")))
              .withColumn("lift", F.col("buyers_both") * everyone / (F.col("buyers") * F.col("similar_buyers")))
              .withColumn("similarity", F.col(s["measure"])))
    best = Window.partitionBy("as_of", "hs_chapter").orderBy(F.col("similarity").desc(), "similar_chapter")
    return scored.withColumn("rank", F.row_number().over(best)).where(F.col("rank") <= int(s["top"]))
