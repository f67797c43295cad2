"""A batch's keys filter big tables by broadcast when they are few, by an ordinary join when they are many."""
import pytest
from pyspark.sql import functions as F

from tradematch.keys import among_batch_keys, batch_keys


@pytest.fixture
def no_automatic_broadcast(spark):
    """Only the hint may broadcast: the test frames are small enough to be broadcast anyway."""
    before = spark.conf.get("spark.sql.autoBroadcastJoinThreshold")
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", "-1")
    yield
    spark.conf.set("spark.sql.autoBroadcastJoinThreshold", before)


def _plan(df) -> str:
    return df._jdf.queryExecution().executedPlan().toString()


@pytest.mark.parametrize("max_rows, join", [(3, "BroadcastHashJoin"), (2, "SortMergeJoin")],
                         ids=["few_keys_broadcast", "many_keys_joined"])
def test_batch_keys_are_distinct_and_broadcast_only_under_the_limit(spark, no_automatic_broadcast, max_rows, join):
    table = spark.createDataFrame([(k, n) for n, k in enumerate("ABCDE")], "k string, n int")
    keys = batch_keys(spark.createDataFrame([("B",), ("D",), ("B",)], "k string"), max_rows)
    assert sorted(r.k for r in keys.collect()) == ["B", "D"]  # from three rows: within a limit of 3, not of 2
    filtered = table.join(keys, "k", "left_semi")
    assert sorted(r.n for r in filtered.collect()) == [1, 3]
    assert join in _plan(filtered)


@pytest.mark.parametrize("max_rows, kept", [(3, [1, 3]), (2, [0, 1, 2, 3, 4])],
                         ids=["few_keys_filter", "many_keys_keep_all"])
def test_among_batch_keys_filters_the_table_only_when_the_keys_are_few(spark, max_rows, kept):
    table = spark.createDataFrame([(k, n) for n, k in enumerate("ABCDE")], "k string, n int")
    keys = spark.createDataFrame([("B",), ("D",), ("B",)], "k string")
    assert sorted(r.n for r in among_batch_keys(table, keys, ["k"], max_rows).collect()) == kept


def test_the_keys_lineage_runs_once_to_decide_and_to_keep_them(spark):
    """The keys of a daily batch come from a scan of a big table: counting them, then computing them
    again to keep them, ran that scan twice."""
    evaluated = spark.sparkContext.accumulator(0)

    def seen(k):
        evaluated.add(1)
        return True

    table = spark.createDataFrame([(k, n) for n, k in enumerate("ABCDE")], "k string, n int")
    keys = spark.createDataFrame([("B",), ("D",), ("B",)], "k string").where(F.udf(seen, "boolean")("k"))
    assert sorted(r.k for r in batch_keys(keys, 3).collect()) == ["B", "D"]
    assert evaluated.value == 3  # three rows, each evaluated once
    assert sorted(r.n for r in among_batch_keys(table, keys, ["k"], 3).collect()) == [1, 3]
    assert evaluated.value == 6  # once more for the second call, not twice
