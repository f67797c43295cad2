"""party_market_monthly on a hand-made story: one supplier in Dongyang (S1), two US buyers (B1, B2).

  O1  B1 -> S1, placed 2026-01-05: shipped on time, delivered late, paid, completed; B1 complains in its
      review (written 2026-03-01), S1's review of B1 is fine.
  O2  B1 -> S1, placed 2026-02-03: shipped late (known 2026-02-25); B1 opens a dispute 2026-03-01 that
      closes in B1's favour 2026-03-20.
  O3  B2 -> S1, placed 2026-02-10: the supplier cancels it (known 2026-02-20).
"""
import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from tradematch import history
from tradematch.schema import Catalog

D = dt.date.fromisoformat
T = dt.datetime.fromisoformat
LOOKBACK = 12
SHOWN = ["party_id", "role", "market", "hs_chapter", "month", "orders", "gmv_usd", "shipped", "shipped_late",
         "delivered_late", "cancelled_by_supplier", "paid", "reviews", "complaints", "disputes_against",
         "disputes_lost", "distinct_counterparts", "repeat_counterparts"]


def _version(order_id, buyer, supplier, order_date, valid_from, valid_to, amount_usd, **state):
    row = {"order_id": order_id, "buyer_id": buyer, "supplier_id": supplier, "hs_code": "441400", "hs_chapter": "44",
           "origin_country": "CN", "destination_country": "US", "quantity": 10, "amount": amount_usd,
           "currency": "USD", "amount_usd": amount_usd, "order_date": D(order_date),
           "promised_ship_date": D(order_date) + dt.timedelta(days=15), "shipped_date": None,
           "promised_delivery_date": D(order_date) + dt.timedelta(days=45), "delivered_date": None,
           "pickup_deadline": None, "picked_up_date": None, "payment_due_date": D(order_date) + dt.timedelta(days=75),
           "paid_date": None, "status": "open", "valid_from": T(valid_from), "valid_to": valid_to and T(valid_to),
           "batch": D(valid_from[:10]), "record_hash": f"{order_id}@{valid_from}"}
    row.update({k: D(v) if k.endswith("_date") and isinstance(v, str) else v for k, v in state.items()})
    return row | {"order_month": D(order_date).replace(day=1)}  # the partition column, where the schema has it


def _story(spark):
    from decimal import Decimal as Dec
    cat = Catalog()
    history_struct = cat.schema("orders_history").struct
    orders = spark.createDataFrame([{c: r[c] for c in history_struct.fieldNames()} for r in [
        _version("O1", "B1", "S1", "2026-01-05", "2026-01-05T10:00:00", "2026-01-18T10:00:00", Dec("100.00")),
        _version("O1", "B1", "S1", "2026-01-05", "2026-01-18T10:00:00", "2026-02-25T10:00:00", Dec("100.00"),
                 shipped_date="2026-01-18"),
        _version("O1", "B1", "S1", "2026-01-05", "2026-02-25T10:00:00", None, Dec("100.00"), shipped_date="2026-01-18",
                 delivered_date="2026-02-25", picked_up_date="2026-02-26", paid_date="2026-03-10", status="completed"),
        _version("O2", "B1", "S1", "2026-02-03", "2026-02-03T09:00:00", "2026-02-25T09:00:00", Dec("50.00")),
        _version("O2", "B1", "S1", "2026-02-03", "2026-02-25T09:00:00", None, Dec("50.00"), shipped_date="2026-02-25"),
        _version("O3", "B2", "S1", "2026-02-10", "2026-02-10T09:00:00", "2026-02-20T09:00:00", Dec("30.00")),
        _version("O3", "B2", "S1", "2026-02-10", "2026-02-20T09:00:00", None, Dec("30.00"), status="cancelled_by_supplier"),
    ]], history_struct)
    disputes = spark.createDataFrame([{
        "dispute_id": "D1", "order_id": "O2", "opened_by": "buyer", "reason": "late_delivery", "opened_on": D("2026-03-01"),
        "closed_on": D("2026-03-20"), "outcome": "buyer_favoured", "claim_amount": None, "currency": None,
        "claim_amount_usd": None, "batch": D("2026-03-20"), "record_hash": "D1"}], cat.schema("disputes").struct)
    reviews = spark.createDataFrame([
        {"order_id": "O1", "reviewer_role": "buyer", "rating": 1, "complaint": True, "created_on": D("2026-03-01"),
         "batch": D("2026-03-01"), "record_hash": "R1"},
        {"order_id": "O1", "reviewer_role": "supplier", "rating": 5, "complaint": False, "created_on": D("2026-03-12"),
         "batch": D("2026-03-12"), "record_hash": "R2"}], cat.schema("reviews").struct)
    return orders, disputes, reviews


# the story's rows of party_market_monthly: party, role, counterpart market, chapter, month
GROUPS = {"S1 Jan": ("S1", "supplier", "US", "44", "2026-01-01"), "S1 Feb": ("S1", "supplier", "US", "44", "2026-02-01"),
          "B1 Jan": ("B1", "buyer", "CN", "44", "2026-01-01"), "B1 Feb": ("B1", "buyer", "CN", "44", "2026-02-01"),
          "B2 Feb": ("B2", "buyer", "CN", "44", "2026-02-01")}


def _expected(spark, counts):
    """Expected SHOWN columns from {group: (orders, gmv, shipped, ...)} in SHOWN's order."""
    from decimal import Decimal as Dec
    schema = ", ".join(f"{c} {'decimal(20,2)' if c == 'gmv_usd' else 'date' if c == 'month' else 'string' if i < 4 else 'bigint'}"
                       for i, c in enumerate(SHOWN))
    rows = [(*GROUPS[g][:4], D(GROUPS[g][4]), n[0], Dec(n[1]), *n[2:]) for g, n in counts.items()]
    return spark.createDataFrame(rows, schema)


AT_END_OF_MARCH = {
    # supplier S1 sells to the US; Feb: O2 shipped late, O3 cancelled, B1's dispute lost, B1 a repeat buyer
    "S1 Jan": (1, "100.00", 1, 0, 1, 0, 1, 1, 1, 0, 0, 1, 0),
    "S1 Feb": (2, "80.00", 1, 1, 0, 1, 0, 0, 0, 1, 1, 2, 1),
    # buyers buy from CN; the dispute B1 opened is against S1, not B1
    "B1 Jan": (1, "100.00", 1, 0, 1, 0, 1, 1, 0, 0, 0, 1, 0),
    "B1 Feb": (1, "50.00", 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1),
    "B2 Feb": (1, "30.00", 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0),
}
# by 2026-02-21: O1 shipped but not delivered, O2 not shipped, O3 cancelled; no review, no dispute yet
ON_21_FEBRUARY = {
    "S1 Jan": (1, "100.00", 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0),
    "S1 Feb": (2, "80.00", 0, 0, 0, 1, 0, 0, 0, 0, 0, 2, 1),
    "B1 Jan": (1, "100.00", 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0),
    "B1 Feb": (1, "50.00", 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1),
    "B2 Feb": (1, "30.00", 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0),
}


@pytest.mark.parametrize("as_of, counts", [("2026-03-31", AT_END_OF_MARCH), ("2026-02-21", ON_21_FEBRUARY)],
                         ids=["everything_known", "later_versions_disputes_and_reviews_ignored"])
def test_monthly_counts_each_side_of_the_story_in_its_order_month_as_known_at_the_as_of(spark, as_of, counts):
    orders, disputes, reviews = _story(spark)
    got = history.build(orders, disputes, reviews, D(as_of), LOOKBACK).select(SHOWN)
    assert_df_equality(got, _expected(spark, counts), ignore_row_order=True, ignore_nullable=True,
                       ignore_metadata=True)


def test_monthly_shuffles_the_party_rows_once_by_party_and_role_into_the_sessions_shuffle_partitions(spark):
    orders, disputes, reviews = _story(spark)
    rows = orders.transform(history.orders_as_of(D("2026-03-31"))).transform(history.party_orders(reviews, disputes))
    plan = history.monthly(rows.localCheckpoint(), LOOKBACK, D("2026-03-31"))._jdf.queryExecution().executedPlan()
    shuffles = [line.strip() for line in plan.toString().splitlines() if "Exchange" in line]
    partitions = spark.conf.get("spark.sql.shuffle.partitions")
    assert len(shuffles) == 1 and "hashpartitioning(party_id#" in shuffles[0] and ", role#" in shuffles[0], shuffles
    # by number, which adaptive execution keeps (it would coalesce a plain repartition on its own)
    assert f", {partitions}), REPARTITION_BY_NUM" in shuffles[0], shuffles


def test_party_orders_read_the_orders_once_and_split_them_into_roles_after_the_voice_join(spark):
    orders, disputes, reviews = _story(spark)
    rows = orders.transform(history.orders_as_of(D("2026-03-31"))).transform(history.party_orders(reviews, disputes))
    lines = rows._jdf.queryExecution().executedPlan().toString().splitlines()  # not run yet: the initial plan
    order_scans = [line for line in lines if "Scan" in line and "valid_from#" in line]
    split, join = (next(i for i, line in enumerate(lines) if word in line) for word in ("Generate inline", "Join"))
    assert len(order_scans) == 1 and split < join, "\n".join(lines)  # a parent prints above its child


def test_an_as_of_run_ignores_orders_placed_after_it(spark):
    orders, disputes, reviews = _story(spark)
    before_o3 = history.build(orders, disputes, reviews, D("2026-02-09"), LOOKBACK)
    assert before_o3.where(F.col("party_id") == "B2").count() == 0  # O3 was not placed yet


def test_the_dispute_outcome_counts_only_once_it_is_reached(spark):
    orders, disputes, reviews = _story(spark)
    got = history.build(orders, disputes, reviews, D("2026-03-10"), LOOKBACK)
    row = got.where((F.col("party_id") == "S1") & (F.col("month") == D("2026-02-01"))).head()
    assert (row.disputes_against, row.disputes_lost) == (1, 0)


def _touched(orders, disputes, reviews, since, as_of, lookback=LOOKBACK):
    changed = history.changed_orders(orders, disputes, reviews, D(since), D(as_of))
    return ({r.month for r in history.touched_months(changed, D(as_of), lookback).collect()},
            history.touched_parties(changed))


def test_a_full_rebuild_equals_a_sequence_of_incremental_runs(spark):
    orders, disputes, reviews = _story(spark)
    days = ["2026-01-10", "2026-02-21", "2026-03-05", "2026-03-13", "2026-03-31"]
    table = history.build(orders, disputes, reviews, D(days[0]), LOOKBACK)
    for since, as_of in zip(days, days[1:]):
        months, parties = _touched(orders, disputes, reviews, since, as_of)
        assert months, f"something changed between {since} and {as_of}"
        if since == "2026-03-13":  # D1 on O2 closed: January is read only for S1's and B1's repeat in February
            assert months == {D("2026-02-01"), D("2026-03-01")}
        fresh = history.build(orders, disputes, reviews, D(as_of), LOOKBACK, sorted(months), parties)
        slice_ = history.refreshed(table.where(F.col("month").isin(months)), fresh, parties, D(as_of))
        table = table.where(~F.col("month").isin(months)).unionByName(slice_).localCheckpoint()
    full = history.build(orders, disputes, reviews, D(days[-1]), LOOKBACK)
    assert_df_equality(table.drop("computed_as_of"), full.drop("computed_as_of"), ignore_row_order=True,
                       ignore_nullable=True, ignore_metadata=True)


def test_only_the_changed_orders_parties_are_recomputed_and_the_months_equal_a_whole_recompute(spark):
    # between 21 Feb and 5 Mar: O1 delivered and O2 shipped (25 Feb), R1 on O1 and D1 on O2 (1 Mar), all
    # B1 -> S1; B2's O3 was cancelled on 20 Feb, so B2's Feb row is carried over, stamped with the as-of
    orders, disputes, reviews = _story(spark)
    months, parties = _touched(orders, disputes, reviews, "2026-02-21", "2026-03-05")
    assert sorted(tuple(r) for r in parties.collect()) == [("B1", "buyer"), ("S1", "supplier")]  # two rows
    old = history.build(orders, disputes, reviews, D("2026-02-21"), LOOKBACK).where(F.col("month").isin(months))
    fresh = history.build(orders, disputes, reviews, D("2026-03-05"), LOOKBACK, sorted(months), parties)
    assert sorted(r.party_id for r in fresh.collect()) == ["B1", "B1", "S1", "S1"]  # Jan and Feb of each
    whole = history.build(orders, disputes, reviews, D("2026-03-05"), LOOKBACK, sorted(months))
    assert_df_equality(history.refreshed(old, fresh, parties, D("2026-03-05")), whole, ignore_row_order=True,
                       ignore_nullable=True, ignore_metadata=True)


def test_nothing_is_touched_between_two_runs_for_the_same_as_of(spark):
    orders, disputes, reviews = _story(spark)
    months, parties = _touched(orders, disputes, reviews, "2026-03-31", "2026-03-31")
    assert (months, parties.count()) == (set(), 0)


def test_a_new_order_also_touches_the_months_whose_repeat_counterparts_it_can_change(spark):
    orders, disputes, reviews = _story(spark)
    months, _ = _touched(orders, disputes, reviews, "2026-01-04", "2026-01-06", 1)
    assert months == {D("2026-01-01")}  # as-of month caps the lookback
    months, _ = _touched(orders, disputes, reviews, "2026-01-04", "2026-03-31", 1)
    assert months == {D("2026-01-01"), D("2026-02-01"), D("2026-03-01")}
