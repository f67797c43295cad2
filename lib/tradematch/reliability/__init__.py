"""Reliability: time-decayed evidence per party, empirical-Bayes shrinkage per peer group, a 0-100 score,
its components, a confidence, a tier (or `unrated`) and the top reasons. Policy is in conf/reliability.yaml.

evidence.py: decayed sums of the monthly counts, rolled forward from the last snapshot;
score.py:    measures, priors, posteriors, components, score, tier, reasons;
job.py:      `tradematch job reliability`.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from tradematch.settings import SettingsError, project_root

CONF = Path("conf") / "reliability.yaml"
_REQUIRED = ("half_life_days", "repeat_lookback_months", "stability_window_months", "prior", "measures", "tiers",
             "below_tiers", "unrated", "reasons")


def load_conf(root: Path | None = None) -> dict:
    """conf/reliability.yaml under the project root, with its keys checked."""
    file = Path(root or project_root()) / CONF
    doc = yaml.safe_load(file.read_text()) or {}
    missing = [k for k in _REQUIRED if k not in doc]
    if missing:
        raise SettingsError(f"{file}: missing keys {missing}")
    for name, m in doc["measures"].items():
        absent = [k for k in ("roles", "component", "weight", "words", "events", "trials") if k not in m]
        if absent:
            raise SettingsError(f"{file}: measure '{name}' lacks {absent}")
    return doc
