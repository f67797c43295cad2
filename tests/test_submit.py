"""The pipeline under spark-submit, and the gold tables as BI reads them.

One tiny generated world is run twice: through scripts/submit --master local[2] (a subprocess: the
package as a wheel, the Delta jars, the environment's settings) and in this process with the session
`spark`. Every gold table must be equal in both lakes; every gold table must read the same with the
`deltalake` package (no Spark), and through DuckDB over the Parquet files deltalake lists, as with Spark;
and `tradematch register` must name every gold table over its location with its comments. Gold tables
are found from schemas/gold, so tables added later are covered without editing this file.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from chispa import assert_approx_df_equality
from deltalake import DeltaTable
from pyspark.sql import Row
from pyspark.sql import functions as F
from pyspark.sql.types import ArrayType, DecimalType, DoubleType, MapType, StructField, StructType

from tradematch import pipeline
from tradematch.lake import Lake
from tradematch.register import register, statements
from tradematch.schema import Catalog
from tradematch.settings import SettingsError, load_settings, project_root
from tradematch.spark import DELTA_CATALOG, DELTA_EXTENSION
from tradematch.submit import command, delta_package
from tradematch.tables import PROTOCOL, Tables

from conftest import TEST_SPARK

AS_OF = dt.date(2026, 11, 20)
WORLD = {"orders": 2_000, "seed": 11, "years": 2, "dirty_rate": 0.01, "daily_batches": 1}
GOLD = sorted(name for name, s in Catalog().schemas().items() if s.layer == "gold")


@pytest.fixture(scope="module")
def lakes(spark, settings, tmp_path_factory):
    """(in-process lake, submitted lake, the submit's exit code, its log), from one generated world."""
    from tradematch.generate import generate_world

    root = tmp_path_factory.mktemp("submit")
    world = Lake(str(root / "world"))
    generate_world(spark, Tables(spark, world), as_of=AS_OF, **WORLD)
    inproc, submitted = Lake(str(root / "inproc")), Lake(str(root / "submitted"))
    for lake in (inproc, submitted):
        shutil.copytree(world.path("landing"), lake.path("landing"))
    # The session's test settings; a smaller driver, since two Spark drivers run at once.
    options = [f"--set={s}" for s in TEST_SPARK if not s.startswith("master=")] + ["--set=spark.driver.memory=2g"]
    cmd = [str(project_root() / "scripts" / "submit"), "--master", "local[2]", "pipeline",
           "--lake", submitted.root, "--as-of", AS_OF.isoformat(), *options]
    # The submit runs beside the in-process run, from outside the checkout: its driver imports tradematch
    # from the wheel (--py-files come first on its path) and reads conf/ and schemas/ from it.
    with open(root / "submit.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            for job in pipeline.JOBS:
                pipeline.execute(job, spark, settings, inproc, "inproc", AS_OF, Catalog(), {})
        except BaseException:
            os.killpg(proc.pid, signal.SIGTERM)  # the submit's whole process group: spark-submit, its JVM, the driver
            raise
        finally:
            proc.wait(timeout=1800)
    return inproc, submitted, proc.returncode, (root / "submit.log").read_text()


def test_the_submit_command_carries_the_wheel_delta_and_the_environments_settings():
    root = project_root()
    local = load_settings("local", ["lake=rel/lake", "spark.sql.shuffle.partitions=3"])
    cmd = command(local, "risk", "spark://h:7077", Path("/w/tm.whl"), ["--as-of", "2026-11-20"], root)
    assert cmd[cmd.index("--master") + 1] == "spark://h:7077" and cmd[cmd.index("--py-files") + 1] == "/w/tm.whl"
    assert any(Path(j).name.startswith("delta-spark_") for j in cmd[cmd.index("--jars") + 1].split(","))
    confs = {cmd[i + 1] for i, arg in enumerate(cmd) if arg == "--conf"}
    assert {"spark.sql.shuffle.partitions=3", f"spark.sql.extensions={DELTA_EXTENSION}",
            f"spark.sql.catalog.spark_catalog={DELTA_CATALOG}"} <= confs
    assert {f"{key}={local.spark[key]}" for key in PROTOCOL.values()} <= confs
    # The lake is resolved where the checkout is, and the job gets it explicitly.
    assert cmd[-7:] == [str(root / "jobs" / "risk.py"), "--env", "local", "--lake", str(root / "rel" / "lake"),
                        "--as-of", "2026-11-20"]
    cluster = command(load_settings("cluster"), "pipeline", "yarn", Path("/w/tm.whl"), [], root)
    assert cluster[cluster.index("--packages") + 1] == "io.delta:delta-spark_4.1_2.13:4.4.0" == delta_package(root)
    with pytest.raises(SettingsError, match="no entry point jobs/nope.py"):
        command(local, "nope", "local[2]", Path("/w/tm.whl"), [], root)


def _gold(spark, lake: Lake, name: str):
    tables = Tables(spark, lake)
    if not tables.exists(name):
        pytest.skip(f"{name}: not written by `tradematch run` on the test world")
    return tables.path(name)


def test_the_pipeline_runs_under_spark_submit_from_the_wheel(spark, lakes):
    inproc, submitted, returncode, log = lakes
    assert returncode == 0, log[-4000:]
    runs = spark.read.format("delta").load(submitted.path("ops", "job_runs"))
    # job_runs holds one row per job here: a small table.
    assert sorted((r.job, r.outcome) for r in runs.collect()) == sorted((j.name, "success") for j in pipeline.JOBS)
    assert "--py-files" in log and "tradematch-" in log
    assert any(Tables(spark, submitted).exists(name) for name in GOLD)


def test_the_wheel_carries_conf_and_schemas_for_a_driver_without_the_checkout(lakes, tmp_path):
    (wheel,) = (project_root() / "dist").glob("tradematch-*.whl")  # built by scripts/submit in the fixture
    probe = "import tradematch.settings as s; print(s.__file__); print(s.project_root())"
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(wheel)},
                         capture_output=True, text=True, check=True).stdout.splitlines()
    assert out[0].startswith(str(wheel))
    root = Path(out[1])
    for part in ("schemas/gold", "schemas/ops", "conf/env", "conf/quality"):
        assert sorted(p.name for p in (root / part).iterdir()) == sorted(p.name for p in (project_root() / part).iterdir())


@pytest.mark.parametrize("name", GOLD)
def test_gold_tables_under_spark_submit_equal_those_of_tradematch_run(spark, lakes, name):
    inproc, submitted, returncode, _ = lakes
    assert returncode == 0
    expected = spark.read.format("delta").load(_gold(spark, inproc, name))
    actual = spark.read.format("delta").load(Tables(spark, submitted).path(name))
    assert_approx_df_equality(_orderable(actual), _orderable(expected), precision=1e-9, ignore_row_order=True)


def _orderable(df):
    """chispa orders rows by every column and Spark cannot order by a map: a map as its sorted entries.
    Doubles, nested ones too, are rounded to 9 decimals: two runs may sum in another order (last-digit
    noise), and chispa's precision reaches only top-level columns."""
    cols = [F.array_sort(F.map_entries(f.name)).alias(f.name) if isinstance(f.dataType, MapType)
            else F.col(f.name) for f in df.schema.fields]
    out = df.select(cols)
    return out.select([F.col(f.name).cast(_rounded(f.dataType)).alias(f.name) for f in out.schema.fields])


def _rounded(t):
    if isinstance(t, DoubleType):
        return DecimalType(38, 9)
    if isinstance(t, ArrayType):
        return ArrayType(_rounded(t.elementType), t.containsNull)
    if isinstance(t, StructType):
        return StructType([StructField(f.name, _rounded(f.dataType), f.nullable) for f in t.fields])
    return t


def _from_spark(value):
    """Spark's Python values as Arrow's: structs as dicts, maps as lists of (key, value) pairs."""
    if isinstance(value, Row):
        return {k: _from_spark(v) for k, v in value.asDict().items()}
    if isinstance(value, dict):
        return [(k, _from_spark(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [_from_spark(v) for v in value]
    return value


def _maps_sorted(value):
    """Maps have no order (Spark's Python maps do not keep the stored one): their pairs sorted by key."""
    if isinstance(value, dict):
        return {k: _maps_sorted(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_maps_sorted(v) for v in value]
        return sorted(items, key=lambda pair: pair[0]) if items and all(isinstance(v, tuple) for v in items) else items
    if isinstance(value, tuple):
        return tuple(_maps_sorted(v) for v in value)
    return value


def _sorted(rows):
    return sorted((_maps_sorted(r) for r in rows), key=repr)


@pytest.mark.parametrize("name", GOLD)
def test_bi_readers_without_spark_read_every_gold_table_as_spark_does(spark, lakes, name):
    inproc, _, _, _ = lakes
    path = _gold(spark, inproc, name)
    table = DeltaTable(path)
    protocol = table.protocol()
    pinned = {p: int(spark.conf.get(key)) for p, key in PROTOCOL.items()}
    assert (protocol.min_reader_version, protocol.min_writer_version) == (pinned["minReaderVersion"],
                                                                         pinned["minWriterVersion"])
    assert not protocol.reader_features and not protocol.writer_features
    # The test world's gold tables are small: collected to compare row by row.
    with_spark = _sorted(_from_spark(r) for r in spark.read.format("delta").load(path).collect())
    with_deltalake = _sorted(table.to_pyarrow_table().to_pylist())
    assert with_deltalake == with_spark
    # DuckDB over the Parquet files of the current version; partition values come from the file paths.
    files = table.file_uris()
    if not files:  # an empty table has no Parquet file for DuckDB to read
        assert with_spark == []
        return
    columns = ", ".join(f'"{f.name}"' for f in table.schema().fields)
    with_duckdb = duckdb.sql(f"SELECT {columns} FROM read_parquet({files!r}, hive_partitioning = true)")
    assert _sorted(with_duckdb.to_arrow_table().to_pylist()) == with_spark


def test_register_names_every_gold_table_over_its_location_with_its_comments(spark, lakes):
    inproc, _, _, _ = lakes
    tables = Tables(spark, inproc)
    written = [n for n in GOLD if tables.exists(n)]
    sql = register(tables, "tm_gold_test", execute=True)
    try:
        assert sql.count("CREATE TABLE IF NOT EXISTS") == len(written) == len(statements(tables)) - 1
        for name in written:
            named = spark.table(f"tm_gold_test.{name}")
            assert named.count() == spark.read.format("delta").load(tables.path(name)).count()
            comments = {f.name: f.metadata.get("comment") for f in named.schema.fields}
            assert comments == {f.name: f.metadata["comment"] for f in tables.schema(name).struct.fields}
        # A second run leaves registered tables as they are.
        register(tables, "tm_gold_test", execute=True)
        shown = spark.sql("SHOW TABLES IN tm_gold_test").where("NOT isTemporary").collect()  # one row per table
        assert {r.tableName for r in shown} == set(written)
    finally:
        spark.sql("DROP SCHEMA IF EXISTS tm_gold_test CASCADE")
