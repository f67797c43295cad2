"""Typed settings from conf/env/<env>.yaml plus --set overrides.

Every key is checked at start so a typo or a bad value stops the run before anything is written,
with a message that names the key and the file it came from.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml


class SettingsError(ValueError):
    """A configuration problem, reported before any work starts."""


def project_root() -> Path:
    """The folder holding conf/ and schemas/: $TRADEMATCH_HOME, else the copy inside an installed wheel,
    else the source checkout."""
    env = os.environ.get("TRADEMATCH_HOME")
    if env:
        return Path(env).resolve()
    packaged = _packaged_root()
    if packaged:
        return packaged
    here = Path(__file__).resolve()
    for candidate in (*here.parents, Path.cwd(), *Path.cwd().parents):
        if (candidate / "conf" / "env").is_dir() and (candidate / "schemas").is_dir():
            return candidate
    raise SettingsError(
        "cannot find the project folder (conf/env and schemas/): set TRADEMATCH_HOME to it"
    )


PACKAGED = "_project"  # the wheel carries conf/ and schemas/ under tradematch/_project/ (scripts/submit)


def _packaged_root() -> Path | None:
    """conf/ and schemas/ shipped in the wheel; unzipped once per wheel content when the package is
    imported from the zip itself, as spark-submit --py-files does on the driver and the executors."""
    inside = Path(__file__).resolve().parent / PACKAGED
    if inside.is_dir():
        return inside
    archive = getattr(__loader__, "archive", None)  # set when imported by zipimport
    if not archive:
        return None
    prefix = f"{__package__}/{PACKAGED}/"
    with zipfile.ZipFile(archive) as wheel:
        members = [m for m in wheel.infolist() if m.filename.startswith(prefix)]
        if not members:
            return None
        digest = hashlib.sha256(repr([(m.filename, m.CRC) for m in members]).encode()).hexdigest()[:16]
        target = Path(tempfile.gettempdir()) / f"tradematch-{digest}"
        if not target.is_dir():
            scratch = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=target.parent))
            wheel.extractall(scratch, members)
            try:
                scratch.rename(target)
            except OSError:  # another process on this node unzipped it first
                shutil.rmtree(scratch, ignore_errors=True)
    return target / prefix


@dataclass(frozen=True)
class Settings:
    """One environment's settings; `spark` holds the spark.* keys that pass through to Spark."""

    lake: str
    master: str | None
    jars_dir: str | None
    log_level: str
    lock_stale_after_minutes: int
    staging_keep_failed: bool
    vacuum_retention_hours: int
    spark: dict[str, str] = field(default_factory=dict)
    env: str = "local"
    source: str = ""

    def lake_uri(self) -> str:
        """The lake root as an absolute path or URI (relative paths hang off the project root)."""
        if "://" in self.lake or self.lake.startswith("/"):
            return self.lake.rstrip("/")
        return str((project_root() / self.lake).resolve())

    def jars_path(self) -> Path | None:
        if not self.jars_dir:
            return None
        path = Path(self.jars_dir)
        return path if path.is_absolute() else project_root() / path


_TYPED = {f.name: f for f in fields(Settings) if f.name not in ("spark", "env", "source")}
_LOG_LEVELS = {"ALL", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "OFF"}


def _coerce(key: str, value: Any, where: str) -> Any:
    kind = _TYPED[key].type
    nullable = "None" in kind
    if value is None:
        if nullable:
            return None
        raise SettingsError(f"{where}: key '{key}' must not be empty")
    if kind.startswith("int"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise SettingsError(f"{where}: key '{key}' must be a whole number >= 0, got {value!r}")
    elif kind.startswith("bool"):
        if not isinstance(value, bool):
            raise SettingsError(f"{where}: key '{key}' must be true or false, got {value!r}")
    elif not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{where}: key '{key}' must be a non-empty string, got {value!r}")
    if key == "log_level" and value not in _LOG_LEVELS:
        raise SettingsError(f"{where}: key 'log_level' must be one of {sorted(_LOG_LEVELS)}, got {value!r}")
    return value


def _spark_value(key: str, value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)) and str(value).strip():
        return str(value)
    raise SettingsError(f"{where}: key '{key}' must be a scalar Spark setting, got {value!r}")


def _apply(values: dict[str, Any], spark: dict[str, str], raw: dict[str, Any], where: str) -> None:
    for key, value in raw.items():
        if not isinstance(key, str):
            raise SettingsError(f"{where}: key {key!r} is not a string")
        if key.startswith("spark."):
            spark[key] = _spark_value(key, value, where)
        elif key in _TYPED:
            values[key] = _coerce(key, value, where)
        else:
            known = ", ".join(sorted(_TYPED)) + ", spark.*"
            raise SettingsError(f"{where}: unknown key '{key}' (known: {known})")


def parse_override(text: str) -> tuple[str, Any]:
    """'key=value' -> (key, YAML-typed value), so --set lock_stale_after_minutes=5 is an int."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SettingsError(f"--set {text!r}: expected key=value")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed


def load_settings(env: str = "local", overrides: list[str] | None = None,
                  conf_dir: Path | None = None) -> Settings:
    """Read conf/env/<env>.yaml, apply --set overrides, and check every key."""
    conf_dir = conf_dir or project_root() / "conf"
    path = conf_dir / "env" / f"{env}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in (conf_dir / "env").glob("*.yaml"))
        raise SettingsError(f"unknown environment '{env}': no file {path} (available: {available})")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise SettingsError(f"{path}: expected a mapping of key: value")
    values: dict[str, Any] = {}
    spark: dict[str, str] = {}
    _apply(values, spark, raw, str(path))
    missing = sorted(set(_TYPED) - set(values))
    if missing:
        raise SettingsError(f"{path}: missing key '{missing[0]}'" +
                            (f" (and {', '.join(missing[1:])})" if missing[1:] else ""))
    for text in overrides or []:
        key, value = parse_override(text)
        _apply(values, spark, {key: value}, f"--set {key}")
    return Settings(**values, spark=spark, env=env, source=str(path))


def with_overrides(settings: Settings, **changes: Any) -> Settings:
    """A copy with typed fields changed, checked like any other source."""
    for key, value in changes.items():
        _coerce(key, value, "override")
    return dataclasses.replace(settings, **changes)
