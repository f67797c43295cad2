"""`tradematch evaluate`: one JSON report, a section per part of the suite, against the generator's truth."""
from __future__ import annotations

import importlib
import json
import logging
from pathlib import Path

from tradematch.tables import Tables

log = logging.getLogger(__name__)
# Report sections in order; each module has section(tables) -> dict. A section whose inputs are not in
# the lake yet (no ingest run, for example) is reported as skipped with the reason.
SECTIONS = ("world", "ingest", "reliability", "risk", "identity", "matching")


def evaluate(tables: Tables, out: Path) -> dict:
    if not tables.exists("world"):
        raise FileNotFoundError(f"no truth in {tables.lake.root}: evaluate needs a lake made by `tradematch generate`")
    report = {}
    for name in SECTIONS:
        module = importlib.import_module(f"tradematch.evaluate.{name}")
        try:
            report[name] = module.section(tables)
        except MissingInput as exc:
            report[name] = {"skipped": str(exc)}
        log.info("evaluate %s: %s", name, report[name])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n")
    return report


class MissingInput(RuntimeError):
    """A section's input tables are not in the lake."""
