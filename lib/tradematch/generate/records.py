"""Landing records from the world's facts, each with the day it became known (`known_day`).

Orders land as one version per change of state; disputes land when opened and again when closed;
reviews weeks after delivery; RFQs when posted and when closed. Nothing dated after the as-of exists.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from tradematch.generate import draws as D
from tradematch.generate.orders import pick_chapter
from tradematch.generate.parties import World, day_to_date, party_id_at

_S_REASON = {"quality": "quality", "not_as_described": "not_as_described", "late_shipment": "late_delivery",
             "non_delivery": "non_delivery", "cancel": "contract_breach"}
_B_REASON = {"default": "non_payment", "non_pickup": "non_pickup", "contract_breach": "contract_breach",
             "late_payment": "non_payment", "cancel": "contract_breach"}


def _stamp(seed: int, day, *keys):
    """A UTC timestamp on `day` at a seeded second of the day."""
    return F.timestamp_seconds(day.cast("bigint") * 86400 + D.int_between(seed, "second", 0, 86399, *keys))


def fx_rates(spark: SparkSession, w: World) -> DataFrame:
    """Daily USD value of each currency: a seeded random walk of the log rate from its base."""
    rows = [(c, float(v["usd"]), float(v["vol"])) for c, v in w.cfg["currencies"].items()]
    cur = spark.createDataFrame(rows, "currency string, base double, vol double")
    days = spark.range(w.start_day - 60, w.end_day + 1).withColumnRenamed("id", "day")
    walk = Window.partitionBy("currency").orderBy("day").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (days.crossJoin(F.broadcast(cur))  # a few dozen currencies x a few thousand days
            .withColumn("step", F.col("vol") * D.normal(w.seed, "fx", F.col("currency"), F.col("day")))
            .withColumn("usd_per_unit", F.col("base") * F.exp(F.sum("step").over(walk)))
            .select("day", "currency", "usd_per_unit"))


def order_versions(w: World, facts: DataFrame) -> DataFrame:
    """One landing row per order version: every change of state, known on the day it happened."""
    t = F.col("t")
    events = F.array_sort(F.array_distinct(F.filter(F.array(
        "d0", "cancel_day", "shipped_day", "delivered_day", "picked_up_day", "paid_day", "not_picked_up_day",
        "default_day", "completed_day"), lambda d: d.isNotNull() & (d <= w.end_day))))
    known = lambda col: F.when(F.col(col) <= t, day_to_date(F.col(col)))  # noqa: E731
    v = facts.withColumn("t", F.explode(events))
    status = (F.when(F.col("cancel_day") <= t, F.when(F.col("s_fault").isin("cancel", "non_delivery"),
                                                      "cancelled_by_supplier").otherwise("cancelled_by_buyer"))
              .when(F.col("default_day") <= t, "buyer_default")
              .when(F.col("not_picked_up_day") <= t, "not_picked_up")
              .when(F.col("completed_day") <= t, "completed").otherwise("open"))
    return v.select(
        "order_id", "buyer_id", "supplier_id", "hs_code", "origin_country", "destination_country", "quantity",
        "amount", "currency", day_to_date(F.col("d0")).alias("order_date"),
        day_to_date(F.col("promised_ship_day")).alias("promised_ship_date"), known("shipped_day").alias("shipped_date"),
        day_to_date(F.col("promised_delivery_day")).alias("promised_delivery_date"),
        known("delivered_day").alias("delivered_date"),
        F.when(F.col("delivered_day") <= t, day_to_date(F.col("pickup_deadline_day"))).alias("pickup_deadline"),
        known("picked_up_day").alias("picked_up_date"),
        day_to_date(F.col("payment_due_day")).alias("payment_due_date"), known("paid_day").alias("paid_date"),
        status.alias("status"), _stamp(w.seed, t, F.col("order_id"), t).alias("updated_at"),
        t.alias("known_day"))


def disputes(w: World, facts: DataFrame) -> DataFrame:
    """Disputes over real faults (most go against the party at fault) and over nothing (background)."""
    seed, cfg = w.seed, w.cfg
    share = cfg["outcomes"]["fault_dispute_share"]
    rng = lambda salt, lo, hi: D.int_between(seed, salt, lo, hi, F.col("order_id"), F.col("side"))  # noqa: E731
    u = lambda salt: D.uniform(seed, salt, F.col("order_id"), F.col("side"))  # noqa: E731
    cands = facts.withColumn("cand", F.explode(F.array(
        F.struct(F.lit("s").alias("side"), F.col("s_fault").alias("fault")),
        F.struct(F.lit("b").alias("side"), F.col("b_fault").alias("fault")),
        F.struct(F.lit("bg").alias("side"), F.lit(None).cast("string").alias("fault"))))).select("*", "cand.*")
    bg_buyer = u("bgside") < 0.6
    opened = (F.when(F.col("fault").isin("quality", "not_as_described"), F.col("delivered_day") + rng("o1", 5, 30))
              .when(F.col("fault") == "late_shipment", F.col("promised_ship_day") + rng("o2", 10, 40))
              .when(F.col("fault") == "non_delivery", F.col("promised_ship_day") + rng("o3", 5, 25))
              .when(F.col("fault") == "cancel", F.col("cancel_day") + rng("o4", 1, 10))
              .when(F.col("fault") == "default", F.col("payment_due_day") + rng("o5", 20, 60))
              .when(F.col("fault") == "non_pickup", F.col("pickup_deadline_day") + rng("o6", 3, 20))
              .when(F.col("fault") == "contract_breach", F.col("d0") + rng("o7", 10, 60))
              .when(F.col("fault") == "late_payment", F.col("payment_due_day") + rng("o8", 10, 30))
              .when(bg_buyer, F.col("delivered_day") + rng("o9", 5, 30))
              .otherwise(F.col("payment_due_day") + rng("o10", 10, 40)))
    share_map = D.literal_map({k: float(v) for k, v in share.items()})
    raised = F.when(F.col("side") == "bg", u("bg") < cfg["background"]["dispute"]).otherwise(
        F.col("fault").isNotNull() & (u("raise") < share_map[F.col("fault")]))
    d = (cands.where(raised).withColumn("opened_day", opened)
         .where(F.col("opened_day").isNotNull() & (F.col("opened_day") <= w.end_day)))
    by_buyer = (F.col("side") == "s") | ((F.col("side") == "bg") & bg_buyer)
    at_fault = F.col("side") != "bg"
    lost = u("lost") < F.when(at_fault, cfg["outcomes"]["fault_dispute_lost"]).otherwise(
        cfg["outcomes"]["background_dispute_lost"])
    accused_wins = F.when(by_buyer, "supplier_favoured").otherwise("buyer_favoured")
    accused_loses = F.when(by_buyer, "buyer_favoured").otherwise("supplier_favoured")
    d = (d.withColumn("dispute_id", D.hex_id("D", seed, "dispute", 12, F.col("order_id"), F.col("side")))
         .withColumn("opened_by", F.when(by_buyer, "buyer").otherwise("supplier"))
         .withColumn("reason", F.when(F.col("side") == "s", D.literal_map(_S_REASON)[F.col("fault")])
                     .when(F.col("side") == "b", D.literal_map(_B_REASON)[F.col("fault")])
                     .when(bg_buyer, F.when(u("bgr") < 0.5, "quality").otherwise("late_delivery"))
                     .otherwise("non_payment"))
         .withColumn("closed_day", F.col("opened_day") + rng("close", 10, 60))
         .withColumn("final", F.when(lost, accused_loses).when(u("settle") < 0.6, "settled")
                     .when(~at_fault & (u("win") < 0.5), accused_wins).otherwise("withdrawn"))
         .withColumn("claim_amount", F.round(F.col("amount") * D.between(
             seed, "claim", 0.2, 1.0, F.col("order_id"), F.col("side")), 2).cast("decimal(18,2)")))
    versions = d.withColumn("closed", F.explode(F.array(F.lit(False), F.lit(True)))).where(
        ~F.col("closed") | (F.col("closed_day") <= w.end_day))
    return versions.select(
        "dispute_id", "order_id", "opened_by", "reason", day_to_date(F.col("opened_day")).alias("opened_on"),
        F.when(F.col("closed"), day_to_date(F.col("closed_day"))).alias("closed_on"),
        F.when(F.col("closed"), F.col("final")).otherwise("open").alias("outcome"),
        "claim_amount", "currency",
        F.when(F.col("closed"), F.col("closed_day")).otherwise(F.col("opened_day")).alias("known_day"))


def reviews(w: World, facts: DataFrame) -> DataFrame:
    """Buyers review delivered orders; suppliers review buyers once an order is settled either way."""
    seed, out, bg = w.seed, w.cfg["outcomes"], w.cfg["background"]
    u = lambda salt: D.uniform(seed, salt, F.col("order_id"))  # noqa: E731
    rng = lambda salt, lo, hi: D.int_between(seed, salt, lo, hi, F.col("order_id"))  # noqa: E731
    late = F.col("delivered_day") > F.col("promised_delivery_day")
    b_complaint = (F.when(F.col("s_fault") == "quality", u("c1") < 0.85)
                   .when(F.col("s_fault") == "not_as_described", u("c1") < 0.7)
                   .otherwise(u("c1") < bg["complaint"]))
    by_buyer = facts.where(F.col("delivered_day").isNotNull() & (u("rb") < out["review_share_buyer"])).select(
        "order_id", F.lit("buyer").alias("reviewer_role"), (F.col("delivered_day") + rng("cb", 5, 30)).alias("day"),
        b_complaint.alias("complaint"), late.alias("late"))
    settled = F.coalesce("completed_day", "default_day", "not_picked_up_day")
    s_complaint = (F.when(F.col("b_fault").isin("default", "non_pickup", "contract_breach"), u("c2") < 0.75)
                   .when(F.col("b_fault") == "late_payment", u("c2") < 0.4).otherwise(u("c2") < 0.03))
    by_supplier = facts.where(settled.isNotNull() & (u("rs") < out["review_share_supplier"])).select(
        "order_id", F.lit("supplier").alias("reviewer_role"), (settled + rng("cs", 3, 20)).alias("day"),
        s_complaint.alias("complaint"), F.lit(False).alias("late"))
    r = by_buyer.unionByName(by_supplier).where(F.col("day") <= w.end_day)
    ur = D.uniform(seed, "rating", F.col("order_id"), F.col("reviewer_role"))
    rating = (F.when(F.col("complaint"), 1 + F.floor(ur * 2)).when(F.col("late"), 3 + F.floor(ur * 2))
              .otherwise(4 + F.floor(ur * 2)))
    return r.select("order_id", "reviewer_role", rating.cast("int").alias("rating"), "complaint",
                    day_to_date(F.col("day")).alias("created_on"), F.col("day").alias("known_day"))


def rfqs(w: World, buyers: DataFrame, needs: DataFrame) -> DataFrame:
    """Purchase needs buyers post: often in chapters they are taking on; open for a month."""
    seed, cfg = w.seed, w.cfg["rfqs"]
    n = F.floor(F.lit(cfg["per_buyer_year"]) * (F.col("e") - F.col("a")) / 365.0 +
                D.uniform(seed, "nrfq", F.col("biz"))).cast("int")
    r = (buyers.withColumn("n", n).where(F.col("n") > 0)
         .withColumn("k", F.explode(F.sequence(F.lit(1), F.col("n"))))
         .withColumn("rkey", F.concat_ws(":", F.col("biz"), F.col("k")))
         .withColumn("created_day", F.col("a") + (D.uniform(seed, "rday", F.col("rkey")) *
                                                  (F.col("e") - F.col("a"))).cast("int"))
         .join(needs, "biz").transform(pick_chapter(w, "created_day", "rkey", "rfq_chapter"))
         .withColumn("buyer_id", party_id_at(F.col("created_day")))
         .where(F.col("buyer_id").isNotNull() & F.col("chapter").isNotNull()))
    r = (r.withColumn("rfq_id", D.hex_id("R", seed, "rfq", 12, F.col("rkey")))
         .withColumn("hs_code", D.hs_code(w.cfg, F.col("chapter"), D.uniform(seed, "rhs", F.col("rkey"))))
         .withColumn("quantity", F.greatest(F.lit(1), F.round(500 * D.lognormal(seed, "rq", 0.8, F.col("rkey")))).cast("bigint"))
         .withColumn("close_day", F.col("created_day") + cfg["open_days"])
         .withColumn("closed", F.explode(F.array(F.lit(False), F.lit(True))))
         .where(~F.col("closed") | (F.col("close_day") <= w.end_day)))
    return r.select(
        "rfq_id", "buyer_id", "hs_code", "quantity", F.col("country").alias("destination_country"),
        day_to_date(F.col("created_day")).alias("created_on"),
        F.when(~F.col("closed"), "open").when(D.uniform(seed, "award", F.col("rkey")) < 0.6, "awarded")
        .otherwise("closed").alias("status"),
        F.when(F.col("closed"), F.col("close_day")).otherwise(F.col("created_day")).alias("known_day"))


_STAFF = ["risk.ops.lchen", "risk.ops.mgarcia", "trust.review.apatel", "trust.review.okim"]


def overrides(w: World, biz: DataFrame) -> DataFrame:
    """Manual decisions: blacklists confirmed by staff, evaders caught before they left, a few
    recovered parties cleared, and good parties blacklisted by mistake and then cleared."""
    seed, cfg = w.seed, w.cfg["bad_actors"]["overrides"]
    u = lambda salt: D.uniform(seed, salt, F.col("role"), F.col("biz"))  # noqa: E731
    rng = lambda salt, lo, hi: D.int_between(seed, salt, lo, hi, F.col("role"), F.col("biz"))  # noqa: E731
    n_good = biz.groupBy("role").agg(F.count("*").alias("n_role"))
    b = biz.join(F.broadcast(n_good), "role")
    late_enough = F.greatest(F.col("registered_day") + 200, F.lit(w.end_day) - rng("bl", 30, 400))
    decisions = [
        (b.where((F.col("kind") == "chronic") & (u("conf") < cfg["blacklist_confirmed"])),
         late_enough, "blacklist", "repeated disputes lost and complaints, confirmed on review"),
        (b.where((F.col("kind") == "evader") & (u("conf") < 0.5)),
         F.col("exit_day") - rng("ev", 1, 20), "blacklist", "defaults and disputes, confirmed on review"),
        (b.where((F.col("kind") == "recovers") & (u("clr") < 0.3)),
         F.col("recovery_day") + rng("rc", 30, 90), "clear", "record recovered after review"),
        (b.where((F.col("kind") == "good") & (F.col("registered_day") < w.end_day - 500) &
                 (u("wrong") < cfg["wrongful_blacklist"] / 2.0 / F.col("n_role"))),
         F.lit(w.end_day) - rng("wb", 100, 300), "blacklist", "chargeback pattern flagged by an analyst"),
    ]
    rows = None
    for frame, day, action, reason in decisions:
        one = frame.select("role", "biz", "party_id", "new_party_id", "exit_day", "new_registered_day",
                           day.alias("day"), F.lit(action).alias("action"), F.lit(reason).alias("reason"),
                           (F.col("kind") == "good").alias("wrongful"))
        rows = one if rows is None else rows.unionByName(one)
    cleared = rows.where("wrongful").withColumn("day", F.col("day") + rng("wc", 7, 30)).withColumn(
        "action", F.lit("clear")).withColumn("reason", F.lit("wrongful blacklist: disputes were resolved in the party's favour"))
    rows = rows.unionByName(cleared).where(F.col("day") <= w.end_day)
    return rows.select(
        party_id_at(F.col("day")).alias("party_id"), "role", "action", "reason",
        D.choose(D.uniform(seed, "staff", F.col("role"), F.col("biz"), F.col("action")), _STAFF).alias("decided_by"),
        day_to_date(F.col("day")).alias("decided_on"), F.lit(None).cast("date").alias("expires_on"),
        F.col("day").alias("known_day")).where(F.col("party_id").isNotNull())


def parties(w: World, ids: DataFrame) -> DataFrame:
    """A party lands when it registers; an evader's new id may not have registered by the as-of."""
    return ids.where(F.col("registered_day") <= w.end_day).select(
        "party_id", "legal_name", "country", "region", "city", "cluster",
        day_to_date(F.col("registered_day")).alias("registered_on"), "tax_id", "phone", "email_domain",
        "bank_account_hash", "address", _stamp(w.seed, F.col("registered_day"), F.col("party_id")).alias("updated_at"),
        F.col("registered_day").alias("known_day"))
