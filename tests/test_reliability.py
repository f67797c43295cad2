"""Reliability, worked by hand on tiny frames: decay and its roll-forward, the prior fit, shrinkage,
the tier rule with `unrated`, and the reasons."""
import datetime as dt

import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import functions as F

from tradematch.history import COUNTS
from tradematch.reliability import evidence as E
from tradematch.reliability import load_conf
from tradematch.reliability.score import COMPONENTS, PARTY, fit_priors, scored, shrunk, tiered

D = dt.date.fromisoformat
CONF = {**load_conf(), "prior": {"min_parties": 3, "min_strength": 2.0, "max_strength": 400.0},
        "tiers": {"supplier": [{"name": "gold", "min_score": 90.0, "min": {"fulfilment": 0.9, "quality": 0.9}},
                               {"name": "silver", "min_score": 80.0, "min": {"fulfilment": 0.8, "quality": 0.8}}],
                  "buyer": [{"name": "gold", "min_score": 90.0, "min": {"payment_commitment": 0.9, "quality": 0.9}},
                            {"name": "silver", "min_score": 80.0, "min": {"payment_commitment": 0.8, "quality": 0.8}}]},
        "below_tiers": "watch", "unrated": {"name": "unrated", "min_evidence_orders": 5.0, "min_confidence": 0.25}}


def _monthly(spark, rows, computed_as_of):
    """party_market_monthly rows from (party, month, orders, shipped_late); other counts 0."""
    schema = ", ".join(["party_id string", "role string", "market string", "hs_chapter string", "month date",
                        *[f"{c} bigint" for c in COUNTS], "computed_as_of date"])
    out = []
    for party, month, orders, late in rows:
        counts = {c: 0 for c in COUNTS} | {"orders": orders, "shipped": orders, "shipped_late": late}
        out.append((party, "supplier", "US", "94", D(month), *counts.values(), D(computed_as_of)))
    return spark.createDataFrame(out, schema)


def test_a_month_one_half_life_old_counts_half(spark):
    monthly = _monthly(spark, [("S1", "2025-01-01", 4, 2), ("S1", "2026-01-01", 2, 0)], "2026-01-01")
    got = E.full(monthly, D("2026-01-01"), 365.0, 7).head()
    assert (got.orders, got.shipped_late, got.first_month, got.monthly_version) == (4 * 0.5 + 2, 2 * 0.5, D("2025-01-01"), 7)


def test_rolling_the_decayed_sums_forward_equals_a_full_recompute(spark):
    then = _monthly(spark, [("S1", "2025-06-01", 5, 1), ("S1", "2025-12-01", 3, 0), ("S2", "2025-12-01", 1, 1)],
                    "2025-12-15")
    # by 2026-02-10 December's orders have shipped (one more late one), S2 has vanished from December's
    # recount, and new months came; June was not recomputed
    now = (then.where(F.col("month") == D("2025-06-01"))
           .unionByName(_monthly(spark, [("S1", "2025-12-01", 3, 1), ("S1", "2026-01-01", 2, 0),
                                         ("S3", "2026-02-01", 1, 0)], "2026-02-10")))
    previous = E.full(then, D("2025-12-15"), 180.0, 1)
    rolled = E.rolled_forward(previous, D("2025-12-15"), now, then, D("2026-02-10"), 180.0, 2)
    full = E.full(now, D("2026-02-10"), 180.0, 2)
    # S2's December rows are gone from the recount: it rolls forward with zero sums, full has no row
    assert rolled.where((F.col("party_id") == "S2") & (F.abs("orders") > 1e-12)).count() == 0
    assert_approx_df_equality(rolled.where(F.col("party_id") != "S2"), full, precision=1e-9, ignore_row_order=True,
                              ignore_nullable=True)


def _long(spark, rows):
    """Long measures: (party, peer chapter, events, trials) of one supplier measure."""
    return spark.createDataFrame(
        [(p, "supplier", ch, "late_shipment", "fulfilment", 4.0, "late or cancelled shipments", float(k), float(n))
         for p, ch, k, n in rows],
        "party_id string, role string, peer_chapter string, measure string, component string, weight double, "
        "words string, events double, trials double")


def test_the_prior_strength_is_fitted_by_moments_and_a_small_group_borrows_the_role_wide_one(spark):
    long = _long(spark, [("A", "94", 2, 10), ("B", "94", 5, 10), ("C", "94", 8, 10), ("D", "44", 1, 10)])
    priors = {r.peer_chapter: r for r in long.transform(fit_priors(CONF)).collect()}
    # chapter 94: mean 15/30 = 0.5; spread sum n(p - mean)^2 = 1.8; rho = (1.8 / 0.25 - 2) / (30 - 300/30 - 2)
    # = 5.2 / 18, so alpha + beta = 1 / rho - 1 = 18 / 5.2 - 1
    assert priors["94"].prior_strength == pytest.approx(18 / 5.2 - 1)
    # chapter 44 has one party (< min_parties 3): the role-wide strength, over all four parties:
    # mean 16/40 = 0.4; spread = (0.4 + 2.5 + 6.4 + 0.1) - 0.16 * 40 = 3.0; rho = (3 / 0.24 - 3) / (40 - 10 - 3)
    # = 9.5 / 27, so alpha + beta = 27 / 9.5 - 1 = 1.84, clamped to min_strength 2
    assert priors["44"].prior_strength == 2.0
    # group means 0.5 (n 30) and 0.1 (n 10) spread less than their noise explains (rho 1/3 role-wide:
    # 0.24 * (300/900 / 3 + 2/3 / 30) = 0.032 and 0.24 * (100/100 / 3 + 2/3 / 10) = 0.096 against squared
    # deviations 0.01 and 0.09): chapters that do not differ share the role's mean
    assert priors["94"].prior_mean == pytest.approx(0.4) and priors["44"].prior_mean == pytest.approx(0.4)


def test_a_peer_group_that_differs_keeps_most_of_its_own_mean(spark):
    long = _long(spark, [("A", "94", 2, 10), ("B", "94", 5, 10), ("C", "94", 8, 10),
                         ("D", "44", 1, 100), ("E", "44", 2, 100), ("F", "44", 3, 100)])
    priors = {r.peer_chapter: r for r in long.transform(fit_priors(CONF)).collect()}
    role_mean, rho = 21 / 330, 1 / 3  # role-wide strength 0.78, clamped to 2
    noise = {"94": role_mean * (1 - role_mean) * (rho * 300 / 30 ** 2 + (1 - rho) / 30),
             "44": role_mean * (1 - role_mean) * (rho * 30000 / 300 ** 2 + (1 - rho) / 300)}
    group_mean = {"94": 0.5, "44": 0.02}
    between = sum((group_mean[g] - role_mean) ** 2 - noise[g] for g in noise) / 2
    for g in noise:
        pull = between / (between + noise[g])
        assert priors[g].prior_mean == pytest.approx(role_mean + pull * (group_mean[g] - role_mean))
    assert 0.45 < priors["94"].prior_mean < 0.5 and 0.02 < priors["44"].prior_mean < 0.03
    # 1, 2 and 3 in 100 spread no more than chance: the strongest prior
    assert priors["44"].prior_strength == 400.0


def test_parties_that_spread_no_more_than_chance_get_the_strongest_prior(spark):
    long = _long(spark, [("A", "94", 5, 10), ("B", "94", 5, 10), ("C", "94", 5, 10)])
    (prior,) = long.transform(fit_priors(CONF)).collect()
    assert (prior.prior_mean, prior.prior_strength) == (0.5, 400.0)


def test_a_share_is_shrunk_toward_its_peers_by_the_prior_strength(spark):
    long = _long(spark, [("A", "94", 2, 10), ("B", "94", 5, 10), ("C", "94", 8, 10), ("E", "94", 0, 0)])
    priors = spark.createDataFrame([("supplier", "94", "late_shipment", 0.5, 10.0)],
                                   "role string, peer_chapter string, measure string, prior_mean double, prior_strength double")
    got = {r.party_id: r for r in long.transform(shrunk(priors)).collect()}
    assert got["A"].bad == pytest.approx((2 + 5) / 20)  # (events + mean * strength) / (trials + strength)
    assert got["A"].credibility == pytest.approx(0.5)
    assert (got["E"].bad, got["E"].credibility) == (0.5, 0.0)  # no record: the peer mean, no credibility


def _scored_rows(spark, rows):
    cols = ["party_id", "role", *COMPONENTS, "score", "confidence", "evidence_orders"]
    return spark.createDataFrame(rows, ", ".join(f"{c} {'string' if c in ('party_id', 'role') else 'double'}" for c in cols))


def test_a_tier_needs_every_pillar_and_thin_evidence_is_unrated(spark):
    rows = _scored_rows(spark, [
        ("gold", "supplier", 0.95, 0.92, 0.1, None, 0.2, 95.0, 0.8, 40.0),           # no bar on stability, retention
        ("weak_pillar", "supplier", 0.97, 0.85, 0.99, None, 0.99, 95.0, 0.8, 40.0),   # quality below gold's bar
        ("low_score", "buyer", None, 0.95, 0.9, 0.95, 0.9, 85.0, 0.8, 40.0),          # pillars of gold, score of silver
        ("watch", "buyer", None, 0.7, 0.9, 0.9, 0.9, 82.0, 0.8, 40.0),                # a pillar below every bar
        ("two_perfect_orders", "supplier", 1.0, 1.0, 1.0, None, 1.0, 99.0, 0.1, 2.0),  # thin evidence
        ("low_confidence", "buyer", None, 0.95, 0.95, 0.95, 0.95, 95.0, 0.2, 9.0),
    ])
    got = {r.party_id: r.tier for r in rows.transform(tiered(CONF)).collect()}
    assert got == {"gold": "gold", "weak_pillar": "silver", "low_score": "silver", "watch": "watch",
                   "two_perfect_orders": "unrated", "low_confidence": "unrated"}


def test_the_score_components_and_reasons_come_from_the_shrunk_shares(spark):
    conf = {**CONF, "measures": {
        "late_shipment": {"roles": ["supplier"], "component": "fulfilment", "weight": 3.0, "words": "late shipments",
                          "events": "x", "trials": "x"},
        "complaints": {"roles": ["supplier"], "component": "quality", "weight": 1.0, "words": "complaints",
                       "events": "x", "trials": "x"}}}
    long = spark.createDataFrame([
        ("S1", "supplier", "94", None, 0, 0, 20.0, "late_shipment", "fulfilment", 3.0, "late shipments", 10.0, 20.0,
         0.3, 0.1, 0.5),
        ("S1", "supplier", "94", None, 0, 0, 20.0, "complaints", "quality", 1.0, "complaints", 0.0, 10.0, 0.05, 0.1,
         0.5),
    ], "party_id string, role string, peer_chapter string, first_month date, tenure_months int, active_months int, "
       "evidence_orders double, measure string, component string, weight double, words string, events double, "
       "trials double, bad double, prior_mean double, credibility double")
    row = long.transform(scored(conf, PARTY)).head()
    assert row.fulfilment == pytest.approx(0.7) and row.quality == pytest.approx(0.95)
    assert row.stability is None and row.payment_commitment is None
    assert row.score == pytest.approx(100 * (1 - (3 * 0.3 + 0.05) / 4))
    assert row.confidence == pytest.approx(0.5)
    assert row.rates == {"late_shipment": 0.3, "complaints": 0.05}
    # late shipments cost 100 * 3 * (0.3 - 0.1) / 4 = 15 points against peers; complaints are better than peers
    assert row.reasons == ["late shipments: 50% vs 10% for peers"]
