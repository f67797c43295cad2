"""History and reliability on the generated world (20k orders): run two days before the as-of, then at
the as-of (incremental months, decayed sums rolled forward); both equal a full recompute, and the shrunk
score ranks parties by their true reliability better than the raw bad-outcome rate."""
import datetime as dt
import shutil

from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from tradematch import history, pipeline
from tradematch.evaluate.reliability import section
from tradematch.lake import Lake
from tradematch.reliability import evidence as E
from tradematch.reliability import load_conf
from tradematch.schema import Catalog
from tradematch.tables import Tables


def test_history_and_reliability_roll_forward_exactly_and_the_score_beats_the_raw_rate(spark, settings, ingested_lake,
                                                                                      tmp_path):
    source, world = ingested_lake
    lake = Lake(str(tmp_path / "lake"))
    for part in ("silver", "truth"):  # the shared lake stays read-only
        shutil.copytree(source.path(part), lake.path(part))
    as_of = world["as_of"]
    runs = {}
    # after the history batch (as-of minus 3 days) and before the last two daily ones: a run for a day
    # before the history batch landed would see every month change when it lands
    for day in (as_of - dt.timedelta(days=2), as_of):
        for job in ("history", "reliability"):
            runs[job, day] = pipeline.execute(pipeline.job_named(job), spark, settings, lake, f"e2e-{day}", day,
                                              Catalog(), {})
    tables, conf = Tables(spark, lake), load_conf()
    lookback, half_life = conf["repeat_lookback_months"], float(conf["half_life_days"])
    monthly = tables.read("party_market_monthly")
    # the second history run recomputed recent months only; the second reliability run rolled forward
    assert 0 < runs["history", as_of].metrics["history.months_recomputed"] < monthly.select("month").distinct().count()
    assert runs["reliability", as_of].metrics["reliability.rolled_forward_days"] == 2
    assert monthly.agg(F.max("month")).head()[0] <= as_of
    full = history.build(tables.read("orders_history"), tables.read("disputes"), tables.read("reviews"), as_of, lookback)
    assert_df_equality(monthly.drop("computed_as_of"), full.drop("computed_as_of"), ignore_row_order=True,
                       ignore_nullable=True, ignore_column_order=True, ignore_metadata=True)
    rolled = tables.read(E.EVIDENCE).where(F.col("as_of") == F.lit(as_of))
    recomputed = E.full(monthly, as_of, half_life, rolled.agg(F.max("monthly_version")).head()[0])
    assert_approx_df_equality(_plain(rolled), _plain(recomputed), precision=1e-6, ignore_row_order=True,
                              ignore_nullable=True)

    scores = tables.read("party_reliability").where(F.col("as_of") == F.lit(as_of))
    assert scores.where(F.col("tier") == "unrated").count() > 0
    assert scores.where(F.size("reasons") > 0).count() > 0
    result = section(tables)
    for role in ("supplier", "buyer"):
        assert result[f"{role}_spearman_all"] > result[f"{role}_raw_spearman_all"], result


def _plain(df):
    """The frame without column comments (a table's and a computed frame's differ only there)."""
    return df.select([F.col(c).alias(c, metadata={}) for c in df.columns])
