"""From decayed evidence to a score: measures, empirical-Bayes priors per peer group, posteriors,
components, confidence, tier and reasons. Pure DataFrame functions; the measures, weights and tier rule
come from conf/reliability.yaml.

Every measure is a bad-outcome share, events out of trials (decayed counts). Its prior is a Beta fitted
per peer group (role x the party's main HS chapter) by the method of moments: the mean is the pooled
share, and the strength alpha + beta comes from how much more the parties' shares spread than binomial
noise alone would make them (the intra-class correlation rho = 1 / (alpha + beta + 1)). A party's shrunk
share is (events + alpha) / (trials + alpha + beta).
"""
from __future__ import annotations

import datetime as dt
from functools import reduce
from typing import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from tradematch.history import COUNTS
from tradematch.outcomes import ROLES

PARTY = ["party_id", "role"]
PARTY_MARKET = ["party_id", "role", "market"]
COMPONENTS = ("fulfilment", "quality", "stability", "payment_commitment", "retention")


# -- evidence per party or party-market -----------------------------------------------------------
def summed(keys: list[str]) -> Callable[[DataFrame], DataFrame]:
    """reliability_evidence rows -> decayed counts per keys, with the first month traded."""
    return lambda evidence: evidence.groupBy(*keys).agg(F.min("first_month").alias("first_month"),
                                                        *[F.sum(c).alias(c) for c in COUNTS])


def peer_chapters(evidence: DataFrame) -> DataFrame:
    """(party_id, role, peer_chapter): the HS chapter with the most decayed orders, the party's peer group."""
    by_chapter = evidence.groupBy(*PARTY, "hs_chapter").agg(F.sum("orders").alias("_orders"))
    first = Window.partitionBy(*PARTY).orderBy(F.col("_orders").desc(), F.col("hs_chapter"))
    return (by_chapter.withColumn("_n", F.row_number().over(first)).where(F.col("_n") == 1)
            .select(*PARTY, F.col("hs_chapter").alias("peer_chapter")))


def with_activity(monthly: DataFrame, as_of: dt.date, window_months: int, keys: list[str]) -> Callable[[DataFrame], DataFrame]:
    """Add tenure_months, window_months (tenure capped at the window), active_months and inactive_months,
    from the monthly table's last `window_months` months only."""
    this_month = F.trunc(F.lit(as_of), "month")
    active = (monthly.where((F.col("month") > F.add_months(this_month, -window_months)) & (F.col("orders") > 0))
              .groupBy(*keys, "month").agg(F.lit(1).alias("_"))
              .groupBy(*keys).agg(F.count("*").cast("int").alias("active_months")))

    def add(df: DataFrame) -> DataFrame:
        tenure = (F.months_between(this_month, F.col("first_month")).cast("int") + 1)
        return (df.join(active, keys, "left").fillna(0, ["active_months"])
                .withColumn("tenure_months", tenure)
                .withColumn("window_months", F.least(tenure, F.lit(window_months)))
                .withColumn("inactive_months", F.greatest(F.col("window_months") - F.col("active_months"), F.lit(0))))
    return add


def measures(conf: dict) -> Callable[[DataFrame], DataFrame]:
    """Wide evidence -> one row per party (keys kept) and measure of its role: measure, component,
    weight, words, events, trials."""
    def long(df: DataFrame) -> DataFrame:
        items = [F.when(F.col("role").isin(*m["roles"]), F.struct(
            F.lit(name).alias("measure"), F.lit(m["component"]).alias("component"),
            F.lit(float(m["weight"])).alias("weight"), F.lit(m["words"]).alias("words"),
            F.greatest(F.expr(m["events"]).cast("double"), F.lit(0.0)).alias("events"),
            F.greatest(F.expr(m["trials"]).cast("double"), F.lit(0.0)).alias("trials")))
            for name, m in conf["measures"].items()]
        keep = [c for c in df.columns if c not in COUNTS]
        return (df.select(*keep, F.explode(F.filter(F.array(*items), lambda x: x.isNotNull())).alias("_m"))
                .select(*keep, "_m.*"))
    return long


# -- empirical Bayes -------------------------------------------------------------------------------
def _moments(df: DataFrame, by: list[str]) -> DataFrame:
    return (df.where(F.col("trials") > 0).groupBy(*by).agg(
        F.sum("trials").alias("n"), F.sum("events").alias("k"),
        F.sum(F.col("events") * F.col("events") / F.col("trials")).alias("q"),
        F.sum(F.col("trials") * F.col("trials")).alias("n2"), F.count("*").alias("parties")))


def _strength(min_strength: float, max_strength: float) -> Column:
    """alpha + beta by the method of moments, from n, k, q = sum(k^2/n), n2 = sum(n^2) and parties."""
    mean = F.try_divide(F.col("k"), F.col("n"))
    spread = F.col("q") - mean * mean * F.col("n")  # sum of n * (share - mean)^2
    rho = F.try_divide(F.try_divide(spread, mean * (1 - mean)) - (F.col("parties") - 1),
                       F.col("n") - F.try_divide(F.col("n2"), F.col("n")) - (F.col("parties") - 1))
    # no spread beyond chance (or no way to tell): the strongest prior; else 1 / rho - 1, clamped
    return (F.when(rho.isNull() | (rho <= 1.0 / (max_strength + 1)), F.lit(max_strength))
            .otherwise(F.least(F.greatest(F.try_divide(F.lit(1.0), rho) - 1, F.lit(min_strength)),
                               F.lit(max_strength))))


def fit_priors(conf: dict) -> Callable[[DataFrame], DataFrame]:
    """Long measures (with peer_chapter) -> (role, peer_chapter, measure, prior_mean, prior_strength).

    Two levels: the role-wide prior, then each peer group's. A group's mean is itself shrunk toward the
    role's by how far group means spread beyond what their parties' own spread explains (so chapters that
    do not differ share one mean); its strength is its own fit when it has prior.min_parties parties with
    trials, else the role's."""
    p = conf["prior"]
    strength = _strength(float(p["min_strength"]), float(p["max_strength"]))

    def fit(long: DataFrame) -> DataFrame:
        role = _moments(long, ["role", "measure"]).select(
            "role", "measure", F.try_divide(F.col("k"), F.col("n")).alias("r_mean"), strength.alias("r_strength"))
        rho = F.lit(1.0) / (F.col("r_strength") + 1)
        group = (_moments(long, ["role", "peer_chapter", "measure"]).join(role, ["role", "measure"], "inner")
                 .select("role", "peer_chapter", "measure", "parties", "r_mean", "r_strength",
                         F.try_divide(F.col("k"), F.col("n")).alias("g_mean"), strength.alias("g_strength"),
                         # variance of a group's pooled share from its parties' spread and binomial noise
                         (F.col("r_mean") * (1 - F.col("r_mean")) *
                          (rho * F.try_divide(F.col("n2"), F.col("n") * F.col("n")) +
                           (1 - rho) * F.try_divide(F.lit(1.0), F.col("n")))).alias("g_noise")))
        between = group.groupBy("role", "measure").agg(  # spread of group means beyond their noise
            F.greatest(F.avg(F.pow(F.col("g_mean") - F.col("r_mean"), 2) - F.col("g_noise")), F.lit(0.0)).alias("tau2"))
        weight = F.coalesce(F.try_divide(F.col("tau2"), F.col("tau2") + F.col("g_noise")), F.lit(0.0))
        own = F.coalesce(F.col("parties"), F.lit(0)) >= int(p["min_parties"])
        return (long.select("role", "peer_chapter", "measure").distinct()
                .join(group.drop("r_mean", "r_strength"), ["role", "peer_chapter", "measure"], "left")
                .join(role, ["role", "measure"], "left").join(between, ["role", "measure"], "left")
                .select("role", "peer_chapter", "measure",
                        F.coalesce(F.col("r_mean") + weight * (F.col("g_mean") - F.col("r_mean")), F.col("r_mean"),
                                   F.lit(0.0)).alias("prior_mean"),
                        F.coalesce(F.when(own, F.col("g_strength")), F.col("r_strength"),
                                   F.lit(float(p["max_strength"]))).alias("prior_strength")))
    return fit


def shrunk(priors: DataFrame) -> Callable[[DataFrame], DataFrame]:
    """Long measures -> with the shrunk bad share `bad` and the credibility of the party's own record."""
    return lambda long: (long.join(F.broadcast(priors), ["role", "peer_chapter", "measure"], "left")
                         .withColumn("bad", F.try_divide(F.col("events") + F.col("prior_mean") * F.col("prior_strength"),
                                                         F.col("trials") + F.col("prior_strength")))
                         .withColumn("credibility", F.try_divide(F.col("trials"), F.col("trials") + F.col("prior_strength"))))


# -- score, tier, reasons --------------------------------------------------------------------------
def scored(conf: dict, keys: list[str]) -> Callable[[DataFrame], DataFrame]:
    """Shrunk long measures -> one row per keys: components (good shares), score 0-100, confidence,
    rates (shrunk bad shares by measure) and reasons (the measures costing most points against peers)."""
    total = {r: sum(float(m["weight"]) for m in conf["measures"].values() if r in m["roles"]) for r in ROLES}
    total_weight = F.create_map(*[F.lit(x) for r in ROLES for x in (r, total[r])])[F.col("role")]
    rs = conf["reasons"]
    w = F.col("weight")
    points = F.try_divide(F.lit(100.0) * w * (F.col("bad") - F.col("prior_mean")), total_weight)
    text = F.format_string("%s: %.0f%% vs %.0f%% for peers", F.col("words"),
                           F.lit(100.0) * F.try_divide(F.col("events"), F.col("trials")),
                           F.lit(100.0) * F.col("prior_mean"))
    reason = F.when((points >= float(rs["min_points"])) & (F.col("trials") > 0),
                    F.struct(points.alias("points"), text.alias("text")))
    extra = ["peer_chapter", "first_month", "tenure_months", "active_months", "evidence_orders"]

    def score(long: DataFrame) -> DataFrame:
        comp = {c: F.try_divide(F.sum(F.when(F.col("component") == c, w * (1 - F.col("bad")))),
                                F.sum(F.when(F.col("component") == c, w))) for c in COMPONENTS}
        return long.groupBy(*keys, *extra).agg(
            *[v.alias(c) for c, v in comp.items()],
            (F.lit(100.0) * (1 - F.try_divide(F.sum(w * F.col("bad")), F.sum(w)))).alias("score"),
            F.try_divide(F.sum(w * F.col("credibility")), F.sum(w)).alias("confidence"),
            F.map_from_entries(F.collect_list(F.struct("measure", "bad"))).alias("rates"),
            F.slice(F.transform(F.sort_array(F.collect_list(reason), asc=False), lambda r: r["text"]),
                    1, int(rs["top"])).alias("reasons"))
    return score


def tiered(conf: dict) -> Callable[[DataFrame], DataFrame]:
    """Add `tier`: unrated on thin evidence, else the first tier of the party's role (best first) whose
    score bar it reaches and whose bar on every pillar named (`min`) it reaches too, else below_tiers."""
    u = conf["unrated"]
    tier = F.when((F.col("evidence_orders") < float(u["min_evidence_orders"])) |
                  (F.col("confidence") < float(u["min_confidence"])), F.lit(u["name"]))
    for role, tiers in conf["tiers"].items():
        for t in tiers:
            bars = [F.col(c) >= float(v) for c, v in t.get("min", {}).items()]
            tier = tier.when(reduce(lambda a, b: a & b, bars, (F.col("role") == role) &
                                    (F.col("score") >= float(t["min_score"]))), F.lit(t["name"]))
    return lambda df: df.withColumn("tier", tier.otherwise(F.lit(conf["below_tiers"])))


def reliability(evidence: DataFrame, monthly: DataFrame, conf: dict, as_of: dt.date, keys: list[str],
                peers: DataFrame, priors: DataFrame | None = None) -> tuple[DataFrame, DataFrame]:
    """Evidence at the as-of -> (scored rows per keys, the priors used). Priors are fitted from these
    rows unless given (party-market rows reuse the party-level priors)."""
    long = (evidence.transform(summed(keys)).withColumn("evidence_orders", F.col("orders"))
            .transform(with_activity(monthly, as_of, int(conf["stability_window_months"]), keys))
            .join(peers, PARTY, "inner").transform(measures(conf)))
    priors = long.transform(fit_priors(conf)) if priors is None else priors
    rows = (long.transform(shrunk(priors)).transform(scored(conf, keys)).transform(tiered(conf))
            .withColumn("as_of", F.lit(as_of)))
    return rows, priors
