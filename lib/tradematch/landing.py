"""The landing contract shared by the generator, ingest and the evaluation.

Landing files live in landing/<entity>/batch=<YYYY-MM-DD>/ as CSV (header, comma, RFC 4180 quotes),
JSON lines or Parquet, with columns named as in schemas/landing/<entity>.json. A record is identified
by the hash of its raw text values, so the generator's ledger of dirty records can be matched with what
ingest quarantined without any truth column in a landing file.
"""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

ENTITIES = ("parties", "orders", "disputes", "reviews", "fx_rates", "rfqs", "risk_overrides")
REQUIRED = ("parties", "orders")
NULL_MARK, SEPARATOR = "\u0000", "\u001f"


def record_hash(columns: list[str]) -> Column:
    """sha2 of the record's raw string values in schema order; a missing value hashes as NULL_MARK."""
    return F.sha2(F.concat_ws(SEPARATOR, *[F.coalesce(F.col(f"`{c}`").cast("string"), F.lit(NULL_MARK))
                                           for c in columns]), 256)
