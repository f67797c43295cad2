"""The `world` section: how hard the generated world is, from landing files and truth alone."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from tradematch.evaluate.metrics import ranking_metrics, spearman
from tradematch.generate.landing_files import read_back
from tradematch.landing import record_hash
from tradematch.outcomes import bad_outcome, with_counterpart_flags
from tradematch.tables import Tables


def clean_landing(tables: Tables, entity: str) -> DataFrame:
    """An entity's landed records without the generator's dirty copies, typed per its schema file."""
    schema = tables.catalog.landing(entity)
    text = read_back(tables.spark, tables.lake, entity, schema).distinct()
    dirty = (tables.read("dirty_records").where((F.col("entity") == entity) & (F.col("rule") != "duplicate_record"))
             .select("record_hash"))
    clean = text.withColumn("record_hash", record_hash(schema.columns)).join(dirty, "record_hash", "left_anti")
    return clean.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.struct.fields])


def latest_orders(tables: Tables) -> DataFrame:
    """The newest known version of every order, with its HS chapter."""
    newest = Window.partitionBy("order_id").orderBy(F.col("updated_at").desc())
    return (clean_landing(tables, "orders").withColumn("_n", F.row_number().over(newest))
            .where(F.col("_n") == 1).drop("_n").withColumn("chapter", F.substring("hs_code", 1, 2)))


def p_bad_at(tables: Tables, role: str, as_of) -> DataFrame:
    """(party_id, p_bad) of each party of a role in its phase at the as-of."""
    return (tables.read("party_truth")
            .where((F.col("role") == role) & (F.col("valid_from") <= F.lit(as_of)) &
                   (F.col("valid_to").isNull() | (F.col("valid_to") > F.lit(as_of))))
            .select("party_id", "p_bad"))


def section(tables: Tables) -> dict:
    world = tables.read("world").head()
    orders = latest_orders(tables).cache()
    reviews = clean_landing(tables, "reviews")
    disputes = clean_landing(tables, "disputes").select("order_id", "opened_by").distinct()
    flagged = (orders.transform(with_counterpart_flags(reviews, disputes))
               .withColumn("bad", bad_outcome("supplier")))
    raw = (flagged.groupBy(F.col("supplier_id").alias("party_id"))
           .agg(F.count("*").alias("n"), F.avg(F.col("bad").cast("double")).alias("raw_bad_rate"))
           .where(F.col("n") >= 20)
           .join(p_bad_at(tables, "supplier", world.as_of), "party_id")
           .select((1 - F.col("raw_bad_rate")).alias("raw_good"), (1 - F.col("p_bad")).alias("true_good")))

    cutoff = F.lit(world.cutoff)
    before = orders.where(F.col("order_date") <= cutoff)
    after = orders.where(F.col("order_date") > cutoff)
    users = before.select("buyer_id").distinct().join(after.select("buyer_id").distinct(), "buyer_id")
    after_scored = after.join(users, "buyer_id")
    used = before.select("buyer_id", "supplier_id").distinct().withColumn("used", F.lit(True))
    bought = before.select("buyer_id", "chapter").distinct().withColumn("had", F.lit(True))
    shares = (after_scored.join(used, ["buyer_id", "supplier_id"], "left").join(bought, ["buyer_id", "chapter"], "left")
              .agg(F.avg(F.col("used").isNotNull().cast("double")).alias("repeat"),
                   F.avg(F.col("had").isNull().cast("double")).alias("new_chapter")).head())
    oracle = ranking_metrics(tables.read("buyer_top_suppliers"), after_scored.select("buyer_id", "supplier_id"),
                             users, k=10)
    delivered = orders.where(F.col("delivered_date").isNotNull())
    buyer_reviews = reviews.where(F.col("reviewer_role") == "buyer")
    n_orders = orders.count()
    calibration = {
        "orders": n_orders,
        "late_delivery_rate": delivered.agg(F.avg((F.col("delivered_date") > F.col("promised_delivery_date"))
                                                  .cast("double"))).head()[0],
        "complaint_rate_reviewed": buyer_reviews.agg(F.avg(F.col("complaint").cast("double"))).head()[0],
        "cancellation_rate": orders.agg(F.avg(F.col("status").startswith("cancelled").cast("double"))).head()[0],
        "dispute_rate": disputes.select("order_id").distinct().count() / max(1, n_orders),
        "suppliers": orders.select("supplier_id").distinct().count(),
        "buyers": orders.select("buyer_id").distinct().count(),
        "origin_countries": orders.select("origin_country").distinct().count(),
        "destination_countries": orders.select("destination_country").distinct().count(),
    }
    orders.unpersist()
    return {
        "config_hash": world.config_hash,
        "raw_rate_spearman_min20": spearman(raw, "raw_good", "true_good"),
        "repeat_supplier_share_after_cutoff": round(float(shares.repeat or 0), 4),
        "new_chapter_share_after_cutoff": round(float(shares.new_chapter or 0), 4),
        "oracle_ndcg_at_10": oracle["ndcg_at_10"],
        "scored_buyers": oracle["users"],
        "calibration": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in calibration.items()},
    }
