"""What an operator does by hand: restore a table, erase a party's PII; and what must never be in the
lake's public side or in conf files."""
import datetime as dt
import re
import shutil

from chispa import assert_df_equality
from pyspark.sql import functions as F

from tradematch.cli import main
from tradematch.erase import ERASED
from tradematch.lake import Lake
from tradematch.schema import Catalog
from tradematch.settings import project_root
from tradematch.tables import Tables

LINKED_ON = dt.date(2026, 11, 20)


def _links(tables, *pairs):
    return tables.rows("party_links", [{"party_id": a, "linked_party_id": b, "canonical_id": a, "match_weight": w,
                                        "evidence": ["tax_id"], "linked_on": LINKED_ON} for a, b, w in pairs])


def test_restore_command_makes_a_wrong_publish_undone_and_records_it(spark, tmp_path, capsys):
    lake = Lake(str(tmp_path / "lake"))
    tables = Tables(spark, lake)
    tables.publish("party_links", _links(tables, ("P1", "P2", 20.0)))
    tables.publish("party_links", _links(tables, ("P1", "P3", 13.0), ("P4", "P5", 14.0)))  # the wrong one
    assert main(["--lake", lake.root, "restore", "party_links", "--version", "1"]) == 0
    assert_df_equality(tables.read("party_links"), _links(tables, ("P1", "P2", 20.0)), ignore_metadata=True)
    run = spark.read.format("delta").load(lake.path("ops", "job_runs")).where("job = 'restore'").head()
    assert run.outcome == "success" and run.versions_written["party_links"] == 3
    assert run.notes == ["party_links: version 1 restored as version 3 (was 2)"]
    assert main(["--lake", lake.root, "restore", "party_links", "--version", "7"]) == 2
    assert "restore needs a version from 0 to 2, not 7" in capsys.readouterr().err


def test_erase_party_removes_its_pii_from_the_restricted_layer_and_says_what_vacuum_must_do(
        spark, pipeline_lake, tmp_path, capsys):
    lake = Lake(str(tmp_path / "lake"))
    restricted = ("bronze_records", "pending", "quarantine", "party_identity")
    for name in restricted:
        shutil.copytree(Tables(spark, pipeline_lake).path(name), Tables(spark, lake).path(name))
    tables = Tables(spark, lake)
    party = tables.read("party_identity").orderBy("party_id").head().party_id
    pii = Catalog().landing("parties").pii
    bronze_before = tables.read("bronze_records").count()
    assert main(["--lake", lake.root, "erase-party", party]) == 0
    out = capsys.readouterr().out
    assert f"party {party}: PII" in out and "VACUUM" in out and "landing files" in out
    assert tables.read("party_identity").where(F.col("party_id") == party).count() == 0
    assert tables.read("party_identity").count() > 0  # only that party
    for name in ("bronze_records", "pending", "quarantine"):
        rows = tables.read(name).where((F.col("entity") == "parties") & (F.col("fields")["party_id"] == party))
        keys = {k for r in rows.select(F.explode(F.map_keys("fields"))).collect() for k in r}  # one party's rows
        assert not keys & set(pii), name
        if "raw_record" in rows.columns:
            assert rows.where(F.col("raw_record").isNotNull() & (F.col("raw_record") != ERASED)).count() == 0
    assert tables.read("bronze_records").count() == bronze_before
    erased = tables.read("bronze_records").where((F.col("entity") == "parties") & (F.col("fields")["party_id"] == party))
    assert erased.count() >= 1


def test_no_gold_table_has_a_pii_column():
    pii = {c for s in Catalog().schemas().values() for c in s.pii} | set(Catalog().landing("parties").pii)
    assert {"legal_name", "tax_id", "phone", "address"} <= pii
    for name, schema in Catalog().schemas().items():
        if schema.layer == "gold":
            assert not set(schema.columns) & pii, name


def test_no_secret_sits_in_conf_files():
    secret_key = re.compile(r"(password|passwd|secret|token|api[_-]?key|access[_-]?key|credential)\s*[:=]", re.I)
    looks_secret = re.compile(r"(AKIA[0-9A-Z]{16}|-----BEGIN [A-Z ]*PRIVATE KEY-----|://[^/\s:]+:[^@\s]+@)")
    files = [p for p in (project_root() / "conf").rglob("*") if p.is_file()]
    assert files
    for path in files:
        text = path.read_text()
        assert not secret_key.search(text), path
        assert not looks_secret.search(text), path
