"""Evidence: each party's faults per role and window, as known at each as-of (point in time).

order_facts: orders_history versions -> one row per version and role, with the dates the counterpart's
voice became known (first complaint, first dispute opened against the party, first dispute lost, first
contract-breach dispute lost). evidence: those rows -> per (as_of, party, role) sums of the per-order
fault flags (policy.FLAGS) over the short and long windows, for one as-of (the job) or many (a replay):
at each as-of an order counts in the version valid at the end of that day, a review or dispute only once
dated by then (as history.orders_as_of / disputes_as_of / reviews_as_of). The bad-outcome definition is
outcomes.bad_outcome.
"""
from __future__ import annotations

import datetime as dt
from functools import reduce
from typing import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from tradematch.outcomes import ROLES, bad_outcome, paid_late, shipped_late
from tradematch.risk.policy import FLAGS, window_days

PARTY_COL = {"supplier": "supplier_id", "buyer": "buyer_id"}
_ORDER_COLS = ["order_id", "order_date", "status", "shipped_date", "promised_ship_date", "paid_date",
               "payment_due_date", "valid_from", "valid_to"]
_VOICE = ["complaint_on", "dispute_on", "lost_on", "breach_lost_on"]
WINDOWS = ("short", "long")


def _voice(disputes: DataFrame, reviews: DataFrame) -> DataFrame:
    """(order_id, role, complaint_on, dispute_on, lost_on, breach_lost_on): when the counterpart's
    voice about the party of `role` on that order became known."""
    about = F.when(F.col("_by") == "buyer", "supplier").when(F.col("_by") == "supplier", "buyer")
    complaints = (reviews.where(F.col("complaint")).select("order_id", F.col("reviewer_role").alias("_by"), "created_on")
                  .groupBy("order_id", about.alias("role")).agg(F.min("created_on").alias("complaint_on")))
    opened = (disputes.select("order_id", F.col("opened_by").alias("_by"), "opened_on")
              .groupBy("order_id", about.alias("role")).agg(F.min("opened_on").alias("dispute_on")))
    loser = F.when(F.col("outcome") == "buyer_favoured", "supplier").when(F.col("outcome") == "supplier_favoured", "buyer")
    lost = (disputes.where(loser.isNotNull() & F.col("closed_on").isNotNull())
            .groupBy("order_id", loser.alias("role"))
            .agg(F.min("closed_on").alias("lost_on"),
                 F.min(F.when(F.col("reason") == "contract_breach", F.col("closed_on"))).alias("breach_lost_on")))
    return complaints.join(opened, ["order_id", "role"], "full").join(lost, ["order_id", "role"], "full")


def order_facts(disputes: DataFrame, reviews: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """orders_history -> one row per order version and role: party_id, role, the order columns the
    fault flags need, and the voice dates."""
    def per_role(history: DataFrame) -> DataFrame:
        sides = [history.select(F.col(PARTY_COL[role]).alias("party_id"), F.lit(role).alias("role"), *_ORDER_COLS)
                 for role in ROLES]
        return reduce(DataFrame.unionByName, sides).join(_voice(disputes, reviews), ["order_id", "role"], "left")
    return per_role


def _end_of(day: Column) -> Column:
    """The first instant after the day (what was known by the day came before it)."""
    return F.date_add(day, 1).cast("timestamp")


def _known_by(col: str, as_of: Column) -> Column:
    return F.coalesce(F.col(col) <= as_of, F.lit(False))


def _flags(as_of: Column) -> tuple[dict[str, Column], dict[str, Column]]:
    """The counterpart-voice columns outcomes.bad_outcome reads, and the per-order fault flags at the
    as-of (policy.FLAGS), on a facts row with its role."""
    supplier, buyer = F.col("role") == "supplier", F.col("role") == "buyer"
    voiced = {f"{side}_complaint": _known_by("complaint_on", as_of) for side in ROLES}
    voiced.update({f"{side}_dispute": _known_by("dispute_on", as_of) for side in ROLES})
    bad = reduce(lambda acc, role: acc.when(F.col("role") == role, bad_outcome(role)), ROLES[1:],
                 F.when(F.col("role") == ROLES[0], bad_outcome(ROLES[0])))
    flags = {
        "bad": F.coalesce(bad, F.lit(False)),
        "known": bad.isNotNull(),
        "orders": F.lit(True),
        "shipped_late": supplier & F.coalesce(shipped_late(), F.lit(False)),
        "cancelled": F.col("status") == F.concat(F.lit("cancelled_by_"), F.col("role")),
        "complaint": _known_by("complaint_on", as_of),
        "dispute_lost": _known_by("lost_on", as_of),
        "defaulted": buyer & (F.col("status") == "buyer_default"),
        "paid_late": buyer & F.coalesce(paid_late(), F.lit(False)),
        "not_picked_up": buyer & (F.col("status") == "not_picked_up"),
        "contract_breach": buyer & _known_by("breach_lost_on", as_of),
        # known before the outcome is: the promised ship date or the payment due date has passed
        "ship_overdue": supplier & F.col("shipped_date").isNull() & ~F.col("status").startswith("cancelled")
        & (F.col("promised_ship_date") < as_of),
        "payment_overdue": buyer & F.col("paid_date").isNull() & ~F.col("status").startswith("cancelled")
        & (F.col("payment_due_date") < as_of),
    }
    assert set(flags) == set(FLAGS), "policy.FLAGS and evidence flags differ"
    return voiced, {name: F.coalesce(flag, F.lit(False)) for name, flag in flags.items()}


def count_columns() -> list[str]:
    return [f"{flag}_{w}" for w in WINDOWS for flag in FLAGS]


def evidence(as_ofs: list[dt.date], policy: dict) -> Callable[[DataFrame], DataFrame]:
    """order_facts rows -> (as_of, party_id, role, <flag>_short, <flag>_long ...) for each as-of at which
    the party had an order placed in the long window. One pass for any number of as-ofs."""
    long_days, short_days = window_days(policy, "long"), window_days(policy, "short")

    def counts(facts: DataFrame) -> DataFrame:
        steps = F.array(*[F.lit(d) for d in sorted(set(as_ofs))])
        valid = F.filter(steps, lambda t: (F.col("valid_from") < _end_of(t)) &
                         (F.col("valid_to").isNull() | (F.col("valid_to") >= _end_of(t))) &
                         (F.col("order_date") <= t) & (F.col("order_date") > F.date_sub(t, long_days)))
        rows = facts.select("*", F.explode(valid).alias("as_of"))
        voiced, flags = _flags(F.col("as_of"))
        rows = rows.select("as_of", "party_id", "role", *_ORDER_COLS, *[c.alias(n) for n, c in voiced.items()],
                           *_VOICE)
        in_short = F.col("order_date") > F.date_sub(F.col("as_of"), short_days)
        sums = []
        for name, flag in flags.items():
            sums.append(F.sum(flag.cast("int")).cast("bigint").alias(f"{name}_long"))
            sums.append(F.sum((flag & in_short).cast("int")).cast("bigint").alias(f"{name}_short"))
        return rows.groupBy("as_of", "party_id", "role").agg(*sums).select("as_of", "party_id", "role", *count_columns())
    return counts

