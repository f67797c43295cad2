"""Each quarantine rule on its own, on small hand-made records: the clean record breaks nothing, the
dirty one breaks exactly the rule named (and is quarantined under the first it breaks)."""
import datetime as dt
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import types as T

from ingest_fixtures.landing import DISPUTE, FX, ORDER, PARTY, REVIEW, RFQ
from tradematch.ingest.policy import load_policy
from tradematch.ingest.rules import GRACE_OVER, LATER_COPY, MISSING_PARENTS, RULE_NAMES, Scope, judge
from tradematch.ingest.values import parse
from tradematch.schema import Catalog

BATCH = dt.date(2025, 6, 1)
CLEAN = {"orders": ORDER, "parties": PARTY, "disputes": DISPUTE, "reviews": REVIEW, "fx_rates": FX, "rfqs": RFQ}


def judged(spark, entity, records, raw_record=None, later_copy=False, missing=(), grace_over=False):
    """The rules each record breaks, in rule order."""
    landing = Catalog().landing(entity)
    rows = [([r.get(c) for c in landing.columns] + [raw_record, BATCH, later_copy, list(missing), grace_over])
            for r in records]
    schema = ", ".join(f"`{c}` string" for c in landing.columns)
    df = spark.createDataFrame(rows, f"{schema}, raw_record string, batch date, {LATER_COPY} boolean, "
                                     f"{MISSING_PARENTS} array<string>, {GRACE_OVER} boolean")
    out = df.transform(judge(Scope(entity, landing, load_policy()))).select("rules", "rule").collect()
    return [(list(r.rules), r.rule) for r in out]


def test_rule_names_are_the_contract_in_order():
    assert RULE_NAMES == ("malformed_record", "missing_required_field", "bad_number", "bad_date", "absurd_amount",
                          "unknown_currency", "unknown_country", "impossible_dates", "bad_code", "duplicate_record",
                          "orphan_reference")


CASES = [
    ("missing_required_field", "orders", {"supplier_id": None}),
    ("missing_required_field", "parties", {"legal_name": "  "}),
    ("bad_number", "orders", {"amount": "12,50"}),
    ("bad_number", "orders", {"quantity": "1.5"}),
    ("bad_number", "reviews", {"rating": "five"}),
    ("bad_number", "fx_rates", {"usd_per_unit": "0,14"}),
    ("bad_date", "orders", {"order_date": "2025-02-30"}),
    ("bad_date", "parties", {"registered_on": "31/12/2025"}),
    ("bad_date", "orders", {"updated_at": "2025-03-01 09:00:00"}),
    ("absurd_amount", "orders", {"amount": "0.00"}),
    ("absurd_amount", "orders", {"quantity": "-5"}),
    ("absurd_amount", "orders", {"amount": "2000000000000.00"}),
    ("absurd_amount", "disputes", {"claim_amount": "-1.00"}),
    ("absurd_amount", "fx_rates", {"usd_per_unit": "0"}),
    ("unknown_currency", "orders", {"currency": "XYZ"}),
    ("unknown_currency", "disputes", {"currency": "usd"}),
    ("unknown_country", "orders", {"destination_country": "ZZ"}),
    ("unknown_country", "parties", {"country": "Germany"}),
    ("impossible_dates", "orders", {"delivered_date": "2025-02-20"}),
    ("impossible_dates", "orders", {"paid_date": "2025-02-28"}),
    ("impossible_dates", "disputes", {"opened_on": "2025-06-02"}),
    ("bad_code", "orders", {"hs_code": "44140"}),
    ("bad_code", "orders", {"status": "shipped"}),
    ("bad_code", "disputes", {"reason": "rude"}),
    ("bad_code", "reviews", {"rating": "9"}),
    ("bad_code", "reviews", {"complaint": "maybe"}),
    ("bad_code", "rfqs", {"status": "pending"}),
]


@pytest.fixture(scope="module")
def verdicts(spark):
    """(entity, case or None for the clean record) -> (rules, rule), judged in one frame per entity."""
    out = {}
    for entity in CLEAN:
        mine = [i for i, (_, e, _) in enumerate(CASES) if e == entity]
        found = judged(spark, entity, [CLEAN[entity]] + [{**CLEAN[entity], **CASES[i][2]} for i in mine])
        out[(entity, None)] = found[0]
        out.update({(entity, i): v for i, v in zip(mine, found[1:])})
    return out


@pytest.mark.parametrize("entity", sorted(CLEAN))
def test_a_clean_record_breaks_no_rule(verdicts, entity):
    assert verdicts[(entity, None)] == ([], None)


@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{r}-{e}-{next(iter(c))}" for r, e, c in CASES])
def test_each_rule_on_its_own(verdicts, case):
    rule, entity, _ = CASES[case]
    assert verdicts[(entity, case)] == ([rule], rule)


def test_a_planned_date_may_lie_after_the_batch_but_an_event_may_not(spark):
    planned = {**ORDER, "promised_delivery_date": "2025-07-30", "payment_due_date": "2025-08-01"}
    assert judged(spark, "orders", [planned, {**ORDER, "updated_at": "2025-06-01T23:59:59"},
                                    {**ORDER, "updated_at": "2025-06-02T00:00:00"}]) == [
        ([], None), ([], None), (["impossible_dates"], "impossible_dates")]


def test_a_malformed_record_breaks_that_rule_only(spark):
    assert judged(spark, "orders", [{"order_id": "O1,B1"}], raw_record="O1,B1") == [
        (["malformed_record"], "malformed_record")]


def test_a_later_copy_is_a_duplicate_and_an_orphan_only_once_the_wait_is_over(spark):
    assert judged(spark, "orders", [ORDER], later_copy=True) == [(["duplicate_record"], "duplicate_record")]
    assert judged(spark, "reviews", [REVIEW], missing=["orders.order_id=O1"]) == [([], None)]
    assert judged(spark, "reviews", [REVIEW], missing=["orders.order_id=O1"], grace_over=True) == [
        (["orphan_reference"], "orphan_reference")]


def test_the_first_rule_in_list_order_names_the_record_and_all_are_kept(spark):
    dirty = {**ORDER, "status": "shipped", "currency": "XYZ", "quantity": "many", "buyer_id": None}
    assert judged(spark, "orders", [dirty], later_copy=True) == [
        (["missing_required_field", "bad_number", "unknown_currency", "bad_code", "duplicate_record"],
         "missing_required_field")]


def test_values_parse_strictly_to_the_landing_types(spark):
    df = spark.createDataFrame([("2025-02-28", "2025-02-28T10:11:12", "12.50", "7", "TRUE", "6.1E-5"),
                                ("2025-2-28", "2025-02-28T25:00:00", "1e3", "7.0", "yes", "1,5"),
                                ("  ", None, "", "", "", "")], "d string, t string, a string, q string, b string, r string")
    out = df.select(parse("d", T.DateType()).alias("d"), parse("t", T.TimestampType()).alias("t"),
                    parse("a", T.DecimalType(18, 2)).alias("a"), parse("q", T.LongType()).alias("q"),
                    parse("b", T.BooleanType()).alias("b"), parse("r", T.DoubleType()).alias("r"))
    expected = spark.createDataFrame([
        (dt.date(2025, 2, 28), dt.datetime(2025, 2, 28, 10, 11, 12), Decimal("12.50"), 7, True, 6.1e-5),
        (None, None, None, None, None, None), (None, None, None, None, None, None)],
        "d date, t timestamp, a decimal(18,2), q bigint, b boolean, r double")
    assert_df_equality(out, expected, ignore_nullable=True)
