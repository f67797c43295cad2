"""Command line: tradematch [--env E] [--lake DIR] [--as-of DATE] [--set k=v] COMMAND.

Settings and the lake are checked, and the run lock taken, before Spark starts, so a bad config or a
busy lake stops at once with one message. Exit codes: 0 done, 1 a job failed, 2 bad input or config,
3 another run holds the lake.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from pathlib import Path

from tradematch import pipeline
from tradematch.lake import Lake, LakeError
from tradematch.quality import QualityGateFailed
from tradematch.runs import RunLock, RunLockHeld, new_run_id
from tradematch.schema import Catalog, SchemaError
from tradematch.settings import Settings, SettingsError, load_settings
from tradematch.spark import get_spark
from tradematch.tables import Tables

log = logging.getLogger("tradematch")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tradematch", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local", help="environment: conf/env/ENV.yaml (default local)")
    parser.add_argument("--lake", help="lake root folder or URI (landing, bronze, silver, gold, truth)")
    parser.add_argument("--as-of", type=_date, help="as-of date (default: newest landed batch date)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a setting, e.g. --set spark.driver.memory=4g (repeatable)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("run", help="run every job in order")
    job = sub.add_parser("job", help="run one job")
    job.add_argument("name")
    job.add_argument("--accept-bad-batch", action="store_true",
                     help="ingest: publish a batch even when its quarantine share passes the limit")
    job.add_argument("--replay-quarantine", action="store_true",
                     help="ingest: run quarantined records through the rules again")
    job.add_argument("--backfill", action="store_true",
                     help="risk: an as-of older than the newest snapshot also adds its (back-dated) events")
    info = sub.add_parser("info", help="tables in the lake: path, Delta version, rows")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    reg = sub.add_parser("register", help="SQL that registers each gold table by name over its location "
                         "(run too when the environment has a metastore)")
    reg.add_argument("--schema", default="tradematch", help="schema (database) to register in; catalog.schema on Databricks")
    reg.add_argument("--out", type=Path, help="SQL file to write (default: print it)")
    gen = sub.add_parser("generate", help="write a synthetic world (landing files and truth) into the lake")
    gen.add_argument("--orders", type=int, required=True, help="orders to generate")
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--years", type=int, default=5, help="years of history ending at --as-of")
    gen.add_argument("--dirty-rate", type=float, default=0.0, help="share of records given a corrupted copy")
    gen.add_argument("--daily-batches", type=int, default=3, help="daily batches after the history batch")
    gen.add_argument("--if-empty", action="store_true", help="do nothing when the lake already holds landed batches")
    ev = sub.add_parser("evaluate", help="measure the suite against the generator's truth")
    ev.add_argument("--out", type=Path, required=True, help="JSON report to write")
    bt = sub.add_parser("backtest", help="replay the risk policy over history into a scratch location")
    bt.add_argument("--from", dest="start", type=_date, required=True, help="first as-of of the replay")
    bt.add_argument("--to", dest="end", type=_date, required=True, help="last as-of of the replay")
    bt.add_argument("--step", default="7d", help="days between as-ofs, e.g. 7d (default)")
    bt.add_argument("--out", type=Path, help="JSON summary to write (default: the scratch folder's summary.json)")
    maintain = sub.add_parser("maintain", help="OPTIMIZE every Delta table of the lake, then VACUUM it "
                              "(retention: vacuum_retention_hours)")
    maintain.add_argument("--tables", nargs="+", metavar="TABLE", help="tables to maintain (default: all that exist)")
    maintain.add_argument("--step", dest="steps", action="append", choices=("optimize", "vacuum"),
                          help="only this step (repeatable; default both)")
    rep = sub.add_parser("report", help="a self-contained HTML report of the lake's latest run, with Data Docs")
    rep.add_argument("--out", type=Path, required=True, help="folder to write report.html and data_docs/ into")
    rep.add_argument("--evaluation", type=Path,
                     help="an evaluate report to show match quality from (default: OUT/evaluation.json if present)")
    restore = sub.add_parser("restore", help="make an earlier version of a table current again (Delta RESTORE), "
                             "audited by its suite and recorded in job_runs")
    restore.add_argument("table")
    restore.add_argument("--version", type=int, required=True, help="the version to restore (see `info`)")
    erase = sub.add_parser("erase-party", help="remove a party's PII from bronze, pending, quarantine and party_identity")
    erase.add_argument("party_id")
    migrate = sub.add_parser("migrate", help="add new nullable columns and table properties from the schema files "
                                             "to existing tables")
    migrate.add_argument("tables", nargs="*", help="tables to migrate (default: all that exist)")
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("py4j").setLevel(logging.WARNING)
    args = build_parser().parse_args(argv)
    try:
        overrides = list(args.set) + ([f"lake={args.lake}"] if args.lake else [])
        settings = load_settings(args.env, overrides)
        catalog = Catalog()
        catalog.schemas()  # a schema file that does not parse stops here, before anything is written
        lake = Lake(settings.lake_uri())
        if args.command == "info":
            return _info(settings, lake, catalog, args.json)
        if args.command == "register":
            return _register(settings, lake, catalog, args.schema, args.out)
        if args.command == "report":  # reads only (Delta snapshots): no run lock, so it works during a run
            return _report(settings, lake, catalog, args.out, args.evaluation)
        lake.check_writable()
        run_id = new_run_id()
        with RunLock(lake, settings.lock_stale_after_minutes, run_id, " ".join(sys.argv[1:] or [args.command])):
            return _locked(args, settings, lake, catalog, run_id)
    except (SettingsError, SchemaError, LakeError, pipeline.UnknownJob, FileNotFoundError, ValueError) as exc:
        print(f"tradematch: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except RunLockHeld as exc:
        print(f"tradematch: {exc}", file=sys.stderr)
        return 3
    except QualityGateFailed as exc:
        print(f"tradematch: quality gate failed: {exc}", file=sys.stderr)
        return 1


def entry_point(command: str, own: tuple[str, ...]) -> int:
    """main for a jobs/ entry point of a command with options of its own: sys.argv holds tradematch's
    global options, then the command's (from the first option named in own)."""
    args = sys.argv[1:]
    cut = next((i for i, a in enumerate(args) if a.split("=")[0] in own), len(args))
    return main([*args[:cut], command, *args[cut:]])


def _locked(args, settings: Settings, lake: Lake, catalog: Catalog, run_id: str) -> int:
    jobs = [pipeline.job_named(args.name)] if args.command == "job" else pipeline.JOBS
    spark = get_spark(settings)
    if args.command == "migrate":
        tables = Tables(spark, lake, catalog)
        names = args.tables or [n for n in catalog.schemas() if tables.exists(n)]
        for name in names:
            changed = tables.migrate(name)
            print(f"{name}: " + (f"migrated: {', '.join(changed)}" if changed else "matches its schema file"))
        return 0
    if args.command == "generate":
        if args.if_empty and lake.landed_batches(spark):
            print(f"{lake.root} already holds landed batches; nothing generated")
            return 0
        as_of = args.as_of or dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=1)
        gen = pipeline.Job("generate", lambda ctx: _generate(ctx, args), "write a synthetic world")
        pipeline.execute(gen, spark, settings, lake, run_id, as_of, catalog)
        return 0
    if args.command == "maintain":
        from tradematch import maintain

        job = pipeline.Job("maintain", maintain.run, "OPTIMIZE and VACUUM the lake's Delta tables")
        pipeline.execute(job, spark, settings, lake, run_id, args.as_of, catalog,
                         {"tables": args.tables, "steps": args.steps})
        return 0
    if args.command == "restore":
        job = pipeline.Job("restore", lambda ctx: ctx.tables.restore(args.table, args.version), "Delta RESTORE")
        pipeline.execute(job, spark, settings, lake, run_id, None, catalog)
        return 0
    if args.command == "erase-party":
        from tradematch import erase

        job = pipeline.Job("erase-party", erase.run, "remove a party's PII from the restricted layer")
        run = pipeline.execute(job, spark, settings, lake, run_id, None, catalog, {"party_id": args.party_id})
        print("\n".join(run.notes))
        return 0
    if args.command == "evaluate":
        from tradematch.evaluate import evaluate

        evaluate(Tables(spark, lake, catalog), args.out)
        print(f"evaluation report: {args.out}")
        return 0
    if args.command == "backtest":
        from tradematch.risk.backtest import backtest, parse_step

        summary = backtest(Tables(spark, lake, catalog), args.start, args.end, parse_step(args.step), run_id, args.out)
        print(f"backtest summary: {summary['summary_file']}")
        return 0
    as_of = args.as_of or lake.newest_batch_date(spark)
    if not jobs:
        log.info("the pipeline has no jobs yet; nothing to run")
    options = {k: v for k, v in vars(args).items() if k in ("accept_bad_batch", "replay_quarantine", "backfill") and v}
    for job in jobs:
        pipeline.execute(job, spark, settings, lake, run_id, as_of, catalog, options)
    return 0


def _generate(ctx: pipeline.JobContext, args) -> None:
    from tradematch.generate import generate_world

    summary = generate_world(ctx.spark, ctx.tables, orders=args.orders, seed=args.seed, as_of=ctx.as_of,
                             years=args.years, dirty_rate=args.dirty_rate, daily_batches=args.daily_batches)
    ctx.run.metrics.update({f"landed.{k}": v for k, v in summary["landed_rows"].items()})
    ctx.run.metrics["orders_generated"] = summary["orders_generated"]
    print(f"generated {summary['orders_generated']:,} orders as of {summary['as_of']} "
          f"(history batch {summary['history_batch']}, {summary['daily_batches']} daily batches) in {ctx.lake.root}")


def _register(settings: Settings, lake: Lake, catalog: Catalog, schema: str, out: Path | None) -> int:
    from tradematch.register import has_metastore, register

    execute = has_metastore(settings)
    sql = register(Tables(get_spark(settings), lake, catalog), schema, execute)
    if out:
        out.write_text(sql)
        print(f"registration SQL: {out}" + (" (run in the metastore)" if execute else ""))
    else:
        print(sql, end="")
    return 0


def _report(settings: Settings, lake: Lake, catalog: Catalog, out: Path, evaluation: Path | None) -> int:
    from tradematch.report import write_report

    page, _ = write_report(Tables(get_spark(settings), lake, catalog), out, evaluation)
    print(f"report: {page}")
    return 0


def _info(settings: Settings, lake: Lake, catalog: Catalog, as_json: bool) -> int:
    spark = get_spark(settings)
    tables = Tables(spark, lake, catalog)
    found = {}
    for name in catalog.schemas():
        if tables.exists(name):
            path = tables.path(name)
            found[name] = {"path": path, "version": tables.version(name),
                           "rows": spark.read.format("delta").load(path).count()}
    if as_json:
        print(json.dumps(found, indent=2, sort_keys=True))
    else:
        for name, entry in found.items():
            print(f"{name:32} v{entry['version']:<5} {entry['rows']:>12,} rows  {entry['path']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
