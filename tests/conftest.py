"""One Spark session for the whole test run (local[2], few shuffle partitions, UI off, UTC)."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from tradematch.lake import Lake
from tradematch.schema import Catalog
from tradematch.settings import load_settings, project_root

TEST_SPARK = [
    "master=local[2]",
    "spark.driver.memory=4g",
    "spark.sql.shuffle.partitions=2",
    "spark.default.parallelism=2",
    "spark.ui.enabled=false",
    "spark.databricks.delta.snapshotPartitions=2",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism=2",
    # Test data is tiny: compiling generated code for each query costs more than it saves. Interpreted
    # (measured: a 20k-order `tradematch run` 181 s -> 155 s, the tiny world's ingest 131 -> 117 CPU seconds)
    "spark.sql.codegen.wholeStage=false",
    "spark.sql.codegen.factoryMode=NO_CODEGEN",
    # The suite keeps both cores busy (its background runs take what this process leaves): the parallel
    # collector does the same young collections without G1's concurrent threads (tiny ingest: 78 -> 74 CPU s)
    "spark.driver.extraJavaOptions=-XX:+UseParallelGC",
]


@pytest.fixture(scope="session")
def settings(tmp_path_factory):
    lake = tmp_path_factory.mktemp("lake")
    return load_settings("local", [*TEST_SPARK, f"lake={lake}"])


# Test modules whose subject runs in other processes: `background` starts those runs as the session
# begins, one after another, so they overlap the in-process tests, and the modules themselves run last,
# when the runs are done.
BACKGROUND = ("test_faults.py", "test_submit.py")
# The in-process tests keep the two cores about 85% busy (a tiny-world ingest: 131 CPU seconds in 78 s),
# so the background processes run at a lower priority (nice execs the command, so each pid is still the
# process itself), and their short-lived JVMs (drivers, the cluster's executors) compile with C1 only: C2
# spent half the CPU of that ingest compiling code the run was over before it paid back (measured 117 -> 94
# CPU seconds, wall +5%), and collect with the serial collector (a 2g heap, no concurrent GC threads).
# Measured 2026-12-04: the background runs took 1,600 CPU seconds (26 min alone) and the suite 47 min while
# the cluster's JVMs used C2; with them on C1 too, 1,000 CPU seconds and a 40-minute fresh-clone CI.
BACKGROUND_PRIORITY = ["nice", "-n", "10"]
SHORT_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
BACKGROUND_JVM = f"spark.driver.extraJavaOptions={SHORT_JVM}"


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.path.name in BACKGROUND)  # stable: the rest keep their order


class Background:
    """Pieces of work (objects with run() and stop()) run in order by one thread; result(name) waits."""

    def __init__(self, work: dict):
        self.work, self.outcome = work, {}
        self.done = {name: threading.Event() for name in work}

    def start(self) -> "Background":
        threading.Thread(target=self._run, daemon=True, name="background-runs").start()
        return self

    def _run(self) -> None:
        for name, piece in self.work.items():
            try:
                self.outcome[name] = (piece.run(), None)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the test that asks for it
                self.outcome[name] = (None, exc)
            self.done[name].set()

    def __contains__(self, name: str) -> bool:
        return name in self.work

    def result(self, name: str):
        if not self.done[name].wait(timeout=3600):
            raise TimeoutError(f"background run {name} did not finish within an hour")
        value, error = self.outcome[name]
        if error is not None:
            raise error
        return value

    def stop(self) -> None:
        """Kill whatever still runs (a session that ended first)."""
        for piece in self.work.values():
            piece.stop()


@pytest.fixture(scope="session", autouse=True)
def background(request, tmp_path_factory):
    """The background runs of the collected BACKGROUND modules, started now; killed at the session's end."""
    collected = {item.path.name for item in request.session.items}
    work = {}
    if "test_generate.py" in collected:  # short: done long before its test
        from test_generate import OneCoreWorld

        work["one_core"] = OneCoreWorld(tmp_path_factory.mktemp("one_core"))
    if "test_faults.py" in collected:
        from test_faults import CrashChain

        work["faults"] = CrashChain(request.getfixturevalue("small_world"), tmp_path_factory.mktemp("faults"))
    if any("lakes" in item.fixturenames for item in request.session.items):
        from test_submit import ClusterRun

        work["cluster"] = ClusterRun(request.getfixturevalue("small_world"), tmp_path_factory.mktemp("cluster"))
    runs = Background(work).start()
    yield runs
    runs.stop()


@pytest.fixture(scope="session")
def spark(settings):
    from tradematch.spark import get_spark

    session = get_spark(settings, app_name="tradematch-tests")
    yield session
    session.stop()


@pytest.fixture
def lake(tmp_path) -> Lake:
    """A fresh, empty lake per test."""
    return Lake(str(tmp_path / "lake"))


@pytest.fixture(scope="session")
def test_catalog(tmp_path_factory) -> Catalog:
    """The project's schemas and suites plus the hand-made test tables under tests/catalog."""
    root = tmp_path_factory.mktemp("catalog")
    for part in ("schemas", "conf"):
        shutil.copytree(project_root() / part, root / part)
        shutil.copytree(Path(__file__).parent / "catalog" / part, root / part, dirs_exist_ok=True)
    return Catalog(root)


WORLD = {"orders": 20_000, "seed": 7, "years": 5, "dirty_rate": 0.02, "daily_batches": 3}
WORLD_AS_OF = "2026-11-20"


@pytest.fixture(scope="session")
def generated_lake(spark, settings, tmp_path_factory):
    """One small generated world (landing + truth) shared by every end-to-end test of the session.

    Tests read it; a test that needs to write copies what it needs into its own lake.
    """
    import datetime as dt

    from tradematch.generate import generate_world
    from tradematch.tables import Tables

    lake = Lake(str(tmp_path_factory.mktemp("generated") / "lake"))
    tables = Tables(spark, lake)
    summary = generate_world(spark, tables, as_of=dt.date.fromisoformat(WORLD_AS_OF), **WORLD)
    return lake, summary


@pytest.fixture(scope="session")
def ingested_lake(spark, settings, generated_lake, tmp_path_factory):
    """The generated world copied into its own lake and ingested once (landing -> bronze -> silver).

    Tests read it; a test that writes copies the layers it needs into its own lake.
    """
    from tradematch import pipeline

    source, world = generated_lake
    lake = Lake(str(tmp_path_factory.mktemp("ingested") / "lake"))
    for part in ("landing", "truth"):  # the generated world stays read-only
        shutil.copytree(source.path(part), lake.path(part))
    pipeline.execute(pipeline.job_named("ingest"), spark, settings, lake, "ingested", world["as_of"], Catalog(), {})
    return lake, world


SMALL_WORLD = {"orders": 2_000, "seed": 11, "years": 2, "dirty_rate": 0.01, "daily_batches": 1}


@pytest.fixture(scope="session")
def small_world(spark, tmp_path_factory) -> Lake:
    """A tiny generated world (landing + truth), for tests that run every job: read-only."""
    import datetime as dt

    from tradematch.generate import generate_world
    from tradematch.tables import Tables

    lake = Lake(str(tmp_path_factory.mktemp("small") / "world"))
    generate_world(spark, Tables(spark, lake), as_of=dt.date.fromisoformat(WORLD_AS_OF), **SMALL_WORLD)
    return lake


@pytest.fixture(scope="session")
def pipeline_lake(spark, settings, small_world, tmp_path_factory) -> Lake:
    """The tiny world run through every job in this process (`tradematch run`): read-only; copy to write."""
    import datetime as dt

    from tradematch import pipeline

    lake = Lake(str(tmp_path_factory.mktemp("pipeline") / "lake"))
    for part in ("landing", "truth"):
        shutil.copytree(small_world.path(part), lake.path(part))
    for job in pipeline.JOBS:
        pipeline.execute(job, spark, settings, lake, "pipeline", dt.date.fromisoformat(WORLD_AS_OF), Catalog(), {})
    return lake
