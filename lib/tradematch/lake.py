"""Where things live in a lake: one root holding landing/, the Delta layers, truth/ and run state.

Landing files sit in landing/<entity>/batch=<YYYY-MM-DD>/; the newest batch date is the default as-of,
so a rerun without --as-of is deterministic. Local paths are handled in Python so that a bad lake
path is reported before Spark starts; object-store URIs go through Hadoop's FileSystem.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

BATCH_DIR = re.compile(r"^batch=(\d{4}-\d{2}-\d{2})$")


class LakeError(RuntimeError):
    """The lake cannot be used: not writable, empty where data is needed."""


@dataclass(frozen=True)
class Lake:
    root: str

    @property
    def is_local(self) -> bool:
        return "://" not in self.root or self.root.startswith("file://")

    @property
    def local_root(self) -> Path:
        return Path(self.root.removeprefix("file://"))

    def path(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def table_path(self, layer: str, name: str) -> str:
        return self.path(layer, name)

    def landing(self, entity: str, batch: str | None = None) -> str:
        return self.path("landing", entity, f"batch={batch}") if batch else self.path("landing", entity)

    def staging(self, name: str, token: str) -> str:
        return self.path("_staging", name, token)

    def check_writable(self) -> None:
        """Fail with the path in the message when a local lake cannot be created or written."""
        if not self.is_local:
            return
        root = self.local_root
        try:
            root.mkdir(parents=True, exist_ok=True)
            probe = root / f".write-probe-{os.getpid()}"  # two runs starting at once must not share it
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise LakeError(f"lake path {root} cannot be written: {exc.strerror or exc}") from None

    def landed_batches(self, spark=None) -> dict[str, list[str]]:
        """Entity -> sorted batch dates found under landing/."""
        found: dict[str, list[str]] = {}
        for entity, children in self._list_landing(spark).items():
            dates = sorted(m[1] for c in children if (m := BATCH_DIR.match(c)))
            if dates:
                found[entity] = dates
        return found

    def newest_batch_date(self, spark=None) -> dt.date | None:
        dates = [d for ds in self.landed_batches(spark).values() for d in ds]
        return dt.date.fromisoformat(max(dates)) if dates else None

    def _list_landing(self, spark) -> dict[str, list[str]]:
        if self.is_local:
            base = self.local_root / "landing"
            if not base.is_dir():
                return {}
            return {e.name: os.listdir(e) for e in base.iterdir() if e.is_dir()}
        if spark is None:
            return {}
        fs_path = spark._jvm.org.apache.hadoop.fs.Path(self.landing(""))
        fs = fs_path.getFileSystem(spark._jsc.hadoopConfiguration())
        if not fs.exists(fs_path):
            return {}
        out = {}
        for entity in fs.listStatus(fs_path):
            if entity.isDirectory():
                out[entity.getPath().getName()] = [c.getPath().getName() for c in fs.listStatus(entity.getPath())]
        return out

    def remove(self, uri: str, spark=None) -> None:
        """Delete a folder of scratch data (staging), quietly when it is already gone."""
        if self.is_local:
            shutil.rmtree(uri.removeprefix("file://"), ignore_errors=True)
        elif spark is not None:
            path = spark._jvm.org.apache.hadoop.fs.Path(uri)
            path.getFileSystem(spark._jsc.hadoopConfiguration()).delete(path, True)
