"""The `risk` section: the policy's blacklists and warnings against the generator's planted bad actors.

The policy is replayed weekly (risk.backtest.replay, point in time, nothing published) over the
`REPLAY_DAYS` before the world's as-of, for timing; the other figures are read at the as-of.
- bad actor at the as-of: kind chronic or evader, turns_bad after its onset, recovers before its recovery;
- blacklist_precision: blacklisted parties that are bad actors at the as-of;
- blacklist_recall: chronic parties with at least the blacklist rung's min_cases faults in the long
  window that are blacklisted; blacklist_recall_all: over every chronic party of the truth;
- warning_recall: bad actors with an order in the long window that are at warning or worse;
- false_blacklist_rate_good: good parties with an order in the long window that are blacklisted, and
  max_group_false_blacklist_rate the largest such rate of an origin country or supplier cluster (groups
  of at least MIN_GROUP good parties);
- median_days_to_first_warning / _to_blacklist: turns_bad parties whose onset falls in the replay, from
  the onset to the first weekly as-of at warning or worse / blacklisted (parties never flagged left out,
  counted in *_flagged);
- median_days_to_first_fault / _to_second_fault (context: the floor any evidence-based policy meets): the
  same parties, from the onset to the first weekly as-of at which 1 / 2 faults on orders placed since the
  onset are known;
- false_warning_rate_good (context): good active parties at warning or worse;
- recovered_still_blacklisted: recovers parties recovered more than the long window before the as-of
  that are still blacklisted.
"""
from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from tradematch.evaluate import MissingInput
from tradematch.risk.policy import load_policy, window_days
from tradematch.tables import Tables

REPLAY_DAYS, STEP_DAYS, MIN_GROUP = 980, 7, 30


def _rate(num, den) -> float | None:
    return None if not den else round(num / den, 4)


def _truth(tables: Tables) -> DataFrame:
    return (tables.read("party_truth").groupBy("party_id", "role")
            .agg(F.first("kind").alias("kind"), F.max("onset_date").alias("onset_date"),
                 F.max("recovery_date").alias("recovery_date")))


def measures(tables: Tables, status: DataFrame, policy: dict, start: dt.date, as_of: dt.date) -> dict:
    """The section's figures from replayed status rows over weekly as-ofs from start to as_of."""
    rung = {r["state"]: r for r in policy["ladder"]}
    truth = _truth(tables).cache()
    day = F.lit(as_of)
    bad_now = (F.col("kind").isin("chronic", "evader") | ((F.col("kind") == "turns_bad") & (F.col("onset_date") <= day)) |
               ((F.col("kind") == "recovers") & (F.col("recovery_date") > day)))
    final = (status.where(F.col("as_of") == day).select("party_id", "role", "state", "cases")
             .join(truth, ["party_id", "role"], "left").withColumn("bad_now", F.coalesce(bad_now, F.lit(False)))
             .withColumn("bl", F.col("state") == "blacklisted").cache())
    c = final.agg(
        F.sum(F.col("bl").cast("int")).alias("bl"),
        F.sum((F.col("bl") & F.col("bad_now")).cast("int")).alias("bl_true"),
        F.sum((F.col("kind") == "chronic").cast("int") * (F.col("cases") >= rung["blacklisted"]["min_cases"]).cast("int")).alias("chronic_min"),
        F.sum(((F.col("kind") == "chronic") & (F.col("cases") >= rung["blacklisted"]["min_cases"]) & F.col("bl")).cast("int")).alias("chronic_min_bl"),
        F.sum(((F.col("kind") == "chronic") & F.col("bl")).cast("int")).alias("chronic_bl"),
        F.sum(F.col("bad_now").cast("int")).alias("bad_active"),
        F.sum((F.col("bad_now") & (F.col("state") != "good")).cast("int")).alias("bad_warned"),
        F.sum((F.col("kind") == "good").cast("int")).alias("good_active"),
        F.sum(((F.col("kind") == "good") & F.col("bl")).cast("int")).alias("good_bl"),
        F.sum(((F.col("kind") == "good") & (F.col("state") != "good")).cast("int")).alias("good_flagged"),
    ).head()
    chronic_all = truth.where(F.col("kind") == "chronic").count()

    parties = tables.read("parties").select("party_id", "country", "cluster")
    good = final.where(F.col("kind") == "good").join(parties, "party_id", "left")
    groups = []
    for col in ("country", "cluster"):
        rows = (good.where(F.col(col).isNotNull()).groupBy(col)
                .agg(F.count("*").alias("n"), F.avg(F.col("bl").cast("double")).alias("rate"))
                .where(F.col("n") >= MIN_GROUP).orderBy(F.col("rate").desc()).limit(1).collect())  # one row
        groups += [(float(r["rate"]), f"{col}={r[col]}", int(r["n"])) for r in rows]
    worst = max(groups, default=(None, None, 0))

    onset = truth.where((F.col("kind") == "turns_bad") & (F.col("onset_date") >= F.lit(start)) &
                        (F.col("onset_date") <= day)).select("party_id", "role", "onset_date")
    after = status.join(onset, ["party_id", "role"]).where(F.col("as_of") >= F.col("onset_date"))
    first = after.groupBy("party_id", "role", "onset_date").agg(
        F.min(F.when(F.col("state") != "good", F.col("as_of"))).alias("warned"),
        F.min(F.when(F.col("state") == "blacklisted", F.col("as_of"))).alias("blacklisted"))
    timing = first.agg(F.median(F.datediff("warned", "onset_date")).alias("warn"),
                       F.median(F.datediff("blacklisted", "onset_date")).alias("bl"),
                       F.count("warned").alias("n_warned"), F.count("blacklisted").alias("n_bl")).head()
    floor = _fault_floor(tables, onset, policy, sorted(r["as_of"] for r in status.select("as_of").distinct().collect()))  # a row per step
    recovered = truth.where((F.col("kind") == "recovers") &
                            (F.col("recovery_date") <= F.lit(as_of - dt.timedelta(days=window_days(policy, "long")))))
    still = final.where("bl").join(recovered.select("party_id", "role"), ["party_id", "role"], "left_semi").count()
    out = {
        "as_of": as_of.isoformat(),
        "blacklisted": int(c["bl"] or 0),
        "blacklist_precision": _rate(c["bl_true"] or 0, c["bl"]),
        "blacklist_recall": _rate(c["chronic_min_bl"] or 0, c["chronic_min"]),
        "chronic_with_min_cases": int(c["chronic_min"] or 0),
        "blacklist_recall_all": _rate(c["chronic_bl"] or 0, chronic_all),
        "chronic_all": chronic_all,
        "warning_recall": _rate(c["bad_warned"] or 0, c["bad_active"]),
        "false_blacklist_rate_good": _rate(c["good_bl"] or 0, c["good_active"]),
        "good_active": int(c["good_active"] or 0),
        "false_warning_rate_good": _rate(c["good_flagged"] or 0, c["good_active"]),
        "median_days_to_first_warning": None if timing["warn"] is None else float(timing["warn"]),
        "median_days_to_blacklist": None if timing["bl"] is None else float(timing["bl"]),
        "turned_bad_warned": int(timing["n_warned"]), "turned_bad_blacklisted": int(timing["n_bl"]),
        "turned_bad_in_replay": onset.count(),
        "median_days_to_first_fault": floor["first"], "median_days_to_second_fault": floor["second"],
        "recovered_still_blacklisted": still,
        "recovered_parties": recovered.count(),
        "max_group_false_blacklist_rate": None if worst[0] is None else round(worst[0], 4),
        "max_group": worst[1], "max_group_good_parties": worst[2],
    }
    final.unpersist()
    truth.unpersist()
    return out


def _fault_floor(tables: Tables, onset: DataFrame, policy: dict, steps: list) -> dict:
    """Median days from the onset to the first weekly as-of with 1 and with 2 known faults on orders
    placed since the onset: no policy that waits for evidence can warn before them."""
    from tradematch.risk.evidence import evidence, order_facts

    facts = (tables.read("orders_history").transform(order_facts(tables.read("disputes"), tables.read("reviews")))
             .join(onset, ["party_id", "role"]).where(F.col("order_date") >= F.col("onset_date")).drop("onset_date"))
    known = facts.transform(evidence(steps, policy)).join(onset, ["party_id", "role"])
    first = known.groupBy("party_id", "role", "onset_date").agg(
        *[F.min(F.when(F.col("bad_long") >= n, F.col("as_of"))).alias(f"f{n}") for n in (1, 2)])
    row = first.agg(*[F.median(F.datediff(f"f{n}", "onset_date")).alias(f"f{n}") for n in (1, 2)]).head()
    return {"first": None if row["f1"] is None else float(row["f1"]),
            "second": None if row["f2"] is None else float(row["f2"])}


def section(tables: Tables) -> dict:
    from tradematch.risk.backtest import as_ofs, replay

    for name in ("orders_history", "disputes", "reviews", "risk_overrides", "party_truth"):
        if not tables.exists(name):
            raise MissingInput(f"no {name} table: run `tradematch job ingest` first")
    as_of = tables.read("world").head().as_of
    policy = load_policy(tables.catalog.root)
    steps = as_ofs(as_of - dt.timedelta(days=REPLAY_DAYS), as_of, STEP_DAYS)
    status = replay(tables, policy, steps, STEP_DAYS).localCheckpoint()
    return measures(tables, status, policy, steps[0], as_of)
