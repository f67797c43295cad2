"""Matching: for each buyer and need the top K suppliers, for each supplier the top K buyers, for each
open RFQ the top K suppliers, with scores and reasons in plain words. Policy is in conf/matching.yaml.

needs.py:      what each buyer needs (the chapters it buys, similar chapters, open RFQs);
candidates.py: suppliers per need by blocking (never buyer x supplier);
score.py:      scores, risk, newcomer slots, top K, reasons;
buyers.py:     buyer_matches;
job.py:        `tradematch job matching`.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from tradematch.settings import SettingsError, project_root

CONF = Path("conf") / "matching.yaml"
_REQUIRED = {"affinity": ("half_life_days", "dispute_weight", "complaint_weight"),
             "similarity": ("measure", "min_buyers", "top"),
             "matching": ("k", "rfq_open_days", "similar_need_weight", "max_similar_needs", "rfq_need_weight",
                          "pool_top", "market_top", "repeat_share", "cluster_prior", "reliability_power",
                          "unscored_score", "experience_orders", "experience_weight", "risk_factor",
                          "newcomer_months", "newcomer_min_score", "newcomer_share", "buyer_pool_top")}


def load_conf(root: Path | None = None) -> dict:
    """conf/matching.yaml under the project root, with its keys checked."""
    file = Path(root or project_root()) / CONF
    doc = yaml.safe_load(file.read_text()) or {}
    for part, keys in _REQUIRED.items():
        missing = [k for k in keys if k not in (doc.get(part) or {})]
        if missing:
            raise SettingsError(f"{file}: {part} lacks {missing}")
    if doc["similarity"]["measure"] not in ("jaccard", "lift"):
        raise SettingsError(f"{file}: similarity.measure must be jaccard or lift")
    return doc
