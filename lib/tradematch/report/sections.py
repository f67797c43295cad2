"""The report's sections: what each reads from the lake, aggregates in Spark and shows.

A section whose tables are not in the lake yet says so instead of showing a chart.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go

from tradematch.report import charts, data
from tradematch.tables import Tables


@dataclass
class Section:
    title: str
    text: str
    figures: list[go.Figure] = field(default_factory=list)
    html: str = ""


def _missing(tables: Tables, *names: str) -> str:
    absent = [n for n in names if not tables.exists(n)]
    return f"Not in the lake yet: {', '.join(absent)}." if absent else ""


def pipeline(tables: Tables) -> Section:
    title = "Pipeline status"
    text = ("Each job's newest run (job_runs): how long it took and whether it succeeded; the label is its quality "
            "gate: the suites validated in that run (dq_results) that passed, and warn-severity expectations that failed.")
    if gap := _missing(tables, "job_runs", "dq_results"):
        return Section(title, gap)
    rows = data.pipeline_status(tables.read("job_runs"), tables.read("dq_results")).collect()  # one row per job
    failed = [f"{r.job}: {r.error.splitlines()[0]}" for r in rows if r.error]
    as_of = max((r.as_of for r in rows if r.as_of), default=None)
    text = (f"As of {as_of}. " if as_of else "") + text + (" Failed: " + "; ".join(failed) if failed else "")
    return Section(title, text, [charts.pipeline_status(rows)])


def quarantine(tables: Tables) -> Section:
    title = "Quarantined records"
    text = "Landed records rejected by ingestion (silver quarantine), per batch and the first rule each broke."
    if gap := _missing(tables, "quarantine"):
        return Section(title, gap)
    rows = data.quarantine_counts(tables.read("quarantine")).collect()  # one row per batch and rule
    return Section(title, text if rows else "No record was quarantined.", [charts.quarantine(rows)] if rows else [])


def reliability(tables: Tables) -> Section:
    title = "Reliability"
    text = ("Scores per party, role and counterpart market (party_market_reliability, newest snapshot): whiskers at "
            "the 5th and 95th percentiles, the box from the 25th to the 75th; beside them the parties per tier.")
    if gap := _missing(tables, "party_market_reliability"):
        return Section(title, gap)
    pmr = tables.read("party_market_reliability")
    quantiles = data.score_quantiles(pmr).collect()  # one row per role and market
    tiers = data.tier_counts(pmr).collect()  # one row per role, market and tier
    return Section(title, text, [charts.reliability(quantiles, tiers)])


def suppliers(tables: Tables, top: int, per_chapter: int, unrated: str) -> Section:
    title = "Best and worst suppliers of the top chapters"
    text = (f"The {top} HS chapters with the most supplier GMV (party_market_monthly); in each, the {per_chapter} "
            "best and worst rated suppliers it is the peer chapter of (party_reliability, newest snapshot) and "
            "the measures that cost them most against their peers.")
    if gap := _missing(tables, "party_market_monthly", "party_reliability"):
        return Section(title, gap)
    chapters = data.top_chapters(tables.read("party_market_monthly"), top).localCheckpoint()
    rows = data.chapter_extremes(tables.read("party_reliability"), chapters, per_chapter, unrated).collect()  # <= 2 x per_chapter rows per chapter
    return Section(title, text, [charts.chapter_extremes(rows, chapters.collect())])  # chapters: `top` rows


def risk(tables: Tables, newest: int) -> Section:
    title = "Risk over time"
    text = ("Changes of risk state per month (risk_events), and the parties of the newest risk_status snapshot "
            f"that entered a state other than good last ({newest} at most), with the figures of each rule that fired.")
    if gap := _missing(tables, "risk_events", "risk_status"):
        return Section(title, gap)
    months = data.risk_by_month(tables.read("risk_events")).collect()  # one row per month and state
    parties = data.newest_risk(tables.read("risk_status"), newest).collect()  # `newest` rows at most
    figures = ([charts.risk_by_month(months)] if months else []) + ([charts.newest_risk(parties)] if parties else [])
    return Section(title, text if figures else "No party has left good standing.", figures)


def matches(evaluation: Path | None) -> Section:
    title = "Match quality"
    how = ("Run `tradematch evaluate --out FILE.json` and pass `--evaluation FILE.json` (or save it as "
           "evaluation.json in the report folder) to see it here.")
    if evaluation is None:
        return Section(title, "No evaluation report. " + how)
    matching = json.loads(evaluation.read_text()).get("matching", {})
    if "models" not in matching:
        return Section(title, f"{evaluation} has no matching figures ({matching.get('skipped', 'section absent')}). " + how)
    return Section(title, f"From {evaluation.name}: NDCG@{matching.get('k', 10)} and recall@{matching.get('k', 10)} of "
                   "tradematch's supplier_matches on a time split, against the baselines the evaluation ran.",
                   [charts.match_quality(matching)])


def quality(tables: Tables, docs: dict[str, str]) -> Section:
    title = "Data quality"
    text = ("Each table's newest validation (dq_results) and its Great Expectations suite: the links open the "
            "suite's Data Docs page, which works without internet.")
    links = "".join(f'<li><a href="{page}">{name}</a></li>' for name, page in sorted(docs.items()))
    html = f'<ul class="docs">{links}</ul>'
    if gap := _missing(tables, "dq_results"):
        return Section(title, f"{text} {gap}", html=html)
    rows = data.latest_validations(tables.read("dq_results")).collect()  # one row per table
    return Section(title, text, [charts.validations(rows)], html)
