"""`tradematch backtest --from DATE --to DATE --step 7d`: the policy replayed over history, point in
time (each as-of sees orders_history, disputes, reviews and overrides as known then), into a scratch
folder of the lake (never the published gold tables), with a JSON summary to judge a policy change.

The replay is one pass: every order version is expanded to the as-ofs it is valid and in the window at,
so its cost grows with orders x as-ofs in the long window, not with a rescan of silver per as-of.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tradematch.risk import events as E
from tradematch.risk.evidence import evidence, order_facts
from tradematch.risk.policy import STATES, load_policy
from tradematch.risk.job import party_links
from tradematch.risk.status import active_overrides, scored, since_over_steps, with_links, with_overrides


def parse_step(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+)\s*([dw]?)\s*", text)
    if not m or int(m[1]) <= 0:
        raise ValueError(f"step must look like 7d or 1w, got {text!r}")
    return int(m[1]) * (7 if m[2] == "w" else 1)


def as_ofs(start: dt.date, end: dt.date, step_days: int) -> list[dt.date]:
    """Every step_days from `end` back to `start` (the last as-of is `end` itself), oldest first."""
    if start > end:
        raise ValueError(f"--from {start} is after --to {end}")
    days, day = [], end
    while day >= start:
        days.append(day)
        day -= dt.timedelta(days=step_days)
    return days[::-1]


def replay(tables, policy: dict, steps: list[dt.date], step_days: int, parties: DataFrame | None = None) -> DataFrame:
    """risk_status rows (plus previous_state) at every as-of of the replay; a party without a row at an
    as-of is good then. `parties` (party_id), when given, limits the replay to them (a party's state
    depends only on its own record and on the parties it is linked to, so pass both)."""
    facts = tables.read("orders_history").transform(order_facts(tables.read("disputes"), tables.read("reviews")))
    overrides, links = tables.read("risk_overrides"), party_links(tables)
    if parties is not None:
        facts, overrides = facts.join(parties, "party_id", "left_semi"), overrides.join(parties, "party_id", "left_semi")
    return (facts.transform(evidence(steps, policy)).transform(scored(policy))
            .transform(with_overrides(overrides.transform(active_overrides(steps)), policy))
            .transform(with_links(links, policy)).transform(since_over_steps(step_days, policy)))


def backtest(tables, start: dt.date, end: dt.date, step_days: int, run_id: str, out: Path | None = None) -> dict:
    policy = load_policy(tables.catalog.root)
    steps = as_ofs(start, end, step_days)
    scratch = tables.lake.path("_scratch", "backtest", run_id)
    status = replay(tables, policy, steps, step_days)
    status.write.mode("overwrite").partitionBy("as_of").parquet(f"{scratch}/risk_status")
    status = tables.spark.read.parquet(f"{scratch}/risk_status")
    events = E.replay_changes(status)
    events.write.mode("overwrite").parquet(f"{scratch}/risk_events")
    events = tables.spark.read.parquet(f"{scratch}/risk_events")
    per_step = {str(r["as_of"]): {s: int(r[s] or 0) for s in STATES[1:]}
                for r in status.groupBy("as_of").pivot("state", list(STATES[1:])).count().orderBy("as_of").collect()}  # a row per step
    moves = {f"{r['from_state']}->{r['to_state']}": int(r["count"])
             for r in events.groupBy("from_state", "to_state").count().collect()}  # <= 16 moves
    summary = {
        "from": start.isoformat(), "to": end.isoformat(), "step_days": step_days, "as_ofs": len(steps),
        "policy_sha256": hashlib.sha256((tables.catalog.root / "conf" / "policy.yaml").read_bytes()).hexdigest()[:16],
        "scratch": scratch, "states_per_as_of": per_step, "events": moves,
        "events_total": sum(moves.values()),
    }
    if tables.exists("party_truth"):
        from tradematch.evaluate.risk import measures

        summary["against_truth"] = measures(tables, status, policy, steps[0], end)
    out = out or Path(tables.lake.local_root / "_scratch" / "backtest" / run_id / "summary.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    summary["summary_file"] = str(out)
    out.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str) + "\n")
    return summary
