"""The ingest policy (conf/ingest.yaml) and the ISO reference lists (conf/reference/), read once per run.

Columns in the policy are written entity.column, so one file states every check on every entity.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import yaml

from tradematch.settings import SettingsError, project_root


@dataclass(frozen=True)
class Policy:
    pending_grace_days: int
    max_quarantine_share: float
    min_batch_records: int
    limits: dict[str, dict[str, float]]
    currencies: tuple[str, ...]
    countries: tuple[str, ...]
    not_before: dict[str, tuple[str, ...]]
    planned_dates: tuple[str, ...]
    hs_codes: tuple[str, ...]
    codes: dict[str, tuple[str, ...]]
    ranges: dict[str, tuple[int, int]]
    parents: dict[str, dict[str, str]]
    currency_codes: tuple[str, ...]
    country_codes: tuple[str, ...]

    def of(self, entity: str, entries) -> list[str]:
        """The column names among entity.column entries (a list, or a dict's keys) that belong to entity."""
        prefix = entity + "."
        return [e[len(prefix):] for e in entries if e.startswith(prefix)]


def _codes(file: Path) -> tuple[str, ...]:
    with file.open(newline="") as handle:
        return tuple(row["code"] for row in csv.DictReader(handle))


def load_policy(root: Path | None = None) -> Policy:
    """conf/ingest.yaml and conf/reference/*.csv under the project root (or a test's copy of it)."""
    conf = Path(root or project_root()) / "conf"
    path = conf / "ingest.yaml"
    try:
        doc = yaml.safe_load(path.read_text())
        return Policy(
            pending_grace_days=int(doc["pending_grace_days"]),
            max_quarantine_share=float(doc["max_quarantine_share"]),
            min_batch_records=int(doc["min_batch_records"]),
            limits={k: {b: float(v) for b, v in bounds.items()} for k, bounds in doc["limits"].items()},
            currencies=tuple(doc["currencies"]), countries=tuple(doc["countries"]),
            not_before={k: tuple(v) for k, v in doc["not_before"].items()},
            planned_dates=tuple(doc["planned_dates"]), hs_codes=tuple(doc["hs_codes"]),
            codes={k: tuple(str(x) for x in v) for k, v in doc["codes"].items()},
            ranges={k: (int(v[0]), int(v[1])) for k, v in doc["ranges"].items()},
            parents={k: dict(v) for k, v in doc["parents"].items()},
            currency_codes=_codes(conf / "reference" / "currencies.csv"),
            country_codes=_codes(conf / "reference" / "countries.csv"),
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise SettingsError(f"{path}: cannot read the ingest policy: {exc!r}") from exc
