"""Crash safety: runs killed at named points (faults.py) and from outside, then rerun, equal a clean run.

One lake goes through the fault points in the order a run meets them (a conftest background run: it
starts as the session begins and overlaps the other tests). Each run is a real `tradematch`
process killed with SIGKILL (its whole process group, the Spark JVM too); the next run recovers from what
the kill left and goes on to the next point. Meanwhile a reader polls the gold tables the way BI would
(deltalake, no Spark) and must only ever see versions their quality suite passed. At the end every table
the jobs wrote equals the one `tradematch run` wrote in process on the same world (`pipeline_lake`).
"""
from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from tradematch import faults
from tradematch.lake import Lake
from tradematch.schema import Catalog

from conftest import BACKGROUND_JVM, BACKGROUND_PRIORITY, TEST_SPARK, WORLD_AS_OF
from lakes import assert_same_table, tables_in

TRADEMATCH = str(Path(sys.executable).with_name("tradematch"))
# (job, fault point, what the kill interrupts), in the order a run meets them; None: killed from outside
# at a random moment (OUTSIDE), or not killed. Short jobs carry the late points, so few runs redo much.
OUTSIDE = "SIGKILL from outside"
FAULTS = [
    ("ingest", "commit.bronze_records", "a bronze append: data files written, no Delta commit"),
    ("ingest", "ingest.bronze_done", "between bronze and silver"),
    ("ingest", "commit.parties", "a silver commit (the first load of parties: an append)"),
    ("ingest", None, "nothing: two runs at once, one stops on the run lock"),
    ("history", "staged.party_market_monthly", "after staging and validation, before the publish"),
    ("history", "commit.job_runs", "the job_runs row of a finished job"),
    ("history", OUTSIDE, "a rerun, wherever it is"),
    ("reliability", "published.party_reliability", "between two gold publishes"),
    ("reliability", None, "nothing"),
]
JOBS = ("ingest", "history", "reliability")
GOLD = sorted(n for n, s in Catalog().schemas().items() if s.layer == "gold")


def _start(lake: Lake, job: str, fault: str | None, log: Path) -> subprocess.Popen:
    """`tradematch job JOB` in its own process group (the fault switch kills the group, never pytest)."""
    env = {k: v for k, v in os.environ.items() if k != faults.ENV}
    if fault:
        env[faults.ENV] = fault
    options = [f"--set={s}" for s in TEST_SPARK if not s.startswith("spark.driver.memory")]
    cmd = [*BACKGROUND_PRIORITY, TRADEMATCH, "--lake", lake.root, "--as-of", WORLD_AS_OF, *options,
           "--set=spark.driver.memory=2g", f"--set={BACKGROUND_JVM}", "job", job]
    with open(log, "a") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)


class GoldReader(threading.Thread):
    """Polls every gold table's newest version and reads each new one whole, as a BI tool without Spark would."""

    def __init__(self, lake: Lake):
        super().__init__(daemon=True)
        self.lake, self.seen, self.errors, self.stop = lake, set(), [], threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for name in GOLD:
                path = self.lake.path("gold", name)
                if not os.path.isdir(os.path.join(path, "_delta_log")):
                    continue
                try:
                    table = DeltaTable(path)
                except TableNotFoundError:  # its log folder is there, its first commit not yet
                    continue
                if (name, table.version()) in self.seen:
                    continue
                try:
                    table.to_pyarrow_table()
                    self.seen.add((name, table.version()))
                except Exception as exc:  # noqa: BLE001 - any failure to read is what this reader reports
                    self.errors.append(f"{name}: {type(exc).__name__}: {exc}")
            time.sleep(0.25)


class CrashChain:
    """FAULTS run in order on a copy of the world's landing while a GoldReader polls (a conftest
    background run: started as the session begins, checked here at its end)."""

    def __init__(self, world: Lake, root: Path):
        self.root, self.lake = root, Lake(str(root / "lake"))
        shutil.copytree(world.path("landing"), self.lake.path("landing"))
        self.reader, self.running = GoldReader(self.lake), None

    def stop(self) -> None:
        if self.running and self.running.poll() is None:
            os.killpg(self.running.pid, signal.SIGKILL)
        self.reader.stop.set()

    def _start(self, job: str, fault: str | None, log: Path) -> subprocess.Popen:
        self.running = _start(self.lake, job, fault, log)
        return self.running

    def run(self) -> dict:
        log, steps, codes, texts = self.root / "runs.log", [], [], []
        self.reader.start()
        try:
            for job, point, _ in FAULTS:
                if point == OUTSIDE:
                    victim = self._start(job, None, log)
                    time.sleep(random.uniform(2, 30))  # history takes 15-30 s
                    if victim.poll() is None:
                        os.killpg(victim.pid, signal.SIGKILL)
                    code = victim.wait(timeout=60)
                elif point is None and job == "ingest":  # two at once: the run lock lets one in
                    pair = [self._start(job, None, self.root / f"pair-{i}.log") for i in (0, 1)]
                    codes = sorted(p.wait(timeout=900) for p in pair)
                    texts = [(self.root / f"pair-{i}.log").read_text() for i in (0, 1)]
                    code = codes[0]
                else:
                    code = self._start(job, point, log).wait(timeout=900)
                steps.append((job, point, code, _left_behind(self.lake, point)))
        finally:
            self.reader.stop.set()
            self.reader.join(timeout=30)
        return {"steps": steps, "codes": codes, "texts": texts, "log": log.read_text()}


@pytest.fixture(scope="module")
def crashed(background):
    """The lake after every fault and its recovery, the reader's findings, and what each step returned."""
    chain, out = background.work["faults"], background.result("faults")
    return chain.lake, chain.reader, out["steps"], out["codes"], out["texts"], out["log"]


def _left_behind(lake: Lake, point: str | None) -> dict:
    """What a kill left, read right after it without Spark: to show the kill came where it was meant to."""
    def table(name: str) -> DeltaTable | None:
        path = lake.table_path(Catalog().schema(name).layer, name)
        return DeltaTable(path) if os.path.isdir(os.path.join(path, "_delta_log")) else None

    if point == "commit.bronze_records":  # data files on disk that no commit names
        files = len(list((lake.local_root / "bronze" / "bronze_records").rglob("*.parquet")))
        return {"version": table("bronze_records").version(), "files": files}
    if point == "ingest.bronze_done":
        return {"version": table("bronze_records").version(), "orders": table("orders")}
    if point == "staged.party_market_monthly":
        staged = lake.local_root / "_staging" / "party_market_monthly"
        return {"version": table("party_market_monthly").version(), "staged": any(staged.iterdir())}
    if point == "published.party_reliability":  # rows of the one as-of ever run
        return {name: table(name).to_pyarrow_table().num_rows if table(name) else 0
                for name in ("party_reliability", "party_market_reliability")}
    return {}


def test_every_fault_point_killed_its_run_where_it_was_meant_to(crashed):
    _, _, steps, _, _, log = crashed
    for job, point, code, _ in steps:
        if point == OUTSIDE:
            assert code in (-signal.SIGKILL, 0), f"{job} killed from outside: exit {code}"
        else:
            assert code == (-signal.SIGKILL if point else 0), f"{job} with {point}: exit {code}\n{log[-3000:]}"
    evidence = {point: e for _, point, _, e in steps}
    assert evidence["commit.bronze_records"]["version"] == 0 < evidence["commit.bronze_records"]["files"]
    assert evidence["ingest.bronze_done"] == {"version": 1, "orders": None}  # silver not started
    assert evidence["staged.party_market_monthly"] == {"version": 0, "staged": True}  # created empty, not published
    between = evidence["published.party_reliability"]
    assert between["party_reliability"] > 0 and between["party_market_reliability"] == 0
    assert f"fault {FAULTS[0][1]}: killing the run" in log


def test_two_runs_at_once_one_runs_the_other_stops_on_the_run_lock(crashed):
    _, _, _, codes, texts, _ = crashed
    assert codes == [0, 3], texts
    assert any("another tradematch run holds the lake" in t for t in texts)


@pytest.mark.parametrize("job", JOBS)
def test_after_the_faults_every_table_equals_a_clean_runs(spark, crashed, pipeline_lake, job):
    lake = crashed[0]
    written = {n for r in spark.read.format("delta").load(pipeline_lake.path("ops", "job_runs"))
               .where(f"job = '{job}'").select("rows_written").collect() for n in r.rows_written}  # 1 row
    written -= {"dq_results", "job_runs"}
    assert written
    for name in sorted(written):
        assert_same_table(spark, lake, pipeline_lake, name)
    assert set(tables_in(spark, lake, ("silver", "gold"))) <= set(tables_in(spark, pipeline_lake, ("silver", "gold")))


def test_a_reader_polling_gold_only_ever_saw_validated_versions(spark, crashed):
    lake, reader, _, _, _, _ = crashed
    assert not reader.errors, reader.errors[:5]
    passed = {(r.table_name, r.table_version) for r in spark.read.format("delta").load(lake.path("ops", "dq_results"))
              .where("success").select("table_name", "table_version").collect()}  # a row per validation: small
    seen = {(name, version) for name, version in reader.seen if version > 0}  # version 0: the empty table
    assert seen, "the reader saw no gold version"
    assert seen <= passed, sorted(seen - passed)
