"""Matching worked by hand on tiny frames: ranking ties, newcomer slots, exclusions (blacklisted parties,
nobody matched to itself), demotion, one score computed by hand, and the physical plans of the affinity
and match jobs (no CartesianProduct, no BroadcastNestedLoopJoin)."""
import datetime as dt

import pytest
from pyspark.sql import functions as F

from tradematch.affinity import strength
from tradematch.affinity.similarity import chapter_similarity
from tradematch.matching import load_conf
from tradematch.matching.buyers import buyer_matches
from tradematch.matching.job import Inputs, matches
from tradematch.matching.score import top_k

AS_OF = dt.date(2026, 6, 30)
CONF = load_conf()


def _conf(**matching):
    return {**CONF, "matching": {**CONF["matching"], **matching},
            "similarity": {**CONF["similarity"], "min_buyers": 1}}


def test_ties_break_by_supplier_and_newcomers_hold_their_slots(spark):
    rows = [("S2", 0.5, False), ("S1", 0.5, False), ("S3", 0.4, False), ("S4", 0.1, True), ("S5", 0.05, True)]
    df = spark.createDataFrame([("B1", "94", s, x, n) for s, x, n in rows],
                               "buyer_id string, hs_chapter string, supplier_id string, score double, newcomer boolean")
    ranked = lambda share: [(r.rank, r.supplier_id, r.matches) for r in  # noqa: E731
                            df.transform(top_k(["buyer_id", "hs_chapter"], 3, share)).orderBy("rank").collect()]  # 3 rows
    # no slots: the best three, S1 before S2 on the tie
    assert ranked(0.0) == [(1, "S1", 3), (2, "S2", 3), (3, "S3", 3)]
    # floor(0.34 x 3) = 1 slot: the best newcomer S4 takes it from S3, ranked by its score
    assert ranked(0.34) == [(1, "S1", 3), (2, "S2", 3), (3, "S4", 3)]


def test_a_supplier_lists_its_k_best_buyers_each_by_its_best_chapter(spark):
    """k = 2, every buyer scored 100 and in good standing, so a score is its fit. S1: B4 fits best but is
    blacklisted, so B1 and B2 fill the two places. S2: B3 is third in chapter 10 but second in the list, by
    its fit in chapter 20."""
    fits = [("S1", "B4", "10", 0.95), ("S1", "B1", "10", 0.9), ("S1", "B2", "10", 0.8), ("S1", "B3", "20", 0.5),
            ("S2", "B1", "10", 0.9), ("S2", "B2", "10", 0.8), ("S2", "B3", "10", 0.7), ("S2", "B3", "20", 0.85)]
    scored = spark.createDataFrame([(s, b, c, "own", 1.0, x, 0, False, "C") for s, b, c, x in fits],
                                   "supplier_id string, buyer_id string, hs_chapter string, need string, "
                                   "need_weight double, affinity double, own_orders int, buys_cluster boolean, "
                                   "cluster string")
    facts = spark.createDataFrame([(b, 100.0, "gold", "blacklisted" if b == "B4" else "good")
                                   for b in ("B1", "B2", "B3", "B4")],
                                  "buyer_id string, buyer_score double, buyer_tier string, buyer_state string")
    got = [(r.supplier_id, r.rank, r.buyer_id, r.hs_chapter, r.score) for r in  # four rows
           buyer_matches(scored, facts, _conf(k=2)).orderBy("supplier_id", "rank").collect()]
    assert got == [("S1", 1, "B1", "10", 0.9), ("S1", 2, "B2", "10", 0.8),
                   ("S2", 1, "B1", "10", 0.9), ("S2", 2, "B3", "20", 0.85)]


def _world(spark, s3_state="good"):
    """Buyers B1 (US), B2 (DE) and X (also a supplier); suppliers S1..S4 and X in the yiwu cluster, all
    chapter 95. S2 is blacklisted, B2 blacklisted as a buyer, S4 a newcomer with a good record."""
    parties = spark.createDataFrame(
        [("B1", "US", None), ("B2", "DE", None), ("X", "CN", "yiwu")] + [(s, "CN", "yiwu") for s in ("S1", "S2", "S3", "S4")],
        "party_id string, country string, cluster string")
    aff = spark.createDataFrame([(AS_OF, b, s, "95", n, float(n), float(n)) for b, s, n in (
        ("B1", "S1", 3), ("B1", "S2", 1), ("X", "S1", 1), ("B2", "S3", 2), ("B2", "X", 1), ("B2", "S4", 1))],
        "as_of date, buyer_id string, supplier_id string, hs_chapter string, orders bigint, orders_weight double, "
        "strength double")
    sup = [(s, "supplier", 100.0, "gold", 60) for s in ("S1", "S2", "S3", "X")] + [("S4", "supplier", 97.0, "watch", 3)]
    reliability = spark.createDataFrame(sup + [(b, "buyer", 99.0, "gold", 60) for b in ("B1", "B2", "X")],
                                        "party_id string, role string, score double, tier string, tenure_months int")
    market = spark.createDataFrame([(p, "supplier", m, 100.0, "gold", 1e6) for p in ("S1", "S2", "S3", "S4", "X")
                                    for m in ("US", "DE", "CN")],
                                   "party_id string, role string, market string, score double, tier string, "
                                   "evidence_orders double")
    risk = spark.createDataFrame([("S2", "supplier", "blacklisted"), ("S3", "supplier", s3_state),
                                  ("B2", "buyer", "blacklisted")], "party_id string, role string, state string")
    rfqs = spark.createDataFrame([("R1", "B1", "95", "US", AS_OF - dt.timedelta(days=3), "open"),
                                  ("R0", "B1", "95", "US", AS_OF - dt.timedelta(days=90), "closed")],
                                 "rfq_id string, buyer_id string, hs_chapter string, destination_country string, "
                                 "created_on date, status string")
    return Inputs(affinity=aff.drop("as_of"), clusters=strength.cluster_affinity(aff, parties).drop("as_of"),
                  similarity=chapter_similarity(aff, _conf()).drop("as_of"), parties=parties,
                  reliability=reliability, market_reliability=market, risk=risk, rfqs=rfqs)


@pytest.fixture(scope="module")
def matched(spark):
    suppliers, buyers, rfqs = matches(_world(spark), AS_OF, _conf())
    return [df.localCheckpoint() for df in (suppliers, buyers, rfqs)]


def test_blacklisted_and_self_matches_never_appear_and_ranks_have_no_gaps(matched):
    suppliers, buyers, rfqs = matched
    rows = {(r.buyer_id, r.supplier_id): r for r in suppliers.collect()}  # a handful of rows
    assert "S2" not in {s for _, s in rows}                     # blacklisted supplier, though B1 bought from it
    assert ("X", "X") not in rows and ("X", "S1") in rows      # X buys and sells: never matched to itself
    assert {r.supplier_id for r in rfqs.collect()} == {s for b, s in rows if b == "B1"}  # R1 only: R0 closed long ago
    assert {r.rfq_id for r in rfqs.collect()} == {"R1"}
    assert "B2" not in {r.buyer_id for r in buyers.collect()}   # blacklisted buyer
    for df, group in ((suppliers, ["buyer_id", "hs_chapter"]), (buyers, ["supplier_id"]), (rfqs, ["rfq_id"])):
        gaps = df.groupBy(*group).agg(F.max("rank").alias("hi"), F.count("*").alias("n"), F.max("matches").alias("m"))
        assert gaps.where("hi != n OR m != n").count() == 0
    s4 = rows[("B1", "S4")]
    assert s4.newcomer and "promising newcomer: short record, all good so far" in s4.reasons


def test_a_score_worked_by_hand(matched):
    s1 = next(r for r in matched[0].collect() if (r.buyer_id, r.supplier_id) == ("B1", "S1"))
    # own share 3 / 4 (S2's strength still counts in B1's chapter total); yiwu takes all of B1's chapter:
    # p_cluster = (4 + prior 2 x 1) / (4 + 2) = 1; S1's pool share 4 / 9 decayed orders of chapter 95;
    # affinity = 0.6 x 0.75 + 0.4 x 1 x 4 / 9; need weight 1, reliability 1, experience 1, good
    assert s1.affinity == pytest.approx(0.6 * 0.75 + 0.4 * 4 / 9)
    assert s1.score == pytest.approx(s1.affinity)
    assert s1.rank == 1 and "ordered from this supplier 3 times" in s1.reasons and "cluster you buy from (yiwu)" in s1.reasons


def test_a_demoted_supplier_keeps_its_place_in_the_list_at_a_lower_score(spark, matched):
    good = {r.buyer_id: r.score for r in matched[0].where("supplier_id = 'S3'").collect()}  # a row per buyer
    demoted = matches(_world(spark, "demoted"), AS_OF, _conf())[0].where("supplier_id = 'S3'")
    rows = demoted.collect()  # a row per buyer
    assert rows and all(r.score == pytest.approx(good[r.buyer_id] * CONF["matching"]["risk_factor"]["demoted"]) for r in rows)
    assert all("ranked lower: risk state demoted" in r.reasons for r in rows)


def test_the_affinity_and_match_plans_have_no_cartesian_product(spark, monkeypatch):
    plans = []
    frame = type(spark.range(1))  # the session's DataFrame class (classic or connect)
    checkpoint = frame.localCheckpoint

    def recording(self, *args, **kwargs):  # the plans cut by checkpoints are read before they run
        plans.append(self._jdf.queryExecution().executedPlan().toString())
        return checkpoint(self, *args, **kwargs)

    monkeypatch.setattr(frame, "localCheckpoint", recording)
    world = _world(spark)
    frames = list(matches(world, AS_OF, _conf()))
    aff = world.affinity.withColumn("as_of", F.lit(AS_OF))
    frames += [strength.cluster_affinity(aff, world.parties), chapter_similarity(aff, _conf())]
    plans += [df._jdf.queryExecution().executedPlan().toString() for df in frames]
    assert len(plans) > 8
    bad = [p for p in plans if "CartesianProduct" in p or "BroadcastNestedLoopJoin" in p]
    assert not bad, bad[0]
