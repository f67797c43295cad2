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

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tradematch.ingest.policy import Policy
from tradematch.ingest.rules import GRACE_OVER, LATER_COPY, MISSING_PARENTS, Scope, judge
from tradematch.ingest.values import blank
from tradematch.keys import batch_keys
from tradematch.schema import TableSchema

ID = ["entity", "batch", "source_file", "record_number"]
POSITION = ["batch", "source_file", "record_number"]  # landing order: batch date, file, record
RECORD = [*ID, "record_hash", "raw_record", "fields"]
ACCEPTED, PENDING, QUARANTINED = "accepted", "pending", "quarantined"


def affected(bronze: DataFrame, unsettled: DataFrame, pending: DataFrame, quarantine: DataFrame,
             replay: bool) -> DataFrame:
    """The records to decide this run, with where they were (`previous`) and since when quarantined."""
    new = bronze.join(F.broadcast(unsettled), ["entity", "batch"], "left_semi")
    hashes = batch_keys(new.where(F.col("raw_record").isNull()).select("entity", "record_hash"))
    older_copies = (bronze.where(F.col("raw_record").isNull()).select(*ID, "record_hash")
                    .join(F.broadcast(unsettled), ["entity", "batch"], "left_anti")
                    .join(hashes, ["entity", "record_hash"], "left_semi").select(*ID))
    retried = quarantine if replay else quarantine.where(F.array_contains("rules", "orphan_reference"))
    records = reduce(DataFrame.unionByName, [
        new.select(*RECORD),
        bronze.join(F.broadcast(older_copies), ID, "left_semi").select(*RECORD),  # few: prunes bronze's partitions
        pending.select(*ID, "record_hash", F.lit(None).cast("string").alias("raw_record"), "fields"),
        retried.select(*RECORD)]).dropDuplicates(ID)
    return (records
            .join(quarantine.select(*ID, F.lit(QUARANTINED).alias("_q"), "quarantined_at"), ID, "left")
            .join(pending.select(*ID, F.lit(PENDING).alias("_p")), ID, "left")
            .withColumn("previous", F.coalesce("_q", "_p")).drop("_q", "_p"))


def first_copies(bronze: DataFrame, records: DataFrame) -> DataFrame:
    """(entity, record_hash, first): the earliest landed position of each content among the records."""
    hashes = batch_keys(records.where(F.col("raw_record").isNull()).select("entity", "record_hash"))
    return (bronze.where(F.col("raw_record").isNull()).join(hashes, ["entity", "record_hash"], "left_semi")
            .groupBy("entity", "record_hash").agg(F.min(F.struct(*POSITION)).alias("_first")))


def arrived_ids(entity: str, id_column: str, current: DataFrame, others: list[DataFrame]) -> DataFrame:
    """Ids of an entity that have landed, whatever became of them: in silver, pending, quarantine or this run."""
    landed = [o.where(F.col("entity") == entity).select(F.col("fields")[id_column].alias("id")) for o in others]
    return reduce(DataFrame.unionByName, [current.select(F.col(id_column).alias("id")), *landed]).distinct()


def referenced_ids(records: DataFrame, policy: Policy, parent: str, id_column: str) -> DataFrame:
    """The ids of `parent` the records name (one column, id_column, repeats kept): the only parent rows a
    decision looks up."""
    named = [records.where(F.col("entity") == child).select(F.col("fields")[column].alias(id_column))
             for child, links in policy.parents.items() for column, p in links.items() if p == parent]
    return reduce(DataFrame.unionByName, named).where(F.col(id_column).isNotNull())


def decide(records: DataFrame, firsts: DataFrame, arrived: dict[str, tuple[str, DataFrame]], entity: str,
           landing: TableSchema, policy: Policy, as_of: dt.date) -> DataFrame:
    """One entity's records with their rules broken, missing parents and outcome."""
    scope = Scope(entity, landing, policy)
    rows = (records.where(F.col("entity") == entity)
            .select("*", *[F.col("fields")[c].alias(c) for c in landing.columns])
            .join(firsts, ["entity", "record_hash"], "left")
            .withColumn(LATER_COPY, F.col("raw_record").isNull() & (F.col("_first") != F.struct(*POSITION))))
    missing = []
    for column, parent in policy.parents.get(entity, {}).items():
        id_column, ids = arrived[parent]
        found = f"_found_{column}"
        rows = rows.join(ids.select(F.col("id").alias(found)), F.col(f"`{column}`") == F.col(found), "left")
        missing.append(F.when(~blank(column) & F.col(found).isNull(),
                              F.concat(F.lit(f"{parent}.{id_column}="), F.col(f"`{column}`"))))
    rows = (rows.withColumn(MISSING_PARENTS, F.filter(F.array(*missing), lambda m: m.isNotNull()) if missing
                            else F.array().cast("array<string>"))
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


def batch_counts(decisions: DataFrame, unsettled: DataFrame) -> DataFrame:
    """Per new batch and entity: records landed and quarantined, for the bad-batch gate."""
    return (decisions.join(F.broadcast(unsettled), ["entity", "batch"], "left_semi")
            .groupBy("batch", "entity").agg(F.count("*").alias("landed"),
                                            F.sum((F.col("outcome") == QUARANTINED).cast("int")).alias("quarantined")))
