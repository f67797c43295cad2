"""The Airflow DAGs in scripts/airflow/, loaded by Airflow's DagBag in .venv-airflow.

Airflow lives in its own virtual environment (its Spark provider brings a pyspark of its own), so a
subprocess there loads the DAG folder, renders each task's templates with sample Variables and prints
the DAGs as JSON; this process checks them against the pipeline (job order), scripts/submit (the same
spark-submit arguments and --conf) and a real run's job_runs (the gold tables each task publishes).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from tradematch import pipeline
from tradematch.schema import Catalog
from tradematch.settings import load_settings, project_root
from tradematch.submit import command

AIRFLOW_PYTHON = project_root() / ".venv-airflow" / "bin" / "python"
DS = "2026-11-20"
VARIABLES = {"tradematch_lake": "/data/lake", "tradematch_wheel": "/opt/tm/tradematch.whl",
             "tradematch_jars": "/opt/tm/delta-spark.jar,/opt/tm/delta-storage.jar", "tradematch_reports": "/data/reports"}
DESCRIBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=sys.argv[1])
context = {"ds": sys.argv[2], "var": {"value": json.loads(sys.argv[3])}}
out = {"import_errors": {str(k): str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    tasks = {}
    for task in dag.tasks:
        task.render_template_fields(context)
        tasks[task.task_id] = {
            "type": type(task).__name__, "upstream": sorted(task.upstream_task_ids),
            "downstream": sorted(task.downstream_task_ids), "conn_id": task._conn_id, "name": task.name,
            "application": task.application, "application_args": task.application_args, "conf": task.conf,
            "py_files": task.py_files, "jars": task.jars, "retries": task.retries,
            "outlets": [{"name": a.name, "uri": a.uri} for a in task.outlets]}
    out["dags"][dag_id] = {"schedule": repr(dag.timetable), "catchup": dag.catchup,
                           "max_active_runs": dag.max_active_runs, "tasks": tasks}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def described(tmp_path_factory) -> dict:
    if not AIRFLOW_PYTHON.exists():
        pytest.fail(f"{AIRFLOW_PYTHON} is missing: run scripts/airflow/setup (scripts/test does)")
    home = tmp_path_factory.mktemp("airflow-home")  # Airflow writes its config and logs there, not in ~
    env = {"PATH": "/usr/bin:/bin", "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    proc = subprocess.run([str(AIRFLOW_PYTHON), "-c", DESCRIBE, str(project_root() / "scripts" / "airflow"), DS,
                           json.dumps(VARIABLES)], env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _chain(tasks: dict) -> list[str]:
    """The task ids in order, checking the tasks form one straight line."""
    (first,) = [t for t, spec in tasks.items() if not spec["upstream"]]
    order = [first]
    while tasks[order[-1]]["downstream"]:
        (after,) = tasks[order[-1]]["downstream"]
        order.append(after)
    assert len(order) == len(tasks)
    return order


def test_the_dag_folder_loads_without_import_errors(described):
    assert described["import_errors"] == {}
    assert set(described["dags"]) == {"tradematch", "tradematch_maintenance"}


def test_the_daily_dag_runs_every_job_in_pipeline_order_then_the_report(described):
    dag = described["dags"]["tradematch"]
    assert _chain(dag["tasks"]) == [job.name for job in pipeline.JOBS] + ["report"]
    assert dag["schedule"] == "CronDataIntervalTimetable(expression='0 2 * * *', timezone='UTC')"
    assert (dag["catchup"], dag["max_active_runs"]) == (False, 1)
    assert {t["retries"] for t in dag["tasks"].values()} == {2}
    assert {t["type"] for t in dag["tasks"].values()} == {"SparkSubmitOperator"}


@pytest.mark.parametrize("job", [job.name for job in pipeline.JOBS] + ["report"])
def test_each_task_submits_as_scripts_submit_does(described, job):
    """The same entry point, job arguments and --conf as `scripts/submit --master M JOB --env cluster`."""
    task = described["dags"]["tradematch"]["tasks"][job]
    settings = load_settings("cluster", [f"lake={VARIABLES['tradematch_lake']}"])
    extra = ["--as-of", DS] + (["--out", f"{VARIABLES['tradematch_reports']}/{DS}"] if job == "report" else [])
    cmd = command(settings, job, "spark://m:7077", Path(VARIABLES["tradematch_wheel"]), extra, project_root())
    assert [task["application"], *task["application_args"]] == cmd[-(len(task["application_args"]) + 1):]
    assert {f"{k}={v}" for k, v in task["conf"].items()} == {cmd[i + 1] for i, a in enumerate(cmd) if a == "--conf"}
    assert (task["py_files"], task["jars"]) == (VARIABLES["tradematch_wheel"], VARIABLES["tradematch_jars"])
    assert (task["conn_id"], task["name"]) == ("tradematch_spark", f"tradematch-{job}")


def test_each_task_publishes_as_assets_the_gold_tables_its_job_writes(described, spark, pipeline_lake):
    tasks = described["dags"]["tradematch"]["tasks"]
    gold = {name for name, s in Catalog().schemas().items() if s.layer == "gold"}
    runs = spark.read.format("delta").load(pipeline_lake.path("ops", "job_runs"))
    # One row per job of the tiny world's run: a small table.
    written = {r.job: set(r.tables) & gold for r in runs.select("job", F.map_keys("versions_written").alias("tables")).collect()}
    for job in pipeline.JOBS:
        assets = tasks[job.name]["outlets"]
        assert sorted(a["name"] for a in assets) == sorted(f"tradematch.gold.{t}" for t in written[job.name]), job.name
        assert all(a["uri"] == "tradematch://gold/" + a["name"].rsplit(".", 1)[1] for a in assets)
    assert tasks["report"]["outlets"] == []
    assert {a["name"] for t in tasks.values() for a in t["outlets"]} == {f"tradematch.gold.{t}" for t in gold}


def test_the_maintenance_dag_compacts_then_vacuums_weekly(described):
    dag = described["dags"]["tradematch_maintenance"]
    assert _chain(dag["tasks"]) == ["compact", "vacuum"]
    assert dag["schedule"] == "CronDataIntervalTimetable(expression='0 4 * * 0', timezone='UTC')"
    for task_id, step in (("compact", "optimize"), ("vacuum", "vacuum")):
        task = dag["tasks"][task_id]
        assert task["application"] == str(project_root() / "jobs" / "maintain.py")
        assert task["application_args"] == ["--env", "cluster", "--lake", VARIABLES["tradematch_lake"], "--step", step]
        assert task["retries"] == 3
