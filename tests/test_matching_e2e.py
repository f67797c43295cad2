"""Matching on the generated world (20k orders): every job after ingest runs as of the cutoff in a scratch
lake (publishing through the suites of the affinity and match tables), and tradematch's lists beat the
popularity baseline on the orders after the cutoff."""
import shutil

from tradematch.evaluate.matching import section
from tradematch.lake import Lake
from tradematch.tables import Tables


def test_tradematch_beats_popularity_on_the_time_split(spark, ingested_lake, tmp_path):
    source, _ = ingested_lake
    lake = Lake(str(tmp_path / "lake"))
    for part in ("silver", "truth"):  # the shared lake stays read-only
        shutil.copytree(source.path(part), lake.path(part))
    report = section(Tables(spark, lake), baselines=("popularity",))
    ours, popular = report["models"]["tradematch"], report["models"]["popularity"]
    assert report["scored_buyers"] > 100
    assert set(ours) >= {"precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10", "coverage"}
    assert ours["ndcg_at_10"] > popular["ndcg_at_10"]
    assert ours["recall_at_10"] > popular["recall_at_10"]
    assert not (lake.local_root / "gold").exists()  # fitted in the scratch lake only, which is gone
    assert not any((lake.local_root / "_scratch" / "matching").iterdir())
