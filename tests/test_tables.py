import datetime as dt
import json
from pathlib import Path

import pytest
from chispa import assert_df_equality

from tradematch.quality import QualityGateFailed
from tradematch.schema import SchemaError
from tradematch.tables import Tables

D1, D2 = dt.date(2026, 1, 31), dt.date(2026, 2, 28)


@pytest.fixture
def tables(spark, lake, test_catalog):
    return Tables(spark, lake, test_catalog)


def scores(tables, rows):
    return tables.rows("widget_scores", [dict(zip(("as_of", "widget_id", "score", "tier"), r)) for r in rows])


def read_all(tables, name="widget_scores"):
    return tables.spark.read.format("delta").load(tables.path(name))


def test_created_table_carries_the_schema_file_comments_and_partitions(tables):
    tables.ensure("widget_scores")
    fields = read_all(tables).schema.fields
    assert [(f.name, f.nullable, f.metadata.get("comment")) for f in fields] == [
        ("as_of", False, "Snapshot date"), ("widget_id", False, "The widget"),
        ("score", True, "A rate in 0..1"), ("tier", True, "gold, silver or unrated")]
    detail = tables.spark.sql(f"DESCRIBE DETAIL delta.`{tables.path('widget_scores')}`").head()
    assert detail.partitionColumns == ["as_of"]


def test_merge_upserts_on_the_keys(tables):
    tables.append("widget_scores", scores(tables, [(D1, "a", 0.1, "gold"), (D1, "b", 0.2, "silver")]))
    tables.merge("widget_scores", scores(tables, [(D1, "b", 0.5, "gold"), (D1, "c", 0.3, None)]))
    expected = scores(tables, [(D1, "a", 0.1, "gold"), (D1, "b", 0.5, "gold"), (D1, "c", 0.3, None)])
    assert_df_equality(read_all(tables), expected, ignore_row_order=True, ignore_metadata=True)


def test_a_merge_into_an_empty_table_is_an_append_of_the_same_rows(tables):
    rows = scores(tables, [(D1, "a", 0.1, "gold"), (D1, "b", 0.2, "silver"), (D2, "c", 0.3, None)])
    tables.merge("widget_scores", rows.repartition(3))
    operation = tables.spark.sql(f"DESCRIBE HISTORY delta.`{tables.path('widget_scores')}` LIMIT 1").head().operation
    assert operation == "WRITE"  # a first load has nothing to match: no MERGE join and rewrite
    assert_df_equality(read_all(tables), rows, ignore_row_order=True, ignore_metadata=True)
    assert len(list(Path(tables.path("widget_scores")).rglob("*.parquet"))) == 2  # a file per as_of, as MERGE
    tables.merge("widget_scores", scores(tables, [(D1, "b", 0.5, "gold")]))
    assert sorted((r.widget_id, r.score) for r in read_all(tables).collect()) == [("a", 0.1), ("b", 0.5), ("c", 0.3)]


def test_replace_rewrites_only_its_own_as_of(tables):
    tables.append("widget_scores", scores(tables, [(D1, "a", 0.1, "gold"), (D2, "a", 0.2, "gold")]))
    tables.replace("widget_scores", scores(tables, [(D2, "b", 0.9, "silver")]), f"as_of = '{D2}'")
    expected = scores(tables, [(D1, "a", 0.1, "gold"), (D2, "b", 0.9, "silver")])
    assert_df_equality(read_all(tables), expected, ignore_row_order=True, ignore_metadata=True)


def test_partitions_and_their_records_come_from_the_delta_log_typed_as_the_schema_file(tables):
    tables.append("widget_scores", scores(tables, [(D1, "a", 0.1, "gold"), (D1, "b", 0.2, "silver")]))
    tables.append("widget_scores", scores(tables, [(D2, "a", 0.3, "gold")]))
    tables.replace("widget_scores", scores(tables, [(D2, "b", 0.4, None)]), f"as_of = '{D2}'")
    got = tables.partitions("widget_scores")
    assert got.schema.simpleString() == "struct<as_of:date,records:bigint>"
    # once each, though D2's files were replaced; its records are the current file's, not the replaced one's
    assert sorted((r.as_of, r.records) for r in got.collect()) == [(D1, 2), (D2, 1)]
    plan = got._jdf.queryExecution().executedPlan().toString()
    assert "Delta Table State" in plan and "FileScan parquet" not in plan  # the log's file list, no data file


def test_failing_suite_leaves_the_version_and_records_the_failure(tables):
    tables.publish("widget_scores", scores(tables, [(D1, "a", 0.1, "gold")]), "replace", f"as_of = '{D1}'")
    before = tables.version("widget_scores")
    with pytest.raises(QualityGateFailed, match=r"stays at version 1.*expect_column_values_to_be_between"):
        tables.publish("widget_scores", scores(tables, [(D2, "a", 1.7, "gold")]), "replace", f"as_of = '{D2}'")
    assert tables.version("widget_scores") == before
    assert [r.as_of for r in read_all(tables).collect()] == [D1]
    last = read_all(tables, "dq_results").orderBy("validated_at").collect()[-1]
    assert (last.table_name, last.success, last.table_version) == ("widget_scores", False, before + 1)
    assert [(f.expectation, f.severity, f.unexpected_count) for f in last.failed_expectations] == [
        ("expect_column_values_to_be_between", "fail", 1)]


def test_warn_only_failure_publishes_and_is_recorded(tables):
    version = tables.publish("widget_scores", scores(tables, [(D1, "a", 0.4, "platinum")]), "overwrite")
    assert version == tables.version("widget_scores") == 1
    assert read_all(tables).count() == 1
    row = read_all(tables, "dq_results").head()
    assert row.success is True
    assert [(f.expectation, f.severity) for f in row.failed_expectations] == [
        ("expect_column_values_to_be_in_set", "warn")]


def test_duplicate_keys_fail_the_gate_from_the_schema_keys(tables):
    with pytest.raises(QualityGateFailed, match="expect_compound_columns_to_be_unique"):
        tables.publish("widget_scores", scores(tables, [(D1, "a", 0.1, "gold"), (D1, "a", 0.2, "gold")]))
    assert not read_all(tables).count()


def test_merge_publish_validates_the_table_after_the_upsert(tables):
    tables.publish("widget_scores", scores(tables, [(D1, "a", 0.1, "gold"), (D1, "b", 0.2, "gold")]), "merge")
    tables.publish("widget_scores", scores(tables, [(D1, "b", 0.3, "silver")]), "merge")
    expected = scores(tables, [(D1, "a", 0.1, "gold"), (D1, "b", 0.3, "silver")])
    assert_df_equality(read_all(tables), expected, ignore_row_order=True, ignore_metadata=True)


def test_append_publish_refuses_a_key_the_table_already_holds(tables):
    tables.publish("widget_scores", scores(tables, [(D1, "a", 0.1, "gold")]), "append")
    with pytest.raises(QualityGateFailed, match="expect_compound_columns_to_be_unique"):
        tables.publish("widget_scores", scores(tables, [(D1, "a", 0.2, "gold"), (D1, "b", 0.3, "gold")]), "append")
    assert_df_equality(read_all(tables), scores(tables, [(D1, "a", 0.1, "gold")]), ignore_metadata=True)


def test_merge_publish_validates_the_rows_it_touches_not_the_whole_table(tables):
    """A row written earlier without a gate is not rescanned: a daily merge costs what its rows cost."""
    tables.merge("widget_scores", scores(tables, [(D1, "old", 1.5, "gold")]))
    tables.publish("widget_scores", scores(tables, [(D1, "new", 0.5, "gold")]), "merge")
    with pytest.raises(QualityGateFailed, match="expect_column_values_to_be_between"):
        tables.publish("widget_scores", scores(tables, [(D1, "new", 2.0, "gold")]), "merge")
    assert read_all(tables).where("widget_id = 'new'").head().score == 0.5


def rewrite_schema(test_catalog, tmp_path, change, properties=None):
    """A copy of the test catalog whose widget_scores schema file has been changed: change(columns), and
    its table properties set when given."""
    import shutil

    from tradematch.schema import Catalog

    root = tmp_path / "catalog2"
    shutil.copytree(test_catalog.root, root)
    file = root / "schemas" / "gold" / "widget_scores.json"
    doc = json.loads(file.read_text())
    change(doc["columns"])
    if properties is not None:
        doc["properties"] = properties
    file.write_text(json.dumps(doc))
    return Catalog(root)


def test_migrate_adds_a_nullable_column_with_its_comment(tables, test_catalog, tmp_path):
    tables.append("widget_scores", scores(tables, [(D1, "a", 0.1, "gold")]))
    grown = rewrite_schema(test_catalog, tmp_path, lambda cols: cols.append(
        {"name": "reason", "type": "string", "nullable": True, "comment": "Why"}))
    migrated = Tables(tables.spark, tables.lake, grown)
    with pytest.raises(SchemaError, match=r"widget_scores at .* differs from its schema file .*run `tradematch migrate`"):
        migrated.ensure("widget_scores")
    assert migrated.migrate("widget_scores") == ["reason"]
    field = read_all(tables).schema["reason"]
    assert field.metadata["comment"] == "Why" and read_all(tables).head().reason is None
    assert migrated.migrate("widget_scores") == []


def test_migrate_refuses_a_type_change_naming_table_and_file(tables, test_catalog, tmp_path):
    tables.ensure("widget_scores")
    retyped = rewrite_schema(test_catalog, tmp_path, lambda cols: cols[2].update(type="string"))
    with pytest.raises(SchemaError, match=r"widget_scores at .*cannot be migrated to .*widget_scores\.json: "
                                          r"column 'score' is double in the table, string in the file"):
        Tables(tables.spark, tables.lake, retyped).migrate("widget_scores")


DV = {"delta.enableDeletionVectors": "true"}


def _merge_metrics(tables, name="widget_scores"):
    m = tables.spark.sql(f"DESCRIBE HISTORY delta.`{tables.path(name)}` LIMIT 1").head().operationMetrics
    return int(m["numTargetRowsCopied"]), int(m["numTargetDeletionVectorsAdded"])


@pytest.mark.parametrize("properties, copied, vectors", [(None, 2, 0), (DV, 0, 1)])
def test_deletion_vectors_from_the_schema_file_spare_a_merge_copying_the_untouched_rows(
        tables, test_catalog, tmp_path, properties, copied, vectors):
    """One file holds a, b and c; a merge changes b. Without deletion vectors Delta rewrites the file,
    copying a and c; with them it writes b alone and marks its old row deleted."""
    ours = Tables(tables.spark, tables.lake, rewrite_schema(test_catalog, tmp_path, lambda cols: None, properties))
    ours.append("widget_scores", scores(ours, [(D1, "a", 0.1, "gold"), (D1, "b", 0.2, "gold"), (D1, "c", 0.3, "gold")]))
    ours.merge("widget_scores", scores(ours, [(D1, "b", 0.5, "silver")]))
    assert _merge_metrics(ours) == (copied, vectors)
    assert_df_equality(read_all(ours), scores(ours, [(D1, "a", 0.1, "gold"), (D1, "b", 0.5, "silver"),
                                                     (D1, "c", 0.3, "gold")]),
                       ignore_row_order=True, ignore_metadata=True)
    protocol = ours._snapshot("widget_scores").protocol()
    assert protocol.readerFeatureNames().mkString(",") == ("deletionVectors" if properties else "")


def test_migrate_sets_the_table_properties_a_schema_file_gained(tables, test_catalog, tmp_path):
    tables.append("widget_scores", scores(tables, [(D1, "a", 0.1, "gold"), (D1, "b", 0.2, "gold")]))
    migrated = Tables(tables.spark, tables.lake, rewrite_schema(test_catalog, tmp_path, lambda cols: None, DV))
    assert migrated.migrate("widget_scores") == ["delta.enableDeletionVectors=true"]
    migrated.merge("widget_scores", scores(migrated, [(D1, "b", 0.5, "silver")]))
    assert _merge_metrics(migrated) == (0, 1)
    assert migrated.migrate("widget_scores") == []


def test_conform_refuses_rows_missing_a_column(tables, spark):
    with pytest.raises(SchemaError, match=r"lack columns \['tier'\]"):
        tables.conform("widget_scores", spark.createDataFrame([(D1, "a", 0.1)], "as_of date, widget_id string, score double"))


def test_restore_brings_back_an_audited_version_as_a_new_one(tables):
    tables.publish("widget_scores", scores(tables, [(D1, "a", 0.1, "gold")]), "replace", f"as_of = '{D1}'")
    tables.publish("widget_scores", scores(tables, [(D1, "a", 0.9, "silver")]), "replace", f"as_of = '{D1}'")
    assert tables.restore("widget_scores", 1) == 3
    assert_df_equality(read_all(tables), scores(tables, [(D1, "a", 0.1, "gold")]), ignore_metadata=True)
    last = read_all(tables, "dq_results").orderBy("validated_at").collect()[-1]
    assert (last.table_name, last.table_version, last.success) == ("widget_scores", 3, True)
    with pytest.raises(ValueError, match="restore needs a version from 0 to 2, not 3"):
        tables.restore("widget_scores", 3)


def test_restore_refuses_a_version_its_suite_fails(tables):
    tables.append("widget_scores", scores(tables, [(D1, "a", 1.7, "gold")]))  # unaudited: version 1
    tables.publish("widget_scores", scores(tables, [(D1, "a", 0.2, "gold")]), "replace", f"as_of = '{D1}'")
    with pytest.raises(QualityGateFailed, match="at version 1 fails its suite .* stays at version 2"):
        tables.restore("widget_scores", 1)
    assert tables.version("widget_scores") == 2
    assert [r.score for r in read_all(tables).collect()] == [0.2]


def test_a_run_counts_the_files_and_bytes_its_commits_wrote(spark, lake, test_catalog):
    from pathlib import Path

    from tradematch.runs import JobRun

    run = JobRun("r1", "test", None)
    tables = Tables(spark, lake, test_catalog, run)
    tables.append("widget_scores", scores(tables, [(D1, "a", 0.1, "gold"), (D2, "b", 0.2, "gold")]).coalesce(1))
    on_disk = list(Path(tables.path("widget_scores")).rglob("*.parquet"))
    assert run.metrics["delta.files_written"] == len(on_disk) == 2  # one task, two as_of partitions
    assert run.metrics["delta.bytes_written"] == sum(f.stat().st_size for f in on_disk)


def test_validation_leaves_no_frame_cached(tables):
    """GE caches what it validates and never lets go; over a run of big publishes that fills the executors."""
    from pyspark import StorageLevel

    from tradematch import quality

    df = scores(tables, [(D1, "a", 0.1, "gold"), (D1, "b", 2.0, "gold")])  # fails: both passes run
    outcome = quality.validate(df, tables.schema("widget_scores"), tables.catalog.suite_file("widget_scores"))
    assert [f["unexpected_count"] for f in outcome.failed] == [1]
    assert df.storageLevel == StorageLevel(False, False, False, False, 1)  # not cached
