"""Risk, worked by hand on tiny silver frames: the minimum count of cases, points and the ladder,
decay out of the windows, point in time, overrides naming who decided, notices, and the job's
append-only events (a rerun of the same as-of adds none, a backfill adds back-dated ones only with
--backfill)."""
import datetime as dt
import json
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from tradematch import pipeline
from tradematch.cli import main
from tradematch.lake import Lake
from tradematch.risk import events as E
from tradematch.risk.backtest import as_ofs, parse_step
from tradematch.risk.evidence import evidence, order_facts
from tradematch.risk.notices import notices
from tradematch.risk.policy import load_policy
from tradematch.risk.status import active_overrides, scored, since_over_steps, with_overrides, with_since
from tradematch.schema import Catalog
from tradematch.tables import Tables

D = dt.date.fromisoformat
POLICY = load_policy()
BL_MIN = next(r for r in POLICY["ladder"] if r["state"] == "blacklisted")["min_cases"]
CATALOG = Catalog()


def _orders(spark, rows):
    """orders_history rows from (order_id, supplier, buyer, order_date, status, shipped_date, known_on):
    one version per order, known from `known_on`; promised ship 10 days after the order, paid on time."""
    out = []
    for oid, supplier, buyer, day, status, shipped, known in rows:
        d = D(day)
        out.append({"order_id": oid, "buyer_id": buyer, "supplier_id": supplier, "hs_code": "940360",
                    "hs_chapter": "94", "origin_country": "CN", "destination_country": "US", "quantity": 1,
                    "amount": Decimal(100), "currency": "USD", "amount_usd": Decimal(100), "order_date": d,
                    "promised_ship_date": d + dt.timedelta(days=10),
                    "shipped_date": D(shipped) if shipped else None, "promised_delivery_date": d + dt.timedelta(days=40),
                    "delivered_date": None, "pickup_deadline": None, "picked_up_date": None,
                    "payment_due_date": d + dt.timedelta(days=70),
                    "paid_date": None if status.startswith("cancelled") else d + dt.timedelta(days=60),
                    "status": status, "valid_from": dt.datetime.combine(D(known), dt.time(12)), "valid_to": None,
                    "batch": D(known), "record_hash": oid, "order_month": d.replace(day=1)})
    return Tables(spark, Lake("/nonexistent")).conform("orders_history", spark.createDataFrame(
        out, CATALOG.schema("orders_history").struct))


def _empty(spark, name):
    return spark.createDataFrame([], CATALOG.schema(name).struct)


def _cancelling_supplier(spark, party, n_bad, n_good=0, start="2026-03-02", known="2026-06-01"):
    rows = [(f"{party}-b{i}", party, "B1", str(D(start) + dt.timedelta(days=i)), "cancelled_by_supplier", None, known)
            for i in range(n_bad)]
    rows += [(f"{party}-g{i}", party, "B1", str(D(start) + dt.timedelta(days=i)), "completed",
              str(D(start) + dt.timedelta(days=i + 5)), known) for i in range(n_good)]
    return rows


def _status(spark, history, as_of, overrides=None, baseline=None):
    facts = history.transform(order_facts(_empty(spark, "disputes"), _empty(spark, "reviews")))
    active = (overrides if overrides is not None else _empty(spark, "risk_overrides")).transform(active_overrides([as_of]))
    return (facts.transform(evidence([as_of], POLICY)).transform(scored(POLICY))
            .transform(with_overrides(active, POLICY)).transform(with_since(baseline, as_of, POLICY)))


def _state(df, party, role="supplier"):
    rows = df.where((F.col("party_id") == party) & (F.col("role") == role)).collect()
    return rows[0]["state"] if rows else "good"


def test_nobody_is_blacklisted_on_fewer_cases_than_the_minimum(spark):
    history = _orders(spark, _cancelling_supplier(spark, "S_FEW", BL_MIN - 1) + _cancelling_supplier(spark, "S_MANY", BL_MIN))
    status = _status(spark, history, D("2026-06-01")).cache()
    few = status.where(F.col("party_id") == "S_FEW").head()
    # every fault rate of S_FEW is 100%, but too few cases are behind it
    assert (few.cases, few.state) == (BL_MIN - 1, "demoted")
    assert _state(status, "S_MANY") == "blacklisted"
    assert status.where((F.col("state") == "blacklisted") & (F.col("cases") < BL_MIN)).count() == 0
    # the evidence cites the figures of each rule that fired, at or above its own minimum
    proof = {e.rule: e for e in status.where(F.col("party_id") == "S_MANY").head().evidence}
    assert proof["severe_fault_rate_12m"].cases == BL_MIN and proof["severe_fault_rate_12m"].rate == 1.0
    assert all(e.cases >= e.min_cases for e in proof.values())
    # the buyer of those orders did nothing wrong
    assert _state(status, "B1", "buyer") == "good"


def test_the_ladder_needs_its_minimum_cases_even_when_rules_give_the_points(spark):
    loose = {**POLICY, "rules": [{**r, "min_cases": 1} for r in POLICY["rules"]]}
    history = _orders(spark, _cancelling_supplier(spark, "S", BL_MIN - 1))
    facts = history.transform(order_facts(_empty(spark, "disputes"), _empty(spark, "reviews")))
    row = facts.transform(evidence([D("2026-06-01")], loose)).transform(scored(loose)).where(F.col("party_id") == "S").head()
    assert row.points >= next(r for r in POLICY["ladder"] if r["state"] == "blacklisted")["min_points"]
    assert (row.policy_state, row.cases) == ("demoted", BL_MIN - 1)


def test_a_thin_record_or_a_low_rate_fires_nothing(spark):
    history = _orders(spark, _cancelling_supplier(spark, "S_LOW", 2, n_good=30))
    status = _status(spark, history, D("2026-06-01"))
    row = status.where(F.col("party_id") == "S_LOW").head()
    assert (row.state, row.points, row.rules_fired) == ("good", 0, [])


def test_point_in_time_and_decay_out_of_the_windows(spark):
    history = _orders(spark, _cancelling_supplier(spark, "S", BL_MIN, start="2026-03-02", known="2026-04-01"))
    assert _state(_status(spark, history, D("2026-03-31")), "S") == "good"  # not known yet: versions land 04-01
    assert _state(_status(spark, history, D("2026-04-01")), "S") == "blacklisted"
    # a year and more later the orders have left the 12-month window: points and state decay to good
    assert _state(_status(spark, history, D("2027-04-01")), "S") == "good"


def test_an_override_clears_a_party_and_the_event_names_who_decided(spark):
    history = _orders(spark, _cancelling_supplier(spark, "S", BL_MIN))
    day = D("2026-06-01")
    before = _status(spark, history, day).select("party_id", "role", "state", "since")
    assert _state(before, "S") == "blacklisted"
    overrides = spark.createDataFrame(
        [("S", "supplier", "clear", "disputes resolved in the party's favour", "risk.ops.lchen", D("2026-06-02"), None,
          D("2026-06-02"), "h1")], CATALOG.schema("risk_overrides").struct)
    after = _status(spark, history, D("2026-06-03"), overrides, baseline=before).cache()
    row = after.where(F.col("party_id") == "S").head()
    assert (row.state, row.policy_state, row.decided_by, row.min_cases) == ("good", "blacklisted", "risk.ops.lchen", 0)
    assert row.review_on == D("2026-06-02") + dt.timedelta(days=POLICY["overrides"]["review_days"])
    events = after.transform(E.changes(before)).collect()
    assert [(e.party_id, e.from_state, e.to_state, e.decided_by, e.event_date) for e in events] == [
        ("S", "blacklisted", "good", "risk.ops.lchen", D("2026-06-03"))]
    # before its decision date the override is not in force
    assert _state(_status(spark, history, D("2026-06-01"), overrides), "S") == "blacklisted"


def test_notices_show_no_figures_and_name_a_manual_review(spark):
    history = _orders(spark, _cancelling_supplier(spark, "S", BL_MIN) + _cancelling_supplier(spark, "S2", BL_MIN))
    overrides = spark.createDataFrame(
        [("S2", "supplier", "blacklist", "confirmed", "trust.review.okim", D("2026-05-01"), D("2026-12-01"),
          D("2026-05-01"), "h")], CATALOG.schema("risk_overrides").struct)
    out = notices(_status(spark, history, D("2026-06-01"), overrides))
    assert out.columns == ["as_of", "party_id", "role", "state", "reason_codes", "since", "review_on"]
    got = {r.party_id: (r.state, r.reason_codes, r.review_on) for r in out.collect()}
    assert got["S2"] == ("blacklisted", ["manual_review"], D("2026-12-01"))
    assert got["S"][0] == "blacklisted" and "severe_fault_rate_12m" in got["S"][1]


def test_a_replay_gives_the_states_and_since_a_run_per_step_would(spark):
    history = _orders(spark, _cancelling_supplier(spark, "S", BL_MIN, known="2026-04-01"))
    steps = as_ofs(D("2026-03-25"), D("2026-04-15"), parse_step("7d"))
    assert steps == [D("2026-03-25"), D("2026-04-01"), D("2026-04-08"), D("2026-04-15")]
    facts = history.transform(order_facts(_empty(spark, "disputes"), _empty(spark, "reviews")))
    active = _empty(spark, "risk_overrides").transform(active_overrides(steps))
    replayed = (facts.transform(evidence(steps, POLICY)).transform(scored(POLICY))
                .transform(with_overrides(active, POLICY)).transform(since_over_steps(7, POLICY)))
    got = {r.as_of: (r.state, r.since) for r in replayed.where(F.col("party_id") == "S").collect()}
    assert got == {D("2026-04-01"): ("blacklisted", D("2026-04-01")), D("2026-04-08"): ("blacklisted", D("2026-04-01")),
                   D("2026-04-15"): ("blacklisted", D("2026-04-01"))}
    assert [(e.event_date, e.from_state, e.to_state) for e in E.replay_changes(replayed).where(
        F.col("party_id") == "S").collect()] == [(D("2026-04-01"), "good", "blacklisted")]


def _silver_lake(spark, tmp_path, history):
    lake = Lake(str(tmp_path / "lake"))
    tables = Tables(spark, lake)
    tables.append("orders_history", history)
    for name in ("disputes", "reviews", "risk_overrides"):
        tables.ensure(name)
    return lake, tables


def _run(spark, settings, lake, day, **options):
    return pipeline.execute(pipeline.job_named("risk"), spark, settings, lake, f"risk-{day}", day, Catalog(), options)


def test_the_job_adds_events_once_and_a_backfill_adds_back_dated_events_only_when_asked(spark, settings, tmp_path):
    rows = (_cancelling_supplier(spark, "S_EARLY", BL_MIN, known="2026-04-01") +
            _cancelling_supplier(spark, "S_MID", BL_MIN, start="2026-04-06", known="2026-04-15") +
            _cancelling_supplier(spark, "S_LATE", BL_MIN, start="2026-04-20", known="2026-05-10"))
    lake, tables = _silver_lake(spark, tmp_path, _orders(spark, rows))
    first, second, rerun = D("2026-04-05"), D("2026-05-15"), D("2026-05-15")
    _run(spark, settings, lake, first)
    _run(spark, settings, lake, second)
    events = lambda: tables.read("risk_events").orderBy("event_date", "party_id").collect()  # noqa: E731
    got = [(e.event_date, e.party_id, e.from_state, e.to_state, e.decided_by) for e in events()]
    assert got == [(first, "S_EARLY", "good", "blacklisted", "policy"), (second, "S_LATE", "good", "blacklisted", "policy"),
                   (second, "S_MID", "good", "blacklisted", "policy")]
    snapshot = tables.read("risk_status").where(F.col("as_of") == second)
    assert snapshot.where(F.col("party_id") == "S_EARLY").head().since == first
    before = snapshot.localCheckpoint()

    assert _run(spark, settings, lake, rerun).metrics["risk.events_added"] == 0  # same as-of again: nothing new
    assert len(events()) == 3
    assert_df_equality(tables.read("risk_status").where(F.col("as_of") == second), before, ignore_row_order=True)

    # a backfill for a day before the newest snapshot: only its own snapshot, no event dated in the past
    # (S_MID was blacklisted by then, against the snapshot of `first`)
    backfill_day = D("2026-04-20")
    run = _run(spark, settings, lake, backfill_day)
    assert run.metrics["risk.events_added"] == 0 and len(events()) == 3
    assert sorted(r.as_of for r in tables.read("risk_status").select("as_of").distinct().collect()) == [
        first, backfill_day, second]
    assert tables.read("risk_notices").where(F.col("as_of") == backfill_day).count() == 2
    # --backfill adds the back-dated event, once
    assert _run(spark, settings, lake, backfill_day, backfill=True).metrics["risk.events_added"] == 1
    assert _run(spark, settings, lake, backfill_day, backfill=True).metrics["risk.events_added"] == 0
    assert [(e.event_date, e.party_id, e.to_state) for e in events()][1] == (backfill_day, "S_MID", "blacklisted")

    # the backtest replays the same policy weekly into scratch: the same states, nothing published
    out = tmp_path / "backtest.json"
    assert main(["--lake", lake.root, "backtest", "--from", "2026-03-29", "--to", "2026-05-17", "--step", "1w",
                 "--out", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert summary["as_ofs"] == 8 and summary["events"] == {"good->blacklisted": 3}
    assert summary["states_per_as_of"]["2026-04-05"]["blacklisted"] == 1
    assert summary["states_per_as_of"]["2026-04-19"]["blacklisted"] == 2
    assert summary["states_per_as_of"]["2026-05-17"]["blacklisted"] == 3
    assert len(events()) == 4
