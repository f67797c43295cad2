"""The report's figures as small Spark aggregates: pure DataFrame -> DataFrame functions over the lake's tables.

Each result has a handful of rows (per job, rule and batch, market, month ...), so the page can collect it.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def newest_snapshot(df: DataFrame) -> DataFrame:
    """The rows of the newest as_of of a snapshot table."""
    return df.join(df.agg(F.max("as_of").alias("as_of")), "as_of")


def pipeline_status(job_runs: DataFrame, dq_results: DataFrame) -> DataFrame:
    """Each job's newest run: outcome, duration, rows written and its quality gate (validations in that run
    and job, how many failed, and how many warn-severity expectations failed while letting it through)."""
    newest = (job_runs.withColumn("_n", F.row_number().over(Window.partitionBy("job").orderBy(F.col("started_at").desc())))
              .where("_n = 1"))
    failed = F.coalesce(F.col("failed_expectations"), F.array())
    gates = dq_results.groupBy("run_id", "job").agg(
        F.count("*").alias("validations"),
        F.sum((~F.col("success")).cast("int")).alias("gates_failed"),
        F.sum(F.size(F.filter(failed, lambda e: e.severity == "warn"))).alias("warnings"))
    rows = F.aggregate(F.coalesce(F.map_values("rows_written"), F.array()), F.lit(0).cast("bigint"), lambda a, x: a + x)
    return (newest.join(gates, ["run_id", "job"], "left")
            .select("job", "run_id", "as_of", "started_at", "outcome", "duration_seconds", rows.alias("rows_written"),
                    F.coalesce("validations", F.lit(0)).alias("validations"),
                    F.coalesce("gates_failed", F.lit(0)).alias("gates_failed"),
                    F.coalesce("warnings", F.lit(0)).alias("warnings"), "error")
            .orderBy("started_at"))


def latest_validations(dq_results: DataFrame) -> DataFrame:
    """Each table's newest validation: version, success, expectations, failed ones by severity."""
    w = Window.partitionBy("table_name").orderBy(F.col("validated_at").desc())
    failed = F.coalesce(F.col("failed_expectations"), F.array())
    return (dq_results.withColumn("_n", F.row_number().over(w)).where("_n = 1")
            .select("table_name", "table_version", "validated_at", "success", "expectations",
                    F.size(F.filter(failed, lambda e: e.severity == "fail")).alias("failed"),
                    F.size(F.filter(failed, lambda e: e.severity == "warn")).alias("warned"))
            .orderBy("table_name"))


def quarantine_counts(quarantine: DataFrame) -> DataFrame:
    """Records quarantined per landing batch and first rule broken."""
    return quarantine.groupBy("batch", "rule").agg(F.count("*").alias("records")).orderBy("batch", "rule")


def score_quantiles(market_reliability: DataFrame) -> DataFrame:
    """Newest snapshot's score quantiles (QUANTILES) and party count per role and market."""
    return (newest_snapshot(market_reliability).groupBy("role", "market")
            .agg(F.percentile_approx("score", list(QUANTILES), 10_000).alias("q"), F.count("*").alias("parties"))
            .orderBy("role", "market"))


def tier_counts(market_reliability: DataFrame) -> DataFrame:
    """Newest snapshot's parties per role, market and tier."""
    return (newest_snapshot(market_reliability).groupBy("role", "market", "tier")
            .agg(F.count("*").alias("parties")).orderBy("role", "market", "tier"))


def top_chapters(monthly: DataFrame, n: int) -> DataFrame:
    """The n HS chapters with the most supplier GMV (USD) over the whole history."""
    return (monthly.where(F.col("role") == "supplier").groupBy("hs_chapter")
            .agg(F.sum("gmv_usd").cast("double").alias("gmv_usd"))
            .orderBy(F.col("gmv_usd").desc(), "hs_chapter").limit(n))


def chapter_extremes(reliability: DataFrame, chapters: DataFrame, k: int, unrated: str) -> DataFrame:
    """Per chapter (a supplier's peer chapter), its k best and k worst rated suppliers with their reasons.

    side is best or worst; a supplier among the best is not listed again among the worst.
    """
    rated = (newest_snapshot(reliability)
             .where((F.col("role") == "supplier") & (F.col("tier") != unrated))
             .join(F.broadcast(chapters.select(F.col("hs_chapter").alias("peer_chapter"))), "peer_chapter"))
    by_chapter = Window.partitionBy("peer_chapter")
    ranked = (rated.withColumn("best", F.row_number().over(by_chapter.orderBy(F.col("score").desc(), "party_id")))
              .withColumn("worst", F.row_number().over(by_chapter.orderBy(F.col("score").asc(), F.col("party_id").desc()))))
    return (ranked.where((F.col("best") <= k) | (F.col("worst") <= k))
            .select(F.col("peer_chapter").alias("hs_chapter"),
                    F.when(F.col("best") <= k, "best").otherwise("worst").alias("side"),
                    F.when(F.col("best") <= k, F.col("best")).otherwise(F.col("worst")).alias("place"),
                    "party_id", F.round("score", 1).alias("score"), "tier",
                    F.concat_ws("; ", "reasons").alias("reasons"))
            .orderBy("hs_chapter", F.col("side"), "place"))


def risk_by_month(events: DataFrame) -> DataFrame:
    """Changes of risk state per month (of event_date) and state entered."""
    return (events.groupBy(F.trunc("event_date", "month").alias("month"), "to_state")
            .agg(F.count("*").alias("events")).orderBy("month", "to_state"))


def newest_risk(status: DataFrame, n: int) -> DataFrame:
    """The n parties of the newest snapshot not in good standing that entered their state last, with the
    evidence of each rule that fired in words."""
    def rule(e):
        return F.format_string("%s: %d of %d orders (%.1f%%) in %d days, needs %d and %.1f%%", e.rule, e.cases,
                               e.trials, e.rate * 100, e.window_days, e.min_cases, e.min_rate * 100)

    return (newest_snapshot(status).where(F.col("state") != "good")
            .select("party_id", "role", "state", "points", "since", "review_on", "decided_by",
                    F.coalesce(F.concat_ws(" | ", F.transform("evidence", rule)), F.lit("")).alias("evidence"),
                    "override_reason")
            .orderBy(F.col("since").desc(), F.col("points").desc(), "party_id").limit(n))
