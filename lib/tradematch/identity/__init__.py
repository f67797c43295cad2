"""Identity: which party ids are the same business, so a blacklisted business that registers again under
a new id does not start with a clean record. Policy (weights, blocking, name words) is conf/identity.yaml.

keys.py:   normalised identity fields and candidate pairs by blocking (never a parties x parties product);
links.py:  field comparisons -> match weight and evidence kinds -> links over the bar;
groups.py: a canonical id per linked group (connected components);
job.py:    `tradematch job identity` (silver party_identity, restricted -> gold party_links, no PII).
"""
from __future__ import annotations

from pathlib import Path

import yaml

from tradematch.settings import SettingsError, project_root

CONF = Path("conf") / "identity.yaml"
COMPARISONS = ("tax_id", "bank_account", "phone", "name", "email_domain", "address", "city", "country")


def load_conf(root: Path | None = None) -> dict:
    """conf/identity.yaml under the project root, with its keys checked."""
    file = Path(root or project_root()) / CONF
    doc = yaml.safe_load(file.read_text()) or {}
    missing = [k for k in ("link_weight", "blocking", "name", "comparisons", "evidence_kinds", "max_rounds")
               if k not in doc]
    if missing:
        raise SettingsError(f"{file}: missing keys {missing}")
    if set(doc["comparisons"]) != set(COMPARISONS):
        raise SettingsError(f"{file}: comparisons must be exactly {list(COMPARISONS)}")
    unknown = set(doc["evidence_kinds"]) - set(COMPARISONS)
    if unknown:
        raise SettingsError(f"{file}: evidence_kinds for unknown comparisons {sorted(unknown)}")
    return doc
