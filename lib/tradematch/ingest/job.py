"""The ingest job (`tradematch job ingest`): new landing batches -> bronze -> silver, pending, quarantine.

Steps, each safe to repeat: (1) find batches landed on or before the as-of and not yet in bronze, check
their files' columns (a missing required column stops here, before any write); (2) append them to
bronze in one commit, so a batch is in bronze once or not at all; (3) decide every record whose place may
have changed (settle.py), stop on a bad batch unless --accept-bad-batch; (4) merge the accepted ones into
silver and rewrite pending and quarantine; (5) count where each touched batch's records ended and
record it in ingest_batches, which marks the batch settled, and in the run's metrics. A run killed
after (2) leaves its batches in bronze but not settled, and the next run finishes them.
"""
from __future__ import annotations

import datetime as dt
import logging
from functools import reduce

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Row
from pyspark.sql import functions as F

from tradematch import faults
from tradematch.ingest import bronze, settle
from tradematch.ingest.policy import Policy, load_policy
from tradematch.ingest.publish import publish_accepted
from tradematch.ingest.reconcile import PLACES, places
from tradematch.ingest.silver import typed
from tradematch.keys import among_batch_keys, lookup
from tradematch.lake import LakeError
from tradematch.landing import ENTITIES, REQUIRED
from tradematch.quality import QualityGateFailed
from tradematch.schema import TableSchema

log = logging.getLogger(__name__)

# landed records from which a run keeps its records apart per entity (_kept): a daily batch of 1M orders
# lands thousands, a history batch millions
APART_FROM = 1_000_000


class BadBatch(QualityGateFailed):
    """A new batch's quarantine share passed max_quarantine_share."""


def run(ctx) -> None:
    spark, tables, notes = ctx.spark, ctx.tables, ctx.run.notes
    policy = load_policy(tables.catalog.root)
    landing = {e: tables.catalog.landing(e) for e in ENTITIES}
    as_of = ctx.as_of or ctx.lake.newest_batch_date(spark)
    if as_of is None:
        raise LakeError(f"nothing has landed in {ctx.lake.landing('')}: expected <entity>/batch=YYYY-MM-DD folders")
    replay, step = bool(ctx.options.get("replay_quarantine")), ctx.run.step
    with step("ingest.bronze"):
        files, columns = _new_files(ctx, landing, as_of)
        if files:
            _append_bronze(ctx, files, columns, landing)
            faults.point("ingest.bronze_done")

    raw = tables.read("bronze_records")
    settled = tables.read("ingest_batches").select("entity", "batch")
    unsettled = (tables.partitions("bronze_records").where(F.col("batch") <= F.lit(as_of))
                 .join(settled, ["entity", "batch"], "left_anti")).localCheckpoint()
    batches = unsettled.collect()  # a row per unsettled batch and entity, with its records from the Delta log
    new = {(r.entity, r.batch) for r in batches}
    landed = None if any(r.records is None for r in batches) else sum(r.records for r in batches)  # None: unknown
    pending, quarantine = tables.read("pending"), tables.read("quarantine")
    records, copies = settle.affected(raw, unsettled, pending, quarantine, replay)
    apart = landed is None or landed >= APART_FROM
    log.info("ingest: %s records landed in %d unsettled batches: records kept %s",
             "?" if landed is None else landed, len(batches), "apart per entity" if apart else "as one frame")
    records, kept = _kept(records, apart)
    try:
        present = _entities(records)  # the pass that fills every part
        if not present:
            notes.append("nothing new to ingest: every landed batch is settled and nothing waits in pending")
            return
        with step("ingest.decide"):
            decisions = _decide(ctx, records, present, copies, pending, quarantine, landing, policy, as_of)
            tally = settle.tally(decisions).collect()  # a row per batch, entity, previous place and outcome
            if not new and not replay and all(t.outcome == (t.previous or "new") for t in tally):
                notes.append("nothing new to ingest: no unsettled batch, and nothing pending or orphaned changed place")
                return
            _gate(ctx, tally, new, policy)
        with step("ingest.silver"):
            accepted = {e: decisions.where((F.col("entity") == e) & (F.col("outcome") == settle.ACCEPTED))
                        .transform(typed(landing[e])) for e in sorted({t.entity for t in tally
                                                                       if t.outcome == settle.ACCEPTED})}
            publish_accepted(tables, accepted, landing)
        with step("ingest.held"):
            if _involves(tally, settle.QUARANTINED):
                tables.publish("quarantine", settle.keep_others(quarantine, decisions)
                               .unionByName(settle.quarantine_rows(decisions)), "overwrite")
            if _involves(tally, settle.PENDING):
                tables.publish("pending", settle.keep_others(pending, decisions)
                               .unionByName(settle.pending_rows(decisions, policy)), "overwrite")
        with step("ingest.reconcile"):
            touched = new | {(t.entity, t.batch) for t in tally}
            _reconcile(ctx, raw.where(settle.batch_filter(touched)), sorted({e for e, _ in touched}))
    finally:
        for part in kept:
            part.unpersist()


def _kept(records: DataFrame, apart: bool) -> tuple[DataFrame, list[DataFrame]]:
    """The records persisted, on disk and not in the heap: a 10M history batch's records outgrow the storage
    pool, and a block read back from disk was copied into the heap (Java heap space in one of two runs).
    `apart`: persisted per entity and put back together under each entity's name as a literal, so a filter
    on entity (each entity's decisions, the ids a parent looks up) reads only that entity's rows, where one
    persisted frame was read whole each time (a 10M history batch: 58M records, a dozen reads of 20 to
    125 s). Apart, each part runs the records' plan again, which costs a daily batch more than its reads
    (1M orders: 5 to 7 s). Returns the frame and what to unpersist."""
    if not apart:
        whole = records.persist(StorageLevel.DISK_ONLY)
        return whole, [whole]
    kept = {e: records.where(F.col("entity") == e).drop("entity").persist(StorageLevel.DISK_ONLY) for e in ENTITIES}
    return _under_names(kept), list(kept.values())


def _under_names(parts: dict[str, DataFrame]) -> DataFrame:
    """Per-entity frames as one, each entity's name a literal: a filter on entity drops the other parts from
    the plan."""
    return reduce(DataFrame.unionByName, [p.select(F.lit(e).alias("entity"), "*") for e, p in parts.items()])


def _new_files(ctx, landing: dict[str, TableSchema], as_of: dt.date) -> tuple[list[bronze.LandedFile], dict]:
    """The files of batches landed by the as-of and not in bronze, and each file's columns; drift
    checked, nothing written yet."""
    spark, tables, notes = ctx.spark, ctx.tables, ctx.run.notes
    landed = ctx.lake.landed_batches(spark)
    notes += [f"landing/{e}: not a landing entity, ignored" for e in sorted(set(landed) - set(ENTITIES))]
    ingested = ({(r.entity, r.batch.isoformat())
                 for r in tables.partitions("bronze_records").collect()}  # a row per batch
                if tables.exists("bronze_records") else set())
    new = [(e, b) for e in ENTITIES for b in landed.get(e, []) if b <= as_of.isoformat() and (e, b) not in ingested]
    for entity in REQUIRED:
        if not any(e == entity for e, _ in [*ingested, *new]):
            raise LakeError(f"no landed batch of required entity '{entity}' in {ctx.lake.landing(entity)} "
                            f"(expected batch=YYYY-MM-DD folders on or before {as_of})")
    later = sum(1 for e in ENTITIES for b in landed.get(e, []) if b > as_of.isoformat())
    if later:
        notes.append(f"{later} batch folder(s) dated after the as-of {as_of} left for a later run")
    files, columns = [], {}
    for entity, batch in new:
        batch_files, skipped = bronze.list_files(spark, ctx.lake, entity, batch)
        batch_columns = bronze.file_columns(spark, batch_files)
        batch_files, unreadable = bronze.unreadable(batch_files, batch_columns, landing[entity])
        notes += skipped + unreadable + bronze.drift(batch_files, batch_columns, landing[entity])
        files += batch_files
        columns.update(batch_columns)
    return files, columns


def _append_bronze(ctx, files: list[bronze.LandedFile], columns: dict, landing: dict[str, TableSchema]) -> None:
    """Every new batch in one append: all of them reach bronze, or none."""
    parts = []
    for entity in ENTITIES:
        mine = [f for f in files if f.entity == entity]
        if mine:
            parts.append(bronze.read_raw(ctx.spark, mine, columns, landing[entity])
                         .transform(bronze.to_bronze(entity, landing[entity])))
    ctx.tables.append("bronze_records", reduce(DataFrame.unionByName, parts))


def _decide(ctx, records: DataFrame, entities: list[str], copies: DataFrame, pending: DataFrame, quarantine: DataFrame,
            landing: dict[str, TableSchema], policy: Policy, as_of: dt.date) -> DataFrame:
    """Every record's outcome. What a decision looks up beyond the record (the contents landed more than
    once, the parent ids not landed) is computed once, narrow and small, so the records are never shuffled."""
    tables = ctx.tables
    firsts = lookup(settle.first_copies(copies))
    missing = {}
    for parent in {p for links in policy.parents.values() for p in links.values()}:
        id_column = tables.schema(parent).keys[0]  # the silver table of an entity is named like it
        referenced = settle.referenced_ids(records, policy, parent, id_column)
        current = among_batch_keys(tables.read(parent), referenced, [id_column])  # a daily batch: a few rows
        arrived = settle.arrived_ids(parent, id_column, current, [pending, quarantine, records])
        missing[parent] = (id_column, lookup(settle.missing_ids(referenced, id_column, arrived)))
    # a checkpoint per entity: publishing an entity reads its own decisions, not a history batch's all; on
    # disk, like the records (_kept)
    return _under_names({e: settle.decide(records, firsts, missing, e, landing[e], policy, as_of).drop("entity")
                         .localCheckpoint(storageLevel=StorageLevel.DISK_ONLY) for e in entities})


def _entities(df: DataFrame) -> list[str]:
    return sorted(r.entity for r in df.select("entity").distinct().collect())  # seven entities at most


def _involves(tally: list[Row], place: str) -> bool:
    """Whether any record decided this run goes to or comes from a place (else its table is left as is)."""
    return any(place in (t.outcome, t.previous) for t in tally)


def _gate(ctx, tally: list[Row], new: set[tuple[str, dt.date]], policy: Policy) -> None:
    """Stop when a new batch's quarantine share passes the limit, unless --accept-bad-batch."""
    counts: dict[str, dict[str, list[int]]] = {}  # batch -> entity -> [quarantined, landed]
    for t in tally:
        if (t.entity, t.batch) in new:
            count = counts.setdefault(t.batch.isoformat(), {}).setdefault(t.entity, [0, 0])
            count[0] += t.records if t.outcome == settle.QUARANTINED else 0
            count[1] += t.records
    for batch, per_entity in sorted(counts.items()):
        quarantined, landed = (sum(v[i] for v in per_entity.values()) for i in (0, 1))
        if landed < policy.min_batch_records or quarantined <= policy.max_quarantine_share * landed:
            continue
        detail = ", ".join(f"{e} {q}/{n}" for e, (q, n) in sorted(per_entity.items()))
        message = (f"batch {batch}: {quarantined} of {landed} records quarantined ({quarantined / landed:.1%}, "
                   f"limit {policy.max_quarantine_share:.0%}): {detail}")
        if not ctx.options.get("accept_bad_batch"):
            raise BadBatch(message + "; nothing was published (rerun with --accept-bad-batch to publish it)")
        ctx.run.notes.append(message + "; published with --accept-bad-batch")


def _reconcile(ctx, records: DataFrame, entities: list[str]) -> None:
    """Count where the touched batches' records (of these entities) ended; a lost record fails the run,
    naming its batch."""
    tables = ctx.tables
    current = {e: (tables.read(e), list(tables.schema(e).keys)) for e in entities}
    counts = places(records, tables.read("quarantine"), tables.read("pending"), current).localCheckpoint()
    lost = []
    for r in counts.collect():  # one row per touched batch and entity
        for place in ("landed", *PLACES):
            if place != "lost":
                ctx.run.metrics[f"batch.{r.batch.isoformat()}.{r.entity}.{place}"] = int(r[place])
        if r.lost:
            lost.append(f"{r.entity} batch {r.batch}: {r.lost}")
    if lost:
        raise RuntimeError("reconciliation failed, records in no silver table, pending or quarantine: "
                           + "; ".join(lost))
    # a ledger, like job_runs: the check above is its gate
    tables.merge("ingest_batches", counts.drop("lost").withColumn("settled_at", F.current_timestamp()))
