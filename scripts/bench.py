"""Benchmark the suite on a fresh generated lake and write a JSON report.

Times Spark start-up on its own, then each job of the pipeline in order (generation first), and reads
the driver JVM's peak resident memory from /proc. The jobs run on the history batch alone (`jobs`), then
on one daily batch, then on the remaining daily batches together (`daily`), so the daily cost can be
read against the records landed. Each job runs in its own Spark job group, so Spark's event log gives its
shuffle and spill; its job_runs metrics give the time in quality gates and the Delta files it wrote.
After the first history run, party_market_monthly is computed again by DuckDB over the same silver files
(tradematch.reference) and checked to give the same rows, and again by the history job's computation alone
(history.build to Parquet, as DuckDB writes it: no suite, no Delta commit), so that both ratios show.

The report is written after every job, `complete` false until the end. Keys: complete, total_seconds,
spark_startup_seconds, peak_rss_mb, quality_share, daily_batch_seconds (ingest),
jobs.<job>.{seconds,rows,rows_per_second,quality_seconds,files_written,avg_file_mb,shuffle_write_mb,spill_mb},
daily[].{as_of,seconds,rows (ingest), jobs.<job>.{...}}, reference.{duckdb_seconds,spark_seconds,ratio,build_seconds,build_ratio,rows,same_rows}.
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import logging
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from tradematch import pipeline
from tradematch.lake import Lake
from tradematch.runs import new_run_id
from tradematch.settings import load_settings
from tradematch.spark import get_spark


def peak_rss_mb(spark) -> float:
    """The driver JVM's high-water mark of resident memory (VmHWM), in MiB."""
    pid = spark.sparkContext._jvm.ProcessHandle.current().pid()
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def event_log_costs(folder: Path) -> dict[str, dict[str, float]]:
    """Per Spark job group: shuffle bytes written and bytes spilled (memory and disk), in MiB, summed over
    the completed stages of Spark's own event log (uncompressed JSON lines)."""
    group_of_stage, costs = {}, collections.defaultdict(lambda: {"shuffle_write_mb": 0.0, "spill_mb": 0.0})
    wanted = {"internal.metrics.shuffle.write.bytesWritten": "shuffle_write_mb",
              "internal.metrics.memoryBytesSpilled": "spill_mb", "internal.metrics.diskBytesSpilled": "spill_mb"}
    for file in sorted(folder.rglob("events_*")):  # a rolling log's parts (its appstatus file is empty)
        for line in filter(str.strip, file.open()):
            event = json.loads(line)
            if event["Event"] == "SparkListenerJobStart":
                group = (event.get("Properties") or {}).get("spark.jobGroup.id")
                group_of_stage.update({stage: group for stage in event["Stage IDs"]})
            elif event["Event"] == "SparkListenerStageCompleted":
                info = event["Stage Info"]
                group = group_of_stage.get(info["Stage ID"])
                for acc in info.get("Accumulables", []):
                    if group and acc["Name"] in wanted:
                        costs[group][wanted[acc["Name"]]] += int(acc.get("Value") or 0) / 2**20
    return {g: {k: round(v, 1) for k, v in c.items()} for g, c in costs.items()}


def duckdb_reference(spark, lake: Lake, as_of: dt.date, spark_seconds: float) -> dict:
    """party_market_monthly again in DuckDB over the same silver files, checked against the lake's table
    (the history job's full build at the same as-of). `ratio` is the Spark job's time over DuckDB's: the
    job also stages, runs the table's suite and commits to Delta. `build_ratio` compares like with like:
    the job's computation alone (history.build), written to Parquet as DuckDB writes it, run right after
    DuckDB in the same warm JVM."""
    from tradematch import history, reference
    from tradematch.reliability import load_conf
    from tradematch.schema import Catalog
    from tradematch.tables import Tables

    lookback = int(load_conf(Catalog().root)["repeat_lookback_months"])
    tables = Tables(spark, lake)
    out = Path(tempfile.mkdtemp(prefix="tradematch-duckdb-"))
    try:
        seconds, rows = reference.duckdb_monthly(lake.root, as_of, lookback, str(out / "monthly.parquet"))
        differences = reference.same_rows(spark, tables.read("party_market_monthly"), str(out / "monthly.parquet"))
        silver = tuple(tables.read(t) for t in reference.SILVER)  # in history.build's order
        start = time.monotonic()
        history.build(*silver, as_of, lookback).write.parquet(str(out / "spark_build"))
        build_seconds = time.monotonic() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return {"duckdb_seconds": round(seconds, 2), "spark_seconds": spark_seconds,
            "ratio": round(spark_seconds / seconds, 2), "build_seconds": round(build_seconds, 2),
            "build_ratio": round(build_seconds / seconds, 2), "rows": rows, "same_rows": not differences,
            "differences": differences}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, required=True)
    parser.add_argument("--daily-batches", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", default="2026-11-20")
    parser.add_argument("--out", type=Path, default=Path("out/bench.json"))
    parser.add_argument("--lake", help="lake folder (default: a temporary folder, removed afterwards)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--jobs", default="all", help="comma-separated jobs to run after generating, or 'none'")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)

    lake_dir = Path(args.lake or tempfile.mkdtemp(prefix="tradematch-bench-"))
    events = Path(tempfile.mkdtemp(prefix="tradematch-bench-events-"))
    settings = load_settings("local", [*args.set, f"lake={lake_dir}", "spark.eventLog.enabled=true",
                                       f"spark.eventLog.dir={events}", "spark.eventLog.compress=false"])
    as_of = dt.date.fromisoformat(args.as_of)
    t0 = time.monotonic()
    spark = get_spark(settings, app_name="tradematch-bench")
    report = {"orders": args.orders, "daily_batches": args.daily_batches, "as_of": args.as_of,
              "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "spark": spark.version,
                          "master": spark.sparkContext.master,
                          "driver_memory": settings.spark.get("spark.driver.memory")},
              "spark_startup_seconds": round(time.monotonic() - t0, 2), "jobs": {}}
    lake, run_id = Lake(str(lake_dir)), new_run_id()

    entries = {}  # Spark job group -> the figures it gets its event-log costs added to

    def timed(name: str, fn, day: dt.date, counted=None) -> tuple[dict, pipeline.JobRun]:
        """Run one job in its own Spark job group; its figures. counted(run): its rows (default: rows written)."""
        group = f"{name}@{day.isoformat()}"
        spark.sparkContext.setJobGroup(group, f"tradematch bench: {group}")
        start = time.monotonic()
        run = pipeline.execute(pipeline.Job(name, fn, name), spark, settings, lake, run_id, day)
        seconds, m = time.monotonic() - start, run.metrics
        rows = counted(run) if counted else sum(run.rows_written.values())
        files = m.get("delta.files_written", 0)
        entries[group] = {
            "seconds": round(seconds, 2), "rows": rows, "rows_per_second": round(rows / seconds, 1),
            "quality_seconds": round(m.get("ms.publish.quality", 0) / 1000, 2), "files_written": files,
            "avg_file_mb": round(m.get("delta.bytes_written", 0) / files / 2**20, 2) if files else 0.0}
        return entries[group], run

    def save(complete: bool) -> None:
        """The report so far, written after every job: a run that dies (10M orders once took the machine
        down) keeps the figures it reached; `complete` tells which it is."""
        report["complete"] = complete
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")

    def landed(run: pipeline.JobRun) -> int:
        return sum(v for k, v in run.metrics.items() if k.startswith("batch.") and k.endswith(".landed"))

    def generate(ctx):
        from tradematch.generate import generate_world

        summary = generate_world(ctx.spark, ctx.tables, orders=args.orders, seed=args.seed, as_of=as_of,
                                 daily_batches=args.daily_batches)
        ctx.run.metrics["orders_generated"] = summary["orders_generated"]

    report["jobs"]["generate"], _ = timed("generate", generate, as_of, lambda run: run.metrics["orders_generated"])
    save(False)
    wanted = {j.name for j in pipeline.JOBS} if args.jobs == "all" else set(args.jobs.split(",")) - {"none", ""}
    selected = [j for j in pipeline.JOBS if j.name in wanted]
    # with ingest: every job on the history batch alone, then on one daily batch, then on the other daily
    # batches in one run: the daily cost should follow the records landed, not the history below them
    history = as_of - dt.timedelta(days=args.daily_batches)
    daily = [history + dt.timedelta(days=1)] + ([as_of] if args.daily_batches > 1 else [])
    days = [history, *daily] if "ingest" in wanted else [as_of]
    for i, day in enumerate(days):
        if i:
            report.setdefault("daily", []).append({"as_of": day.isoformat(), "jobs": {}})
        for job in selected:
            figures, run = timed(job.name, job.run, day, landed if job.name == "ingest" else None)
            if not i:
                report["jobs"][job.name] = figures
                if job.name == "history":
                    save(False)
                    report["reference"] = duckdb_reference(spark, lake, day, figures["seconds"])
            else:
                report["daily"][-1]["jobs"][job.name] = figures
                if job.name == "ingest":  # the batch's own figures, as before the other jobs were added
                    report["daily"][-1].update(figures)
            save(False)
    if "daily" in report and "ingest" in report["daily"][0]["jobs"]:
        report["daily_batch_seconds"] = report["daily"][0]["seconds"]
    for name, figures in report["jobs"].items():
        print(f"bench: {name}: {figures}", flush=True)
    report["total_seconds"] = round(time.monotonic() - t0, 2)
    report["peak_rss_mb"] = peak_rss_mb(spark)
    timed_jobs = [f for g, f in entries.items() if not g.startswith("generate@")]
    report["quality_share"] = round(sum(f["quality_seconds"] for f in timed_jobs)
                                    / max(sum(f["seconds"] for f in timed_jobs), 1e-9), 3)
    spark.stop()  # flushes the event log
    for group, costs in event_log_costs(events).items():
        entries.get(group, {}).update(costs)
    save(True)
    print(json.dumps(report, indent=2))
    shutil.rmtree(events, ignore_errors=True)
    if not args.lake:
        shutil.rmtree(lake_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
