"""The quarantine rules, as data: a named, ordered list of checks, each a column expression per entity.

A record is quarantined under the first rule it breaks and keeps the list of all it breaks. Their
parameters (limits, allowed values, reference lists, parents) come from the Policy. A record that
could not be parsed breaks malformed_record only: its other values mean nothing. Two rules look beyond
the record, at columns that settle.py adds first: LATER_COPY (an earlier landed record has the same
record_hash) and MISSING_PARENTS / GRACE_OVER (a parent has not landed, and the wait is over).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import Callable, Iterable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from tradematch.ingest.policy import Policy
from tradematch.ingest.values import blank, is_date, is_number, parse, raw
from tradematch.schema import TableSchema

LATER_COPY, MISSING_PARENTS, GRACE_OVER = "_later_copy", "_missing_parents", "_grace_over"
HS_CODE = r"^[0-9]{6}$"


@dataclass(frozen=True)
class Scope:
    """What a rule needs to know about one entity."""

    entity: str
    landing: TableSchema
    policy: Policy

    def type_of(self, column: str):
        return self.landing.struct[column].dataType

    def value(self, column: str) -> Column:
        return parse(column, self.type_of(column))

    def columns(self, entries) -> list[str]:
        return self.policy.of(self.entity, entries)


@dataclass(frozen=True)
class Rule:
    name: str
    broken: Callable[[Scope], Column | None]  # None: the rule does not apply to the entity


def _any(conditions: Iterable[Column | None]) -> Column | None:
    present = [c for c in conditions if c is not None]
    return reduce(lambda a, b: a | b, present) if present else None


def _unparsed(s: Scope, kind: Callable) -> Column | None:
    return _any(~blank(f.name) & s.value(f.name).isNull() for f in s.landing.struct.fields if kind(f.dataType))


def _outside(s: Scope, column: str, bounds: dict[str, float]) -> Column:
    v, checks = s.value(column), {"above": lambda v, x: v <= x, "at_least": lambda v, x: v < x,
                                  "at_most": lambda v, x: v > x}
    return _any(checks[kind](v, F.lit(x)) for kind, x in bounds.items())


def _not_in(s: Scope, entries, allowed) -> Column | None:
    return _any(~blank(c) & ~raw(c).isin(list(allowed)) for c in s.columns(entries))


def _impossible_dates(s: Scope) -> Column | None:
    before = _any(s.value(later) < s.value(first)
                  for first in s.columns(s.policy.not_before) for later in s.policy.not_before[f"{s.entity}.{first}"])
    planned = set(s.columns(s.policy.planned_dates))
    future = _any(F.to_date(s.value(f.name)) > F.col("batch") for f in s.landing.struct.fields
                  if is_date(f.dataType) and f.name not in planned)
    return _any([before, future])


def _bad_code(s: Scope) -> Column | None:
    hs = _any(~blank(c) & ~raw(c).rlike(HS_CODE) for c in s.columns(s.policy.hs_codes))
    codes = _any(~blank(c) & ~raw(c).isin(list(s.policy.codes[f"{s.entity}.{c}"])) for c in s.columns(s.policy.codes))
    ranges = _any(~s.value(c).between(*s.policy.ranges[f"{s.entity}.{c}"]) for c in s.columns(s.policy.ranges))
    return _any([hs, codes, ranges])


RULES: tuple[Rule, ...] = (
    Rule("malformed_record", lambda s: F.col("raw_record").isNotNull()),
    Rule("missing_required_field", lambda s: _any(blank(f.name) for f in s.landing.struct.fields if not f.nullable)),
    Rule("bad_number", lambda s: _unparsed(s, is_number)),
    Rule("bad_date", lambda s: _unparsed(s, is_date)),
    Rule("absurd_amount", lambda s: _any(_outside(s, c, s.policy.limits[f"{s.entity}.{c}"])
                                         for c in s.columns(s.policy.limits))),
    Rule("unknown_currency", lambda s: _not_in(s, s.policy.currencies, s.policy.currency_codes)),
    Rule("unknown_country", lambda s: _not_in(s, s.policy.countries, s.policy.country_codes)),
    Rule("impossible_dates", _impossible_dates),
    Rule("bad_code", _bad_code),
    Rule("duplicate_record", lambda s: F.col(LATER_COPY)),
    Rule("orphan_reference", lambda s: (F.size(MISSING_PARENTS) > 0) & F.col(GRACE_OVER)
         if s.entity in s.policy.parents else None),
)
RULE_NAMES = tuple(r.name for r in RULES)


def judge(scope: Scope) -> Callable[[DataFrame], DataFrame]:
    """Add `rules` (every rule broken, in order) and `rule` (the first, or null) to a frame of text columns."""
    malformed = RULES[0].broken(scope)
    flags = []
    for rule in RULES:
        cond = rule.broken(scope)
        if cond is not None:
            flags.append((cond if rule is RULES[0] else ~malformed & cond, F.lit(rule.name)))

    def apply(df: DataFrame) -> DataFrame:
        return df.withColumn("rules", holding(flags)).withColumn("rule", F.get(F.col("rules"), 0))
    return apply


def holding(flags: list[tuple[Column, Column]]) -> Column:
    """The array of the text values whose condition holds (a null condition does not), in order.

    Not F.filter(F.array(...)) on nulls: a higher-order function has no generated code, so Spark
    evaluates it, and every rule under it, row by row in its interpreter (1M order records: 20.3 s;
    10.7 s generated, with conf/env's spark.sql.codegen.hugeMethodLimit)."""
    none = F.array().cast("array<string>")
    if not flags:
        return none
    return F.concat(*[F.when(F.coalesce(cond, F.lit(False)), F.array(value)).otherwise(none) for cond, value in flags])
