"""Delta table upkeep: OPTIMIZE (compact small files) and VACUUM (delete files no version needs).

Every job commit adds small files and every replace or merge leaves unreferenced ones behind, so reads
slow down and storage grows until the tables are compacted and vacuumed. Neither changes what any
reader sees: OPTIMIZE rewrites files into an equal version, and VACUUM only deletes files that no
version within the retention refers to. Delta 4 takes that retention from the table property
delta.deletedFileRetentionDuration only (a retention passed to vacuum() is ignored unless it is 0), so
the job first sets the property to `vacuum_retention_hours` (conf/env) where it differs; time travel
and every other Delta client then honour the same window.
"""
from __future__ import annotations

from delta.tables import DeltaTable

from tradematch.pipeline import JobContext

STEPS = ("optimize", "vacuum")


def existing_tables(ctx: JobContext, names: list[str] | None = None) -> list[str]:
    """The named tables, or every table of the catalog the lake holds; a named table that is not a
    Delta table in the lake stops the run."""
    tables = ctx.tables
    if not names:
        return [n for n in tables.catalog.schemas() if tables.exists(n)]
    missing = [n for n in names if not tables.exists(n)]
    if missing:
        raise ValueError(f"no Delta table {', '.join(missing)} in {ctx.lake.root}")
    return list(names)


def optimize(ctx: JobContext, name: str) -> None:
    """Compact the table's small files; its metrics land in job_runs (files removed and added)."""
    # executeCompaction returns one row (path, metrics): a tiny result.
    metrics = DeltaTable.forPath(ctx.spark, ctx.tables.path(name)).optimize().executeCompaction().head().metrics
    ctx.run.metrics[f"optimize.{name}.files_removed"] = int(metrics.numFilesRemoved)
    ctx.run.metrics[f"optimize.{name}.files_added"] = int(metrics.numFilesAdded)


RETENTION = "delta.deletedFileRetentionDuration"


def vacuum(ctx: JobContext, name: str, retention_hours: int) -> None:
    """Set the table's retention to retention_hours when it differs, then delete what it no longer needs."""
    path = ctx.tables.path(name)
    table = DeltaTable.forPath(ctx.spark, path)
    wanted = f"interval {retention_hours} hours"
    if table.detail().head().properties.get(RETENTION) != wanted:
        ctx.spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('{RETENTION}' = '{wanted}')")
    table.vacuum()


def run(ctx: JobContext) -> None:
    """The maintain job: options `tables` (default all) and `steps` (default optimize then vacuum)."""
    steps = ctx.options.get("steps") or STEPS
    for name in existing_tables(ctx, ctx.options.get("tables")):
        if "optimize" in steps:
            with ctx.run.step(f"optimize.{name}"):
                optimize(ctx, name)
        if "vacuum" in steps:
            with ctx.run.step(f"vacuum.{name}"):
                vacuum(ctx, name, ctx.settings.vacuum_retention_hours)
