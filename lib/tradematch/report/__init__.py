"""`tradematch report --out DIR`: a static, self-contained HTML page of the lake's latest run, for people.

data.py:      the figures as small Spark aggregates (pure DataFrame -> DataFrame);
charts.py:    plotly figures from them;
sections.py:  what each section reads and shows;
page.py:      the one HTML file, plotly.js inlined;
datadocs.py:  Great Expectations Data Docs for every suite, readable offline.
Knobs (how many chapters, suppliers, parties) are in conf/report.yaml. The report only reads the lake.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from tradematch.reliability import load_conf as reliability_conf
from tradematch.report import datadocs, page, sections
from tradematch.settings import SettingsError
from tradematch.tables import Tables

PAGE = "report.html"
EVALUATION = "evaluation.json"  # used when --evaluation is not given and the report folder holds one
_KEYS = ("top_chapters", "suppliers_per_chapter", "newest_risk")


def load_conf(root: Path) -> dict:
    file = root / "conf" / "report.yaml"
    doc = yaml.safe_load(file.read_text()) or {}
    missing = [k for k in _KEYS if not isinstance(doc.get(k), int)]
    if missing:
        raise SettingsError(f"{file}: missing or not a whole number: {missing}")
    return doc


def write_report(tables: Tables, out: Path, evaluation: Path | None = None) -> tuple[Path, list[str]]:
    """Write out/report.html and out/data_docs/; (the page, the ids of its charts)."""
    conf = load_conf(tables.catalog.root)
    out.mkdir(parents=True, exist_ok=True)
    if evaluation is None and (out / EVALUATION).is_file():
        evaluation = out / EVALUATION
    unrated = reliability_conf(tables.catalog.root)["unrated"]["name"]
    docs = datadocs.build(tables.catalog, out, PAGE)
    parts = [sections.pipeline(tables), sections.quarantine(tables), sections.reliability(tables),
             sections.suppliers(tables, conf["top_chapters"], conf["suppliers_per_chapter"], unrated),
             sections.risk(tables, conf["newest_risk"]), sections.matches(evaluation), sections.quality(tables, docs)]
    meta = f"Lake {tables.lake.root}; written {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
    html, charts = page.render("tradematch run report", meta, parts)
    (out / PAGE).write_text(html)
    return out / PAGE, charts
