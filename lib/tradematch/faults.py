"""Named crash points, for proving crash safety: TRADEMATCH_FAULT=<point> kills the run there.

The kill is SIGKILL to the run's whole process group (Python and the Spark JVM it launched, which does
the writing), so nothing gets to clean up, flush or commit: what a power cut or an OOM kill leaves.
Points are `commit.<table>` (during a write: its data files exist, its Delta commit does not yet),
`staged.<table>` (staged and validated, not published), `published.<table>` (just after the commit)
and `ingest.bronze_done` (bronze appended, silver not started). Test-only: never set it in production.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ENV = "TRADEMATCH_FAULT"
log = logging.getLogger(__name__)


def armed(name: str) -> bool:
    return os.environ.get(ENV) == name


def point(name: str) -> None:
    """Die here when the switch names this point."""
    if armed(name):
        _die(name)


@contextmanager
def during(name: str, folder: str):
    """Die while the block writes into a local folder: as soon as a new data file appears in it."""
    if not armed(name):
        yield
        return
    root = Path(folder.removeprefix("file://"))
    before = _data_files(root)

    def watch() -> None:
        while True:
            if _data_files(root) - before:
                _die(name)
            time.sleep(0.005)

    threading.Thread(target=watch, daemon=True, name=f"fault-{name}").start()
    yield


def _data_files(root: Path) -> set[Path]:
    return set(root.rglob("*.parquet")) if root.is_dir() else set()


def _die(name: str) -> None:
    log.warning("fault %s: killing the run (SIGKILL to process group %d)", name, os.getpgrp())
    for handler in logging.getLogger().handlers:
        handler.flush()
    os.killpg(os.getpgrp(), signal.SIGKILL)
