"""What each buyer needs, one row per (buyer, chapter) with a weight: the chapters it buys (its share of
its decayed strength), the chapters similar to them it never bought, and the chapters of its open RFQs."""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

NEED = ["buyer_id", "hs_chapter"]


def chapter_shares(affinity: DataFrame) -> DataFrame:
    """buyer_supplier_affinity rows -> (buyer_id, hs_chapter, strength, share): the buyer's positive
    strength per chapter and its share of the buyer's total (0 when the buyer has none left)."""
    per = affinity.groupBy(*NEED).agg(F.sum(F.greatest(F.col("strength"), F.lit(0.0))).alias("strength"))
    total = F.sum("strength").over(Window.partitionBy("buyer_id"))
    return per.withColumn("share", F.coalesce(F.try_divide(F.col("strength"), total), F.lit(0.0)))


def open_rfqs(rfqs: DataFrame, as_of: dt.date, conf: dict) -> DataFrame:
    """RFQs open at the as-of: posted in the rfq_open_days before it (silver keeps only an RFQ's latest
    state, so a past as-of reads openness from the posting date) and not closed without award since."""
    days = int(conf["matching"]["rfq_open_days"])
    return rfqs.where((F.col("created_on") <= F.lit(as_of)) &
                      (F.col("created_on") > F.lit(as_of - dt.timedelta(days=days))))


def buyer_needs(shares: DataFrame, similarity: DataFrame, rfqs: DataFrame, conf: dict) -> DataFrame:
    """(buyer_id, hs_chapter, need, need_weight, similar_to): one row per buyer and chapter; need is
    rfq, bought or similar (the first that applies), need_weight the largest of its weights."""
    m = conf["matching"]
    bought = shares.select(*NEED, F.lit("bought").alias("need"), F.col("share").alias("need_weight"),
                           F.lit(None).cast("string").alias("similar_to"))
    sim = similarity.select(F.col("hs_chapter").alias("from_chapter"), F.col("similar_chapter").alias("hs_chapter"),
                            "similarity")
    w = F.lit(float(m["similar_need_weight"])) * F.col("share") * F.col("similarity")
    similar = (shares.select("buyer_id", F.col("hs_chapter").alias("from_chapter"), "share")
               .join(F.broadcast(sim), "from_chapter")
               .join(shares.select(*NEED), NEED, "left_anti")
               .groupBy(*NEED).agg(F.sum(w).alias("need_weight"), F.max_by("from_chapter", w).alias("similar_to"))
               .withColumn("_n", F.row_number().over(Window.partitionBy("buyer_id")
                                                     .orderBy(F.col("need_weight").desc(), "hs_chapter")))
               .where(F.col("_n") <= int(m["max_similar_needs"]))
               .select(*NEED, F.lit("similar").alias("need"), "need_weight", "similar_to"))
    asked = rfqs.select(*NEED).distinct().select(*NEED, F.lit("rfq").alias("need"),
                                                 F.lit(float(m["rfq_need_weight"])).alias("need_weight"),
                                                 F.lit(None).cast("string").alias("similar_to"))
    order = F.when(F.col("need") == "rfq", 0).when(F.col("need") == "bought", 1).otherwise(2)
    first = Window.partitionBy(*NEED).orderBy(order)
    return (bought.unionByName(similar).unionByName(asked)
            .withColumn("need_weight", F.max("need_weight").over(Window.partitionBy(*NEED)))
            .withColumn("_n", F.row_number().over(first)).where(F.col("_n") == 1).drop("_n"))
