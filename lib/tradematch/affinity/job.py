"""The affinity job (`tradematch job affinity`): silver orders_history, disputes and reviews as known at the
as-of -> buyer_supplier_affinity (rolled forward from the newest earlier snapshot), buyer_cluster_affinity
and chapter_similarity, each a snapshot for the as-of that a rerun replaces."""
from __future__ import annotations

from pyspark.sql import functions as F

from tradematch.affinity import strength
from tradematch.affinity.similarity import chapter_similarity
from tradematch.matching import load_conf

AFFINITY, CLUSTERS, SIMILARITY = "buyer_supplier_affinity", "buyer_cluster_affinity", "chapter_similarity"


def run(ctx) -> None:
    tables, notes = ctx.tables, ctx.run.notes
    conf = load_conf(tables.catalog.root)
    as_of = ctx.as_of or ctx.lake.newest_batch_date(ctx.spark)
    where = f"as_of = DATE'{as_of.isoformat()}'"
    history, disputes, reviews = tables.read("orders_history"), tables.read("disputes"), tables.read("reviews")
    with ctx.run.step("affinity.strength"):
        since, previous = tables.previous_snapshot(AFFINITY, as_of)
        if previous is None:
            notes.append(f"{AFFINITY}: computed from every order")
            rows = strength.full(history, disputes, reviews, as_of, conf)
        else:
            notes.append(f"{AFFINITY}: rolled forward from {since}")
            ctx.run.metrics["affinity.rolled_forward_days"] = (as_of - since).days
            rows = strength.rolled_forward(previous, since, history, disputes, reviews, as_of, conf)
        tables.publish(AFFINITY, rows, "replace", where)
    affinity = tables.read(AFFINITY).where(F.col("as_of") == F.lit(as_of))
    with ctx.run.step("affinity.clusters"):
        tables.publish(CLUSTERS, strength.cluster_affinity(affinity, tables.read("parties")), "replace", where)
    with ctx.run.step("affinity.similarity"):
        tables.publish(SIMILARITY, chapter_similarity(affinity, conf), "replace", where)
