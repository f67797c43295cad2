"""The identity job (`tradematch job identity`): silver party_identity (restricted) and parties as of the
run -> gold party_links, the pairs of party ids that are the same business with their weight, the kinds
of evidence that agreed (never the values) and a canonical id per linked group. Runs before risk, which
warns parties linked to a blacklisted business."""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tradematch.identity import load_conf
from tradematch.identity.groups import canonical_ids
from tradematch.identity.keys import candidates, normalised
from tradematch.identity.links import linked

LINKS = "party_links"


def links(identity: DataFrame, parties: DataFrame, conf: dict, as_of: dt.date) -> DataFrame:
    """party_identity and parties -> scored links (no canonical id yet) between parties registered by
    the as-of."""
    known = parties.where(F.col("registered_on") <= F.lit(as_of)).select("party_id", "country", "city", "registered_on")
    norm = identity.join(known, "party_id").transform(normalised(conf)).localCheckpoint()
    return norm.transform(candidates(conf)).transform(linked(norm, conf))


def with_canonical(found: DataFrame, registered: DataFrame, max_rounds: int) -> DataFrame:
    """Links + each party's registered_on -> the links with their group's canonical_id."""
    ids = canonical_ids(found, registered, max_rounds)
    return found.join(ids, "party_id")


def run(ctx) -> None:
    tables, metrics = ctx.tables, ctx.run.metrics
    conf = load_conf(tables.catalog.root)
    as_of = ctx.as_of or ctx.lake.newest_batch_date(ctx.spark)
    parties = tables.read("parties")
    with ctx.run.step("identity.links"):
        found = links(tables.read("party_identity"), parties, conf, as_of).localCheckpoint()
    with ctx.run.step("identity.groups"):
        out = with_canonical(found, parties.select("party_id", "registered_on"), int(conf["max_rounds"])).localCheckpoint()
    tables.publish(LINKS, out, "overwrite")
    metrics["identity.links"] = out.count()
    metrics["identity.groups"] = out.select("canonical_id").distinct().count()
