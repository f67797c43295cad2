"""Merging a run's accepted records into silver, each table through write-audit-publish (Tables.publish).

For every key a run touches, the rows silver already holds are read back and merged with the new ones
(silver.latest picks the winner), so a late or out-of-order version lands in its place. New rates
re-price the orders and disputes dated on or after them.
"""
from __future__ import annotations

from functools import reduce

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tradematch.ingest.silver import (LINEAGE, hs_chapter, latest, order_month, rates_changed, to_usd,
                                      touched_by_rates, with_validity)
from tradematch.keys import batch_keys, few_keys
from tradematch.schema import TableSchema
from tradematch.tables import Tables

DERIVED = {"rfqs": hs_chapter}


def publish_accepted(tables: Tables, accepted: dict[str, DataFrame], landing: dict[str, TableSchema]) -> None:
    """accepted: entity -> typed rows (silver.typed) of the records accepted this run."""
    changed = None
    if "fx_rates" in accepted:
        _merge_latest(tables, "fx_rates", accepted["fx_rates"], [])
        changed = rates_changed(accepted["fx_rates"])
    if "parties" in accepted:
        _parties(tables, accepted["parties"])
    if "orders" in accepted or changed is not None:
        _orders(tables, accepted.get("orders"), landing["orders"], changed)
    if "disputes" in accepted or changed is not None:
        current = tables.read("disputes")
        cand = accepted.get("disputes", _empty(current, landing["disputes"]))
        refresh = touched_by_rates(current, changed, "currency", "opened_on") if changed is not None else None
        fx = tables.read("fx_rates")
        _merge_latest(tables, "disputes", cand, [], to_usd(fx, "claim_amount", "currency", "opened_on",
                                                           "claim_amount_usd"), refresh)
    for entity in ("reviews", "rfqs", "risk_overrides"):
        if entity in accepted:
            _merge_latest(tables, entity, accepted[entity], [], DERIVED.get(entity))


def _empty(current: DataFrame, landing: TableSchema) -> DataFrame:
    return current.select(*landing.columns, *LINEAGE).limit(0)


def _merge_latest(tables: Tables, table: str, cand: DataFrame, newest_first: list[str], derive=None,
                  refresh: DataFrame | None = None) -> None:
    """Merge the winners among silver's rows for the touched keys and the candidates (the newest
    version by `newest_first`, then by batch: entities without updated_at are versioned by batch)."""
    keys = list(tables.schema(table).keys)
    current = tables.read(table)
    touched = batch_keys(cand.select(*keys) if refresh is None
                         else cand.select(*keys).unionByName(refresh.select(*keys)))
    rows = (current.join(touched, keys, "left_semi").select(*cand.columns).unionByName(cand)
            .repartition(*keys).transform(latest(keys, newest_first)))  # one shuffle for both windows
    rows = rows.transform(derive) if derive else rows
    if not touched.isEmpty():  # no keys, no rows: decided on the keys, not by computing the rows twice
        tables.publish(table, rows, "merge")


def _parties(tables: Tables, cand: DataFrame) -> None:
    """parties (no PII) and party_identity (PII) from the same winning version."""
    identity = tables.read("party_identity").drop("updated_at", "batch")
    current = tables.read("parties").join(identity, "party_id")
    rows = (current.join(batch_keys(cand.select("party_id")), "party_id", "left_semi").select(*cand.columns)
            .unionByName(cand).transform(latest(["party_id"], ["updated_at"])))
    tables.publish("party_identity", rows, "merge")
    tables.publish("parties", rows, "merge")


def _orders(tables: Tables, cand: DataFrame | None, landing: TableSchema, changed: DataFrame | None) -> None:
    """Rebuild the history of every touched order (new versions, or a new rate for its date), then its
    current row from the history just published.

    Both tables are partitioned by order month, and a daily batch touches orders of a few months: its
    reads of the history and both merges keep to the months that hold a touched order's version, old or
    new (`_months`), so they cost what those months hold, not years of history."""
    history = tables.read("orders_history")
    base = [("valid_from" if c == "updated_at" else c) for c in landing.columns] + LINEAGE
    versions = cand.withColumnRenamed("updated_at", "valid_from").transform(order_month) if cand is not None else None
    ids = [versions.select("order_id")] if versions is not None else []
    since = changed.agg(F.min("since")).head()[0] if changed is not None else None  # a row per currency
    if since is not None:  # an order dated on or after `since` lies in its month or a later one
        dated = history.where(F.col("order_month") >= F.lit(since.replace(day=1)))
        ids.append(touched_by_rates(dated, changed, "currency", "order_date").select("order_id"))
    if not ids:
        return
    keys = reduce(DataFrame.unionByName, ids)
    few = few_keys(keys)  # a history batch touches every month: it reads them all without looking
    touched = few if few is not None else keys.distinct()
    if touched.isEmpty():  # no new version and no order a new rate re-prices
        return
    months = _months(history, few, versions) if few is not None else None
    held = F.col("order_month").isin(months) if months is not None else F.lit(True)
    known = history.where(held).join(touched, "order_id", "left_semi").select(*base)
    rows = (known.unionByName(versions.select(*base)) if versions is not None else known)
    # clustered by order once: every window below partitions by keys that hold order_id
    rows = (rows.repartition("order_id").transform(latest(["order_id", "valid_from"], [])).transform(with_validity)
            .transform(hs_chapter)
            .transform(order_month)
            .transform(to_usd(tables.read("fx_rates"), "amount", "currency", "order_date", "amount_usd")))
    target = None if months is None else F.col("t.order_month").isin(months)  # the rows each merge may match
    tables.publish("orders_history", rows, "merge", target)
    current = (tables.read("orders_history").where(held).join(touched, "order_id", "left_semi")
               .where(F.col("valid_to").isNull()).withColumnRenamed("valid_from", "updated_at"))
    tables.publish("orders", current, "merge", target)


def _months(history: DataFrame, touched: DataFrame, versions: DataFrame | None) -> list | None:
    """The months holding a version of a touched order, already in the history (a scan of its order ids
    alone) or new this run; None when a version lacks a month (a null partition: read everything)."""
    held = history.join(touched, "order_id", "left_semi").select("order_month")
    found = held.unionByName(versions.select("order_month")) if versions is not None else held
    months = [r.order_month for r in found.distinct().collect()]  # a row per month: a few dozen at most
    return None if None in months else months
