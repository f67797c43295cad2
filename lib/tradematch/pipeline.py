"""The jobs, their order, and running one with its job_runs row.

A job is a function of a JobContext. Each run writes exactly one job_runs row, success or failure; a
failure is re-raised after its row is written so the caller (CLI, Airflow task) fails too.
"""
from __future__ import annotations

import datetime as dt
import logging
import traceback
from dataclasses import dataclass
from typing import Callable

from pyspark.sql import SparkSession

from tradematch import history
from tradematch.affinity import job as affinity
from tradematch.identity import job as identity
from tradematch.ingest import job as ingest
from tradematch.reliability import job as reliability
from tradematch.risk import job as risk
from tradematch.lake import Lake
from tradematch.matching import job as matching
from tradematch.runs import JobRun
from tradematch.schema import Catalog
from tradematch.settings import Settings
from tradematch.tables import Tables

log = logging.getLogger(__name__)


class UnknownJob(LookupError):
    """A job name that is not in the pipeline."""


@dataclass
class JobContext:
    spark: SparkSession
    settings: Settings
    lake: Lake
    tables: Tables
    run: JobRun
    as_of: dt.date | None
    options: dict


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[JobContext], None]
    doc: str


# In dependency order (DESIGN.md section 3: ingest -> history -> reliability -> identity -> risk -> affinity ->
# matching -> report; risk reads party_links). Each job issue adds its job here.
JOBS: list[Job] = [
    Job("ingest", ingest.run, "landing batches -> bronze -> silver, with pending rows and quarantine"),
    Job("history", history.run, "silver orders, disputes, reviews -> party_market_monthly (months changed since the last run)"),
    Job("reliability", reliability.run,
        "party_market_monthly -> decayed evidence -> party_reliability, party_market_reliability snapshots"),
    Job("identity", identity.run, "silver party_identity (restricted), parties -> party_links (same business under "
        "another id; weights in conf/identity.yaml)"),
    Job("risk", risk.run, "silver orders_history, disputes, reviews, risk_overrides -> risk_events, risk_status, "
        "risk_notices (policy in conf/policy.yaml)"),
    Job("affinity", affinity.run, "silver orders_history, disputes, reviews -> buyer_supplier_affinity (rolled forward), "
        "buyer_cluster_affinity, chapter_similarity snapshots (conf/matching.yaml)"),
    Job("matching", matching.run, "affinity, reliability, risk_status, parties, rfqs -> supplier_matches, buyer_matches, "
        "rfq_matches snapshots (conf/matching.yaml)"),
]


def job_named(name: str) -> Job:
    for job in JOBS:
        if job.name == name:
            return job
    known = ", ".join(j.name for j in JOBS) or "none yet"
    raise UnknownJob(f"unknown job '{name}' (jobs: {known})")


def execute(job: Job, spark: SparkSession, settings: Settings, lake: Lake, run_id: str,
            as_of: dt.date | None, catalog: Catalog | None = None, options: dict | None = None) -> JobRun:
    """Run one job and append its job_runs row; re-raise its error after recording it."""
    run = JobRun(run_id, job.name, as_of)
    tables = Tables(spark, lake, catalog, run, settings.staging_keep_failed)
    log.info("job %s: start (run %s, as-of %s)", job.name, run_id, as_of)
    try:
        job.run(JobContext(spark, settings, lake, tables, run, as_of, options or {}))
    except BaseException as exc:
        error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        _record(spark, lake, catalog, run.row("failed", error))
        log.error("job %s: failed after %.1fs: %s", job.name, run.row("failed")["duration_seconds"], error)
        raise
    row = run.row("success")
    _record(spark, lake, catalog, row)
    log.info("job %s: done in %.1fs, wrote %s", job.name, row["duration_seconds"], run.rows_written or "nothing")
    return run


def _record(spark: SparkSession, lake: Lake, catalog: Catalog | None, row: dict) -> None:
    ledger = Tables(spark, lake, catalog)
    ledger.append("job_runs", ledger.rows("job_runs", [row]))
