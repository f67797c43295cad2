"""Airflow 3 DAGs for tradematch: the daily pipeline, and the weekly Delta maintenance.

`tradematch` runs one spark-submit per job in pipeline order (lib/tradematch/pipeline.py JOBS), each
with the run's day as `--as-of`, then the report. A job that fails, a failed quality gate among them
(exit 1), fails its task and nothing downstream runs. Retries are safe: every job is idempotent for
its as-of, and a run that finds the lake locked (exit 3) simply tries again later. Each task lists the
gold tables it publishes as Assets, so downstream DAGs can be scheduled on data.
`tradematch_maintenance` compacts (OPTIMIZE) and then vacuums every table, weekly, taking the same run
lock as the jobs.

Deployment (README, "Airflow"): the project on every scheduler and worker at $TRADEMATCH_HOME (default:
the checkout this file sits in), its environment $TRADEMATCH_ENV (default cluster), whose spark.*
settings become --conf here; Airflow Variables tradematch_lake, tradematch_wheel, tradematch_jars and
tradematch_reports; a Spark connection tradematch_spark naming the master. Variables are read when a
task runs (templates), never while the file is parsed.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, chain

HOME = Path(os.environ.get("TRADEMATCH_HOME") or Path(__file__).resolve().parents[2])
ENV = os.environ.get("TRADEMATCH_ENV", "cluster")
CONN_ID = "tradematch_spark"

# pipeline.JOBS in order, each with the gold tables it publishes (tests/test_airflow_dag.py checks both
# against the pipeline and the job_runs of a real run).
JOBS = [
    ("ingest", []),
    ("history", ["party_market_monthly"]),
    ("reliability", ["reliability_evidence", "party_reliability", "party_market_reliability"]),
    ("identity", ["party_links"]),
    ("risk", ["risk_events", "risk_status", "risk_notices"]),
    ("affinity", ["buyer_supplier_affinity", "buyer_cluster_affinity", "chapter_similarity"]),
    ("matching", ["supplier_matches", "buyer_matches", "rfq_matches"]),
]
# What Spark must have at start for Delta (as scripts/submit passes it), then the environment's settings.
DELTA = {"spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
         "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog"}
START = datetime(2026, 11, 1, tzinfo=timezone.utc)


def asset(table: str) -> Asset:
    """A gold table as an Asset: named for the table, not its location (the lake is a Variable)."""
    return Asset(name=f"tradematch.gold.{table}", uri=f"tradematch://gold/{table}")


def spark_conf(env: str) -> dict[str, str]:
    """The environment's spark.* settings as strings (YAML booleans as Spark writes them), plus Delta's."""
    raw = yaml.safe_load((HOME / "conf" / "env" / f"{env}.yaml").read_text()) or {}
    conf = {k: ("true" if v is True else "false" if v is False else str(v))
            for k, v in raw.items() if k.startswith("spark.")}
    return {**conf, **DELTA}


def submit(task_id: str, entry: str, args: list[str], outlets: list[Asset] | None = None) -> SparkSubmitOperator:
    """spark-submit jobs/<entry>.py with the wheel, the Delta jars and the environment, on the lake."""
    return SparkSubmitOperator(
        task_id=task_id, conn_id=CONN_ID, name=f"tradematch-{entry}",
        application=str(HOME / "jobs" / f"{entry}.py"),
        py_files="{{ var.value.tradematch_wheel }}", jars="{{ var.value.tradematch_jars }}",
        conf=spark_conf(ENV),
        application_args=["--env", ENV, "--lake", "{{ var.value.tradematch_lake }}", *args],
        outlets=outlets or [])


with DAG(
    dag_id="tradematch",
    description="tradematch jobs in order for the day, then the report",
    # The run for day D starts at 02:00 UTC on D+1, once D's batches have landed; {{ ds }} is D.
    schedule=CronDataIntervalTimetable("0 2 * * *", timezone="UTC"),
    start_date=START,
    catchup=False,
    max_active_runs=1,  # one run at a time per lake (the jobs' run lock would refuse a second)
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
    tags=["tradematch"],
):
    as_of = ["--as-of", "{{ ds }}"]
    jobs = [submit(name, name, as_of, [asset(t) for t in tables]) for name, tables in JOBS]
    report = submit("report", "report", [*as_of, "--out", "{{ var.value.tradematch_reports }}/{{ ds }}"])
    chain(*jobs, report)

with DAG(
    dag_id="tradematch_maintenance",
    description="OPTIMIZE, then VACUUM every Delta table of the lake (retention: vacuum_retention_hours)",
    schedule=CronDataIntervalTimetable("0 4 * * 0", timezone="UTC"),  # Sundays, after the daily run
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=30)},  # waits out a daily run's lock
    tags=["tradematch"],
):
    chain(submit("compact", "maintain", ["--step", "optimize"]), submit("vacuum", "maintain", ["--step", "vacuum"]))
