"""Risk through identity links, worked by hand on risk rows after overrides: a party linked to a
blacklisted business starts at warning with the link's reason and evidence kinds; a business that left
warned within the lookback passes the warning on; links not yet made, other roles, a manual clear and
warnings that a link itself made pass nothing on."""
import datetime as dt

from pyspark.sql import functions as F

from tradematch.risk.notices import notices
from tradematch.risk.policy import load_policy
from tradematch.risk.status import EVIDENCE_TYPE, with_links, with_since
from tradematch.schema import Catalog
from tradematch.tables import Tables
from tradematch.lake import Lake

D = dt.date.fromisoformat
POLICY = load_policy()
T = D("2026-06-01")
ROW = ("as_of date, party_id string, role string, points int, rules_fired array<string>, "
       f"evidence array<{EVIDENCE_TYPE}>, cases bigint, policy_state string, state string, min_cases int, "
       "decided_by string, override_reason string, _override_review date")


def _rows(spark, rows):
    """(as_of, party, role, state, rules_fired, decided_by) -> rows as with_overrides leaves them."""
    return spark.createDataFrame(
        [(D(day), party, role, 6 * len(rules), rules, [], 0, state, state, 0, by, None, None)
         for day, party, role, state, rules, by in rows], ROW)


def _links(spark, rows):
    return spark.createDataFrame(
        [(a, b, a, 20.0, kinds, D(on)) for a, b, kinds, on in rows],
        "party_id string, linked_party_id string, canonical_id string, match_weight double, "
        "evidence array<string>, linked_on date")


def test_links_lift_new_ids_to_warning_with_the_reason_and_the_evidence_kinds(spark):
    day = str(T)
    status = _rows(spark, [
        (day, "OLD", "supplier", "blacklisted", [], "risk.ops.lchen"),        # blacklisted by staff
        (day, "OLD2", "supplier", "blacklisted", ["severe_fault_rate_12m"], "policy"),
        (day, "NEW2", "supplier", "demoted", ["fault_rate_12m"], "policy"),   # already worse on its own
        (day, "NEW7", "supplier", "good", [], "trust.review.okim"),           # cleared by staff
        (day, "OLD3", "supplier", "blacklisted", ["severe_fault_rate_12m"], "policy"),
        (day, "BUY", "buyer", "good", [], "policy"),
    ])
    past = _rows(spark, [
        ("2026-01-10", "OLD4", "supplier", "warning", ["fault_rate_90d"], "policy"),   # left while warned
        ("2025-05-01", "OLD5", "supplier", "warning", ["fault_rate_90d"], "policy"),   # more than 365 days ago
        ("2026-03-01", "NEW6", "supplier", "warning", ["linked_to_flagged_12m"], "policy"),  # a link's warning
    ])
    links = _links(spark, [
        ("NEW", "OLD", ["same tax id", "same name"], "2026-05-01"),
        ("NEW2", "OLD2", ["same bank account"], "2026-05-01"),
        ("NEW7", "OLD", ["same phone"], "2026-05-01"),
        ("NEW3", "OLD3", ["same phone"], "2026-07-01"),   # registered after the as-of
        ("BUY", "OLD2", ["same phone"], "2026-05-01"),    # OLD2 is blacklisted as a supplier, not as a buyer
        ("NEW4", "OLD4", ["same tax id"], "2026-05-01"),
        ("NEW5", "OLD5", ["same tax id"], "2026-05-01"),
        ("NEW6", "OLD6", ["same tax id"], "2026-02-01"),
    ])
    out = status.transform(with_links(links, POLICY, past)).transform(with_since(None, T, POLICY)).cache()
    got = {(r.party_id, r.role): r for r in out.collect()}  # a dozen rows
    new = got[("NEW", "supplier")]
    assert (new.state, new.policy_state, new.points, new.rules_fired) == ("warning", "warning", 0, ["linked_to_blacklisted"])
    assert [(e.rule, e.cases) for e in new.evidence] == [("linked_to_blacklisted: same tax id, same name", 1)]
    assert new.review_on == T + dt.timedelta(days=POLICY["ladder"][0]["review_days"])
    assert (got[("NEW2", "supplier")].state, got[("NEW2", "supplier")].rules_fired) == (
        "demoted", ["fault_rate_12m", "linked_to_blacklisted"])
    assert (got[("NEW7", "supplier")].state, got[("NEW7", "supplier")].policy_state) == ("good", "warning")
    assert got[("NEW4", "supplier")].rules_fired == ["linked_to_flagged_12m"]
    assert got[("NEW4", "supplier")].state == "warning"
    assert got[("BUY", "buyer")].state == "good"
    for absent in ("NEW3", "NEW5", "OLD6", "OLD4"):
        assert all(pid != absent for pid, _ in got), absent
    # the rows keep risk_status's columns, and the notices name the reason
    Tables(spark, Lake("/nonexistent")).conform("risk_status", out).count()
    reasons = {r.party_id: r.reason_codes for r in notices(out).collect()}
    assert reasons["NEW"] == ["linked_to_blacklisted"] and reasons["NEW4"] == ["linked_to_flagged_12m"]


def test_without_party_links_nothing_changes(spark):
    status = _rows(spark, [(str(T), "OLD", "supplier", "blacklisted", [], "risk.ops.lchen")])
    assert status.transform(with_links(None, POLICY)).collect() == status.collect()
