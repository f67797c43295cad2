"""The run report: its Spark aggregates on tiny hand-made frames, then the whole page written from the
pipeline's lake and opened in a real headless Chromium (every chart drawn, no error logged, a screenshot
saved next to the report), with the Great Expectations Data Docs it links to."""
import datetime as dt
import json
import re
import shutil
import subprocess

import pytest
from chispa import assert_df_equality

from tradematch.report import data, write_report
from tradematch.schema import Catalog
from tradematch.tables import Tables

T = dt.datetime.fromisoformat
D = dt.date.fromisoformat
CHROMIUM = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000"]


def test_pipeline_status_takes_each_jobs_newest_run_and_its_quality_gate(spark, lake):
    tables = Tables(spark, lake)
    runs = tables.rows("job_runs", [
        {"run_id": "r1", "job": "ingest", "started_at": T("2026-11-20T01:00:00"), "finished_at": T("2026-11-20T01:00:10"),
         "duration_seconds": 10.0, "outcome": "success", "rows_written": {"orders": 5, "parties": 2}},
        {"run_id": "r1", "job": "history", "started_at": T("2026-11-20T01:00:10"), "finished_at": T("2026-11-20T01:00:14"),
         "duration_seconds": 4.0, "outcome": "success", "rows_written": {"party_market_monthly": 7}},
        {"run_id": "r2", "job": "ingest", "started_at": T("2026-11-21T01:00:00"), "finished_at": T("2026-11-21T01:00:03"),
         "duration_seconds": 3.0, "outcome": "failed", "rows_written": {}, "error": "quality gate failed"},
    ])
    warn = {"expectation": "e", "column": "c", "severity": "warn", "unexpected_count": 1, "details": ""}
    fail = {**warn, "severity": "fail"}
    dq = tables.rows("dq_results", [
        {"validated_at": T("2026-11-20T01:00:05"), "run_id": "r1", "job": "ingest", "table_name": "orders",
         "table_version": 1, "suite": "orders", "success": True, "expectations": 3, "failed_expectations": [warn]},
        {"validated_at": T("2026-11-20T01:00:12"), "run_id": "r1", "job": "history", "table_name": "party_market_monthly",
         "table_version": 1, "suite": "party_market_monthly", "success": True, "expectations": 2, "failed_expectations": []},
        {"validated_at": T("2026-11-21T01:00:02"), "run_id": "r2", "job": "ingest", "table_name": "orders",
         "table_version": 2, "suite": "orders", "success": False, "expectations": 3, "failed_expectations": [fail, warn]},
        {"validated_at": T("2026-11-21T01:00:02"), "run_id": "r2", "job": "ingest", "table_name": "parties",
         "table_version": 2, "suite": "parties", "success": True, "expectations": 2, "failed_expectations": None},
    ])
    actual = data.pipeline_status(runs, dq).select("job", "run_id", "outcome", "duration_seconds", "rows_written",
                                                   "validations", "gates_failed", "warnings", "error")
    expected = spark.createDataFrame([("history", "r1", "success", 4.0, 7, 1, 0, 0, None),
                                      ("ingest", "r2", "failed", 3.0, 0, 2, 1, 1, "quality gate failed")], actual.schema)
    assert_df_equality(actual, expected, ignore_nullable=True)
    newest = data.latest_validations(dq).select("table_name", "table_version", "success", "failed", "warned")
    assert [tuple(r) for r in newest.collect()] == [("orders", 2, False, 1, 1), ("parties", 2, True, 0, 0),
                                                    ("party_market_monthly", 1, True, 0, 0)]


def test_chapter_extremes_lists_best_and_worst_rated_suppliers_of_the_newest_snapshot(spark):
    cols = ["as_of", "party_id", "role", "peer_chapter", "score", "tier", "reasons"]
    rel = spark.createDataFrame([
        (D("2026-11-13"), "S9", "supplier", "94", 99.9, "gold", []),          # an older snapshot: ignored
        (D("2026-11-20"), "S1", "supplier", "94", 98.0, "gold", []),
        (D("2026-11-20"), "S2", "supplier", "94", 90.0, "silver", ["complaints"]),
        (D("2026-11-20"), "S3", "supplier", "94", 80.0, "watch", ["late shipments", "disputes lost"]),
        (D("2026-11-20"), "S4", "supplier", "94", 99.0, "unrated", []),       # thin evidence: not ranked
        (D("2026-11-20"), "B1", "buyer", "94", 99.5, "gold", []),             # a buyer: not a supplier
        (D("2026-11-20"), "S5", "supplier", "61", 95.0, "gold", ["late deliveries"]),  # alone: best only
        (D("2026-11-20"), "S6", "supplier", "85", 70.0, "watch", []),         # not a top chapter
    ], cols)
    chapters = spark.createDataFrame([("94", 1e6), ("61", 5e5)], ["hs_chapter", "gmv_usd"])
    actual = data.chapter_extremes(rel, chapters, 1, "unrated")
    expected = spark.createDataFrame([("61", "best", 1, "S5", 95.0, "gold", "late deliveries"),
                                      ("94", "best", 1, "S1", 98.0, "gold", ""),
                                      ("94", "worst", 1, "S3", 80.0, "watch", "late shipments; disputes lost")],
                                     actual.schema)
    assert_df_equality(actual, expected, ignore_nullable=True)


def _chromium(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("chromium")
    assert exe, "Debian's chromium is not installed: scripts/test installs it (apt-get install chromium)"
    return subprocess.run([exe, *CHROMIUM, *args], capture_output=True, text=True, timeout=300, check=True)


def _console(stderr: str) -> list[str]:
    """What the page logged (errors, exceptions): Chromium writes each console message as a CONSOLE line."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def test_the_page_shows_and_marks_a_script_error(tmp_path):
    """The marker the browser test reads does catch a broken page: one chart drawn, one error shown."""
    import plotly.graph_objects as go

    from tradematch.report.page import render
    from tradematch.report.sections import Section

    html, charts = render("t", "m", [Section("s", "one chart", [go.Figure(go.Bar(y=[1, 2]))])])
    broken = tmp_path / "broken.html"
    broken.write_text(html.replace("</body>", "<script>undefinedFunction();</script></body>"))
    dom = _chromium("--dump-dom", broken.as_uri()).stdout
    assert charts == ["chart-1"] and 'data-rendered="chart-1"' in dom and 'data-errors="1"' in dom
    assert re.search(r'<pre id="page-errors">error: Uncaught ReferenceError: undefinedFunction', dom)


EVALUATION = {"matching": {"k": 10, "cutoff": "2026-05-24", "models": {
    "tradematch": {"ndcg_at_10": 0.26, "recall_at_10": 0.27}, "popularity": {"ndcg_at_10": 0.07, "recall_at_10": 0.09},
    "oracle": {"ndcg_at_10": 0.35, "recall_at_10": 0.38}},
    "new_needs": {"models": {"tradematch": {"ndcg_at_10": 0.05, "recall_at_10": 0.08},
                             "popularity": {"ndcg_at_10": 0.02, "recall_at_10": 0.04}}}}}


@pytest.fixture(scope="module")
def report(spark, pipeline_lake, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    (out / "evaluation.json").write_text(json.dumps(EVALUATION))  # the default --evaluation
    page, charts = write_report(Tables(spark, pipeline_lake), out)
    return out, page, charts


def test_report_renders_every_chart_in_headless_chromium_without_errors(report):
    out, page, charts = report
    html = page.read_text()
    assert not re.search(r'<script[^>]+src=|<link[^>]+href=', html), "every script and style is inlined"
    for title in ("Pipeline status", "Quarantined records", "Reliability", "Best and worst suppliers",
                  "Risk over time", "Match quality", "Data quality"):
        assert f"<h2>{title}" in html
    assert "Not in the lake yet" not in html and "No evaluation report" not in html
    assert len(charts) >= 6  # pipeline, reliability, suppliers, risk, match quality, validations at least

    dom = _chromium("--dump-dom", page.as_uri())
    status = re.search(r'<p id="render-status"([^>]*)>', dom.stdout).group(1)
    assert f'data-charts="{len(charts)}"' in status
    assert f'data-rendered="{" ".join(charts)}"' in status, status  # each chart div holds plotly's .main-svg
    assert 'data-errors="0"' in status
    assert re.search(r'<pre id="page-errors" hidden="">\s*</pre>', dom.stdout)
    assert dom.stdout.count('class="main-svg"') >= len(charts)
    assert _console(dom.stderr) == []

    shot = out / "report.png"
    _chromium("--hide-scrollbars", "--window-size=1280,6400", f"--screenshot={shot}", page.as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


def test_report_links_data_docs_for_every_suite_readable_offline(report):
    out, page, _ = report
    catalog = Catalog()
    suites = sorted(n for n in catalog.schemas() if catalog.suite_file(n).is_file())
    html = page.read_text()
    for name in suites:
        link = f"data_docs/expectations/{name}.html"
        assert f'href="{link}"' in html
        doc = (out / link).read_text()
        assert not re.search(r'src="https?://|<link[^>]+href="https?://', doc), name  # nothing loaded from the network
        assert 'href="../../report.html"' in doc
    opened = _chromium("--dump-dom", (out / "data_docs/expectations/orders.html").as_uri())
    assert "values must be unique" in opened.stdout  # rendered server-side: readable without any script
    assert _console(opened.stderr) == []
