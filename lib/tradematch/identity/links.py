"""Candidate pairs -> field comparisons -> a match weight and the kinds of evidence that agreed.

Fellegi-Sunter in Spark SQL: each comparison's outcome (same, similar, different; null when a side has
no value) adds its weight from conf/identity.yaml (log2 Bayes factors), and a pair links when the sum
reaches `link_weight`. Only the kinds of evidence leave this module, never the values.
"""
from __future__ import annotations

from itertools import chain
from typing import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from tradematch.identity import COMPARISONS

_FIELDS = ("country", "city", "registered_on", "tax_id", "bank_account", "phone", "name", "email_domain",
           "address", "street")


def _exact(field: str) -> Column:
    left, right = F.col(f"l_{field}"), F.col(f"r_{field}")
    return F.when(left.isNull() | right.isNull(), F.lit(None)).when(left == right, "same").otherwise("different")


def outcomes(conf: dict) -> dict[str, Column]:
    """Comparison -> its outcome on a pair row holding l_<field> and r_<field>."""
    near = int(conf["name"]["similar_max_distance"])
    name = (F.when(F.col("l_name") == F.col("r_name"), "same")
            .when(F.levenshtein("l_name", "r_name", near) >= 0, "similar").otherwise("different"))
    address = F.when(_exact("address") == "same", "same").when(_exact("street") == "same", "same_street")
    out = {c: _exact(c) for c in COMPARISONS}
    out["name"] = F.when(_exact("name").isNotNull(), name)
    out["address"] = F.when(_exact("address").isNotNull(), F.coalesce(address, F.lit("different")))
    return out


def _weight(conf: dict, found: dict[str, Column]) -> Column:
    terms = []
    for comparison, outcome in found.items():
        table = F.create_map(*[F.lit(x) for x in chain.from_iterable(conf["comparisons"][comparison].items())])
        terms.append(F.coalesce(table[outcome], F.lit(0)).cast("double"))
    return sum(terms[1:], terms[0])


def _kinds(conf: dict, found: dict[str, Column]) -> Column:
    """The labels of the agreeing outcomes (conf evidence_kinds: a label for `same`, or one per outcome)."""
    labels = []
    for comparison, kinds in conf["evidence_kinds"].items():
        kinds = kinds if isinstance(kinds, dict) else {"same": kinds}
        labels += [F.when(found[comparison] == outcome, F.lit(label)) for outcome, label in kinds.items()]
    return F.array_compact(F.array(*labels))


def scored(normalised: DataFrame, conf: dict) -> Callable[[DataFrame], DataFrame]:
    """Candidate pairs -> (party_id, linked_party_id, match_weight, evidence, linked_on): every pair with
    its weight; linked_on is the day the later of the two registered (the link cannot exist before)."""
    def side(prefix: str, key: str) -> DataFrame:
        return normalised.select(F.col("party_id").alias(key), *[F.col(f).alias(f"{prefix}_{f}") for f in _FIELDS])

    def apply(pairs: DataFrame) -> DataFrame:
        rows = pairs.join(side("l", "party_id"), "party_id").join(side("r", "linked_party_id"), "linked_party_id")
        found = outcomes(conf)
        return rows.select("party_id", "linked_party_id", _weight(conf, found).alias("match_weight"),
                           _kinds(conf, found).alias("evidence"),
                           F.greatest("l_registered_on", "r_registered_on").alias("linked_on"))
    return apply


def linked(normalised: DataFrame, conf: dict) -> Callable[[DataFrame], DataFrame]:
    """Candidate pairs -> the scored pairs whose weight reaches link_weight."""
    bar = float(conf["link_weight"])
    return lambda pairs: pairs.transform(scored(normalised, conf)).where(F.col("match_weight") >= F.lit(bar))
