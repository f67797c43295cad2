"""Accepted records -> silver rows: typed, one winner per key, versions with validity, USD, HS chapter.

Every transform is order-free: the winner for a key is the newest version (updated_at where the entity
has one, then the latest batch, then record_hash as a fixed tie-break), and copies of the same content
count once, as the copy that landed first. So merging what a run accepts into what silver holds gives
the same table whatever order the batches came in.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from tradematch.ingest.values import field, parse
from tradematch.schema import TableSchema

Transform = Callable[[DataFrame], DataFrame]
LINEAGE = ["batch", "record_hash"]


def typed(landing: TableSchema) -> Transform:
    """Text fields -> the landing schema's types, plus lineage (batch, record_hash)."""
    def apply(df: DataFrame) -> DataFrame:
        text = df.select(*[field(c).alias(c) for c in landing.columns], *LINEAGE)
        return text.select(*[parse(f.name, f.dataType).alias(f.name) for f in landing.struct.fields], *LINEAGE)
    return apply


def latest(keys: list[str], newest_first: list[str]) -> Transform:
    """One row per key: the newest version; identical copies collapse into the first batch they landed in."""
    def apply(df: DataFrame) -> DataFrame:
        copies = Window.partitionBy(*keys, "record_hash")
        order = [*[F.col(c).desc() for c in newest_first], F.col("batch").desc(), F.col("record_hash").desc()]
        return (df.withColumn("batch", F.min("batch").over(copies))
                .withColumn("_n", F.row_number().over(Window.partitionBy(*keys).orderBy(*order)))
                .where(F.col("_n") == 1).drop("_n"))
    return apply


def with_validity(df: DataFrame) -> DataFrame:
    """valid_to = the next version's valid_from (null for the current version)."""
    return df.withColumn("valid_to", F.lead("valid_from").over(Window.partitionBy("order_id").orderBy("valid_from")))


def hs_chapter(df: DataFrame) -> DataFrame:
    return df.withColumn("hs_chapter", F.substring("hs_code", 1, 2))


def order_month(df: DataFrame) -> DataFrame:
    """The partition of orders and their history: new versions are mostly of recent orders."""
    return df.withColumn("order_month", F.trunc("order_date", "month"))


def to_usd(fx: DataFrame, amount: str, currency: str, day: str, out: str) -> Transform:
    """out = amount in USD at the latest rate of its currency on or before `day` (USD is 1; null when unknown).

    The rates are laid out as a calendar: a row per currency and day from its first known rate to its
    last, holding the latest rate on or before that day; a day after the last takes the last. The calendar
    grows with currencies and days, not with the rows priced, so it is broadcast: the rows are neither
    shuffled nor computed a second time to find the days they need.
    """
    def apply(df: DataFrame) -> DataFrame:
        known = fx.select(F.col("currency").alias("_c"), F.col("rate_date").alias("_d"),
                          F.col("usd_per_unit").alias("_rate"))
        spans = known.groupBy("_c").agg(F.min("_d").alias("_first"), F.max("_d").alias("_last"))
        line = Window.partitionBy("_c").orderBy("_d").rowsBetween(Window.unboundedPreceding, Window.currentRow)
        calendar = (spans.select("_c", F.explode(F.sequence("_first", "_last")).alias("_d"))
                    .join(known, ["_c", "_d"], "left")
                    .select("_c", "_d", F.last("_rate", ignorenulls=True).over(line).alias("_rate")))
        on_day = F.least(F.col(day), F.col("_last"))
        joined = (df.join(F.broadcast(spans.select(F.col("_c").alias("_lc"), "_last")),
                          F.col(currency) == F.col("_lc"), "left")
                  .join(F.broadcast(calendar), (F.col(currency) == F.col("_c")) & (on_day == F.col("_d")), "left"))
        rate = F.when(F.col(currency) == "USD", F.lit(1.0)).otherwise(F.col("_rate"))
        usd = F.round(F.col(amount).cast("double") * rate, 2).try_cast("decimal(18,2)")
        return joined.withColumn(out, usd).drop("_lc", "_last", "_c", "_d", "_rate")
    return apply


def rates_changed(fx_accepted: DataFrame) -> DataFrame:
    """(currency, since): the earliest date whose rate this run may have changed, per currency."""
    return fx_accepted.groupBy("currency").agg(F.min("rate_date").alias("since"))


def touched_by_rates(df: DataFrame, changed: DataFrame, currency: str, day: str) -> DataFrame:
    """Rows whose USD amount a changed rate may move: same currency, dated on or after the change."""
    since = F.broadcast(changed.select(F.col("currency").alias("_cc"), "since"))
    return df.join(since, (F.col(currency) == F.col("_cc")) & (F.col(day) >= F.col("since")), "left_semi")


def valid_at(moment: dt.datetime | Column) -> Transform:
    """orders_history as it was known at a moment: the version valid then, per order."""
    at = moment if isinstance(moment, Column) else F.lit(moment).cast("timestamp")

    def apply(history: DataFrame) -> DataFrame:
        return history.where((F.col("valid_from") <= at) & (F.col("valid_to").isNull() | (F.col("valid_to") > at)))
    return apply
