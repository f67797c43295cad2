"""Benchmark the suite on a fresh generated lake and write a JSON report.

Times Spark start-up on its own, then each job of the pipeline in order (generation first), and reads
the driver JVM's peak resident memory from /proc. The jobs run on the history batch alone (`jobs`), then
on one daily batch, then on the remaining daily batches together (`daily`), so the daily cost can be
read against the records landed. Keys: total_seconds, spark_startup_seconds, peak_rss_mb,
daily_batch_seconds (ingest), jobs.<job>.{seconds,rows,rows_per_second},
daily[].{as_of,seconds,rows (ingest), jobs.<job>.{seconds,rows,rows_per_second}}.
"""
from __future__ import annotations

import argparse
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
    settings = load_settings("local", [*args.set, f"lake={lake_dir}"])
    as_of = dt.date.fromisoformat(args.as_of)
    t0 = time.monotonic()
    spark = get_spark(settings, app_name="tradematch-bench")
    report = {"orders": args.orders, "daily_batches": args.daily_batches, "as_of": args.as_of,
              "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "spark": spark.version,
                          "master": spark.sparkContext.master,
                          "driver_memory": settings.spark.get("spark.driver.memory")},
              "spark_startup_seconds": round(time.monotonic() - t0, 2), "jobs": {}}
    lake, run_id = Lake(str(lake_dir)), new_run_id()

    def timed(name: str, fn, day: dt.date) -> tuple[float, pipeline.JobRun]:
        start = time.monotonic()
        run = pipeline.execute(pipeline.Job(name, fn, name), spark, settings, lake, run_id, day)
        return time.monotonic() - start, run

    def entry(seconds: float, rows: int) -> dict:
        return {"seconds": round(seconds, 2), "rows": rows, "rows_per_second": round(rows / seconds, 1)}

    def landed(run: pipeline.JobRun) -> int:
        return sum(v for k, v in run.metrics.items() if k.startswith("batch.") and k.endswith(".landed"))

    def generate(ctx):
        from tradematch.generate import generate_world

        summary = generate_world(ctx.spark, ctx.tables, orders=args.orders, seed=args.seed, as_of=as_of,
                                 daily_batches=args.daily_batches)
        ctx.run.metrics["orders_generated"] = summary["orders_generated"]

    seconds, run = timed("generate", generate, as_of)
    report["jobs"]["generate"] = entry(seconds, run.metrics["orders_generated"])
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
            seconds, run = timed(job.name, job.run, day)
            figures = entry(seconds, landed(run) if job.name == "ingest" else sum(run.rows_written.values()))
            if not i:
                report["jobs"][job.name] = figures
                continue
            report["daily"][-1]["jobs"][job.name] = figures
            if job.name == "ingest":  # the batch's own figures, as before the other jobs were added
                report["daily"][-1].update(figures)
    if "daily" in report and "ingest" in report["daily"][0]["jobs"]:
        report["daily_batch_seconds"] = report["daily"][0]["seconds"]
    for name, figures in report["jobs"].items():
        print(f"bench: {name}: {figures}", flush=True)
    report["total_seconds"] = round(time.monotonic() - t0, 2)
    report["peak_rss_mb"] = peak_rss_mb(spark)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    spark.stop()
    if not args.lake:
        shutil.rmtree(lake_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
