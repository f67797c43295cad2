"""The matching job (`tradematch job matching`): the affinity snapshot of the as-of, the newest reliability
and risk snapshots on or before it, parties and open RFQs -> supplier_matches, buyer_matches and
rfq_matches, each a snapshot for the as-of that a rerun replaces. Risk publishes first (job order), so
no match names a party blacklisted in the same run."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tradematch.lake import LakeError
from tradematch.matching import load_conf
from tradematch.matching.buyers import buyer_facts, buyer_matches
from tradematch.matching.candidates import candidates, need_clusters, pools, supplier_facts
from tradematch.matching.needs import NEED, buyer_needs, chapter_shares, open_rfqs
from tradematch.matching.score import scored, supplier_reasons, top_k

SUPPLIERS, BUYERS, RFQS = "supplier_matches", "buyer_matches", "rfq_matches"


@dataclass
class Inputs:
    """What matching reads, each already cut to the as-of (one snapshot per table)."""
    affinity: DataFrame
    clusters: DataFrame
    similarity: DataFrame
    parties: DataFrame
    reliability: DataFrame
    market_reliability: DataFrame
    risk: DataFrame
    rfqs: DataFrame


def _snapshot(tables, name: str, as_of: dt.date, exact: bool = False) -> DataFrame:
    df = tables.read(name)
    day = as_of if exact else df.where(F.col("as_of") <= F.lit(as_of)).agg(F.max("as_of")).head()[0]
    if day is None:
        raise LakeError(f"no {name} snapshot on or before {as_of}: run the jobs before matching first")
    return df.where(F.col("as_of") == F.lit(day)).drop("as_of")


def read_inputs(tables, as_of: dt.date) -> Inputs:
    return Inputs(
        affinity=_snapshot(tables, "buyer_supplier_affinity", as_of, exact=True),
        clusters=_snapshot(tables, "buyer_cluster_affinity", as_of, exact=True),
        similarity=_snapshot(tables, "chapter_similarity", as_of, exact=True),
        parties=tables.read("parties"),
        reliability=_snapshot(tables, "party_reliability", as_of),
        market_reliability=_snapshot(tables, "party_market_reliability", as_of),
        risk=_snapshot(tables, "risk_status", as_of),
        rfqs=tables.read("rfqs"))


def matches(i: Inputs, as_of: dt.date, conf: dict) -> tuple[DataFrame, DataFrame, DataFrame]:
    """(supplier_matches, buyer_matches, rfq_matches) rows for the as-of."""
    m = conf["matching"]
    k, share = int(m["k"]), float(m["newcomer_share"])
    facts, market = supplier_facts(i.parties, i.reliability, i.market_reliability, i.risk, conf)
    facts, market = facts.localCheckpoint(), market.localCheckpoint()
    pool = pools(i.affinity, facts).localCheckpoint()
    rfqs = open_rfqs(i.rfqs, as_of, conf)
    home = i.parties.select(F.col("party_id").alias("buyer_id"), F.col("country").alias("market"))
    needs = (buyer_needs(chapter_shares(i.affinity), i.similarity, rfqs, conf).join(home, "buyer_id")
             .localCheckpoint())
    rfq_needs = (rfqs.select("rfq_id", *NEED, F.col("destination_country").alias("market"),
                             F.lit("rfq").alias("need"), F.lit(float(m["rfq_need_weight"])).alias("need_weight"),
                             F.lit(None).cast("string").alias("similar_to")))
    clusters = need_clusters(needs.unionByName(rfq_needs.drop("rfq_id")), i.clusters, pool, conf).localCheckpoint()
    needs, rfq_needs = (df.join(clusters, NEED, "left") for df in (needs, rfq_needs))

    def ranked(need_rows: DataFrame, group: list[str]) -> tuple[DataFrame, DataFrame]:
        cands = candidates(need_rows, group, i.affinity, pool, market, facts, conf)
        rows = scored(cands, need_rows, group, pool, facts, market, conf).localCheckpoint()
        return rows, rows.transform(top_k(group, k, share)).transform(supplier_reasons)

    need_scored, suppliers = ranked(needs, NEED)
    _, by_rfq = ranked(rfq_needs, ["rfq_id"])
    out = lambda df: df.withColumn("as_of", F.lit(as_of)).withColumnRenamed("state", "supplier_state")  # noqa: E731
    buyers = buyer_matches(need_scored, buyer_facts(i.reliability, i.risk), conf).withColumn("as_of", F.lit(as_of))
    return out(suppliers), buyers, out(by_rfq)


def run(ctx) -> None:
    tables = ctx.tables
    conf = load_conf(tables.catalog.root)
    as_of = ctx.as_of or ctx.lake.newest_batch_date(ctx.spark)
    where = f"as_of = DATE'{as_of.isoformat()}'"
    with ctx.run.step("matching.score"):
        suppliers, buyers, rfqs = matches(read_inputs(tables, as_of), as_of, conf)
    with ctx.run.step("matching.publish"):
        tables.publish(SUPPLIERS, suppliers, "replace", where)
        tables.publish(BUYERS, buyers, "replace", where)
        tables.publish(RFQS, rfqs, "replace", where)
