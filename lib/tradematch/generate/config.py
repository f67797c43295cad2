"""The generator's frozen configuration (conf/generator.yaml) and its hash."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from tradematch.settings import project_root


def load_config(path: Path | None = None) -> dict:
    path = path or project_root() / "conf" / "generator.yaml"
    return yaml.safe_load(path.read_text())


def config_hash(cfg: dict) -> str:
    """sha256 of the canonical JSON of the config: which world a figure was measured on."""
    return hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
