"""conf/policy.yaml: windows, ladder and rules, checked on load."""
from __future__ import annotations

from pathlib import Path

import yaml

from tradematch.outcomes import ROLES
from tradematch.settings import SettingsError, project_root

CONF = Path("conf") / "policy.yaml"
STATES = ("good", "warning", "demoted", "blacklisted")
# per-order fault flags a rule may count (evidence.py computes them)
FLAGS = ("bad", "known", "orders", "shipped_late", "cancelled", "complaint", "dispute_lost", "defaulted",
         "paid_late", "not_picked_up", "contract_breach", "ship_overdue", "payment_overdue")
_RULE_KEYS = ("code", "roles", "window", "events", "trials", "min_cases", "min_rate", "points", "words")


def load_policy(root: Path | None = None) -> dict:
    """conf/policy.yaml under the project root, with its keys checked."""
    file = Path(root or project_root()) / CONF
    doc = yaml.safe_load(file.read_text()) or {}
    return check(doc, str(file))


def check(doc: dict, where: str = "policy") -> dict:
    missing = [k for k in ("windows", "ladder", "rules", "overrides", "links") if k not in doc]
    if missing:
        raise SettingsError(f"{where}: missing keys {missing}")
    for link in doc["links"]:
        absent = [k for k in ("code", "from_states", "lookback_days", "floor", "words") if k not in link]
        if absent or not set(link["from_states"]) <= set(STATES[1:]) or link["floor"] not in STATES[1:]:
            raise SettingsError(f"{where}: links rule {link.get('code')}: needs {absent or 'known states'} "
                                "(from_states and floor above good)")
    if [r["state"] for r in doc["ladder"]] != list(STATES[1:]):
        raise SettingsError(f"{where}: ladder must list {list(STATES[1:])} in order")
    points = [r["min_points"] for r in doc["ladder"]]
    if points != sorted(points):
        raise SettingsError(f"{where}: ladder min_points must grow")
    codes = set()
    for rule in doc["rules"]:
        absent = [k for k in _RULE_KEYS if k not in rule]
        if absent:
            raise SettingsError(f"{where}: rule {rule.get('code')} lacks {absent}")
        bad = [f for f in [*rule["events"], rule["trials"]] if f not in FLAGS]
        if bad or rule["window"] not in ("short", "long") or not set(rule["roles"]) <= set(ROLES):
            raise SettingsError(f"{where}: rule {rule['code']}: unknown flags {bad}, window or roles")
        if rule["code"] in codes:
            raise SettingsError(f"{where}: rule {rule['code']} twice")
        codes.add(rule["code"])
    for link in doc["links"]:  # a link's code must tell it apart from the party's own rules
        if link["code"] in codes:
            raise SettingsError(f"{where}: links rule {link['code']} reuses a code")
        codes.add(link["code"])
    return doc


def window_days(policy: dict, window: str) -> int:
    return int(policy["windows"][f"{window}_days"])
