"""Deciding where each landed record belongs: accepted, pending (its parent has not landed) or quarantined.

A decision depends only on the record, on every record landed so far and on the as-of date, never on the
order batches arrived in. So a run decides again every record whose place may have changed: the records
of batches not yet settled, everything waiting in pending, orphans in quarantine (their parent may have
landed since), all landed copies of a new record's content (a copy that landed earlier in batch order
makes a copy accepted before a duplicate), and with --replay-quarantine all of quarantine.
"""
from __future__ import annotations

import datetime as dt
from functools import reduce
from typing import Callable, Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from tradematch.ingest.policy import Policy
from tradematch.ingest.rules import GRACE_OVER, LATER_COPY, MISSING_PARENTS, Scope, holding, judge
from tradematch.ingest.values import blank, field
from tradematch.keys import among_batch_keys, few_keys, lookup
from tradematch.schema import TableSchema

ID = ["entity", "batch", "source_file", "record_number"]
CONTENT = ["entity", "record_hash"]
POSITION = ["batch", "source_file", "record_number"]  # landing order: batch date, file, record
RECORD = [*ID, "record_hash", "raw_record", "fields"]
ACCEPTED, PENDING, QUARANTINED = "accepted", "pending", "quarantined"


def affected(bronze: DataFrame, unsettled: DataFrame, pending: DataFrame, quarantine: DataFrame,
             replay: bool) -> tuple[DataFrame, DataFrame]:
    """The records to decide this run, with where they were (`previous`) and since when quarantined; and
    every landed position of their contents (`copies`, for first_copies).

    The new records are bronze's rows of the unsettled batches, unique by position, and they are never
    shuffled: a history batch is millions of wide rows. The other records (older copies, pending, retried
    orphans) are few and may name the same position, so only they are de-duplicated, and any of them in an
    unsettled batch is already among the new ones. A new record was held before only when a run stopped
    after writing pending or quarantine but before settling its batch: those few rows are looked up.
    Bronze is searched once for the contents of the new, pending and retried records: the older copies
    come from what it finds, and so do the first copies (their contents are the records' contents). Their
    positions are checkpointed: a filter on entity over the records then reaches every scan (Spark infers
    a filter across one join, not across the two that lead to the new contents)."""
    def within(df: DataFrame, how: str = "left_semi") -> DataFrame:  # "left_anti": rows of other batches
        return df.join(F.broadcast(unsettled), ["entity", "batch"], how)

    parsed = F.col("raw_record").isNull()  # copies are compared by parsed content
    new = bronze.where(in_batches(unsettled)).select(*RECORD)
    retried = quarantine if replay else quarantine.where(F.array_contains("rules", "orphan_reference"))
    new_contents = new.where(parsed).select(*CONTENT)
    contents = reduce(DataFrame.unionByName, [new_contents, pending.select(*CONTENT),
                                              retried.where(parsed).select(*CONTENT)])
    copies = among_batch_keys(bronze.where(parsed).select(*ID, "record_hash"), contents, CONTENT, keep=True)
    older = within(copies, "left_anti")
    hashes = few_keys(new_contents)  # None for a history batch: millions of contents, joined as usual
    positions = (older.join(new_contents.distinct() if hashes is None else hashes, CONTENT, "left_semi")
                 .select(*ID).localCheckpoint())
    older_copies = bronze.where(in_batches(positions)).join(F.broadcast(positions), ID, "left_semi")
    others = within(reduce(DataFrame.unionByName, [
        older_copies.select(*RECORD),
        pending.select(*ID, "record_hash", F.lit(None).cast("string").alias("raw_record"), "fields"),
        retried.select(*RECORD)]), "left_anti").dropDuplicates(ID)
    records = (new.transform(_held_before(lookup(within(quarantine).select(*ID, "quarantined_at")),
                                          lookup(within(pending).select(*ID))))
               .unionByName(others.transform(_held_before(quarantine.select(*ID, "quarantined_at"),
                                                           pending.select(*ID)))))
    return records, copies


def in_batches(batches: DataFrame) -> Column:
    """A filter on bronze's partition columns for a few (entity, batch) rows, collected. Spark prunes
    partitions by a filter but not by a join with a checkpoint: joined, every landed field of every batch
    is read to keep a few batches' rows."""
    return batch_filter((r.entity, r.batch) for r in batches.select("entity", "batch").distinct().collect())


def batch_filter(batches: Iterable[tuple[str, dt.date]]) -> Column:
    """in_batches for (entity, batch) pairs already on the driver."""
    days: dict[str, set] = {}
    for entity, batch in batches:
        days.setdefault(entity, set()).add(batch)
    return reduce(lambda a, b: a | b, [(F.col("entity") == e) & F.col("batch").isin(sorted(d))
                                       for e, d in days.items()], F.lit(False))


def _held_before(quarantined: DataFrame, pending: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Add previous (quarantined, pending or null) and quarantined_at from the held rows' positions."""
    def apply(records: DataFrame) -> DataFrame:
        return (records.join(quarantined.withColumn("_q", F.lit(QUARANTINED)), ID, "left")
                .join(pending.withColumn("_p", F.lit(PENDING)), ID, "left")
                .withColumn("previous", F.coalesce("_q", "_p")).drop("_q", "_p"))
    return apply


def first_copies(copies: DataFrame) -> DataFrame:
    """(entity, record_hash, _first): the earliest landed position of each content landed more than once,
    from the positions of parsed records (affected's `copies`). A content landed once is its own first
    copy, so the table holds only the few copied ones: a decision looks them up without shuffling its
    records."""
    return (copies.groupBy("entity", "record_hash").agg(F.min(F.struct(*POSITION)).alias("_first"),
                                                        F.count("*").alias("_copies"))
            .where(F.col("_copies") > 1).drop("_copies"))


def arrived_ids(entity: str, id_column: str, current: DataFrame, others: list[DataFrame]) -> DataFrame:
    """Ids of an entity that have landed, whatever became of them: in silver, pending, quarantine or this run."""
    landed = [o.where(F.col("entity") == entity).select(field(id_column).alias("id")) for o in others]
    return reduce(DataFrame.unionByName, [current.select(F.col(id_column).alias("id")), *landed]).distinct()


def missing_ids(referenced: DataFrame, id_column: str, arrived: DataFrame) -> DataFrame:
    """(id): the ids the records name (referenced_ids) that have not landed (arrived_ids). Orphans are
    few, so a decision looks these up instead of joining its records with every arrived id."""
    return referenced.select(F.col(id_column).alias("id")).distinct().join(arrived, "id", "left_anti")


def referenced_ids(records: DataFrame, policy: Policy, parent: str, id_column: str) -> DataFrame:
    """The ids of `parent` the records name (one column, id_column, repeats kept): the only parent rows a
    decision looks up."""
    named = [records.where(F.col("entity") == child).select(field(column).alias(id_column))
             for child, links in policy.parents.items() for column, p in links.items() if p == parent]
    return reduce(DataFrame.unionByName, named).where(F.col(id_column).isNotNull())


def decide(records: DataFrame, firsts: DataFrame, missing_parents: dict[str, tuple[str, DataFrame]], entity: str,
           landing: TableSchema, policy: Policy, as_of: dt.date) -> DataFrame:
    """One entity's records with their rules broken, missing parents and outcome. firsts: first_copies;
    missing_parents: parent entity -> (its id column, missing_ids), both small lookups."""
    scope = Scope(entity, landing, policy)
    rows = (records.where(F.col("entity") == entity)
            .select("*", *[field(c).alias(c) for c in landing.columns])
            .join(firsts, ["entity", "record_hash"], "left")
            .withColumn(LATER_COPY, F.col("raw_record").isNull() & F.col("_first").isNotNull()
                        & (F.col("_first") != F.struct(*POSITION))))
    missing = []
    for column, parent in policy.parents.get(entity, {}).items():
        id_column, ids = missing_parents[parent]
        absent = f"_absent_{column}"
        rows = rows.join(ids.select(F.col("id").alias(absent)), F.col(f"`{column}`") == F.col(absent), "left")
        missing.append((~blank(column) & F.col(absent).isNotNull(),
                        F.concat(F.lit(f"{parent}.{id_column}="), F.col(f"`{column}`"))))
    rows = (rows.withColumn(MISSING_PARENTS, holding(missing))
            .withColumn(GRACE_OVER, F.datediff(F.lit(as_of), F.col("batch")) > policy.pending_grace_days)
            .transform(judge(scope)))
    outcome = (F.when(F.col("rule").isNotNull(), QUARANTINED)
               .when(F.size(MISSING_PARENTS) > 0, PENDING).otherwise(ACCEPTED))
    return rows.select(*RECORD, "previous", "quarantined_at", "rule", "rules",
                       F.col(MISSING_PARENTS).alias("waiting_for"), outcome.alias("outcome"))


def quarantine_rows(decisions: DataFrame) -> DataFrame:
    return decisions.where(F.col("outcome") == QUARANTINED).select(
        *RECORD, "rule", "rules", F.coalesce("quarantined_at", F.current_timestamp()).alias("quarantined_at"))


def pending_rows(decisions: DataFrame, policy: Policy) -> DataFrame:
    return decisions.where(F.col("outcome") == PENDING).select(
        *ID, "record_hash", "fields", "waiting_for",
        F.date_add("batch", policy.pending_grace_days + 1).alias("orphan_on"))


def keep_others(table: DataFrame, decisions: DataFrame) -> DataFrame:
    """The rows of pending or quarantine whose records were not decided again this run."""
    return table.join(decisions.select(*ID), ID, "left_anti")


def tally(decisions: DataFrame) -> DataFrame:
    """The decisions counted per (entity, batch, previous, outcome): one pass over millions of decisions
    tells what changes place, each new batch's quarantined share and the batches to reconcile."""
    return decisions.groupBy("entity", "batch", "previous", "outcome").agg(F.count("*").alias("records"))
