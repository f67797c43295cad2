"""What went wrong on an order and whose fault it was: the one definition of a bad outcome per role.

Orders here are one row per order with the silver order columns (status, shipped_date,
promised_ship_date, paid_date, payment_due_date). The counterpart's voice (a complaint in a review, a
dispute opened) is joined on by `with_counterpart_flags`. The evaluation's raw rates (world, reliability)
use `bad_outcome(role)`; history.py counts the same facts month by month.
"""
from __future__ import annotations

from typing import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

ROLES = ("supplier", "buyer")
# the other side of an order, by role: who reviews and who opens disputes against a party of the role
COUNTERPART_ROLE = {"supplier": "buyer", "buyer": "supplier"}


def shipped_late() -> Column:
    return F.col("shipped_date") > F.col("promised_ship_date")


def paid_late() -> Column:
    return F.col("paid_date") > F.col("payment_due_date")


def with_counterpart_flags(reviews: DataFrame, disputes: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Add `<role>_complaint` and `<role>_dispute`: a review complaint / a dispute raised by that side."""
    def add(orders: DataFrame) -> DataFrame:
        out = orders
        for side in ROLES:
            complained = (reviews.where((F.col("reviewer_role") == side) & F.col("complaint"))
                          .select("order_id").distinct().withColumn(f"{side}_complaint", F.lit(True)))
            disputed = (disputes.where(F.col("opened_by") == side)
                        .select("order_id").distinct().withColumn(f"{side}_dispute", F.lit(True)))
            out = (out.join(complained, "order_id", "left").join(disputed, "order_id", "left")
                   .fillna(False, [f"{side}_complaint", f"{side}_dispute"]))
        return out
    return add


def bad_outcome(role: str) -> Column:
    """True when the order went wrong through the fault of its party in `role`, false when it went
    right, null while that is not known yet (a supplier has not shipped, a buyer has not paid, and the
    counterpart has voiced nothing): a raw rate is the average over the orders whose outcome is known."""
    other = COUNTERPART_ROLE[role]
    voiced = F.col(f"{other}_complaint") | F.col(f"{other}_dispute")
    if role == "supplier":
        return (F.col("status") == "cancelled_by_supplier") | shipped_late() | voiced
    return F.col("status").isin("cancelled_by_buyer", "buyer_default", "not_picked_up") | paid_late() | voiced
