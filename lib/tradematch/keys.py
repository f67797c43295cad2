"""The keys a batch touches, made ready to filter a big table with.

A daily batch touches a few thousand keys of tables that hold millions of rows (bronze, silver, the
order history a monthly run reads). Joined as usual, Spark shuffles the big table by key: adaptive
execution turns the join into a broadcast only after both sides were shuffled. Hinted for broadcast, the
big table is scanned and filtered where it lies. A history batch touches about as many keys as the table
holds, too many to broadcast and costly to set aside, so those are left to an ordinary join.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# about 10-20 MB of string keys on the driver and each executor: far above a daily batch, far below a
# history batch of a million orders
BROADCAST_MAX_ROWS = 200_000


def _few(keys: DataFrame, max_rows: int) -> bool:
    """At most `max_rows` rows: counted before any distinct, and stopped early on a big batch."""
    return keys.limit(max_rows + 1).count() <= max_rows


def few_keys(keys: DataFrame, max_rows: int = BROADCAST_MAX_ROWS) -> DataFrame | None:
    """The distinct keys, checkpointed and hinted for broadcast, when there are at most `max_rows` rows;
    else None. The keys' lineage (often a scan of a big table) runs once: the first rows up to one past
    the limit are set aside, then counted and made distinct from there."""
    head = keys.limit(max_rows + 1).localCheckpoint()
    return F.broadcast(head.distinct().localCheckpoint()) if head.count() <= max_rows else None


def batch_keys(keys: DataFrame, max_rows: int = BROADCAST_MAX_ROWS) -> DataFrame:
    """The distinct keys: few, checkpointed and hinted for broadcast; many, left lazy for an ordinary join."""
    few = few_keys(keys, max_rows)
    return few if few is not None else keys.distinct()


def lookup(rows: DataFrame, max_rows: int = BROADCAST_MAX_ROWS) -> DataFrame:
    """A narrow table that a big frame looks values up in, computed once (checkpointed): hinted for
    broadcast when it has few rows, so the big frame is joined where it lies instead of being shuffled."""
    kept = rows.localCheckpoint()
    return F.broadcast(kept) if _few(kept, max_rows) else kept


def among_batch_keys(table: DataFrame, keys: DataFrame, on: list[str],
                     max_rows: int = BROADCAST_MAX_ROWS, keep: bool = False) -> DataFrame:
    """The table's rows whose `on` columns are among the batch's keys when these are few; the whole table
    when they are many, which the caller joins with the batch anyway (filtering first reads it twice more).
    keep: the few rows found are checkpointed, for a caller that reads them more than once."""
    few = few_keys(keys, max_rows)
    if few is None:
        return table
    rows = table.join(few, on, "left_semi")
    return rows.localCheckpoint() if keep else rows
