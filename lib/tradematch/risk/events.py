"""risk_events: one row per change of state, dated the as-of at which it was seen; append-only.

A snapshot's rows are compared with the states before them (the newest snapshot before the as-of,
so a rerun compares with what the first run compared with, and a `--backfill` rerun after a plain one
still finds its back-dated changes), and any event already recorded under the same key is left out, so a
rerun never adds an event twice.
"""
from __future__ import annotations

from typing import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

EVENT_KEY = ["party_id", "role", "event_date", "to_state"]


def changes(baseline: DataFrame | None) -> Callable[[DataFrame], DataFrame]:
    """A snapshot (with_since applied) -> its events against the baseline snapshot (a party absent
    from it was good)."""
    def apply(status: DataFrame) -> DataFrame:
        if baseline is None:
            rows = status.withColumn("from_state", F.lit("good"))
        else:
            before = baseline.select("party_id", "role", F.col("state").alias("from_state"))
            rows = (status.join(before, ["party_id", "role"], "left")
                    .withColumn("from_state", F.coalesce("from_state", F.lit("good"))))
        return _events(rows.where(F.col("from_state") != F.col("state")))
    return apply


def replay_changes(status: DataFrame) -> DataFrame:
    """Replay rows (since_over_steps applied: previous_state) -> their events."""
    return _events(status.withColumnRenamed("previous_state", "from_state")
                   .where(F.col("from_state") != F.col("state")))


def _events(rows: DataFrame) -> DataFrame:
    return rows.select(F.col("as_of").alias("event_date"), "party_id", "role", "from_state",
                       F.col("state").alias("to_state"), "points", "rules_fired", "decided_by", "override_reason")


def not_recorded(existing: DataFrame | None) -> Callable[[DataFrame], DataFrame]:
    """Leave out events already in risk_events under the same key."""
    def apply(events: DataFrame) -> DataFrame:
        return events if existing is None else events.join(existing.select(EVENT_KEY), EVENT_KEY, "left_anti")
    return apply
