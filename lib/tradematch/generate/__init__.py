"""A synthetic cross-border B2B world with known truth (`tradematch generate`).

Landing files go to landing/<entity>/batch=<date>/, the truth to truth/ (Delta). Rows come from
spark.range and seeded hashes, so the world is the same for the same seed and scale on any number of
cores, and nothing loops over rows on the driver.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import reduce

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from tradematch.generate import landing_files as L
from tradematch.generate import orders as O
from tradematch.generate import records as R
from tradematch.generate import truth as TR
from tradematch.generate.config import config_hash, load_config
from tradematch.generate.parties import World, businesses, day_to_date, identities
from tradematch.lake import Lake, LakeError
from tradematch.tables import Tables

log = logging.getLogger(__name__)
EPOCH = dt.date(1970, 1, 1)
ROWS_PER_ORDER = {"orders": 6.0, "reviews": 1.0}  # landed records per order, to size the files


def _checkpoint(spark: SparkSession, lake: Lake, name: str, df: DataFrame) -> DataFrame:
    """Materialise a frame in the lake's scratch area, so later steps read it instead of recomputing."""
    start = time.monotonic()
    path = lake.path("_scratch", "generate", name)
    df.write.mode("overwrite").parquet(path)
    log.info("generate: %s in %.1fs", name, time.monotonic() - start)
    return spark.read.parquet(path)


def generate_world(spark: SparkSession, tables: Tables, *, orders: int, seed: int, as_of: dt.date,
                   years: int = 5, dirty_rate: float = 0.0, daily_batches: int = 3, cfg: dict | None = None) -> dict:
    """Write landing files and truth for `orders` orders over `years` ending at `as_of`."""
    lake = tables.lake
    if lake.landed_batches(spark):
        raise LakeError(f"{lake.landing('')} already holds landed batches: generate into a new --lake")
    if orders < 100 or years < 1 or not 0 <= dirty_rate < 0.5 or daily_batches < 0:
        raise ValueError("generate needs --orders >= 100, --years >= 1, 0 <= --dirty-rate < 0.5, --daily-batches >= 0")
    cfg = cfg or load_config()
    end_day = (as_of - EPOCH).days
    w = World(seed, cfg, end_day - years * 365, end_day, orders)
    history_day = end_day - daily_batches
    history_batch = (EPOCH + dt.timedelta(days=history_day)).isoformat()

    suppliers = _checkpoint(spark, lake, "suppliers", businesses(spark, w, "supplier"))
    days, buckets = O.calendar(spark, w)
    buyers = _checkpoint(spark, lake, "buyers", O.active_window(w, businesses(spark, w, "buyer"), days))
    fx = _checkpoint(spark, lake, "fx", R.fx_rates(spark, w))
    sup_ch = O.supplier_chapters(w, suppliers)
    tickets, sizes = O.ticket_pools(w, sup_ch)
    tickets = _checkpoint(spark, lake, "tickets", tickets)
    sizes = _checkpoint(spark, lake, "pool_sizes", sizes)
    bc = _checkpoint(spark, lake, "buyer_chapters", O.buyer_chapters(spark, w, buyers, O.chapter_clusters(spark, w)))
    regs = _checkpoint(spark, lake, "regulars", O.regulars(w, bc, tickets, sizes, suppliers))
    slots = O.order_slots(w, buyers, buckets, bc)
    picks = O.choose_suppliers(w, slots, bc, regs, tickets, sizes)
    facts = _checkpoint(spark, lake, "order_facts", O.outcomes(w, O.settle_supplier(w, picks, suppliers),
                                                                buyers, suppliers, fx))
    n_facts = facts.count()
    log.info("generate: %d order facts written", n_facts)

    biz = suppliers.unionByName(buyers, allowMissingColumns=True)
    needs = bc.groupBy("biz").agg(F.collect_list(F.struct("chapter", "adopt_day", "base_weight", "is_new")).alias("needs"))
    entities = {
        "parties": R.parties(w, identities(w, biz)),
        "orders": R.order_versions(w, facts),
        "disputes": L.latest_per_batch(R.disputes(w, facts), "dispute_id", history_day),
        "reviews": R.reviews(w, facts),
        "fx_rates": fx.where(F.col("day") <= end_day).select(
            day_to_date(F.col("day")).alias("rate_date"), "currency", "usd_per_unit", F.col("day").alias("known_day")),
        "rfqs": L.latest_per_batch(R.rfqs(w, buyers, needs), "rfq_id", history_day),
        "risk_overrides": R.overrides(w, biz),
    }
    ledgers, hashes, rows = [], {}, {}
    for entity, records in entities.items():
        start = time.monotonic()
        schema = tables.catalog.landing(entity)
        # computed once: the write, the dirt ledger and the fingerprint all read the persisted text
        text = L.to_text(L.with_batches(records, history_day), schema).persist(StorageLevel.MEMORY_AND_DISK)
        landed, ledger = L.add_dirt(w, entity, schema, text, dirty_rate, history_batch)
        L.write_entity(lake, entity, schema, landed, history_batch, daily_batches + 1,
                       int(n_facts * ROWS_PER_ORDER.get(entity, 0.2)))
        if ledger is not None:
            ledgers.append(_checkpoint(spark, lake, f"ledger_{entity}", ledger))
        hashes[entity], rows[entity] = L.content_hash(landed, schema.columns)
        text.unpersist()
        log.info("generate: %s: %d records landed in %.1fs", entity, rows[entity], time.monotonic() - start)

    truth = {
        "dirty_records": reduce(DataFrame.unionByName, ledgers) if ledgers else
        spark.createDataFrame([], tables.schema("dirty_records").struct),
        "party_truth": TR.party_truth(w, biz),
        "evader_links": TR.evader_links(w, biz),
        "buyer_tastes": TR.buyer_tastes(w, buyers, bc, regs, suppliers),
        "buyer_top_suppliers": TR.top_suppliers(w, buyers, bc, regs, tickets, sizes, suppliers),
    }
    # independent tables, a few at a time: the small ones' fixed costs (job set-up, Delta commits)
    # overlap the big ones' work instead of adding up
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda name: tables.overwrite(name, truth[name]), truth))
    summary = {
        "as_of": as_of, "seed": seed, "orders_requested": orders, "orders_generated": n_facts, "years": years,
        "dirty_rate": float(dirty_rate), "daily_batches": daily_batches,
        "history_batch": dt.date.fromisoformat(history_batch),
        "cutoff": as_of - dt.timedelta(days=cfg["time"]["history_cutoff_days"]),
        "config_hash": config_hash(cfg), "content_hashes": hashes, "landed_rows": rows,
    }
    tables.overwrite("world", tables.rows("world", [summary]))
    lake.remove(lake.path("_scratch", "generate"), spark)
    return summary
