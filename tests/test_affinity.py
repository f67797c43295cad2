"""Affinity worked by hand on tiny silver frames: SAR-style decay with disputes and complaints counted
against, point in time, the roll forward equal to a full recompute, cluster shares and chapter similarity."""
import datetime as dt
from decimal import Decimal

import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import functions as F

from tradematch.affinity import strength
from tradematch.affinity.similarity import chapter_similarity
from tradematch.lake import Lake
from tradematch.matching import load_conf
from tradematch.schema import Catalog
from tradematch.tables import Tables

D = dt.date.fromisoformat
AS_OF = D("2026-06-30")
CATALOG = Catalog()
CONF = load_conf()
CONF = {**CONF, "affinity": {"half_life_days": 100, "dispute_weight": 2.0, "complaint_weight": 1.0},
        "similarity": {"measure": "jaccard", "min_buyers": 1, "top": 1}}


def _silver(spark, name, rows):
    return Tables(spark, Lake("/nonexistent")).conform(name, spark.createDataFrame(rows, CATALOG.schema(name).struct))


def _order(oid, buyer, supplier, chapter, day, known, valid_to=None, status="completed"):
    d, k = D(day), D(known)
    return {"order_id": oid, "buyer_id": buyer, "supplier_id": supplier, "hs_code": chapter + "0000",
            "hs_chapter": chapter, "origin_country": "CN", "destination_country": "US", "quantity": 1,
            "amount": Decimal(100), "currency": "USD", "amount_usd": Decimal(100), "order_date": d,
            "promised_ship_date": d, "shipped_date": None, "promised_delivery_date": d, "delivered_date": None,
            "pickup_deadline": None, "picked_up_date": None, "payment_due_date": d, "paid_date": None,
            "status": status, "updated_at": dt.datetime.combine(k, dt.time(12)),
            "valid_from": dt.datetime.combine(k, dt.time(12)),
            "valid_to": dt.datetime.combine(D(valid_to), dt.time(12)) if valid_to else None,
            "batch": k, "record_hash": oid + known, "order_month": d.replace(day=1)}


def _dispute(did, oid, by, opened, batch=None):
    return {"dispute_id": did, "order_id": oid, "opened_by": by, "reason": "quality", "opened_on": D(opened),
            "closed_on": None, "outcome": "open", "claim_amount": None, "currency": None, "claim_amount_usd": None,
            "batch": D(batch or opened), "record_hash": did}


def _review(oid, role, complaint, created):
    return {"order_id": oid, "reviewer_role": role, "rating": 1 if complaint else 5, "complaint": complaint,
            "created_on": D(created), "batch": D(created), "record_hash": oid + role}


@pytest.fixture
def silver(spark):
    history = _silver(spark, "orders_history", [
        _order("o1", "B1", "S1", "94", "2026-06-30", "2026-06-30"),       # age 0: weight 1
        _order("o2", "B1", "S1", "94", "2026-03-22", "2026-03-22"),       # age 100: weight 0.5
        _order("o3", "B1", "S2", "44", "2025-12-12", "2025-12-12"),       # age 200: weight 0.25
        _order("o4", "B1", "S2", "44", "2026-06-29", "2026-07-02"),       # known after the as-of: not yet
        _order("o5", "B2", "S1", "94", "2026-06-30", "2026-06-30"),
    ])
    disputes = _silver(spark, "disputes", [_dispute("d1", "o2", "buyer", "2026-05-01"),
                                           _dispute("d2", "o1", "supplier", "2026-06-30")])  # the supplier's: not counted
    reviews = _silver(spark, "reviews", [_review("o1", "buyer", True, "2026-06-30"),
                                         _review("o5", "supplier", True, "2026-06-30")])  # not the buyer's: not counted
    return history, disputes, reviews


def _plain(df):
    return df.select("buyer_id", "supplier_id", "hs_chapter", "orders", "disputes", "complaints", "orders_weight",
                     "disputes_weight", "complaints_weight", "strength", "last_order_date").orderBy("buyer_id", "supplier_id")


def test_orders_decay_by_half_life_and_disputes_and_complaints_count_against(spark, silver):
    got = strength.full(*silver, AS_OF, CONF)
    want = spark.createDataFrame([
        # 1 + 0.5 orders; the dispute on the 100-day-old order weighs 0.5, x2; the complaint on today's, 1
        ("B1", "S1", "94", 2, 1, 1, 1.5, 0.5, 1.0, 1.5 - 2 * 0.5 - 1.0, D("2026-06-30")),
        ("B1", "S2", "44", 1, 0, 0, 0.25, 0.0, 0.0, 0.25, D("2025-12-12")),
        ("B2", "S1", "94", 1, 0, 0, 1.0, 0.0, 0.0, 1.0, D("2026-06-30")),
    ], _plain(got).schema)
    assert_approx_df_equality(_plain(got), want, 1e-9, ignore_nullable=True)


def test_the_roll_forward_equals_a_full_recompute(spark, silver):
    history, disputes, reviews = silver
    since = D("2026-06-01")
    later = D("2026-07-10")
    # after `since`: o1 and o5 appear, o2 gets a new version (moved to chapter 95), d1 lands late
    history = history.unionByName(_silver(spark, "orders_history", [
        _order("o2", "B1", "S1", "95", "2026-03-22", "2026-06-15")]))
    history = history.withColumn("valid_to", F.when((F.col("order_id") == "o2") & (F.col("hs_chapter") == "94"),
                                                    F.lit(dt.datetime(2026, 6, 15, 12))).otherwise(F.col("valid_to")))
    disputes = disputes.withColumn("batch", F.when(F.col("dispute_id") == "d1", F.lit(D("2026-06-20"))).otherwise(F.col("batch")))
    previous = strength.full(history, disputes.where(F.col("batch") <= F.lit(since)), reviews, since, CONF)
    rolled = strength.rolled_forward(previous, since, history, disputes, reviews, later, CONF)
    full = strength.full(history, disputes, reviews, later, CONF)
    assert _plain(full).count() == 4  # B1-S1 in 94 and 95, B1-S2, B2-S1
    assert_approx_df_equality(_plain(rolled), _plain(full), 1e-9, ignore_nullable=True)


def test_cluster_shares_sum_the_buyers_positive_strength(spark, silver):
    parties = _silver(spark, "parties", [
        {"party_id": p, "country": "CN", "region": None, "city": None, "cluster": c, "registered_on": D("2020-01-01"),
         "updated_at": dt.datetime(2020, 1, 1), "batch": D("2020-01-01")} for p, c in (("S1", "foshan"), ("S2", None))])
    got = strength.cluster_affinity(strength.full(*silver, AS_OF, CONF), parties)
    rows = {(r.buyer_id, r.hs_chapter, r.cluster): (r.suppliers, r.orders, r.share) for r in got.collect()}  # 3 rows
    # B1's strength in 94 is negative (-0.5): its share is 0, not negative; S2 has no cluster: its country
    assert rows == {("B1", "94", "foshan"): (1, 2, 0.0), ("B1", "44", "CN"): (1, 1, 1.0), ("B2", "94", "foshan"): (1, 1, 1.0)}


def test_chapter_similarity_by_jaccard_and_lift_with_ties_broken_by_chapter(spark):
    bought = [("B1", "44"), ("B1", "94"), ("B2", "44"), ("B2", "94"), ("B3", "44"), ("B3", "94"), ("B3", "69"), ("B4", "69")]
    affinity = spark.createDataFrame([(AS_OF, b, c) for b, c in bought], "as_of date, buyer_id string, hs_chapter string")
    got = {(r.hs_chapter, r.similar_chapter): (r.buyers_both, round(r.jaccard, 4), round(r.lift, 4), r.rank)
           for r in chapter_similarity(affinity, CONF).collect()}  # one row per chapter (top 1)
    # 44 and 94: 3 buyers in common of 3 each (jaccard 1, lift 3 x 4 / 9); 69 ties with 44 and 94 at
    # 1 / (2 + 3 - 1) = 0.25 and takes 44 (the lower chapter)
    assert got == {("44", "94"): (3, 1.0, 1.3333, 1), ("94", "44"): (3, 1.0, 1.3333, 1),
                   ("69", "44"): (1, 0.25, 0.6667, 1)}
