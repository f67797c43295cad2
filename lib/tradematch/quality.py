"""Great Expectations suites kept as data (conf/quality/<table>.yaml) and run on Spark DataFrames.

A suite file lists expectations by their GE name with kwargs and a severity: `fail` blocks a publish,
`warn` is recorded and lets it through. The table's keys (from its schema file) are always checked for
uniqueness, so keys are written once. Every validation becomes a dq_results row.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from tradematch.schema import TableSchema

log = logging.getLogger(__name__)
SEVERITIES = ("fail", "warn")


class QualityGateFailed(RuntimeError):
    """A fail-severity expectation did not hold; nothing was published."""


@dataclass(frozen=True)
class Expectation:
    type: str
    kwargs: dict
    severity: str = "fail"


@dataclass
class Outcome:
    suite: str
    expectations: int
    failed: list[dict] = field(default_factory=list)

    @property
    def success(self) -> bool:
        """True when no fail-severity expectation failed (warnings are allowed through)."""
        return not any(f["severity"] == "fail" for f in self.failed)

    def summary(self) -> str:
        return "; ".join(f"{f['severity']}: {f['expectation']}({f['column'] or ''}) "
                         f"unexpected={f['unexpected_count']}" for f in self.failed) or "all passed"


def load_suite(schema: TableSchema, path: Path) -> tuple[Expectation, ...]:
    """The expectations of a table: its key uniqueness, then the suite file's entries."""
    if not path.is_file():
        raise FileNotFoundError(f"table '{schema.name}' has no quality suite at {path}")
    doc = yaml.safe_load(path.read_text()) or {}
    items = []
    if len(schema.keys) == 1:  # GE's compound check wants two or more columns
        items.append(Expectation("expect_column_values_to_be_unique", {"column": schema.keys[0]}))
    elif schema.keys:
        items.append(Expectation("expect_compound_columns_to_be_unique", {"column_list": list(schema.keys)}))
    for entry in doc.get("expectations", []):
        exp = Expectation(entry["type"], dict(entry.get("kwargs", {})), entry.get("severity", "fail"))
        if exp.severity not in SEVERITIES:
            raise ValueError(f"{path}: severity must be one of {SEVERITIES}, got {exp.severity!r}")
        missing = [c for c in _columns_named(exp.kwargs) if c not in schema.columns]
        if missing:
            raise ValueError(f"{path}: {exp.type} names columns not in the table: {missing}")
        items.append(exp)
    return tuple(items)


def _columns_named(kwargs: dict) -> list[str]:
    cols = [kwargs["column"]] if "column" in kwargs else []
    for key in ("column_list", "column_set"):
        cols += list(kwargs.get(key) or [])
    for key in ("column_A", "column_B"):
        if key in kwargs:
            cols.append(kwargs[key])
    return cols


def _gx_class(name: str):
    import great_expectations as gx

    cls = getattr(gx.expectations, "".join(part.capitalize() for part in name.split("_")), None)
    if cls is None:
        raise ValueError(f"unknown Great Expectations expectation '{name}'")
    return cls


def gx_suite(schema: TableSchema, path: Path, name: str):
    """The suite file as a GE ExpectationSuite (not yet added to a context), severities in each meta."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=name)
    for exp in load_suite(schema, path):
        suite.add_expectation(_gx_class(exp.type)(**exp.kwargs, meta={"severity": exp.severity}))
    return suite


@lru_cache(maxsize=1)
def context():
    """The process's one GE project (ephemeral, quiet) and its Spark data source: a second get_context()
    would replace GE's global project under validations already defined."""
    import great_expectations as gx

    for noisy in ("great_expectations", "py4j"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from great_expectations.data_context.types.base import ProgressBarsConfig

    ctx = gx.get_context(mode="ephemeral")
    ctx.variables.progress_bars = ProgressBarsConfig(globally=False)  # no tqdm bars in job logs
    # persist=False: GE would cache every validated frame and never release it; validate() caches its own
    return ctx, ctx.data_sources.add_spark(name="tradematch", persist=False)


_VALIDATIONS: dict[Path, tuple] = {}


def _validation(path: Path, schema: TableSchema):
    """One GE validation definition per suite file, built once per process."""
    if path in _VALIDATIONS:
        return _VALIDATIONS[path]
    import great_expectations as gx

    suite_name = f"{schema.name}_suite_{len(_VALIDATIONS)}"
    ctx, source = context()
    batch = source.add_dataframe_asset(name=suite_name).add_batch_definition_whole_dataframe("whole")
    suite = ctx.suites.add(gx_suite(schema, path, suite_name))
    definition = ctx.validation_definitions.add(gx.ValidationDefinition(name=suite_name, data=batch, suite=suite))
    _VALIDATIONS[path] = (definition, len(suite.expectations))
    return _VALIDATIONS[path]


def validate(df, schema: TableSchema, suite_file: Path, cache: bool = True) -> Outcome:
    """Run the table's suite on df (the table as it will be after a write).

    GE computes its metrics in several Spark jobs per expectation, so df is cached for the run unless
    `cache` is false (rows already in Parquet files, whose columns each job reads on its own). A first
    pass asks for success only (BOOLEAN_ONLY skips the unexpected-value lists and counts, half the jobs);
    only a suite with a failure is run again for the details that dq_results records.
    """
    definition, count = _validation(suite_file, schema)
    cached_here = cache and not df.is_cached
    if cached_here:
        df.persist()
    try:
        result = definition.run(batch_parameters={"dataframe": df}, result_format="BOOLEAN_ONLY")
        if not result.success:
            result = definition.run(batch_parameters={"dataframe": df}, result_format="SUMMARY")
    finally:
        if cached_here:
            df.unpersist()
    failed = []
    for res in result.results:
        if res.success:
            continue
        cfg = res.expectation_config
        details = res.result or {}
        failed.append({
            "expectation": cfg.type,
            "column": cfg.kwargs.get("column") or ",".join(cfg.kwargs.get("column_list") or []) or None,
            "severity": (cfg.meta or {}).get("severity", "fail"),
            "unexpected_count": int(details.get("unexpected_count") or 0),
            "details": str(res.exception_info.get("exception_message") or "")
            if getattr(res, "exception_info", None) and res.exception_info.get("raised_exception")
            else str(details.get("partial_unexpected_list", details.get("observed_value", "")))[:500],
        })
    outcome = Outcome(suite_file.stem, count, failed)
    log.info("quality %s on %s: %s", outcome.suite, schema.name, outcome.summary())
    return outcome


def dq_row(outcome: Outcome, table: str, version: int, run_id: str, job: str) -> dict:
    return {
        "validated_at": dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
        "run_id": run_id, "job": job, "table_name": table, "table_version": version,
        "suite": outcome.suite, "success": outcome.success, "expectations": outcome.expectations,
        "failed_expectations": outcome.failed,
    }
