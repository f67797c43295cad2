"""The reliability job (`tradematch job reliability`): party_market_monthly as of the run ->
reliability_evidence (decayed sums, rolled forward from the last snapshot), then party_reliability and
party_market_reliability, each a snapshot for the as-of that a rerun replaces."""
from __future__ import annotations

from pyspark.sql import functions as F

from tradematch.history import MONTHLY, watermark
from tradematch.lake import LakeError
from tradematch.reliability import evidence as E
from tradematch.reliability import load_conf
from tradematch.reliability.score import PARTY, PARTY_MARKET, peer_chapters, reliability

PARTY_TABLE, MARKET_TABLE = "party_reliability", "party_market_reliability"


def run(ctx) -> None:
    spark, tables, notes = ctx.spark, ctx.tables, ctx.run.notes
    conf = load_conf(tables.catalog.root)
    as_of = ctx.as_of or ctx.lake.newest_batch_date(spark)
    half_life = float(conf["half_life_days"])
    monthly = tables.read(MONTHLY)
    version = tables.version(MONTHLY)  # one run at a time per lake: the version just read
    known_to = watermark(monthly)
    if known_to is None or known_to > as_of:
        raise LakeError(f"{MONTHLY} holds knowledge to {known_to}, not the as-of {as_of}: "
                        f"run `tradematch --as-of {as_of} job history` first")
    snapshot = f"as_of = DATE'{as_of.isoformat()}'"

    decayed = _evidence(ctx, monthly, version, as_of, half_life)
    tables.publish(E.EVIDENCE, decayed, "replace", snapshot)
    decayed = tables.read(E.EVIDENCE).where(F.col("as_of") == F.lit(as_of))
    peers = peer_chapters(decayed).localCheckpoint()
    parties, priors = reliability(decayed, monthly, conf, as_of, PARTY, peers)
    priors = priors.localCheckpoint()  # party-market rows are shrunk toward the same peer groups
    tables.publish(PARTY_TABLE, parties, "replace", snapshot)
    tables.publish(MARKET_TABLE, reliability(decayed, monthly, conf, as_of, PARTY_MARKET, peers, priors)[0],
                   "replace", snapshot)
    ctx.run.metrics["reliability.prior_groups"] = priors.count()


def _evidence(ctx, monthly, version: int, as_of, half_life: float):
    """Decayed sums at the as-of: rolled forward from the newest earlier snapshot when there is one and
    the monthly table's version it was computed from is still readable, else from every month."""
    tables, notes = ctx.tables, ctx.run.notes
    last, previous = tables.previous_snapshot(E.EVIDENCE, as_of)
    if previous is not None:
        then_version = previous.agg(F.max("monthly_version")).head()[0]
        try:
            then = tables.read(MONTHLY, int(then_version))
            then.limit(1).count()
        except Exception as exc:  # noqa: BLE001 (vacuumed or never written: recompute in full)
            notes.append(f"{E.EVIDENCE}: cannot read {MONTHLY} version {then_version} ({type(exc).__name__}); "
                         "full recompute")
        else:
            notes.append(f"{E.EVIDENCE}: rolled forward from {last} ({MONTHLY} version {then_version} -> {version})")
            ctx.run.metrics["reliability.rolled_forward_days"] = (as_of - last).days
            return E.rolled_forward(previous, last, monthly, then, as_of, half_life, version)
    notes.append(f"{E.EVIDENCE}: computed from every month of {MONTHLY}")
    return E.full(monthly, as_of, half_life, version)
