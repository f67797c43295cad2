"""tradematch maintain on a hand-made Delta table: OPTIMIZE compacts its files without changing its rows,
VACUUM deletes the files no version within the retention needs, Delta's retention guard stays on, and
the command waits its turn behind the run lock like every writer."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from chispa import assert_df_equality
from delta.tables import DeltaTable

from tradematch import cli, maintain, pipeline
from tradematch.cli import main
from tradematch.lake import Lake
from tradematch.runs import RunLock
from tradematch.settings import with_overrides
from tradematch.tables import Tables

DAYS = (dt.date(2026, 11, 19), dt.date(2026, 11, 20))
CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"


@pytest.fixture
def widgets(spark, test_catalog, lake):
    """widget_scores written in 4 appends of one row per as_of partition: 8 small files, 2 partitions."""
    tables = Tables(spark, lake, test_catalog)
    for i in range(4):
        rows = [{"as_of": day, "widget_id": f"w{i}", "score": i / 10, "tier": "gold"} for day in DAYS]
        tables.append("widget_scores", tables.rows("widget_scores", rows).coalesce(1))
    return tables


def _files(spark, tables: Tables) -> int:
    """Data files of the table's current version."""
    return DeltaTable.forPath(spark, tables.path("widget_scores")).detail().head().numFiles


def _on_disk(tables: Tables) -> int:
    """Data files in the table's folder, referenced or not (checkpoints under _delta_log are not data)."""
    return len([f for f in Path(tables.path("widget_scores")).rglob("*.parquet") if "_delta_log" not in f.parts])


def _maintain(spark, settings, tables: Tables, steps=None):
    job = pipeline.Job("maintain", maintain.run, "")
    return pipeline.execute(job, spark, settings, tables.lake, "maintain-test", None, tables.catalog,
                            {"steps": steps})


def test_optimize_compacts_each_partition_into_one_file_and_keeps_the_rows(spark, settings, widgets):
    before = widgets.read("widget_scores").orderBy("as_of", "widget_id").cache()
    before.count()
    assert _files(spark, widgets) == 8
    run = _maintain(spark, settings, widgets, ["optimize"])
    assert _files(spark, widgets) == 2
    assert run.metrics["optimize.widget_scores.files_removed"] == 8
    assert run.metrics["optimize.widget_scores.files_added"] == 2
    assert_df_equality(widgets.read("widget_scores").orderBy("as_of", "widget_id"), before)
    assert _on_disk(widgets) == 10  # the 8 compacted files stay until VACUUM: older versions read them
    before.unpersist()


def test_vacuum_deletes_the_files_no_version_in_the_retention_needs(spark, settings, widgets):
    _maintain(spark, settings, widgets, ["optimize"])
    spark.conf.set(CHECK, "false")  # Delta refuses a retention under 168 hours unless told: this test only
    try:
        _maintain(spark, with_overrides(settings, vacuum_retention_hours=0), widgets, ["vacuum"])
    finally:
        spark.conf.unset(CHECK)
    assert _retention(widgets) == "interval 0 hours"
    assert _on_disk(widgets) == _files(spark, widgets) == 2
    assert widgets.read("widget_scores").count() == 8


def test_the_conf_retention_keeps_files_removed_within_it(spark, settings, widgets):
    assert settings.vacuum_retention_hours == 168
    _maintain(spark, settings, widgets)  # both steps, every table of the lake
    assert _retention(widgets) == "interval 168 hours"
    assert _files(spark, widgets) == 2 and _on_disk(widgets) == 10
    # A second run finds nothing to compact and the property set: it only logs its vacuum.
    version = widgets.version("widget_scores")
    run = _maintain(spark, settings, widgets)
    assert run.metrics["optimize.widget_scores.files_removed"] == 0 and _on_disk(widgets) == 10
    history = DeltaTable.forPath(spark, widgets.path("widget_scores")).history()
    # The history since the first run is a couple of commits: collected.
    assert {r.operation for r in history.where(f"version > {version}").collect()} == {"VACUUM START", "VACUUM END"}


def _retention(tables: Tables) -> str | None:
    return DeltaTable.forPath(tables.spark, tables.path("widget_scores")).detail().head().properties.get(
        maintain.RETENTION)


def test_maintain_waits_behind_the_run_lock(tmp_path, capsys):
    lake = tmp_path / "lake"
    with RunLock(Lake(str(lake)), 60, "other-run", "run"):
        assert main(["--lake", str(lake), "maintain"]) == 3
    assert "another tradematch run holds the lake" in capsys.readouterr().err


def test_the_entry_point_puts_maintains_options_after_the_command(monkeypatch):
    seen = []
    monkeypatch.setattr(cli, "main", lambda argv: seen.append(argv) or 0)
    monkeypatch.setattr("sys.argv", ["jobs/maintain.py", "--env", "cluster", "--lake", "/l", "--step", "vacuum"])
    assert cli.entry_point("maintain", ("--tables", "--step")) == 0
    monkeypatch.setattr("sys.argv", ["jobs/maintain.py", "--lake", "/l"])
    cli.entry_point("maintain", ("--tables", "--step"))
    assert seen == [["--env", "cluster", "--lake", "/l", "maintain", "--step", "vacuum"], ["--lake", "/l", "maintain"]]
