import datetime as dt
import json
import os
import socket
import time

import pytest

from tradematch import pipeline
from tradematch.lake import Lake
from tradematch.runs import RunLock, RunLockHeld


def test_second_run_on_the_same_lake_stops_with_a_clear_message(tmp_path):
    lake = Lake(str(tmp_path))
    with RunLock(lake, 60, "run-1", "run"):
        with pytest.raises(RunLockHeld, match=r"another tradematch run holds the lake .*run run-1 \(pid \d+"):
            RunLock(lake, 60, "run-2", "run").acquire()
    with RunLock(lake, 60, "run-3", "run") as lock:  # released: free again
        assert lock.held


def write_lock(lake, **info):
    path = lake.local_root / "_lock" / "run.lock"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(info))
    return path


def test_lock_of_a_dead_process_is_taken_over(tmp_path):
    lake = Lake(str(tmp_path))
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    path = write_lock(lake, run_id="killed", pid=dead, host=socket.gethostname(),
                      started_at=dt.datetime.utcnow().isoformat(), command="run")
    with RunLock(lake, 60, "run-2", "run"):
        assert json.loads(path.read_text())["run_id"] == "run-2"
    assert not path.exists()


def test_of_many_runs_taking_over_a_stale_lock_at_once_exactly_one_wins(tmp_path):
    lake = Lake(str(tmp_path))
    write_lock(lake, run_id="killed", pid=1 << 22, host=socket.gethostname(),
               started_at=dt.datetime.utcnow().isoformat(), command="run")
    start = time.time() + 1
    children = []
    for i in range(8):
        pid = os.fork()
        if pid == 0:  # a contender: exit 0 holding the lock (never released), 3 when refused
            time.sleep(max(0.0, start - time.time()))
            try:
                RunLock(lake, 60, f"run-{i}", "run").acquire()
            except RunLockHeld:
                os._exit(3)
            time.sleep(2)  # alive while the others try
            os._exit(0)
        children.append(pid)
    codes = sorted(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children)
    assert codes == [0] + [3] * 7


def test_old_lock_from_another_host_is_stale_a_fresh_one_is_not(tmp_path):
    lake = Lake(str(tmp_path))
    path = write_lock(lake, run_id="elsewhere", pid=1, host="other-host",
                      started_at=dt.datetime.utcnow().isoformat(), command="run")
    with pytest.raises(RunLockHeld, match="run elsewhere"):
        RunLock(lake, 60, "mine", "run").acquire()
    path.write_text(json.dumps({"run_id": "elsewhere", "pid": 1, "host": "other-host", "command": "run",
                                "started_at": (dt.datetime.utcnow() - dt.timedelta(hours=2)).isoformat()}))
    with RunLock(lake, 60, "mine", "run"):
        assert json.loads(path.read_text())["run_id"] == "mine"


def read_runs(spark, lake):
    return spark.read.format("delta").load(lake.path("ops", "job_runs"))


def test_job_runs_rows_for_a_success_and_a_failure(spark, settings, lake, test_catalog):
    def good(ctx):
        ctx.tables.append("widget_scores", ctx.tables.rows("widget_scores", [
            {"as_of": ctx.as_of, "widget_id": "w1", "score": 0.5, "tier": "gold"}]))

    def bad(ctx):
        raise ValueError("the landing folder is empty")

    as_of = dt.date(2026, 3, 1)
    pipeline.execute(pipeline.Job("good", good, ""), spark, settings, lake, "r1", as_of, test_catalog)
    with pytest.raises(ValueError):
        pipeline.execute(pipeline.Job("bad", bad, ""), spark, settings, lake, "r1", as_of, test_catalog)
    rows = {r.job: r for r in read_runs(spark, lake).collect()}
    assert (rows["good"].outcome, rows["good"].error, rows["good"].as_of) == ("success", None, as_of)
    assert rows["good"].versions_written == {"widget_scores": 1} and rows["good"].rows_written == {"widget_scores": 1}
    assert rows["bad"].outcome == "failed"
    assert rows["bad"].error == "ValueError: the landing folder is empty"
    assert rows["bad"].finished_at >= rows["bad"].started_at
