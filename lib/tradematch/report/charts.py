"""Plotly figures from the report's small aggregates (lists of Rows collected from data.py's results)."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

OUTCOME_COLOURS = {"success": "#2ca02c", "failed": "#d62728"}
TIER_COLOURS = {"gold": "#d4af37", "silver": "#a0a0a0", "bronze": "#b0703c", "watch": "#d62728", "unrated": "#d9d9d9"}
STATE_COLOURS = {"good": "#2ca02c", "warning": "#ffbf00", "demoted": "#ff7f0e", "blacklisted": "#d62728"}
ROLES = ("supplier", "buyer")


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    return fig.update_layout(title=title, height=height, margin={"l": 60, "r": 20, "t": 60, "b": 50},
                             template="plotly_white", legend={"orientation": "h", "y": -0.15})


def _table(header: list[str], columns: list[list], widths: list[float], title: str, height: int) -> go.Figure:
    fig = go.Figure(go.Table(columnwidth=widths,
                             header={"values": [f"<b>{h}</b>" for h in header], "align": "left", "fill_color": "#e8eef7"},
                             cells={"values": columns, "align": "left", "height": 26}))
    return _layout(fig, title, height)


def pipeline_status(rows) -> go.Figure:
    """Seconds per job, coloured by outcome, labelled with the job's quality gate."""
    fig = go.Figure()
    for outcome in sorted({r.outcome for r in rows}):
        mine = [r for r in rows if r.outcome == outcome]
        fig.add_bar(y=[r.job for r in mine], x=[r.duration_seconds for r in mine], orientation="h", name=outcome,
                    marker_color=OUTCOME_COLOURS.get(outcome, "#7f7f7f"),
                    text=[_gate(r) for r in mine], textposition="auto",
                    customdata=[[r.rows_written, r.run_id, str(r.started_at)] for r in mine],
                    hovertemplate="%{y}: %{x:.1f} s<br>%{customdata[0]:,} rows written<br>run %{customdata[1]}"
                                  "<br>started %{customdata[2]}<extra></extra>")
    fig.update_yaxes(categoryorder="array", categoryarray=[r.job for r in reversed(rows)])
    fig.update_xaxes(title="seconds")
    return _layout(fig, "Newest run of each job: duration and quality gate", 120 + 40 * len(rows))


def _gate(r) -> str:
    if not r.validations:
        return "no suite"
    gate = f"{r.validations - r.gates_failed}/{r.validations} suites passed"
    return gate + (f", {r.warnings} warnings" if r.warnings else "")


def quarantine(rows) -> go.Figure:
    """Records quarantined per batch, stacked by the first rule each broke."""
    fig = go.Figure()
    for rule in sorted({r.rule for r in rows}):
        mine = [r for r in rows if r.rule == rule]
        fig.add_bar(x=[str(r.batch) for r in mine], y=[r.records for r in mine], name=rule)
    fig.update_layout(barmode="stack")
    fig.update_xaxes(type="category", categoryorder="category ascending", title="landing batch")
    fig.update_yaxes(title="records quarantined")
    return _layout(fig, "Records quarantined per batch and rule")


def reliability(quantiles, tiers) -> go.Figure:
    """Per role: score distribution per market (5/25/50/75/95th percentiles) and tier counts per market."""
    fig = make_subplots(rows=2, cols=2, column_widths=[0.55, 0.45], horizontal_spacing=0.08, vertical_spacing=0.18,
                        subplot_titles=[f"{role}s: {what}" for role in ROLES
                                        for what in ("score per market", "tiers per market")])
    names = {r.tier for r in tiers}
    tier_names = [t for t in TIER_COLOURS if t in names] + sorted(names - set(TIER_COLOURS))
    for i, role in enumerate(ROLES, start=1):
        qs = [r for r in quantiles if r.role == role]
        fig.add_trace(go.Box(x=[r.market for r in qs], lowerfence=[r.q[0] for r in qs], q1=[r.q[1] for r in qs],
                             median=[r.q[2] for r in qs], q3=[r.q[3] for r in qs], upperfence=[r.q[4] for r in qs],
                             name=f"{role} score", showlegend=False, marker_color="#1f77b4",
                             hovertext=[f"{r.parties} parties" for r in qs]), row=i, col=1)
        for tier in tier_names:
            ts = [r for r in tiers if r.role == role and r.tier == tier]
            fig.add_trace(go.Bar(x=[r.market for r in ts], y=[r.parties for r in ts], name=tier, legendgroup=tier,
                                 showlegend=i == 1, marker_color=TIER_COLOURS.get(tier, "#7f7f7f")), row=i, col=2)
        fig.update_yaxes(title_text="score (0-100)", row=i, col=1)
        fig.update_yaxes(title_text="parties", row=i, col=2)
    fig.update_layout(barmode="stack")
    return _layout(fig, "Reliability per role and counterpart market (newest snapshot)", 760)



def chapter_extremes(rows, chapters) -> go.Figure:
    """The best and worst rated suppliers of the top chapters, with the reasons their scores give."""
    gmv = {c.hs_chapter: c.gmv_usd for c in chapters}
    cols = [[f"{r.hs_chapter} (${gmv.get(r.hs_chapter, 0):,.0f})" for r in rows], [f"{r.side} {r.place}" for r in rows],
            [r.party_id for r in rows], [r.score for r in rows], [r.tier for r in rows], [r.reasons or "-" for r in rows]]
    return _table(["HS chapter (supplier GMV)", "place", "supplier", "score", "tier", "reasons"], cols,
                  [1.6, 0.7, 1.1, 0.5, 0.6, 5], "Best and worst rated suppliers of the top chapters", 140 + 34 * len(rows))


def risk_by_month(rows) -> go.Figure:
    """Changes of risk state per month, stacked by the state entered."""
    fig = go.Figure()
    for state in [s for s in STATE_COLOURS if any(r.to_state == s for r in rows)]:
        mine = [r for r in rows if r.to_state == state]
        fig.add_bar(x=[r.month.strftime("%Y-%m") for r in mine], y=[r.events for r in mine], name=f"to {state}",
                    marker_color=STATE_COLOURS[state])
    fig.update_layout(barmode="stack")
    fig.update_xaxes(type="category", categoryorder="category ascending", title="month the change was seen")
    fig.update_yaxes(title="changes of state")
    return _layout(fig, "Risk: warnings, demotions, blacklists and recoveries per month")


def newest_risk(rows) -> go.Figure:
    """The parties that entered a risk state last, with the figures behind it."""
    cols = [[r.party_id for r in rows], [r.role for r in rows], [r.state for r in rows], [r.points for r in rows],
            [str(r.since) for r in rows], [str(r.review_on or "-") for r in rows],
            [r.evidence or f"{r.decided_by}: {r.override_reason or 'manual decision'}" for r in rows]]
    return _table(["party", "role", "state", "points", "since", "review on", "evidence"], cols,
                  [1.1, 0.6, 0.8, 0.5, 0.8, 0.8, 6], "Newest risk states and their evidence", 140 + 60 * len(rows))


def validations(rows) -> go.Figure:
    """Each table's newest validation: expectations passed, failed with warn severity, failed with fail."""
    fig = go.Figure()
    names = [r.table_name for r in rows]
    for label, values, colour in (
            ("passed", [r.expectations - r.failed - r.warned for r in rows], "#2ca02c"),
            ("failed (warn)", [r.warned for r in rows], "#ffbf00"),
            ("failed (fail: not published)", [r.failed for r in rows], "#d62728")):
        fig.add_bar(y=names, x=values, orientation="h", name=label, marker_color=colour)
    fig.update_layout(barmode="stack")
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(names)))
    fig.update_xaxes(title="expectations")
    return _layout(fig, "Newest validation of each table", 140 + 26 * len(rows))


def match_quality(matching: dict) -> go.Figure:
    """NDCG@k and recall@k of tradematch and the baselines, for all needs and for needs new to the buyer."""
    k = matching.get("k", 10)
    fig = make_subplots(rows=1, cols=2, subplot_titles=["all needs", "needs the buyer never had"])
    for col, models in enumerate((matching.get("models", {}), matching.get("new_needs", {}).get("models", {})), start=1):
        names = list(models)
        for metric, colour in ((f"ndcg_at_{k}", "#1f77b4"), (f"recall_at_{k}", "#ff7f0e")):
            fig.add_trace(go.Bar(x=names, y=[models[m].get(metric) for m in names], name=metric.replace("_at_", "@"),
                                 legendgroup=metric, showlegend=col == 1, marker_color=colour), row=1, col=col)
    return _layout(fig, f"Match quality against the baselines (cutoff {matching.get('cutoff', '?')})")
