"""Delta table I/O bound to one lake: create, check, migrate, read, append, merge, replace, publish.

publish() is write-audit-publish: the rows are staged as Parquet files, the rows of the table-to-be that
the write touches are validated by its suite, and only then is the commit made that readers see. A failed
suite raises and leaves the table at its previous version; every validation lands in dq_results.
"""
from __future__ import annotations

import json
import logging
import uuid
from contextlib import nullcontext

from delta.tables import DeltaTable
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tradematch import faults, quality
from tradematch.lake import Lake
from tradematch.runs import JobRun
from tradematch.schema import Catalog, SchemaError, TableSchema, addable_columns, describe_difference
from tradematch.spark import jvm_class

log = logging.getLogger(__name__)
MODES = ("append", "overwrite", "replace", "merge")
# The Delta protocol tables are created at, pinned in conf/env/*.yaml (Delta's session defaults for new
# tables) so that readers without Spark can read every table whose schema file turns no reader feature
# on (below): property -> the setting that pins it.
PROTOCOL = {"minReaderVersion": "spark.databricks.delta.properties.defaults.minReaderVersion",
            "minWriterVersion": "spark.databricks.delta.properties.defaults.minWriterVersion"}
# Table properties a schema file may set that turn on a table feature readers need: property -> feature.
# Such a table is created above the pinned protocol, with that reader feature and no other.
READER_FEATURES = {"delta.enableDeletionVectors": "deletionVectors"}


class Tables:
    def __init__(self, spark: SparkSession, lake: Lake, catalog: Catalog | None = None,
                 run: JobRun | None = None, keep_failed_staging: bool = True):
        self.spark, self.lake, self.catalog = spark, lake, catalog or Catalog()
        self.run, self.keep_failed_staging = run, keep_failed_staging
        self._checked: set[str] = set()

    # -- where and what -------------------------------------------------------------------------
    def schema(self, name: str) -> TableSchema:
        return self.catalog.schema(name)

    def path(self, name: str) -> str:
        schema = self.schema(name)
        return self.lake.table_path(schema.layer, name)

    def exists(self, name: str) -> bool:
        return DeltaTable.isDeltaTable(self.spark, self.path(name))

    def version(self, name: str) -> int:
        version = int(self._snapshot(name).version())
        if version < 0:
            raise LookupError(f"no Delta table {name} at {self.path(name)}")
        return version

    def _snapshot(self, name: str):
        """The table's current Delta snapshot (JVM), read from its log on the driver. Version, schema and
        protocol come from it without the Spark jobs that history() and detail() run (0.1-0.5 s each,
        and a job asks dozens of times): the internal DeltaLog API of the pinned delta-spark."""
        return self._log_and_snapshot(name)._2()

    def _log_and_snapshot(self, name: str):
        """(DeltaLog, current Snapshot) of the table, a Scala tuple from the JVM."""
        delta_log = jvm_class(self.spark, "org.apache.spark.sql.delta.DeltaLog")
        return delta_log.forTableWithSnapshot(self.spark._jsparkSession, self.path(name))

    def _newest(self, name: str) -> tuple[int, dict]:
        """(version, Delta's operation metrics) of the table's newest commit, read from its one commit file
        on the driver: history(1) lists the log and runs a Spark job for it (0.15 s, after every write)."""
        found = self._log_and_snapshot(name)
        delta_log, version = found._1(), found._2().version()
        file_names = jvm_class(self.spark, "org.apache.spark.sql.delta.util.FileNames")
        commit = file_names.unsafeDeltaFile(delta_log.logPath(), version)
        info = jvm_class(self.spark, "org.apache.spark.sql.delta.DeltaHistoryManager").getCommitInfoOpt(
            delta_log.store(), commit, delta_log.newDeltaHadoopConf())
        metrics = info.get().operationMetrics() if info.isDefined() else None
        as_java = jvm_class(self.spark, "scala.jdk.javaapi.CollectionConverters").asJava
        return int(version), dict(as_java(metrics.get())) if metrics is not None and metrics.isDefined() else {}

    def _last_commit(self, name: str) -> tuple[int, int, int, int]:
        """(version, rows, files, bytes) the newest commit wrote, from Delta's own metrics: no recount."""
        version, m = self._newest(name)
        rows = m.get("numOutputRows") or (int(m.get("numTargetRowsInserted", 0)) + int(m.get("numTargetRowsUpdated", 0)))
        files = m.get("numFiles") or m.get("numTargetFilesAdded") or 0
        size = m.get("numOutputBytes") or m.get("numTargetBytesAdded") or 0
        return version, int(rows or 0), int(files), int(size)

    # -- shape ----------------------------------------------------------------------------------
    def ensure(self, name: str) -> None:
        """Create the table from its schema file if absent; otherwise stop when it differs from the file."""
        if name in self._checked:
            return
        schema = self.schema(name)
        if not self.exists(name):
            builder = DeltaTable.createIfNotExists(self.spark).location(self.path(name)).comment(schema.comment)
            for f in schema.struct.fields:
                builder = builder.addColumn(f.name, f.dataType, nullable=f.nullable, comment=f.metadata["comment"])
            if schema.partition_by:
                builder = builder.partitionedBy(*schema.partition_by)
            pins = {p: int(v) for p, key in PROTOCOL.items() if (v := self.spark.conf.get(key, None))}
            features, props = _reader_features(schema), dict(schema.properties)
            if not features:  # a reader feature needs reader 3 and writer 7, above the pins
                props.update({f"delta.{p}": str(v) for p, v in pins.items()})
            for prop, value in props.items():
                builder = builder.property(prop, value)
            builder.execute()
            self._check_protocol(name, pins, features)
            log.info("created %s at %s", name, self.path(name))
        else:
            problems = describe_difference(self._table_struct(name), schema.struct)
            if problems:
                hint = (" (only nullable columns are new: run `tradematch migrate`)"
                        if addable_columns(self._table_struct(name), schema.struct) else "")
                raise SchemaError(f"table {name} at {self.path(name)} differs from its schema file "
                                  f"{schema.file}: {'; '.join(problems)}{hint}")
        self._checked.add(name)

    def _check_protocol(self, name: str, pins: dict[str, int], features: set[str]) -> None:
        """Stop when Delta created the table above the pinned protocol (table features readers may lack),
        or, for a table whose schema file turns reader features on, with a reader feature it did not."""
        protocol = self._snapshot(name).protocol()
        if features:
            extra = set(filter(None, protocol.readerFeatureNames().mkString(",").split(","))) - features
            if extra:
                raise SchemaError(f"table {name} at {self.path(name)} was created with reader features "
                                  f"{sorted(extra)} its schema file does not turn on ({protocol.toString()})")
            return
        have = {"minReaderVersion": protocol.minReaderVersion(), "minWriterVersion": protocol.minWriterVersion()}
        above = {p: have[p] for p, v in pins.items() if have[p] > v}
        if above:
            raise SchemaError(f"table {name} at {self.path(name)} was created at {above} "
                              f"({protocol.toString()}), above the protocol pinned in settings {pins}")

    def _table_struct(self, name: str) -> T.StructType:
        return T.StructType.fromJson(json.loads(self._snapshot(name).schema().json()))

    def migrate(self, name: str) -> list[str]:
        """Add the nullable columns the schema file has gained and set the table properties it names that
        the table lacks (`k=v` in the list returned); any other difference stops."""
        schema = self.schema(name)
        if not self.exists(name):
            self.ensure(name)
            return []
        configuration = self._snapshot(name).metadata().configuration()
        missing = [(k, v) for k, v in schema.properties
                   if not configuration.get(k).isDefined() or configuration.get(k).get() != v]
        if missing:
            props = ", ".join(f"'{k}' = '{_sql_str(v)}'" for k, v in missing)
            self.spark.sql(f"ALTER TABLE delta.`{self.path(name)}` SET TBLPROPERTIES ({props})")
        return [f"{k}={v}" for k, v in missing] + self._add_columns(name, schema)

    def _add_columns(self, name: str, schema: TableSchema) -> list[str]:
        actual = self._table_struct(name)
        if not describe_difference(actual, schema.struct):
            return []
        new = addable_columns(actual, schema.struct)
        if new is None:
            problems = "; ".join(describe_difference(actual, schema.struct))
            raise SchemaError(f"table {name} at {self.path(name)} cannot be migrated to {schema.file}: "
                              f"{problems} (migrate only adds nullable columns at the end)")
        cols = ", ".join(f"`{f.name}` {f.dataType.simpleString()} COMMENT '{_sql_str(f.metadata['comment'])}'"
                         for f in new)
        self.spark.sql(f"ALTER TABLE delta.`{self.path(name)}` ADD COLUMNS ({cols})")
        self._checked.discard(name)
        return [f.name for f in new]

    def conform(self, name: str, df: DataFrame) -> DataFrame:
        """Select the schema file's columns, in its order and types; a missing column stops."""
        schema = self.schema(name)
        missing = [c for c in schema.columns if c not in df.columns]
        if missing:
            raise SchemaError(f"rows for {name} lack columns {missing} of {schema.file}")
        return df.select([F.col(f"`{f.name}`").cast(f.dataType).alias(f.name) for f in schema.struct.fields])

    # -- reading --------------------------------------------------------------------------------
    def read(self, name: str, version: int | None = None) -> DataFrame:
        """The table at a pinned version (the current one by default), recorded in job_runs."""
        self.ensure(name)
        version = self.version(name) if version is None else version
        if self.run:
            self.run.read(name, version)
        return self.spark.read.format("delta").option("versionAsOf", version).load(self.path(name))

    def partitions(self, name: str) -> DataFrame:
        """The distinct partition values of the table's current version, typed as in its schema file, and
        each one's `records` (null when a file has no statistics), from the file list in its Delta log: no
        data file is read (a distinct over the rows reads them all)."""
        schema = self.schema(name)
        self.ensure(name)
        snapshot = self._snapshot(name)
        if self.run:
            self.run.read(name, int(snapshot.version()))
        files = DataFrame(snapshot.allFiles().toDF(), self.spark)
        types = {f.name: f.dataType for f in schema.struct.fields}
        values = [F.col("partitionValues")[c].cast(types[c]).alias(c) for c in schema.partition_by]
        records = F.get_json_object("stats", "$.numRecords").cast("long")
        return files.groupBy(*values).agg(F.when(F.count_if(records.isNull()) == 0, F.sum(records)).alias("records"))

    def previous_snapshot(self, name: str, as_of) -> tuple:
        """(day, rows) of a snapshot table's newest as_of before `as_of`, or (None, None): where a
        rolled-forward or compared job starts from."""
        if not self.exists(name):
            return None, None
        snapshots = self.read(name)
        day = snapshots.where(F.col("as_of") < F.lit(as_of)).agg(F.max("as_of")).head()[0]
        return (day, snapshots.where(F.col("as_of") == F.lit(day))) if day is not None else (None, None)

    def rows(self, name: str, records: list[dict]) -> DataFrame:
        """A few rows made on the driver (ledger rows, hand-made test rows) as one literal array that Spark
        folds to a constant and unpacks from a one-row range; createDataFrame ran a Python worker at every
        action on its rows (a one-row dq_results append 0.8 s -> 0.45 s)."""
        struct = self.schema(name).struct
        rows = F.array(*[_literal(r, struct) for r in records]).cast(T.ArrayType(struct))
        return self.spark.range(1).select(F.inline(rows))

    # -- writing without a gate (bronze, ledgers) --------------------------------------------------
    def append(self, name: str, df: DataFrame) -> int:
        return self._commit(name, self.conform(name, df), "append")

    def overwrite(self, name: str, df: DataFrame) -> int:
        return self._commit(name, self.conform(name, df), "overwrite")

    def replace(self, name: str, df: DataFrame, where: str) -> int:
        return self._commit(name, self.conform(name, df), "replace", where)

    def merge(self, name: str, df: DataFrame) -> int:
        return self._commit(name, self.conform(name, df), "merge")

    def _commit(self, name: str, df: DataFrame, mode: str, where: str | Column | None = None,
                rows: int | None = None) -> int:
        if mode not in MODES:
            raise ValueError(f"unknown write mode {mode!r}; one of {MODES}")
        if mode == "replace" and not where:
            raise ValueError("replace needs a where condition (an as_of or a date range)")
        self.ensure(name)
        path = self.path(name)
        with faults.during(f"commit.{name}", path):
            self._write(name, path, df, mode, where)
        version, written, files, size = self._last_commit(name)
        if self.run:
            self.run.wrote(name, version, rows if rows is not None else written)
            self.run.add("delta.files_written", files)  # small files show here first
            self.run.add("delta.bytes_written", size)
        log.info("%s %s -> version %d", mode, name, version)
        return version

    def _write(self, name: str, path: str, df: DataFrame, mode: str, where: str | Column | None) -> None:
        schema = self.schema(name)
        if mode == "merge" and not schema.keys:
            raise SchemaError(f"{schema.file} names no keys, so {name} cannot be merged")
        if mode == "merge" and self._snapshot(name).numOfFiles() == 0:
            # a first load has nothing to match, yet MERGE would join and rewrite it all: an append writes
            # the same rows, one file per partition as MERGE does
            mode, df = "append", df.repartition(*schema.partition_by) if schema.partition_by else df
        if mode == "merge":
            cond = F.expr(" AND ".join(f"t.`{k}` = s.`{k}`" for k in schema.keys))
            if where is not None:  # the table's rows the merge may match: Delta reads only their partitions
                cond = cond & where
            (DeltaTable.forPath(self.spark, path).alias("t").merge(df.alias("s"), cond)
             .whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
        else:
            writer = df.write.format("delta").mode("append" if mode == "append" else "overwrite")
            if mode == "replace":
                writer = writer.option("replaceWhere", where)
            writer.save(path)

    # -- write, audit, publish ------------------------------------------------------------------
    def publish(self, name: str, df: DataFrame, mode: str = "overwrite", where: str | Column | None = None) -> int:
        """Stage, validate what the write changes, then commit; a failed suite leaves the table unchanged.

        `where`: for replace, the rows replaced (SQL text); for merge, a Column on the table's rows (named
        `t.<column>`) the staged rows may only match, a partition predicate so that Delta reads only those.

        The suite sees the rows of the table-to-be that the write touches: the whole new table for
        overwrite, the new slice for replace, the staged rows for merge (they replace the rows with
        their keys, so keys unique among them stay unique in the table), and for append the staged
        rows with any rows already holding their keys. The untouched rows passed the suite when they
        were written, so a daily merge costs what the batch costs, not a rescan of years of history.
        Suites hold row-level expectations and key uniqueness, for which this is the same check.
        """
        schema = self.schema(name)
        self.ensure(name)
        stage = self.lake.staging(name, self.run.run_id if self.run else uuid.uuid4().hex)
        with self._step("publish.stage"):
            self.conform(name, df).write.mode("overwrite").parquet(stage)  # scratch: no Delta log needed
        # Parquet: each of GE's jobs reads only the columns it needs, which costs less than caching them all
        staged = self.spark.read.schema(schema.struct).parquet(stage)
        base = self.version(name)
        with self._step("publish.quality"):
            touched = self._touched(name, staged, mode, base)
            outcome = quality.validate(touched, schema, self.catalog.suite_file(name), cache=touched is not staged)
            self.record_validation(outcome, name, base + 1)
        if not outcome.success:
            if not self.keep_failed_staging:
                self.lake.remove(stage, self.spark)
            raise quality.QualityGateFailed(
                f"{name}: quality suite {outcome.suite} failed, table stays at version {base}: "
                f"{outcome.summary()}" + (f" (staged rows kept at {stage})" if self.keep_failed_staging else ""))
        faults.point(f"staged.{name}")
        with self._step("publish.commit"):
            version = self._commit(name, staged, mode, where, rows=staged.count())
            faults.point(f"published.{name}")
        self.lake.remove(stage, self.spark)
        return version

    def restore(self, name: str, version: int) -> int:
        """Make an earlier version current again (Delta RESTORE), for an operator who published something
        wrong. A table with a suite is audited at that version first, like any publish."""
        if not self.exists(name):
            raise ValueError(f"no table {name} at {self.path(name)} to restore")
        current = self.version(name)
        if not 0 <= version < current:
            raise ValueError(f"{name} is at version {current}: restore needs a version from 0 to {current - 1}, "
                             f"not {version}")
        if self.catalog.suite_file(name).is_file():
            old = self.spark.read.format("delta").option("versionAsOf", version).load(self.path(name))
            outcome = quality.validate(old, self.schema(name), self.catalog.suite_file(name))
            self.record_validation(outcome, name, current + 1)
            if not outcome.success:
                raise quality.QualityGateFailed(f"{name} at version {version} fails its suite {outcome.suite}, "
                                                f"so it stays at version {current}: {outcome.summary()}")
        DeltaTable.forPath(self.spark, self.path(name)).restoreToVersion(version)
        restored, _ = self._newest(name)
        if self.run:
            self.run.wrote(name, restored, 0)
            self.run.notes.append(f"{name}: version {version} restored as version {restored} (was {current})")
        log.info("restored %s to version %d as version %d", name, version, restored)
        return restored

    def update(self, name: str, condition, values: dict) -> int:
        """Set columns where condition holds (erasure: rows only lose values, so no audit); the rows changed."""
        DeltaTable.forPath(self.spark, self.path(name)).update(condition, values)
        return self._recorded(name, "numUpdatedRows")

    def delete(self, name: str, condition) -> int:
        """Remove the rows where condition holds; the number removed."""
        DeltaTable.forPath(self.spark, self.path(name)).delete(condition)
        return self._recorded(name, "numDeletedRows")

    def _recorded(self, name: str, metric: str) -> int:
        """Record the newest commit in the run; the rows it changed, from Delta's metric."""
        version, m = self._newest(name)
        rows = int(m.get(metric, 0))
        if self.run:
            self.run.wrote(name, version, rows)
        return rows

    def _touched(self, name: str, staged: DataFrame, mode: str, base: int) -> DataFrame:
        keys = list(self.schema(name).keys)
        if mode != "append" or not keys:
            return staged
        current = self.spark.read.format("delta").option("versionAsOf", base).load(self.path(name))
        return current.join(staged.select(keys), keys, "left_semi").unionByName(staged)

    def _step(self, name: str):
        return self.run.step(name) if self.run else nullcontext()

    def record_validation(self, outcome: quality.Outcome, name: str, version: int) -> None:
        run_id, job = (self.run.run_id, self.run.job) if self.run else ("adhoc", "adhoc")
        self._commit("dq_results", self.rows("dq_results", [quality.dq_row(outcome, name, version, run_id, job)]),
                     "append", rows=1)


def _reader_features(schema: TableSchema) -> set[str]:
    """The reader features the schema file's table properties turn on."""
    return {READER_FEATURES[k] for k, v in schema.properties if k in READER_FEATURES and v.lower() == "true"}


def _literal(value, dtype: T.DataType):
    """A Python value (a dict for a struct) as a Column of the given type; a missing key is null."""
    if value is None:
        return F.lit(None).cast(dtype)
    if isinstance(dtype, T.StructType):
        return F.struct(*[_literal(value.get(f.name), f.dataType).alias(f.name) for f in dtype.fields])
    if isinstance(dtype, T.ArrayType):
        return F.array(*[_literal(v, dtype.elementType) for v in value]).cast(dtype)
    if isinstance(dtype, T.MapType):
        return F.create_map(*[c for k, v in value.items()
                              for c in (_literal(k, dtype.keyType), _literal(v, dtype.valueType))]).cast(dtype)
    return F.lit(value).cast(dtype)


def _sql_str(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")
