"""A DuckDB reference run of party_market_monthly, for the benchmark (issue 9): reference.duckdb_seconds
and reference.ratio (Spark time / DuckDB time).

`monthly_sql` is one DuckDB statement computing what `history.build(history, disputes, reviews, as_of,
lookback_months)` computes (a full build, every month), with CTEs named like the Spark functions.
`duckdb_monthly` runs it over the current Parquet files of the silver tables (listed with `deltalake`:
DuckDB's Delta extension cannot be downloaded here) and writes the result to Parquet. `same_rows`
checks the result against Spark's table with exceptAll both ways.

duckdb and deltalake are test/bench extras: imported inside the functions.
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
import time

from tradematch.history import _ORDER_COUNTS, _VOICE, COUNTS, KEYS, MONTHLY, _SIDE

# The 0/1 order counts of history._ORDER_COUNTS (outcomes.shipped_late / paid_late included), as SQL over
# one order version; null reads as 0, as coalesce(..., false) does in Spark. Same names, same order.
ORDER_COUNTS_SQL = {
    "orders": "TRUE",
    "shipped": "shipped_date IS NOT NULL",
    "shipped_on_time": "shipped_date <= promised_ship_date",
    "shipped_late": "shipped_date > promised_ship_date",  # outcomes.shipped_late
    "delivered": "delivered_date IS NOT NULL",
    "delivered_on_time": "delivered_date <= promised_delivery_date",
    "delivered_late": "delivered_date > promised_delivery_date",
    "cancelled_by_buyer": "status = 'cancelled_by_buyer'",
    "cancelled_by_supplier": "status = 'cancelled_by_supplier'",
    "defaults": "status = 'buyer_default'",
    "non_pickups": "status = 'not_picked_up'",
    "picked_up": "picked_up_date IS NOT NULL",
    "paid": "paid_date IS NOT NULL",
    "paid_late": "paid_date > payment_due_date",  # outcomes.paid_late
}
assert list(ORDER_COUNTS_SQL) == list(_ORDER_COUNTS), "ORDER_COUNTS_SQL must follow history._ORDER_COUNTS"

SILVER = ("orders_history", "disputes", "reviews")
# DuckDB's cap on its buffers, spilling beyond it to a temporary folder. The bench runs it beside the Spark driver
# (14 GB resident at 3M orders); at 10M orders DuckDB's default (80% of RAM) took 18.6 GB and the two ran the
# 24 GiB machine out of memory. Capped, it stays at 6.1 GB and takes 73 s instead of 56 s.
MEMORY_LIMIT = "6GB"
# the columns of each silver table the statement reads
_READS = {
    "orders_history": ["order_id", "buyer_id", "supplier_id", "hs_chapter", "origin_country", "destination_country",
                       "amount_usd", "order_date", "promised_ship_date", "shipped_date", "promised_delivery_date",
                       "delivered_date", "picked_up_date", "payment_due_date", "paid_date", "status",
                       "valid_from", "valid_to"],
    "disputes": ["order_id", "opened_by", "opened_on", "closed_on", "outcome"],
    "reviews": ["order_id", "reviewer_role", "complaint", "created_on"],
}


def _spoken_about(by: str) -> str:
    """The role of the party a review or dispute by `by` is about (history._spoken_about)."""
    return f"CASE {by} WHEN 'buyer' THEN 'supplier' WHEN 'supplier' THEN 'buyer' END"


def monthly_sql(as_of: dt.date, lookback_months: int) -> str:
    """One DuckDB statement: party_market_monthly as known at the as-of, every month, over relations
    named orders_history, disputes and reviews (views, tables or registered frames)."""
    as_of = dt.date.fromisoformat(str(as_of))
    lookback = int(lookback_months)
    day = f"DATE '{as_of.isoformat()}'"
    end = f"TIMESTAMP '{(as_of + dt.timedelta(days=1)).isoformat()} 00:00:00'"  # history.end_of
    keys = ", ".join(KEYS)
    flags = ",\n           ".join(f"coalesce({sql}, FALSE)::INTEGER AS {name}" for name, sql in ORDER_COUNTS_SQL.items())
    sides = "\n    UNION ALL\n".join(
        f"""    SELECT '{role}' AS role, {party} AS party_id, {other} AS counterpart_id, {market} AS market, hs_chapter,
           date_trunc('month', order_date)::DATE AS month, order_id, coalesce(amount_usd, 0) AS gmv_usd,
           {flags}
    FROM orders_as_of"""
        for role, (party, other, market) in _SIDE.items())
    voice_cols = ", ".join(f"coalesce(v.{c}, 0) AS {c}" for c in _VOICE)
    voice_sums = ", ".join(f"sum({c}) AS {c}" for c in _VOICE)
    totals = ",\n           ".join(f"sum({c})::BIGINT AS {c}" for c in [*_ORDER_COUNTS, *_VOICE])
    out_cols = ", ".join(["o." + k for k in KEYS] + ["gmv_usd", *COUNTS])
    join_keys = " AND ".join(f"o.{k} = c.{k}" for k in KEYS)
    return f"""
WITH
-- point in time (history.orders_as_of / disputes_as_of / reviews_as_of)
orders_as_of AS (
    SELECT * FROM orders_history
    WHERE valid_from < {end} AND (valid_to IS NULL OR valid_to >= {end})
),
disputes_as_of AS (
    SELECT order_id, opened_by, CASE WHEN closed_on <= {day} THEN outcome ELSE 'open' END AS outcome
    FROM disputes WHERE opened_on <= {day}
),
reviews_as_of AS (
    SELECT order_id, reviewer_role, complaint FROM reviews WHERE created_on <= {day}
),
-- the counterpart's voice per order and role of the party spoken about (history._voice holds the same
-- counts as one row per order, a column per role and count): the full join
-- of three tables unique on (order_id, role), with nulls read as 0, is their union summed per key
voice AS (
    SELECT order_id, role, {voice_sums}
    FROM (
        SELECT order_id, {_spoken_about('reviewer_role')} AS role,
               count(*) AS reviews, sum(complaint::INTEGER) AS complaints, 0 AS disputes_against, 0 AS disputes_lost
        FROM reviews_as_of GROUP BY order_id, reviewer_role
        UNION ALL
        SELECT order_id, {_spoken_about('opened_by')} AS role,
               0, 0, count(*), 0
        FROM disputes_as_of GROUP BY order_id, opened_by
        UNION ALL
        SELECT order_id, CASE outcome WHEN 'buyer_favoured' THEN 'supplier' WHEN 'supplier_favoured' THEN 'buyer' END AS role,
               0, 0, 0, count(*)
        FROM disputes_as_of WHERE outcome IN ('buyer_favoured', 'supplier_favoured') GROUP BY order_id, outcome
    )
    GROUP BY order_id, role
),
-- two rows per order, one per role, with every per-order count (history.party_orders)
per_role AS (
{sides}
),
party_orders AS (
    SELECT p.*, {voice_cols}
    FROM per_role p LEFT JOIN voice v ON p.order_id = v.order_id AND p.role = v.role
),
-- the distinct (party, role, counterpart, market, chapter, month) set with `repeat`, here by lag() (history.monthly: a range window)
pairs AS (
    SELECT DISTINCT party_id, role, counterpart_id, market, hs_chapter, month FROM party_orders
),
pair_months AS (
    SELECT DISTINCT party_id, role, counterpart_id, month FROM pairs
),
repeats AS (
    SELECT party_id, role, counterpart_id, month,
           coalesce(lag(month) OVER (PARTITION BY party_id, role, counterpart_id ORDER BY month)
                    >= (month - INTERVAL {lookback} MONTH)::DATE, FALSE)::INTEGER AS repeat
    FROM pair_months
),
counterpart_months AS (
    SELECT p.*, r.repeat
    FROM pairs p JOIN repeats r
      ON p.party_id = r.party_id AND p.role = r.role AND p.counterpart_id = r.counterpart_id AND p.month = r.month
),
-- history.monthly
order_totals AS (
    SELECT {keys}, sum(gmv_usd)::DECIMAL(20,2) AS gmv_usd,
           {totals}
    FROM party_orders GROUP BY {keys}
),
counterparts AS (
    SELECT {keys}, count(*)::BIGINT AS distinct_counterparts, sum(repeat)::BIGINT AS repeat_counterparts
    FROM counterpart_months GROUP BY {keys}
)
SELECT {out_cols}, {day} AS computed_as_of
FROM order_totals o JOIN counterparts c ON {join_keys}
"""


def silver_files(lake_root: str) -> dict:
    """Per silver table the statement reads, its current Parquet files, listed by deltalake. A table
    whose deletion vectors hide rows of those files (any of them after a daily MERGE)
    comes instead as its rows, read by deltalake's DataFusion reader, which applies them, into an Arrow
    table: DuckDB over the files would count the hidden rows. The bench's reference runs after the
    history batch, before any MERGE, so it reads files."""
    from deltalake import DeltaTable

    from tradematch.lake import Lake
    from tradematch.schema import Catalog

    lake, catalog = Lake(lake_root), Catalog()
    sources: dict = {}
    for name in SILVER:
        table = DeltaTable(lake.table_path(catalog.schema(name).layer, name))
        sources[name] = _visible_rows(table, _READS[name]) if _hides_rows(table) else table.file_uris()
    return sources


def _hides_rows(table) -> bool:
    """Whether deletion vectors hide rows of the table's current files: its rows as read (DataFusion
    applies deletion vectors) fall short of the rows its files hold (their Delta statistics)."""
    import pyarrow as pa
    from deltalake import QueryBuilder

    if "deletionVectors" not in (table.protocol().reader_features or []):
        return False
    held = sum(pa.table(table.get_add_actions(flatten=True)).column("num_records").to_pylist())
    read = pa.table(QueryBuilder().register("t", table).execute("SELECT count(*) AS n FROM t")).column("n")[0]
    return read.as_py() != held


def _visible_rows(table, columns: list[str]):
    import pyarrow as pa
    from deltalake import QueryBuilder

    cols = ", ".join(f'"{c}"' for c in columns)
    return pa.table(QueryBuilder().register("t", table).execute(f"SELECT {cols} FROM t"))


def _views(con, files: dict) -> None:
    """One view per silver table over its Parquet files (or its Arrow rows), with the columns the
    statement reads."""
    from tradematch.schema import Catalog

    for name in SILVER:
        if not isinstance(files[name], list):
            con.register(f"{name}_rows", files[name])
            cols, source = ", ".join(f'"{c}"' for c in _READS[name]), f"{name}_rows"
        elif files[name]:
            cols = ", ".join(f'"{c}"' for c in _READS[name])
            source = f"read_parquet({files[name]!r}, hive_partitioning = false, union_by_name = true)"
        else:  # an empty Delta table has no Parquet file: an empty relation of its columns
            types = {f.name: f.dataType.simpleString() for f in Catalog().schema(name).struct.fields}
            cols = ", ".join(f'CAST(NULL AS {types[c]}) AS "{c}"' for c in _READS[name])
            source = "(SELECT 1) WHERE FALSE"
        con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {cols} FROM {source}")


def duckdb_monthly(lake_root: str, as_of, lookback_months: int, out_path: str | None = None,
                   threads: int = 2) -> tuple[float, int]:
    """Compute party_market_monthly with DuckDB over the lake's current silver Parquet files and write it
    to one Parquet file at out_path (a temporary file, removed afterwards, if None): (wall seconds of the
    query and the write, rows written). Listing the files (or reading a table's rows: silver_files) and
    opening DuckDB are not timed."""
    return monthly_from_files(silver_files(lake_root), as_of, lookback_months, out_path, threads)


def monthly_from_files(files: dict, as_of, lookback_months: int, out_path: str | None = None,
                       threads: int = 2) -> tuple[float, int]:
    """duckdb_monthly over given Parquet files (or Arrow rows) per silver table ({"orders_history": [...], ...})."""
    import duckdb

    sql = monthly_sql(as_of, lookback_months)
    temp = None
    if out_path is None:
        fd, temp = tempfile.mkstemp(prefix=f"{MONTHLY}-", suffix=".parquet")
        os.close(fd)
        out_path = temp
    try:
        with tempfile.TemporaryDirectory(prefix="tradematch-duckdb-spill-") as spill, duckdb.connect(
                config={"threads": int(threads), "memory_limit": MEMORY_LIMIT, "temp_directory": spill}) as con:
            con.execute("SET TimeZone = 'UTC'")
            _views(con, files)
            start = time.perf_counter()
            rows = con.execute(f"COPY ({sql}) TO '{_sql_str(str(out_path))}' (FORMAT parquet)").fetchone()[0]
            seconds = time.perf_counter() - start
    finally:
        if temp:
            os.remove(temp)
    return seconds, int(rows)


def same_rows(spark, spark_df, parquet_path: str, ignore: tuple[str, ...] = ("computed_as_of",),
              examples: int = 3) -> list[str]:
    """Differences between a Spark DataFrame of party_market_monthly and the DuckDB output at
    parquet_path (read by Spark, cast to the DataFrame's types), by exceptAll both ways: [] when they
    hold the same rows (duplicates counted). Only counts and a few example rows reach the driver."""
    from pyspark.sql import functions as F

    expected = [f for f in spark_df.schema.fields if f.name not in ignore]
    ours = spark.read.parquet(parquet_path)
    missing = [f.name for f in expected if f.name not in ours.columns]
    if missing:
        return [f"DuckDB output lacks columns {missing}"]
    left = spark_df.select([F.col(f.name) for f in expected])
    right = ours.select([F.col(f.name).cast(f.dataType).alias(f.name) for f in expected])
    problems = []
    for label, a, b in (("only in Spark", left, right), ("only in DuckDB", right, left)):
        extra = a.exceptAll(b).cache()
        n = extra.count()
        if n:
            shown = "; ".join(str(r.asDict()) for r in extra.limit(examples).collect())  # `examples` rows at most
            problems.append(f"{n} rows {label}, e.g. {shown}")
        extra.unpersist()
    return problems


def _sql_str(text: str) -> str:
    return text.replace("'", "''")
