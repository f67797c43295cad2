"""The generated world at ~20k orders: realistic structure, planted truth, dirt on the ledger, determinism."""
import subprocess
import sys
from pathlib import Path

import pytest
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from tradematch.evaluate.world import latest_orders, p_bad_at
from tradematch.generate.config import load_config
from tradematch.generate.landing_files import FORMATS, read_back
from tradematch.lake import Lake
from tradematch.landing import record_hash
from tradematch.tables import Tables

from conftest import BACKGROUND_JVM, BACKGROUND_PRIORITY, SMALL_WORLD, WORLD_AS_OF


@pytest.fixture(scope="module")
def world(spark, generated_lake):
    lake, summary = generated_lake
    tables = Tables(spark, lake)
    return tables, summary, latest_orders(tables).cache()


def test_clusters_sell_their_own_chapters(world):
    tables, _, orders = world
    cfg = load_config()
    parties = read_back(tables.spark, tables.lake, "parties", tables.catalog.landing("parties"))
    by_cluster = (orders.join(parties.select(F.col("party_id").alias("supplier_id"), "cluster"), "supplier_id")
                  .groupBy("cluster", "chapter").count().collect())
    total = sum(r["count"] for r in by_cluster)
    own = sum(r["count"] for r in by_cluster if r.chapter in cfg["clusters"][r.cluster]["chapters"])
    assert own / total > 0.99
    top = {}
    for r in sorted(by_cluster, key=lambda r: r["count"]):
        top[r.cluster] = r.chapter
    assert top["dongyang"] == "44" and top["shenzhen"] == "85" and top["jinjiang"] == "64"
    assert len(top) >= 12 and len({cfg["clusters"][c]["country"] for c in top}) >= 5


def test_loyal_buyers_go_back_to_their_suppliers(world):
    tables, _, orders = world
    loyalty = tables.read("buyer_tastes").select("buyer_id", "loyalty").distinct()
    seq = orders.select("buyer_id", "supplier_id", "order_date", "order_id")
    first = seq.groupBy("buyer_id", "supplier_id").agg(F.min("order_date").alias("first"))
    repeat = (seq.join(first, ["buyer_id", "supplier_id"]).withColumn("repeat", F.col("order_date") > F.col("first"))
              .join(loyalty, "buyer_id"))
    share = lambda cond: repeat.where(cond).agg(F.avg(F.col("repeat").cast("double"))).head()[0]  # noqa: E731
    loyal, fickle = share(F.col("loyalty") >= 0.65), share(F.col("loyalty") <= 0.4)
    assert loyal > fickle + 0.1, (loyal, fickle)


def test_complaints_and_disputes_rise_as_quality_falls(world):
    tables, summary, orders = world
    spark = tables.spark
    reviews = read_back(spark, tables.lake, "reviews", tables.catalog.landing("reviews"))
    disputes = read_back(spark, tables.lake, "disputes", tables.catalog.landing("disputes"))
    complaint = reviews.where((F.col("reviewer_role") == "buyer") & (F.col("complaint") == "true")).select("order_id").distinct()
    disputed = disputes.where(F.col("opened_by") == "buyer").select("order_id").distinct()
    truth = p_bad_at(tables, "supplier", summary["as_of"]).withColumnRenamed("party_id", "supplier_id")
    tiers = truth.withColumn("tier", F.when(F.col("p_bad") < 0.04, "good").when(F.col("p_bad") < 0.15, "middling")
                             .otherwise("bad"))
    rates = {r.tier: r for r in (
        orders.join(tiers, "supplier_id")
        .join(complaint.withColumn("c", F.lit(1.0)), "order_id", "left")
        .join(disputed.withColumn("d", F.lit(1.0)), "order_id", "left").fillna(0.0, ["c", "d"])
        .groupBy("tier").agg(F.avg("c").alias("complaint"), F.avg("d").alias("dispute"), F.count("*").alias("n"))
        .collect())}
    assert rates["good"].complaint < rates["middling"].complaint < rates["bad"].complaint
    assert rates["good"].dispute < rates["middling"].dispute < rates["bad"].dispute
    assert rates["bad"].complaint > 2 * rates["good"].complaint


def test_bad_actors_are_planted_at_every_activity_level(world):
    tables, _, orders = world
    volume = orders.groupBy(F.col("supplier_id").alias("party_id")).count()
    kinds = tables.read("party_truth").where(F.col("role") == "supplier").select("party_id", "kind").distinct()
    ranked = volume.join(kinds, "party_id").withColumn("tercile", F.ntile(3).over(Window.orderBy("count", "party_id")))
    bad_per_tercile = {r.tercile: r.n for r in ranked.where(F.col("kind") != "good").groupBy("tercile")
                       .agg(F.count("*").alias("n")).collect()}
    assert set(bad_per_tercile) == {1, 2, 3} and min(bad_per_tercile.values()) >= 2
    assert tables.read("evader_links").count() > 0
    assert {r.kind for r in kinds.select("kind").distinct().collect()} == {
        "good", "chronic", "turns_bad", "recovers", "evader"}


def test_evaders_come_back_with_near_identical_identity(world):
    tables, _, _ = world
    parties = read_back(tables.spark, tables.lake, "parties", tables.catalog.landing("parties"))
    pii = ["tax_id", "phone", "bank_account_hash"]
    links = tables.read("evader_links")
    old = parties.select(F.col("party_id").alias("old_party_id"), *[F.col(c).alias("o_" + c) for c in pii])
    new = parties.select(F.col("party_id").alias("new_party_id"), *[F.col(c).alias("n_" + c) for c in pii])
    pairs = links.join(old, "old_party_id").join(new, "new_party_id")
    shared = pairs.select(sum((F.col("o_" + c) == F.col("n_" + c)).cast("int") for c in pii).alias("k")).collect()
    assert shared and all(r.k >= 1 for r in shared)


def test_every_visibly_bad_order_record_is_on_the_ledger(world):
    """Checks made here independently of ingest find exactly the records the ledger names."""
    tables, summary, _ = world
    spark = tables.spark
    schema = tables.catalog.landing("orders")
    landed = read_back(spark, tables.lake, "orders", schema).withColumn("h", record_hash(schema.columns))
    ledger = tables.read("dirty_records").where(F.col("entity") == "orders")
    counts = {r.rule: r["count"] for r in ledger.groupBy("rule").count().collect()}
    cfg = load_config()
    parties = read_back(spark, tables.lake, "parties", tables.catalog.landing("parties")).select("party_id")
    visibly = {
        "unknown_currency": ~F.col("currency").isin(*cfg["currencies"]),
        "bad_date": F.try_to_date("order_date", "yyyy-MM-dd").isNull() & F.col("order_date").isNotNull(),
        "absurd_amount": F.col("amount").startswith("-") | (F.col("quantity") == "-5"),
        "bad_code": F.col("status") == "shipped",
        "bad_number": F.col("amount").contains(","),
    }
    for rule, cond in visibly.items():
        found = landed.where(cond)
        assert found.count() == counts.get(rule, 0) > 0, rule
        assert found.join(ledger.where(F.col("rule") == rule), F.col("h") == F.col("record_hash"), "left_anti").count() == 0
    orphans = landed.join(parties, F.col("buyer_id") == F.col("party_id"), "left_anti").where(F.col("buyer_id").isNotNull())
    assert orphans.count() == counts["orphan_reference"] > 0
    duplicates = landed.count() - landed.distinct().count()
    assert duplicates == counts["duplicate_record"] > 0
    assert sum(counts.values()) == ledger.count() and summary["dirty_rate"] == 0.02


def test_no_truth_column_reaches_a_landing_file(world):
    tables, _, _ = world
    spark, truth_words = tables.spark, {"p_bad", "kind", "fault", "s_fault", "b_fault", "loyalty", "archetype",
                                        "propensity", "rule", "onset_date", "weak_market", "okey", "biz"}
    for entity, fmt in FORMATS.items():
        path = tables.lake.landing(entity)
        reader = spark.read.option("header", True) if fmt == "csv" else spark.read
        columns = set(getattr(reader, fmt)(path).columns) - {"batch"}
        assert columns == set(tables.catalog.landing(entity).columns), entity
        assert not columns & truth_words


class OneCoreWorld:
    """The session's tiny world (SMALL_WORLD) generated again by `tradematch generate` in a fresh process on
    one core (a conftest background run: started as the session begins, compared here)."""

    def __init__(self, root: Path):
        self.lake, self.process = Lake(str(root / "lake")), None

    def run(self) -> Lake:
        options = [f"--{k.replace('_', '-')}={v}" for k, v in SMALL_WORLD.items()]
        cmd = [*BACKGROUND_PRIORITY, sys.executable, "-m", "tradematch.cli", "--set=master=local[1]",
               "--set=spark.driver.memory=2g", f"--set={BACKGROUND_JVM}", "--lake", self.lake.root,
               "--as-of", WORLD_AS_OF, "generate", *options]
        self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out, _ = self.process.communicate(timeout=1800)
        if self.process.returncode != 0:
            raise RuntimeError(f"generate on one core: exit {self.process.returncode}\n{out[-3000:]}")
        return self.lake

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()


def test_content_hash_is_the_same_across_runs_and_cores(spark, small_world, background):
    def hashes(lake: Lake) -> dict:
        return spark.read.format("delta").load(lake.path("truth", "world")).head().content_hashes

    in_process = hashes(small_world)  # local[2], this session, interpreted
    one_core = hashes(background.result("one_core"))  # a fresh process on one core, generated code
    assert in_process == one_core
    assert set(in_process) == set(FORMATS) and len(set(in_process.values())) == len(FORMATS)
