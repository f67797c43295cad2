"""Seeded random draws as Spark column expressions.

Every draw is a hash of (seed, salt, keys), so a value depends only on what it is about, never on
row order, partitioning or the number of cores: the same seed gives the same world on local[1] and
local[2]. No Python runs per row.
"""
from __future__ import annotations

import math

from pyspark.sql import Column
from pyspark.sql import functions as F

_MASK = (1 << 53) - 1


def _key(k) -> Column:
    return k if isinstance(k, Column) else F.lit(k)


def uniform(seed: int, salt: str, *keys) -> Column:
    """U[0, 1) from a 53-bit slice of xxhash64(seed, salt, keys)."""
    h = F.xxhash64(F.lit(seed), F.lit(salt), *[_key(k) for k in keys])
    return h.bitwiseAND(F.lit(_MASK)) / float(1 << 53)


def between(seed: int, salt: str, lo: float, hi: float, *keys) -> Column:
    return F.lit(lo) + uniform(seed, salt, *keys) * (hi - lo)


def int_between(seed: int, salt: str, lo: int, hi: int, *keys) -> Column:
    """An integer in [lo, hi], both ends included."""
    return F.floor(F.lit(lo) + uniform(seed, salt, *keys) * (hi - lo + 1)).cast("int")


def normal(seed: int, salt: str, *keys) -> Column:
    """N(0, 1) by Box-Muller from two independent uniforms."""
    u1 = F.lit(1.0) - uniform(seed, salt + ":a", *keys)
    u2 = uniform(seed, salt + ":b", *keys)
    return F.sqrt(F.lit(-2.0) * F.log(u1)) * F.cos(F.lit(2 * math.pi) * u2)


def lognormal(seed: int, salt: str, sigma: float, *keys) -> Column:
    """Mean-one lognormal: exp(sigma z - sigma^2 / 2)."""
    return F.exp(F.lit(sigma) * normal(seed, salt, *keys) - F.lit(sigma * sigma / 2))


def exponential(seed: int, salt: str, mean: float, *keys) -> Column:
    return F.lit(-mean) * F.log(F.lit(1.0) - uniform(seed, salt, *keys))


def pick(u: Column, weights: dict) -> Column:
    """The key of `weights` whose cumulative interval holds u (a small, fixed list)."""
    total = float(sum(weights.values()))
    expr, cum = None, 0.0
    items = list(weights.items())
    for i, (name, w) in enumerate(items):
        cum += w / total
        cond = u < cum if i < len(items) - 1 else F.lit(True)
        expr = F.when(cond, F.lit(name)) if expr is None else expr.when(cond, F.lit(name))
    return expr


def choose(u: Column, values: list) -> Column:
    """values[floor(u * len)] for a small literal list."""
    return F.element_at(F.array(*[F.lit(v) for v in values]), (F.floor(u * len(values)) + 1).cast("int"))


def hex_id(prefix: str, seed: int, salt: str, width: int, *keys) -> Column:
    """A random-looking id: prefix + `width` upper-case hex digits of sha2(seed, salt, keys)."""
    text = F.concat_ws("|", F.lit(str(seed)), F.lit(salt), *[_key(k).cast("string") for k in keys])
    return F.concat(F.lit(prefix), F.upper(F.substring(F.sha2(text, 256), 1, width)))


def literal_map(mapping: dict) -> Column:
    """A small Python dict as a Spark map literal, for lookups by column value."""
    return F.create_map(*[F.lit(x) for kv in mapping.items() for x in kv])


def hs_code(cfg: dict, chapter: Column, u: Column) -> Column:
    """One of the chapter's six-digit codes (conf hs_codes), drawn by u."""
    codes = F.create_map(*[x for ch, cs in cfg["hs_codes"].items() for x in (F.lit(ch), F.array(*map(F.lit, cs)))])
    return F.element_at(codes[chapter], (F.floor(u * F.size(codes[chapter])) + 1).cast("int"))
