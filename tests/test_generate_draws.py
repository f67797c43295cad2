"""Seeded draws: deterministic, in range, and weighted as asked (hand-checked small cases)."""
from pyspark.sql import functions as F

from tradematch.generate import draws as D


def test_uniform_depends_only_on_seed_salt_and_key(spark):
    df = spark.range(2000).repartition(7)
    a = df.select("id", D.uniform(1, "x", F.col("id")).alias("u"))
    b = spark.range(2000).coalesce(1).select("id", D.uniform(1, "x", F.col("id")).alias("u"))
    assert a.join(b, "id").where(a.u != b.u).count() == 0
    row = a.agg(F.min("u"), F.max("u"), F.avg("u")).head()
    assert 0 <= row[0] and row[1] < 1 and abs(row[2] - 0.5) < 0.03
    assert a.join(df.select("id", D.uniform(2, "x", F.col("id")).alias("v")), "id").where("u = v").count() == 0


def test_pick_and_choose_on_fixed_uniforms(spark):
    df = spark.createDataFrame([(0.0,), (0.24,), (0.25,), (0.69,), (0.7,), (0.999,)], "u double")
    picked = df.select(D.pick(F.col("u"), {"a": 1, "b": 1.8, "c": 1.2}).alias("p")).collect()
    # cumulative shares 0.25, 0.70, 1.0
    assert [r.p for r in picked] == ["a", "a", "b", "b", "c", "c"]
    chosen = df.select(D.choose(F.col("u"), ["x", "y", "z", "w"]).alias("c")).collect()
    assert [r.c for r in chosen] == ["x", "x", "y", "z", "z", "w"]


def test_int_between_covers_both_ends(spark):
    values = {r.v for r in spark.range(5000).select(D.int_between(3, "k", 2, 5, F.col("id")).alias("v")).collect()}
    assert values == {2, 3, 4, 5}


def test_normal_has_unit_spread(spark):
    row = spark.range(20000).select(D.normal(5, "n", F.col("id")).alias("z")).agg(F.avg("z"), F.stddev("z")).head()
    assert abs(row[0]) < 0.03 and abs(row[1] - 1) < 0.03
