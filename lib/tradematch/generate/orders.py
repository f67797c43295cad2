"""Orders: who buys what from whom and when, and how it goes.

Sampling is by table lookups, never by a buyer x supplier product: a day comes from a bucket table of
the seasonal, growing calendar; a chapter from the buyer's adopted needs; a supplier from the buyer's
regulars (loyalty) or from a pool of (cluster, chapter) "tickets", one per share of weight, so a draw
is an equi-join on a ticket number. Outcomes come from the latent p_bad of both sides at the order date.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from tradematch.generate import draws as D
from tradematch.generate.parties import World, p_bad_at, party_id_at

BUCKETS = 1 << 16
TICKETS_PER_SUPPLIER = 4


def calendar(spark: SparkSession, w: World) -> tuple[DataFrame, DataFrame]:
    """(days with their cumulative volume share, bucket -> day) for the seasonal, growing calendar."""
    t = w.cfg["time"]
    season = F.element_at(F.array(*[F.lit(float(x)) for x in t["seasonality"]]),
                          F.month(F.date_add(F.lit("1970-01-01").cast("date"), F.col("day").cast("int"))))
    growth = F.pow(F.lit(1.0 + t["growth_per_year"]), (F.col("day") - w.start_day) / 365.0)
    days = (spark.range(w.start_day, w.end_day + 1).withColumnRenamed("id", "day")
            .withColumn("weight", season * growth).coalesce(1))
    whole = Window.orderBy("day").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    days = (days.withColumn("cum_hi", F.sum("weight").over(whole))
            .withColumn("total", F.sum("weight").over(Window.partitionBy()))
            .select("day", (F.col("cum_hi") / F.col("total")).alias("cum_hi"),
                    ((F.col("cum_hi") - F.col("weight")) / F.col("total")).alias("cum_lo")))
    buckets = days.select("day", F.explode(F.sequence(
        F.floor(F.col("cum_lo") * BUCKETS).cast("int"),
        F.greatest(F.floor(F.col("cum_lo") * BUCKETS).cast("int"),
                   F.least(F.lit(BUCKETS - 1), F.ceil(F.col("cum_hi") * BUCKETS).cast("int") - 1)))).alias("bucket"))
    buckets = buckets.groupBy("bucket").agg(F.min("day").alias("day"))
    return days, buckets


def supplier_chapters(w: World, suppliers: DataFrame) -> DataFrame:
    """Each supplier makes 1-3 of its cluster's chapters, drawn by the cluster's weights."""
    rows = [(name, ch, float(wt)) for name, c in w.cfg["clusters"].items() for ch, wt in c["chapters"].items()]
    lo, hi = w.cfg["supplier_choice"]["chapters_per_supplier"]
    offer = suppliers.sparkSession.createDataFrame(rows, "cluster string, chapter string, chapter_weight double")
    ranked = (suppliers.join(F.broadcast(offer), "cluster")
              .withColumn("es_key", -F.log(F.lit(1.0) - D.uniform(w.seed, "sup_ch", F.col("biz"), F.col("chapter")))
                          / F.col("chapter_weight"))
              .withColumn("rank", F.row_number().over(Window.partitionBy("biz").orderBy("es_key", "chapter")))
              .withColumn("n_chapters", D.int_between(w.seed, "sup_nch", lo, hi, F.col("biz"))))
    return ranked.where(F.col("rank") <= F.col("n_chapters")).drop("es_key", "rank", "n_chapters")


def ticket_pools(w: World, sup_chapters: DataFrame) -> tuple[DataFrame, DataFrame]:
    """(tickets, pool sizes) for every supplier and for anchors only (registered before the window).

    A supplier holds tickets in proportion to activity x (1 - p_bad)^quality_awareness within its
    (cluster, chapter) pool, so exploring buyers find busy, good suppliers more often.
    """
    qa = w.cfg["supplier_choice"]["quality_awareness"]
    weighted = sup_chapters.withColumn(
        "pull", F.col("activity") * F.pow(F.lit(1.0) - p_bad_at(F.lit(w.start_day)), F.lit(qa)))
    out = []
    for pool, rows in (("all", weighted), ("anchor", weighted.where(F.col("registered_day") < w.start_day))):
        group = Window.partitionBy("cluster", "chapter")
        ordered = group.orderBy("biz").rowsBetween(Window.unboundedPreceding, Window.currentRow)
        t = (rows.withColumn("n", F.greatest(F.lit(1), F.round(
                F.col("pull") / F.avg("pull").over(group) * TICKETS_PER_SUPPLIER).cast("int")))
             .withColumn("hi", F.sum("n").over(ordered)))
        tickets = t.select("cluster", "chapter", "biz",
                           F.explode(F.sequence(F.col("hi") - F.col("n"), F.col("hi") - 1)).alias("ticket"))
        sizes = t.groupBy("cluster", "chapter").agg(F.max("hi").alias("tickets"))
        out.append((tickets.withColumn("pool", F.lit(pool)), sizes.withColumn("pool", F.lit(pool))))
    return out[0][0].unionByName(out[1][0]), out[0][1].unionByName(out[1][1])


def chapter_clusters(spark: SparkSession, w: World) -> DataFrame:
    """(chapter, cluster, cum_lo, cum_hi): where a chapter's supply comes from."""
    rows = [(ch, name, c["weight"] * wt) for name, c in w.cfg["clusters"].items() for ch, wt in c["chapters"].items()]
    df = spark.createDataFrame(rows, "chapter string, cluster string, share double")
    by_ch = Window.partitionBy("chapter")
    cum = by_ch.orderBy("cluster").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (df.withColumn("cum_hi", F.sum("share").over(cum) / F.sum("share").over(by_ch))
            .withColumn("cum_lo", F.col("cum_hi") - F.col("share") / F.sum("share").over(by_ch)).drop("share"))


def active_window(w: World, buyers: DataFrame, days: DataFrame) -> DataFrame:
    """Buyers with their active days [a, e] and the calendar share inside them."""
    a = F.greatest(F.col("registered_day"), F.lit(w.start_day))
    e = F.least(F.coalesce(F.col("churn_day"), F.lit(w.end_day)), F.lit(w.end_day))
    b = buyers.withColumn("a", a).withColumn("e", e).where(F.col("e") > F.col("a"))
    lo = days.select(F.col("day").alias("a"), F.col("cum_lo").alias("c_a"))
    hi = days.select(F.col("day").alias("e"), F.col("cum_hi").alias("c_e"))
    return b.join(F.broadcast(lo), "a").join(F.broadcast(hi), "e")


def buyer_chapters(spark: SparkSession, w: World, buyers: DataFrame, clusters: DataFrame) -> DataFrame:
    """(buyer, chapter): the order it takes needs on, when, its base weight, favourite and second cluster."""
    cfg = w.cfg["buyers"]
    rows = [(a, ch, float(wt)) for a, spec in w.cfg["archetypes"].items() for ch, wt in spec["chapters"].items()]
    needs = spark.createDataFrame(rows, "archetype string, chapter string, need_weight double")
    biz, ch = F.col("biz"), F.col("chapter")
    lo, hi = cfg["initial_chapters"]
    by_buyer = Window.partitionBy("biz").orderBy("rank").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    bc = (buyers.select("biz", "archetype", "a").join(F.broadcast(needs), "archetype")
          .withColumn("es_key", -F.log(F.lit(1.0) - D.uniform(w.seed, "need", biz, ch)) / F.col("need_weight"))
          .withColumn("rank", F.row_number().over(Window.partitionBy("biz").orderBy("es_key", "chapter")))
          .withColumn("n0", D.int_between(w.seed, "n0", lo, hi, biz))
          .withColumn("gap", F.when(F.col("rank") > F.col("n0"), D.exponential(
              w.seed, "adopt", 365.0 / cfg["chapter_adoption_per_year"], biz, ch)).otherwise(F.lit(0.0)))
          .withColumn("adopt_day", F.col("a") + F.sum("gap").over(by_buyer).cast("int"))
          .withColumn("base_weight", F.col("need_weight") * D.lognormal(w.seed, "need_w", 0.6, biz, ch))
          .withColumn("is_new", F.col("rank") > F.col("n0")))
    for name, salt in (("fav_cluster", "fav"), ("alt_cluster", "alt")):
        u = D.uniform(w.seed, salt, biz, ch)
        picked = bc.withColumn("_u", u).join(F.broadcast(clusters), "chapter").where(
            (F.col("_u") >= F.col("cum_lo")) & (F.col("_u") < F.col("cum_hi")))
        bc = picked.select(*[c for c in bc.columns], F.col("cluster").alias(name))
    return bc.drop("es_key", "gap", "n0")


def regulars(w: World, bc: DataFrame, tickets: DataFrame, sizes: DataFrame, suppliers: DataFrame) -> DataFrame:
    """(buyer, chapter) -> the regular suppliers it goes back to, drawn from its favourite cluster."""
    lo, hi = w.cfg["buyers"]["regulars_per_chapter"]
    biz, ch = F.col("biz"), F.col("chapter")
    slots = (bc.select("biz", "chapter", F.col("fav_cluster").alias("cluster"))
             .withColumn("r", D.int_between(w.seed, "nreg", lo, hi, biz, ch))
             .withColumn("j", F.explode(F.sequence(F.lit(1), F.col("r"))))
             .join(F.broadcast(sizes.where(F.col("pool") == "all").drop("pool")), ["cluster", "chapter"])
             .withColumn("ticket", F.floor(D.uniform(w.seed, "reg", biz, ch, F.col("j")) * F.col("tickets")).cast("int")))
    won = slots.join(tickets.where(F.col("pool") == "all").select(
        "cluster", "chapter", "ticket", F.col("biz").alias("s_biz")), ["cluster", "chapter", "ticket"])
    life = suppliers.select(F.col("biz").alias("s_biz"), "registered_day", "exit_day", "new_registered_day")
    won = won.join(life, "s_biz").select("biz", "chapter", F.struct(
        "j", "s_biz", "registered_day", "exit_day", "new_registered_day").alias("reg"))
    return won.groupBy("biz", "chapter").agg(F.sort_array(F.collect_list("reg")).alias("regulars"))


_CHAPTER_PICK = """
  aggregate(
    transform(filter(needs, x -> x.adopt_day <= order_day),
              x -> named_struct('chapter', x.chapter,
                                'w', x.base_weight * IF(x.is_new AND order_day - x.adopt_day < 180, {boost}D, 1D))),
    named_struct('cum', 0D, 'chapter', CAST(NULL AS STRING)),
    (acc, x) -> named_struct('cum', acc.cum + x.w,
                             'chapter', IF(acc.chapter IS NULL AND acc.cum + x.w >= _target, x.chapter, acc.chapter))
  ).chapter"""


def pick_chapter(w: World, day_col: str, key_col: str, salt: str) -> callable:
    """Rows with `needs` (the buyer's array) -> a chapter among those adopted by the day, boosted when new."""
    boost = w.cfg["buyers"]["new_chapter_boost"]
    total = ("aggregate(filter(needs, x -> x.adopt_day <= order_day), 0D, (acc, x) -> acc + x.base_weight * "
             f"IF(x.is_new AND order_day - x.adopt_day < 180, {boost}D, 1D))")

    def apply(df: DataFrame) -> DataFrame:
        return (df.withColumn("order_day", F.col(day_col))
                .withColumn("_target", F.expr(total) * D.uniform(w.seed, salt, F.col(key_col)))
                .withColumn("chapter", F.expr(_CHAPTER_PICK.format(boost=boost)))
                .drop("_target"))
    return apply


def order_slots(w: World, buyers: DataFrame, buckets: DataFrame, bc: DataFrame) -> DataFrame:
    """One row per order: buyer, day and chapter. Orders per buyer follow activity x active share."""
    x = F.col("activity") * (F.col("c_e") - F.col("c_a"))
    total = buyers.agg(F.sum(x)).head()[0]
    counts = buyers.withColumn("n_orders", F.floor(
        F.lit(float(w.orders)) * x / F.lit(total) + D.uniform(w.seed, "nround", F.col("biz"))).cast("int"))
    needs = bc.groupBy("biz").agg(F.collect_list(F.struct("chapter", "adopt_day", "base_weight", "is_new")).alias("needs"))
    slots = (counts.where(F.col("n_orders") > 0)
             .withColumn("slot", F.explode(F.sequence(F.lit(1), F.col("n_orders"))))
             .withColumn("okey", F.concat_ws(":", F.col("biz"), F.col("slot")))
             .withColumn("bucket", F.floor((F.col("c_a") + D.uniform(w.seed, "when", F.col("okey")) *
                                            (F.col("c_e") - F.col("c_a"))) * BUCKETS).cast("int")))
    slots = slots.join(F.broadcast(buckets), "bucket").withColumnRenamed("day", "d0")
    slots = slots.join(needs, "biz").transform(pick_chapter(w, "d0", "okey", "chapter"))
    return slots.drop("needs", "order_day", "bucket")


def _active(prefix: str, day) -> F.Column:
    c = lambda n: F.col(prefix + n)  # noqa: E731
    return (c("registered_day") <= day) & (c("exit_day").isNull() | (day < c("exit_day")) |
                                           (day >= c("new_registered_day")))


def choose_suppliers(w: World, slots: DataFrame, bc: DataFrame, regs: DataFrame,
                     tickets: DataFrame, sizes: DataFrame) -> DataFrame:
    """Loyal orders go to a regular; the rest explore the favourite (or second) cluster's pool."""
    cfg = w.cfg["buyers"]
    key, d0 = F.col("okey"), F.col("d0")
    o = (slots.join(bc.select("biz", "chapter", "fav_cluster", "alt_cluster"), ["biz", "chapter"])
         .join(regs, ["biz", "chapter"], "left")
         .withColumn("cluster", F.when(D.uniform(w.seed, "favc", key) < cfg["favourite_cluster_share"],
                                       F.col("fav_cluster")).otherwise(F.col("alt_cluster"))))
    n_reg = F.size("regulars")
    o = o.withColumn("reg", F.when(
        (D.uniform(w.seed, "loyal", key) < F.col("loyalty")) & (n_reg > 0),
        F.element_at("regulars", (F.floor(F.pow(D.uniform(w.seed, "regi", key), 2) * n_reg) + 1).cast("int"))))
    all_t = tickets.where(F.col("pool") == "all").drop("pool")
    anchor_t = tickets.where(F.col("pool") == "anchor").drop("pool")
    for pool, t in (("all", all_t), ("anchor", anchor_t)):
        size = sizes.where(F.col("pool") == pool).select("cluster", "chapter", F.col("tickets").alias(f"{pool}_n"))
        o = (o.join(F.broadcast(size), ["cluster", "chapter"], "left")
             .withColumn("ticket", F.floor(D.uniform(w.seed, pool, key) * F.col(f"{pool}_n")).cast("int"))
             .join(t.withColumnRenamed("biz", f"{pool}_biz"), ["cluster", "chapter", "ticket"], "left")
             .drop("ticket", f"{pool}_n"))
    return o.select("okey", F.col("biz").alias("b_biz"), "d0", "chapter", "reg", "all_biz", "anchor_biz")


def settle_supplier(w: World, picks: DataFrame, suppliers: DataFrame) -> DataFrame:
    """The first active choice of regular, pool draw, anchor draw; orders with none are dropped."""
    life = suppliers.select(F.col("biz").alias("s_biz"), *[F.col(c).alias("p_" + c) for c in
                                                          ("registered_day", "exit_day", "new_registered_day")])
    reg_ok = F.col("reg").isNotNull() & _active("reg.", F.col("d0"))
    o = picks.join(life.withColumnRenamed("s_biz", "all_biz"), "all_biz", "left")
    o = o.withColumn("s_biz", F.when(reg_ok, F.col("reg.s_biz"))
                     .when(F.col("all_biz").isNotNull() & _active("p_", F.col("d0")), F.col("all_biz"))
                     .otherwise(F.col("anchor_biz")))
    return o.select("okey", "b_biz", "s_biz", "d0", "chapter").where(F.col("s_biz").isNotNull())


def outcomes(w: World, orders: DataFrame, buyers: DataFrame, suppliers: DataFrame, fx: DataFrame) -> DataFrame:
    """Order facts: ids, goods, money, promised and actual dates, and the faults behind them."""
    cfg, seed, key = w.cfg, w.seed, F.col("okey")
    u = lambda salt: D.uniform(seed, salt, key)  # noqa: E731
    uint = lambda salt, lo, hi: D.int_between(seed, salt, lo, hi, key)  # noqa: E731
    bcols = ["biz", "party_id", "new_party_id", "exit_day", "new_registered_day", "country", "currency", "kind",
             "p_bad_when_good", "p_bad_when_bad", "onset_day", "recovery_day"]
    scols = bcols + ["cluster", "weak_market", "registered_day"]
    o = (orders.join(buyers.select(*[F.col(c).alias("b_" + c) for c in bcols]), "b_biz")
         .join(suppliers.select(*[F.col(c).alias("s_" + c) for c in scols]), "s_biz"))
    d0 = F.col("d0")
    o = (o.withColumn("buyer_id", party_id_at(d0, "b_")).withColumn("supplier_id", party_id_at(d0, "s_"))
         .where(F.col("buyer_id").isNotNull() & F.col("supplier_id").isNotNull()))
    traits, out = cfg["traits"], cfg["outcomes"]
    p_s = F.least(F.lit(0.95), p_bad_at(d0, "s_") + F.when(
        F.col("s_weak_market") == F.col("b_country"), F.lit(traits["weak_market_extra"])).otherwise(0.0))
    market_transit = D.literal_map({k: v["transit_days"] for k, v in cfg["markets"].items()})
    prices = D.literal_map(cfg["pricing"]["unit_price_usd"])
    pr = cfg["pricing"]
    o = (o.withColumn("p_s", p_s).withColumn("p_b", p_bad_at(d0, "b_"))
         .withColumn("order_id", D.hex_id("O", seed, "order", 14, key))
         .withColumn("hs_code", D.hs_code(cfg, F.col("chapter"), u("hs")))
         .withColumn("quantity", F.greatest(F.lit(1), F.round(
             F.lit(pr["quantity_median"]) * F.exp(F.lit(pr["quantity_sigma"]) * D.normal(seed, "qty", key)))).cast("bigint"))
         .withColumn("usd_amount", F.col("quantity") * prices[F.col("chapter")] *
                     D.lognormal(seed, "price", 0.3, key))
         .withColumn("currency", F.when(u("cur") < pr["usd_share"], F.lit("USD"))
                     .when(u("cur") < pr["usd_share"] + pr["supplier_currency_share"], F.col("s_currency"))
                     .otherwise(F.col("b_currency")))
         .withColumn("s_fault", F.when(u("sf") < F.col("p_s"), D.pick(u("sk"), cfg["faults"]["supplier"])))
         .withColumn("b_fault", F.when(u("bf") < F.col("p_b"), D.pick(u("bk"), cfg["faults"]["buyer"]))))
    # a supplier that cancels or never ships ends the order before the buyer can do wrong; a buyer that
    # cancels ends it before the supplier ships
    o = (o.withColumn("b_fault", F.when(F.col("s_fault").isin("cancel", "non_delivery"), None)
                      .otherwise(F.col("b_fault")))
         .withColumn("s_fault", F.when((F.col("b_fault") == "cancel") & ~F.col("s_fault").isin(
             "cancel", "non_delivery"), None).otherwise(F.col("s_fault"))))
    lead = uint("lead", *out["lead_days"])
    o = (o.withColumn("lead", lead)
         .withColumn("promised_ship_day", d0 + F.col("lead"))
         .withColumn("transit", market_transit[F.col("b_country")] + uint("transit", -3, 5))
         .withColumn("promised_delivery_day", F.col("promised_ship_day") + F.col("transit"))
         .withColumn("payment_due_day", F.col("promised_delivery_day") + out["payment_terms_days"])
         .withColumn("cancel_day", F.when(F.col("s_fault") == "non_delivery", F.col("promised_ship_day") + 30)
                     .when((F.col("s_fault") == "cancel") | (F.col("b_fault") == "cancel"),
                           d0 + 2 + (u("cday") * (F.col("lead") - 3)).cast("int")))
         .withColumn("shipped_day", F.when(F.col("cancel_day").isNull(), F.col("promised_ship_day") + F.when(
             F.col("s_fault") == "late_shipment", uint("late", *out["late_ship_days"])).otherwise(-uint("early", 0, 3))))
         .withColumn("bg_late", u("bglate") < cfg["background"]["late_delivery"])
         .withColumn("delivered_day", F.col("shipped_day") + F.col("transit") + F.when(
             F.col("bg_late"), uint("bgdelay", 5, 20)).otherwise(uint("noise", -4, 0)))
         .withColumn("pickup_deadline_day", F.col("delivered_day") + out["pickup_days"])
         .withColumn("picked_up_day", F.when(F.col("b_fault") != "non_pickup", F.col("delivered_day") + uint("pick", 1, 10))
                     .when(F.col("b_fault").isNull(), F.col("delivered_day") + uint("pick", 1, 10)))
         .withColumn("not_picked_up_day", F.when((F.col("b_fault") == "non_pickup") & F.col("delivered_day").isNotNull(),
                                                 F.col("pickup_deadline_day") + 1))
         .withColumn("paid_day", F.when(F.col("delivered_day").isNull() | F.col("b_fault").isin("default", "non_pickup"), None)
                     .when(F.col("b_fault") == "late_payment", F.col("payment_due_day") + uint("latepay", *out["late_payment_days"]))
                     .when(u("bglatepay") < cfg["background"]["late_payment"], F.col("payment_due_day") + uint("bgpay", 1, 15))
                     .otherwise(F.col("payment_due_day") - uint("pay", 0, 20)))
         .withColumn("default_day", F.when((F.col("b_fault") == "default") & F.col("delivered_day").isNotNull(),
                                           F.col("payment_due_day") + 60))
         .withColumn("completed_day", F.when(F.col("picked_up_day").isNotNull() & F.col("paid_day").isNotNull(),
                                             F.greatest("picked_up_day", "paid_day"))))
    o = o.join(F.broadcast(fx.select(F.col("day").alias("d0"), "currency", "usd_per_unit")), ["d0", "currency"])
    o = o.withColumn("amount", F.round(F.col("usd_amount") / F.col("usd_per_unit"), 2).cast("decimal(18,2)"))
    return o.select(
        "okey", "order_id", "buyer_id", "supplier_id", "b_biz", "s_biz", "chapter", "hs_code",
        F.col("s_country").alias("origin_country"), F.col("b_country").alias("destination_country"),
        F.col("s_cluster").alias("cluster"), "quantity", "amount", "currency", "usd_amount", "d0",
        "promised_ship_day", "shipped_day", "promised_delivery_day", "delivered_day", "pickup_deadline_day",
        "picked_up_day", "not_picked_up_day", "payment_due_day", "paid_day", "default_day", "cancel_day",
        "completed_day", "p_s", "p_b", "s_fault", "b_fault", "bg_late")
