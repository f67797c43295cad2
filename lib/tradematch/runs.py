"""One run at a time per lake (the run lock) and what each job run did (the job_runs ledger)."""
from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import socket
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tradematch.lake import Lake

log = logging.getLogger(__name__)


class RunLockHeld(RuntimeError):
    """Another live run holds the lake."""


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """A lock file in the lake, checked and written under an OS lock; a dead owner's lock is taken over.

    A lock is stale when its process is gone (same host) or it is older than stale_after_minutes.
    Object-store lakes rely on the scheduler running one DAG run at a time (README, "Two runs at once").
    """

    def __init__(self, lake: Lake, stale_after_minutes: int, run_id: str, command: str):
        self.lake, self.stale_after = lake, dt.timedelta(minutes=stale_after_minutes)
        self.info = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                     "started_at": _utcnow().isoformat(timespec="seconds"), "command": command}
        self.path = lake.local_root / "_lock" / "run.lock" if lake.is_local else None
        self.held = False

    def _is_stale(self, other: dict) -> str | None:
        try:
            started = dt.datetime.fromisoformat(other["started_at"])
            pid, host = int(other["pid"]), other["host"]
        except (KeyError, TypeError, ValueError):
            return "the lock file is unreadable"
        if host == self.info["host"] and not _pid_alive(pid):
            return f"process {pid} is gone"
        if _utcnow() - started > self.stale_after:
            return f"it is older than {self.stale_after}"
        return None

    def _read(self, path: Path) -> dict:
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return {}

    def acquire(self) -> "RunLock":
        if self.path is None:
            log.warning("run lock: %s is not a local lake; one run at a time is the scheduler's job", self.lake.root)
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._guard():
            if self.path.exists():
                other = self._read(self.path)
                reason = self._is_stale(other)
                if reason is None:
                    raise RunLockHeld(
                        f"another tradematch run holds the lake {self.lake.root}: run {other.get('run_id')} "
                        f"(pid {other.get('pid')} on {other.get('host')}, since {other.get('started_at')}, "
                        f"'{other.get('command')}'); lock file {self.path}")
                log.warning("run lock: taking over a stale lock (%s): %s", reason, other)
            mine = self.path.with_name(f"run.lock.{self.info['run_id']}")
            mine.write_text(json.dumps(self.info))
            os.replace(mine, self.path)  # whole or absent: nobody reads a half-written lock
            self.held = True
        return self

    @contextmanager
    def _guard(self):
        """Check and take (or drop) the lock one process at a time: an OS lock on a guard file, which the
        kernel releases when its holder dies, however it dies."""
        with open(self.path.with_name("run.lock.guard"), "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            yield

    def release(self) -> None:
        if self.held and self.path is not None:
            with self._guard():
                if self._read(self.path).get("run_id") == self.info["run_id"]:
                    self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


@dataclass
class JobRun:
    """What one job read and wrote, collected while it runs and written to job_runs at the end."""

    run_id: str
    job: str
    as_of: dt.date | None
    started_at: dt.datetime = field(default_factory=_utcnow)
    clock: float = field(default_factory=time.monotonic)
    versions_read: dict[str, int] = field(default_factory=dict)
    versions_written: dict[str, int] = field(default_factory=dict)
    rows_written: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def read(self, table: str, version: int) -> None:
        self.versions_read.setdefault(table, version)

    def wrote(self, table: str, version: int, rows: int) -> None:
        self.versions_written[table] = version
        self.rows_written[table] = self.rows_written.get(table, 0) + rows

    def add(self, metric: str, amount: int) -> None:
        self.metrics[metric] = self.metrics.get(metric, 0) + amount

    @contextmanager
    def step(self, name: str):
        """Time a step: its milliseconds add up under metrics['ms.<name>'] and the log says how long."""
        start = time.monotonic()
        try:
            yield
        finally:
            ms = int((time.monotonic() - start) * 1000)
            self.add(f"ms.{name}", ms)
            log.info("job %s: %s in %.1fs", self.job, name, ms / 1000)

    def row(self, outcome: str, error: str | None = None) -> dict:
        return {
            "run_id": self.run_id, "job": self.job, "as_of": self.as_of,
            "started_at": self.started_at, "finished_at": _utcnow(),
            "duration_seconds": round(time.monotonic() - self.clock, 3), "outcome": outcome,
            "versions_read": self.versions_read, "versions_written": self.versions_written,
            "rows_written": self.rows_written, "metrics": self.metrics, "notes": self.notes,
            "error": error,
        }


def new_run_id() -> str:
    return _utcnow().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]
