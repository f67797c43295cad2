import json

from tradematch import pipeline
from tradematch.cli import main
from tradematch.runs import RunLock
from tradematch.lake import Lake


def test_info_json_gives_path_version_and_rows(spark, settings, tmp_path, capsys):
    lake = Lake(str(tmp_path / "lake"))
    pipeline.execute(pipeline.Job("noop", lambda ctx: None, ""), spark, settings, lake, "r1", None)
    capsys.readouterr()
    assert main(["--lake", lake.root, "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info == {"job_runs": {"path": f"{lake.root}/ops/job_runs", "version": 1, "rows": 1}}


def test_config_errors_stop_before_anything_is_written(tmp_path, capsys):
    lake = tmp_path / "lake"
    assert main(["--lake", str(lake), "--set", "colour=blue", "run"]) == 2
    assert "unknown key 'colour'" in capsys.readouterr().err
    assert main(["--lake", str(lake), "--env", "mars", "run"]) == 2
    assert "unknown environment 'mars'" in capsys.readouterr().err
    assert not lake.exists()


def test_unwritable_lake_is_named(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["--lake", str(blocker / "lake"), "run"]) == 2
    assert f"lake path {blocker / 'lake'} cannot be written" in capsys.readouterr().err


def test_busy_lake_exits_3_with_the_lock_message(tmp_path, capsys):
    lake = tmp_path / "lake"
    with RunLock(Lake(str(lake)), 60, "other-run", "run"):
        assert main(["--lake", str(lake), "run"]) == 3
    assert "another tradematch run holds the lake" in capsys.readouterr().err
