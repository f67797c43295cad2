"""Rules -> points -> ladder state, then manual overrides, then links to blacklisted businesses (gold
party_links), then since and review date.

Everything is a function of the evidence at one as-of (and, for `since`, the state before it), so a
replay over many as-ofs and a sequence of job runs give the same states.
"""
from __future__ import annotations

import datetime as dt
from functools import reduce
from typing import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from tradematch.risk.policy import STATES, window_days

KEY = ["as_of", "party_id", "role"]
EVIDENCE_TYPE = ("struct<rule:string,window_days:int,cases:bigint,trials:bigint,rate:double,min_cases:int,"
                 "min_rate:double,points:int>")


def _rule_columns(rule: dict, policy: dict) -> tuple[Column, Column]:
    """(fires, evidence struct) of one rule on an evidence row."""
    w = rule["window"]
    cases = reduce(lambda a, b: a + b, [F.col(f"{e}_{w}") for e in rule["events"]])
    trials = F.col(f"{rule['trials']}_{w}")
    rate = F.when(trials > 0, cases / trials)
    fires = (F.col("role").isin(*rule["roles"]) & (cases >= F.lit(int(rule["min_cases"]))) &
             F.coalesce(rate >= F.lit(float(rule["min_rate"])), F.lit(False)))
    proof = F.struct(F.lit(rule["code"]).alias("rule"), F.lit(window_days(policy, w)).alias("window_days"),
                     cases.cast("bigint").alias("cases"), trials.cast("bigint").alias("trials"),
                     F.round(rate, 4).alias("rate"), F.lit(int(rule["min_cases"])).alias("min_cases"),
                     F.lit(float(rule["min_rate"])).alias("min_rate"), F.lit(int(rule["points"])).alias("points"))
    return fires, proof


def scored(policy: dict) -> Callable[[DataFrame], DataFrame]:
    """Evidence rows -> (as_of, party_id, role, points, rules_fired, evidence, cases, policy_state,
    min_cases): the rules that fire with their figures, their points, and the ladder's rung. `cases` is
    the faults (`bad`) in the long window; a rung is reached only with its min_cases of them."""
    def apply(ev: DataFrame) -> DataFrame:
        rules = [(_rule_columns(r, policy), r) for r in policy["rules"]]
        fired = F.array_compact(F.array(*[F.when(fires, proof) for (fires, proof), _ in rules]))
        points = reduce(lambda a, b: a + b, [F.when(fires, F.lit(int(r["points"]))).otherwise(0) for (fires, _), r in rules])
        out = ev.select(*KEY, points.alias("points"), fired.alias("evidence"), F.col("bad_long").alias("cases"))
        state, need = F.lit("good"), F.lit(0)
        for rung in policy["ladder"]:  # mildest first: each higher rung reached overrides
            reached = (F.col("points") >= rung["min_points"]) & (F.col("cases") >= rung["min_cases"])
            state = F.when(reached, F.lit(rung["state"])).otherwise(state)
            need = F.when(reached, F.lit(int(rung["min_cases"]))).otherwise(need)
        return out.select(*KEY, "points", F.transform("evidence", lambda e: e["rule"]).alias("rules_fired"),
                          "evidence", "cases", state.alias("policy_state"), need.alias("min_cases"))
    return apply


def active_overrides(as_ofs: list[dt.date]) -> Callable[[DataFrame], DataFrame]:
    """risk_overrides -> the decision in force per (as_of, party, role): decided by then, not expired,
    the newest (then blacklist before clear, then who decided, as a fixed tie-break)."""
    def apply(overrides: DataFrame) -> DataFrame:
        steps = F.array(*[F.lit(d) for d in sorted(set(as_ofs))])
        live = F.filter(steps, lambda t: (F.col("decided_on") <= t) &
                        (F.col("expires_on").isNull() | (F.col("expires_on") > t)))
        rows = overrides.select("party_id", "role", "action", "reason", "decided_by", "decided_on", "expires_on",
                                F.explode(live).alias("as_of"))
        newest = Window.partitionBy(*KEY).orderBy(F.col("decided_on").desc(), F.col("action").desc(),
                                                   F.col("decided_by"))
        return rows.withColumn("_n", F.row_number().over(newest)).where("_n = 1").drop("_n")
    return apply


def with_overrides(active: DataFrame, policy: dict) -> Callable[[DataFrame], DataFrame]:
    """Scored rows + the overrides in force -> state (the override's when there is one, else the
    policy's), decided_by ('policy' or who decided), override_reason, review date of the override."""
    review = int(policy["overrides"]["review_days"])

    def apply(status: DataFrame) -> DataFrame:
        o = active.select(*KEY, F.col("action").alias("_action"), F.col("reason").alias("override_reason"),
                          F.col("decided_by").alias("_by"), "decided_on", "expires_on")
        joined = status.join(o, KEY, "full")
        action_state = F.when(F.col("_action") == "clear", "good").when(F.col("_action") == "blacklist", "blacklisted")
        return joined.select(
            *KEY, F.coalesce("points", F.lit(0)).alias("points"),
            F.coalesce("rules_fired", F.array().cast("array<string>")).alias("rules_fired"),
            F.coalesce("evidence", F.array().cast(f"array<{EVIDENCE_TYPE}>")).alias("evidence"),
            F.coalesce("cases", F.lit(0)).cast("bigint").alias("cases"),
            F.coalesce("policy_state", F.lit("good")).alias("policy_state"),
            F.coalesce(action_state, "policy_state", F.lit("good")).alias("state"),
            F.when(F.col("_action").isNotNull(), F.lit(0)).otherwise(F.coalesce("min_cases", F.lit(0))).alias("min_cases"),
            F.coalesce("_by", F.lit("policy")).alias("decided_by"), "override_reason",
            F.when(F.col("_action").isNotNull(),
                   F.coalesce("expires_on", F.date_add("decided_on", review))).alias("_override_review"))
    return apply


def link_codes(policy: dict) -> list[str]:
    return [rule["code"] for rule in policy["links"]]


def _own_states(rows: DataFrame, policy: dict) -> DataFrame:
    """Status rows -> (seen_on, party_id, role, state) where the party's own record (a rule other than a
    link's, or a manual decision) put it above good: a state a link lifted never passes on through
    another link, so two linked parties cannot keep each other warned."""
    others = F.filter("rules_fired", lambda c: ~c.isin(*link_codes(policy)))
    own = (F.col("decided_by") != "policy") | (F.size(others) > 0)
    return rows.where((F.col("state") != "good") & own).select(
        F.col("as_of").alias("seen_on"), "party_id", "role", "state")


def with_links(links: DataFrame | None, policy: dict, past: DataFrame | None = None) -> Callable[[DataFrame], DataFrame]:
    """Rows after overrides (one as-of or many) + party_links (or None) + earlier risk_status rows (or
    None) -> a party linked, by the as-of, to one whose own record put it in a state of a links rule's
    from_states within the rule's lookback_days (0: at the as-of itself), in the same role, is at least
    at the rule's floor (policy_state too; an override on the party itself still decides its state),
    with the first such rule's code in rules_fired and an evidence entry "<code>: <evidence kinds of the
    strongest link>" counting the linked businesses. A linked party without a row of its own (no orders
    yet under its new id) gets one."""
    rules = policy["links"]

    def apply(status: DataFrame) -> DataFrame:
        if links is None:
            return status
        pairs = links.select("party_id", "linked_party_id", "match_weight", "evidence", "linked_on")
        both = pairs.unionByName(pairs.select(F.col("linked_party_id").alias("party_id"),
                                              F.col("party_id").alias("linked_party_id"), "match_weight",
                                              "evidence", "linked_on"))
        seen = _own_states(status if past is None else status.unionByName(past, allowMissingColumns=True), policy)
        seen = seen.select("seen_on", F.col("party_id").alias("linked_party_id"), "role", "state")
        as_ofs = F.broadcast(status.select("as_of").distinct())  # the as-ofs of the run or replay: a few hundred
        found = []
        for prio, rule in enumerate(rules):
            days = max(1, int(rule["lookback_days"]))
            src = seen.where(F.col("state").isin(*rule["from_states"])).join(both, "linked_party_id")
            found.append(src.join(as_ofs, (F.col("as_of") >= F.col("seen_on")) &
                                  (F.col("as_of") < F.date_add("seen_on", days)) & (F.col("linked_on") <= F.col("as_of")))
                         .select(*KEY, "linked_party_id", "match_weight", "evidence", F.lit(prio).alias("prio")))
        hits = (reduce(DataFrame.unionByName, found).groupBy(*KEY)
                .agg(F.min(F.struct("prio", (-F.col("match_weight")).alias("w"), "linked_party_id", "evidence")).alias("_best"),
                     F.count_distinct("linked_party_id").alias("_linked")))
        code = F.element_at(F.array(*[F.lit(c) for c in link_codes(policy)]), F.col("_best.prio") + 1)
        floor = F.element_at(F.array(*[F.lit(r["floor"]) for r in rules]), F.col("_best.prio") + 1)
        proof = F.struct(F.concat(code, F.lit(": "), F.array_join("_best.evidence", ", ")).alias("rule"),
                         F.lit(0).alias("window_days"), F.col("_linked").cast("bigint").alias("cases"),
                         F.lit(None).cast("bigint").alias("trials"), F.lit(None).cast("double").alias("rate"),
                         F.lit(1).alias("min_cases"), F.lit(None).cast("double").alias("min_rate"),
                         F.lit(0).alias("points")).cast(EVIDENCE_TYPE)
        rank = lambda c: F.array_position(F.array(*[F.lit(s) for s in STATES]), c)  # noqa: E731
        linked = F.col("_linked").isNotNull()
        lifted = lambda c: F.when(linked & (rank(c) < rank(floor)), floor).otherwise(c)  # noqa: E731
        decided_by = F.coalesce("decided_by", F.lit("policy"))
        return status.join(hits, KEY, "full").select(
            *KEY, F.coalesce("points", F.lit(0)).alias("points"),
            F.when(linked, F.concat(F.coalesce("rules_fired", F.array().cast("array<string>")), F.array(code)))
            .otherwise(F.col("rules_fired")).alias("rules_fired"),
            F.when(linked, F.concat(F.coalesce("evidence", F.array().cast(f"array<{EVIDENCE_TYPE}>")), F.array(proof)))
            .otherwise(F.col("evidence")).alias("evidence"),
            F.coalesce("cases", F.lit(0).cast("bigint")).alias("cases"),
            lifted(F.coalesce("policy_state", F.lit("good"))).alias("policy_state"),
            F.when(decided_by == "policy", lifted(F.coalesce("state", F.lit("good")))).otherwise(F.col("state")).alias("state"),
            F.coalesce("min_cases", F.lit(0)).alias("min_cases"), decided_by.alias("decided_by"), "override_reason",
            "_override_review")
    return apply


def _review(policy: dict) -> Column:
    """Review date: the override's, else since + the rung's review_days; none while good."""
    days = reduce(lambda acc, r: acc.when(F.col("state") == r["state"], F.lit(int(r["review_days"]))),
                  policy["ladder"][1:], F.when(F.col("state") == policy["ladder"][0]["state"],
                                               F.lit(int(policy["ladder"][0]["review_days"]))))
    return F.coalesce(F.col("_override_review"), F.date_add(F.col("since"), days))


def with_since(baseline: DataFrame | None, as_of: dt.date, policy: dict) -> Callable[[DataFrame], DataFrame]:
    """One as-of's rows + the snapshot before it (party_id, role, state, since; or None) -> since (the
    baseline's when the state is unchanged, else the as-of) and review_on. Non-good parties of the
    baseline without a row now come back as good rows (their record aged out of the windows)."""
    def apply(status: DataFrame) -> DataFrame:
        if baseline is None:
            return status.withColumn("since", F.col("as_of")).withColumn("review_on", _review(policy)).drop("_override_review")
        gone = (baseline.where(F.col("state") != "good").select("party_id", "role")
                .join(status.select("party_id", "role"), ["party_id", "role"], "left_anti")
                .select(F.lit(as_of).alias("as_of"), "party_id", "role", F.lit(0).alias("points"), F.array().cast("array<string>").alias("rules_fired"),
                        F.array().cast(f"array<{EVIDENCE_TYPE}>").alias("evidence"), F.lit(0).cast("bigint").alias("cases"),
                        F.lit("good").alias("policy_state"), F.lit("good").alias("state"), F.lit(0).alias("min_cases"),
                        F.lit("policy").alias("decided_by"), F.lit(None).cast("string").alias("override_reason"),
                        F.lit(None).cast("date").alias("_override_review")))
        before = baseline.select("party_id", "role", F.col("state").alias("_prev"), F.col("since").alias("_since"))
        return (status.unionByName(gone).join(before, ["party_id", "role"], "left")
                .withColumn("since", F.when(F.col("_prev") == F.col("state"), F.col("_since")).otherwise(F.col("as_of")))
                .withColumn("review_on", _review(policy)).drop("_prev", "_since", "_override_review"))
    return apply


def since_over_steps(step_days: int, policy: dict) -> Callable[[DataFrame], DataFrame]:
    """Replay rows (as-ofs step_days apart; a missing row reads as good) -> previous_state, since and
    review_on per row, as a sequence of job runs at those as-ofs would have set them."""
    def apply(status: DataFrame) -> DataFrame:
        by_party = Window.partitionBy("party_id", "role").orderBy("as_of")
        adjacent = F.lag("as_of").over(by_party) == F.date_sub(F.col("as_of"), step_days)
        prev = F.when(adjacent, F.lag("state").over(by_party)).otherwise(F.lit("good"))
        marked = (status.withColumn("previous_state", prev)
                  .withColumn("_change", F.when(F.col("previous_state") != F.col("state"), F.col("as_of"))
                              .when(~F.coalesce(adjacent, F.lit(False)), F.col("as_of"))))
        run = by_party.rowsBetween(Window.unboundedPreceding, Window.currentRow)
        return (marked.withColumn("since", F.last("_change", ignorenulls=True).over(run))
                .withColumn("review_on", _review(policy)).drop("_change", "_override_review"))
    return apply

