"""The pipeline on a real Spark standalone cluster, and the gold tables as BI reads them.

A master and two workers of one core each start on 127.0.0.1 from the installed pyspark's spark-class,
on free ports, and scripts/submit runs the whole pipeline on them (the package as a wheel, the Delta
jars, the environment's settings) over the landing files of the session's tiny world, as a conftest
background run (it starts as the session begins; this module runs last); the processes are stopped by
their pids when the submit ends, also when it fails. Every gold table must equal the one of
the same world run in this process (`pipeline_lake`); every gold table must read the same with the
`deltalake` package (no Spark), and through DuckDB over the Parquet files deltalake lists, as with Spark;
and `tradematch register` must name every gold table over its location with its comments. Gold tables
are found from schemas/gold, so tables added later are covered without editing this file.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pyspark
import pytest
from deltalake import DeltaTable
from pyspark.sql import Row

from tradematch import pipeline
from tradematch.lake import Lake
from tradematch.register import register, statements
from tradematch.schema import Catalog
from tradematch.settings import SettingsError, load_settings, project_root
from tradematch.spark import DELTA_CATALOG, DELTA_EXTENSION
from tradematch.submit import command, delta_package
from tradematch.tables import PROTOCOL, Tables

from conftest import BACKGROUND_JVM, BACKGROUND_PRIORITY, SHORT_JVM, TEST_SPARK
from lakes import assert_same_table

AS_OF = dt.date(2026, 11, 20)
GOLD = sorted(name for name, s in Catalog().schemas().items() if s.layer == "gold")
SPARK_HOME = Path(pyspark.__file__).parent  # the pip-installed pyspark is a whole Spark distribution
WORKERS, WORKER_MEMORY = 2, "1g"  # one core each; an executor takes the worker's whole 1g


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _master_state(ui: str) -> dict:
    with urllib.request.urlopen(f"{ui}/json/", timeout=5) as response:
        return json.load(response)


@contextlib.contextmanager
def standalone_cluster(folder: Path, procs: list):
    """(master URL, its web UI) of a master and WORKERS workers on 127.0.0.1, their processes added to
    procs; stopped by pid on exit."""
    env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_DAEMON_MEMORY": "512m"}
    spark_class = str(SPARK_HOME / "bin" / "spark-class")
    port, ui_port = _free_port(), _free_port()
    master, ui = f"spark://127.0.0.1:{port}", f"http://127.0.0.1:{ui_port}"
    commands = [["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                 "--webui-port", str(ui_port)]]
    commands += [["org.apache.spark.deploy.worker.Worker", master, "--cores", "1", "--memory", WORKER_MEMORY,
                  "--host", "127.0.0.1", "--webui-port", "0", "--work-dir", str(folder / f"worker-{i}")]
                 for i in range(WORKERS)]
    try:
        for i, args in enumerate(commands):  # spark-class execs the JVM: each pid is the daemon itself
            with open(folder / f"daemon-{i}.log", "w") as log:
                procs.append(subprocess.Popen([*BACKGROUND_PRIORITY, spark_class, *args], env=env, stdout=log,
                                              stderr=subprocess.STDOUT))
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(OSError, ValueError):
                if _master_state(ui)["aliveworkers"] == WORKERS:
                    break
            dead = [p.pid for p in procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = "".join((folder / f"daemon-{i}.log").read_text()[-2000:] for i in range(len(procs)))
                raise RuntimeError(f"the standalone cluster did not come up (exited: {dead}):\n{logs}")
            time.sleep(1)
        yield master, ui
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class ClusterRun:
    """The whole pipeline through scripts/submit on a fresh standalone cluster, over the landing files of
    the session's tiny world (a conftest background run: started as the session begins, checked here at
    its end). run() gives (the lake, the submit's exit code, its log, the master's finished applications)."""

    def __init__(self, world: Lake, root: Path):
        self.root, self.lake, self.procs, self.submit = root, Lake(str(root / "submitted")), [], None
        shutil.copytree(world.path("landing"), self.lake.path("landing"))

    def run(self) -> tuple:
        options = [f"--set={s}" for s in TEST_SPARK if not s.startswith("master=")] + [
            "--set=spark.driver.memory=2g", f"--set={BACKGROUND_JVM}", f"--set=spark.executor.extraJavaOptions={SHORT_JVM}"]
        # The executors run this interpreter (the workers are this machine) with the package from the wheel.
        env = {**os.environ, "SPARK_HOME": str(SPARK_HOME), "PYSPARK_PYTHON": sys.executable}
        with standalone_cluster(self.root, self.procs) as (master, ui):
            cmd = [*BACKGROUND_PRIORITY, str(project_root() / "scripts" / "submit"), "--master", master, "pipeline",
                   "--lake", self.lake.root, "--as-of", AS_OF.isoformat(), *options]
            # From outside the checkout: the driver imports tradematch from the wheel (--py-files come first
            # on its path) and reads conf/ and schemas/ from it.
            with open(self.root / "submit.log", "w") as log:
                self.submit = subprocess.Popen(cmd, cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT,
                                               start_new_session=True)
                code = self.submit.wait(timeout=1800)
            apps = _master_state(ui)["completedapps"]
        return self.lake, code, (self.root / "submit.log").read_text(), apps

    def stop(self) -> None:
        """Kill the submit's process group and the daemons, when the session ends before they did."""
        if self.submit is not None and self.submit.poll() is None:
            os.killpg(self.submit.pid, signal.SIGKILL)  # its own session: spark-submit, the driver JVM
        for daemon in self.procs:
            if daemon.poll() is None:
                daemon.kill()


@pytest.fixture(scope="module")
def lakes(pipeline_lake, background):
    """(in-process lake, lake run on the cluster, the submit's exit code, its log, the master's finished
    applications), from the session's tiny world."""
    return (pipeline_lake, *background.result("cluster"))


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


def test_the_pipeline_runs_on_the_standalone_cluster_from_the_wheel(spark, lakes):
    inproc, submitted, returncode, log, apps = lakes
    assert returncode == 0, log[-4000:]
    (app,) = apps
    assert app["state"] == "FINISHED"
    # Each worker ran an executor of it: its work dir holds the application's folder.
    workers = Path(submitted.root).parent
    assert all((workers / f"worker-{i}" / app["id"]).is_dir() for i in range(WORKERS))
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
def test_gold_tables_on_the_cluster_equal_those_of_tradematch_run(spark, lakes, name):
    inproc, submitted, returncode, _, _ = lakes
    assert returncode == 0
    _gold(spark, inproc, name)
    assert_same_table(spark, submitted, inproc, name)


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
def test_bi_readers_without_spark_read_every_gold_table_as_spark_does(spark, pipeline_lake, name):
    path = _gold(spark, pipeline_lake, name)
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


def test_register_names_every_gold_table_over_its_location_with_its_comments(spark, pipeline_lake):
    tables = Tables(spark, pipeline_lake)
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
