"""Time-decayed evidence: the monthly counts of party_market_monthly summed with weight
2^-(age in days / half-life), age counted from the first day of the month to the as-of, per party, role,
market and HS chapter (the reliability_evidence table).

A month's weight at t2 is its weight at t1 times 2^-((t2 - t1) / h), so the sums roll forward:
sum(t2) = sum(t1) * 2^-((t2 - t1) / h) + the decayed change of the months recomputed since t1 (their
counts now minus their counts then). Only those months are read, not every year of history.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from tradematch.history import COUNTS

EVIDENCE = "reliability_evidence"
GROUP = ["party_id", "role", "market", "hs_chapter"]


def weight(as_of: dt.date, half_life_days: float) -> Column:
    """A month's decay weight at the as-of."""
    return F.pow(F.lit(2.0), -F.datediff(F.lit(as_of), F.col("month")) / F.lit(float(half_life_days)))


def decay_factor(since: dt.date, as_of: dt.date, half_life_days: float) -> float:
    return 2.0 ** (-(as_of - since).days / half_life_days)


def _weighted(monthly: DataFrame, as_of: dt.date, half_life_days: float, sign: float = 1.0) -> DataFrame:
    w = weight(as_of, half_life_days) * F.lit(sign)
    return monthly.select(*GROUP, F.when((F.col("orders") > 0) & F.lit(sign > 0), F.col("month")).alias("first_month"),
                          *[(F.col(c).cast("double") * w).alias(c) for c in COUNTS])


def _summed(rows: DataFrame, as_of: dt.date, monthly_version: int) -> DataFrame:
    return (rows.groupBy(*GROUP)
            .agg(F.min("first_month").alias("first_month"), *[F.sum(c).alias(c) for c in COUNTS])
            .select(F.lit(as_of).alias("as_of"), *GROUP, "first_month",
                    F.lit(monthly_version).cast("bigint").alias("monthly_version"), *COUNTS))


def full(monthly: DataFrame, as_of: dt.date, half_life_days: float, monthly_version: int) -> DataFrame:
    """Decayed sums at the as-of from every month of the monthly table."""
    return _summed(_weighted(monthly, as_of, half_life_days), as_of, monthly_version)


def changed_months(monthly_now: DataFrame, monthly_then: DataFrame, since: dt.date) -> DataFrame:
    """Months recomputed by history runs after `since`, and months that have since emptied."""
    recomputed = monthly_now.where(F.col("computed_as_of") > F.lit(since)).select("month").distinct()
    emptied = monthly_then.select("month").distinct().subtract(monthly_now.select("month").distinct())
    return recomputed.unionByName(emptied).distinct()


def rolled_forward(previous: DataFrame, since: dt.date, monthly_now: DataFrame, monthly_then: DataFrame,
                   as_of: dt.date, half_life_days: float, monthly_version: int) -> DataFrame:
    """Decayed sums at the as-of from the snapshot at `since` (previous: its reliability_evidence rows),
    the monthly table now and as it was then (the version the snapshot was computed from)."""
    factor = decay_factor(since, as_of, half_life_days)
    carried = previous.select(*GROUP, "first_month", *[(F.col(c) * F.lit(factor)).alias(c) for c in COUNTS])
    months = F.broadcast(changed_months(monthly_now, monthly_then, since))
    now = _weighted(monthly_now.join(months, "month", "left_semi"), as_of, half_life_days)
    then = _weighted(monthly_then.join(months, "month", "left_semi"), as_of, half_life_days, sign=-1.0)
    return _summed(carried.unionByName(now).unionByName(then), as_of, monthly_version)
