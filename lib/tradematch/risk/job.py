"""The risk job (`tradematch job risk [--backfill]`): silver orders_history, disputes, reviews and
risk_overrides as known at the as-of, and gold party_links -> risk_events (new changes of state),
risk_status and risk_notices (snapshots for the as-of that a rerun replaces).

Events first, then the snapshots: a run killed in between is finished by the next one (the events it
wrote are not written twice, and the snapshot compared with is still the one before). An as-of older
than the newest published snapshot is a backfill: it rewrites its own snapshots and adds no events
dated in the past unless `--backfill` asks for them.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tradematch.identity.job import LINKS
from tradematch.risk import events as E
from tradematch.risk.evidence import evidence, order_facts
from tradematch.risk.notices import notices
from tradematch.risk.policy import load_policy
from tradematch.risk.status import active_overrides, scored, with_links, with_overrides, with_since

STATUS, EVENTS, NOTICES = "risk_status", "risk_events", "risk_notices"


def snapshot(tables, policy: dict, as_of: dt.date, baseline: DataFrame | None, past: DataFrame | None = None) -> DataFrame:
    """The risk_status rows for the as-of, from silver as known then, the snapshot before it and the
    earlier snapshots within the links rules' lookback (`past`, or None)."""
    facts = tables.read("orders_history").transform(order_facts(tables.read("disputes"), tables.read("reviews")))
    ev = facts.transform(evidence([as_of], policy))
    overrides = tables.read("risk_overrides").transform(active_overrides([as_of]))
    return (ev.transform(scored(policy)).transform(with_overrides(overrides, policy))
            .transform(with_links(party_links(tables), policy, past)).transform(with_since(baseline, as_of, policy)))


def party_links(tables) -> DataFrame | None:
    """gold party_links when the identity job has published it (a lake without it warns nobody by link)."""
    return tables.read(LINKS) if tables.exists(LINKS) else None


def run(ctx) -> None:
    spark, tables, notes, metrics = ctx.spark, ctx.tables, ctx.run.notes, ctx.run.metrics
    policy = load_policy(tables.catalog.root)
    as_of = ctx.as_of or ctx.lake.newest_batch_date(spark)
    backfill_events = bool(ctx.options.get("backfill"))
    published = tables.read(STATUS) if tables.exists(STATUS) else None
    newest = published.agg(F.max("as_of")).head()[0] if published is not None else None
    base_day, baseline = tables.previous_snapshot(STATUS, as_of)
    if baseline is not None:
        baseline = baseline.select("party_id", "role", "state", "since")
        notes.append(f"{STATUS}: compared with the snapshot of {base_day}")
    past = None
    if published is not None:
        lookback = max(int(rule["lookback_days"]) for rule in policy["links"])
        past = published.where((F.col("as_of") < F.lit(as_of)) & (F.col("as_of") >= F.lit(as_of - dt.timedelta(days=lookback))))
    with ctx.run.step("risk.status"):
        status = snapshot(tables, policy, as_of, baseline, past).localCheckpoint()
    backfill = newest is not None and as_of < newest
    if backfill and not backfill_events:
        notes.append(f"{EVENTS}: backfill of {as_of} (newest snapshot {newest}): no back-dated events "
                     "(--backfill adds them)")
        metrics["risk.events_added"] = 0
    else:
        existing = tables.read(EVENTS) if tables.exists(EVENTS) else None
        new = status.transform(E.changes(baseline)).transform(E.not_recorded(existing)).localCheckpoint()
        added = new.count()
        metrics["risk.events_added"] = added
        if added:
            tables.publish(EVENTS, new, "append")
    where = f"as_of = DATE'{as_of.isoformat()}'"
    tables.publish(STATUS, status, "replace", where)
    tables.publish(NOTICES, notices(status), "replace", where)
    for row in status.groupBy("state").count().collect():  # four rows at most
        metrics[f"risk.{row['state']}"] = int(row["count"])
