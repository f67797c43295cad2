"""Every job rerun for the same as-of equals one run: the tiny world's run lake copied, every job after
ingest run again (ingest's own reruns are in test_hostile_landing and test_faults), every table compared."""
import datetime as dt
import shutil

import pytest

from tradematch import pipeline
from tradematch.lake import Lake
from tradematch.schema import Catalog

from conftest import WORLD_AS_OF
from lakes import assert_same_table, tables_in

LAYERS = ("silver", "gold")


@pytest.fixture(scope="module")
def rerun(spark, settings, pipeline_lake, tmp_path_factory):
    lake = Lake(str(tmp_path_factory.mktemp("rerun") / "lake"))
    shutil.copytree(pipeline_lake.root, lake.root)
    for job in pipeline.JOBS[1:]:
        pipeline.execute(job, spark, settings, lake, "rerun", dt.date.fromisoformat(WORLD_AS_OF), Catalog(), {})
    return lake


def test_a_rerun_writes_every_table_of_the_run_and_no_other(spark, rerun, pipeline_lake):
    assert tables_in(spark, rerun, LAYERS) == tables_in(spark, pipeline_lake, LAYERS)


@pytest.mark.parametrize("name", sorted(n for n, s in Catalog().schemas().items() if s.layer in LAYERS))
def test_every_table_after_a_rerun_equals_one_run(spark, rerun, pipeline_lake, name):
    if name not in tables_in(spark, pipeline_lake, LAYERS):
        pytest.skip(f"{name}: not written on the tiny world")
    assert_same_table(spark, rerun, pipeline_lake, name)
