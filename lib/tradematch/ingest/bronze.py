"""Landing files -> bronze rows: every record as text, with its batch, file, position and hash.

Every file is read with all columns as strings, so no value can fail a read; a CSV or JSON record that
does not parse into columns is kept whole in raw_record. Before anything is read, each file's columns
are checked against the landing schema: an extra column is reported and ignored, a missing required
column stops the run, naming both (schema drift). A CSV whose header names no column of the schema at
all (random bytes, another delimiter) is not drift but an unreadable file: each of its lines is kept
whole, to be quarantined as malformed. A byte-order mark before the header is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.window import Window

from tradematch.landing import record_hash
from tradematch.lake import Lake
from tradematch.schema import SchemaError, TableSchema

CORRUPT = "_corrupt_record"
FORMATS = {".csv": "csv", ".csv.gz": "csv", ".json": "json", ".jsonl": "json", ".json.gz": "json",
           ".parquet": "parquet"}
CSV_OPTIONS = {"header": "true", "multiLine": "true", "escape": '"', "mode": "PERMISSIVE",
               "columnNameOfCorruptRecord": CORRUPT}
TIMESTAMP_TEXT = "yyyy-MM-dd'T'HH:mm:ss"
BOM = "\ufeff"


@dataclass(frozen=True)
class LandedFile:
    entity: str
    batch: str
    name: str
    path: str
    format: str


def list_files(spark: SparkSession, lake: Lake, entity: str, batch: str) -> tuple[list[LandedFile], list[str]]:
    """The data files of one batch folder, and notes on the files skipped (unknown format, empty)."""
    folder = spark._jvm.org.apache.hadoop.fs.Path(lake.landing(entity, batch))
    fs = folder.getFileSystem(spark._jsc.hadoopConfiguration())
    files, notes = [], []
    for status in sorted(fs.listStatus(folder), key=lambda s: s.getPath().getName()):
        name = status.getPath().getName()
        if not status.isFile() or name.startswith((".", "_")):
            continue
        fmt = next((f for ext, f in FORMATS.items() if name.endswith(ext)), None)
        where = f"landing/{entity}/batch={batch}/{name}"
        if fmt is None:
            notes.append(f"{where}: ignored (not .csv, .json or .parquet)")
        elif status.getLen() == 0:
            notes.append(f"{where}: ignored (empty file)")
        else:
            files.append(LandedFile(entity, batch, name, status.getPath().toString(), fmt))
    return files, notes


def file_columns(spark: SparkSession, files: list[LandedFile]) -> dict[str, list[str]]:
    """Path -> the columns each file of one batch folder offers: a CSV header, a Parquet schema, or
    the keys found in a JSON file's records."""
    found: dict[str, list[str]] = {}
    for f in files:
        if f.format == "csv":
            found[f.path] = [c.removeprefix(BOM) for c in spark.read.options(**CSV_OPTIONS).csv(f.path).columns]
        elif f.format == "parquet":
            found[f.path] = spark.read.parquet(f.path).columns
    json_files = [f for f in files if f.format == "json"]
    if json_files:
        keys = (spark.read.text([f.path for f in json_files])
                .select(F.col("_metadata.file_name").alias("name"), F.explode(F.json_object_keys("value")).alias("key"))
                .distinct().groupBy("name").agg(F.sort_array(F.collect_list("key")).alias("keys")))
        by_name = {row.name: list(row.keys) for row in keys.collect()}  # one small row per file
        found.update({f.path: by_name.get(f.name, []) for f in json_files})
    return found


def unreadable(files: list[LandedFile], columns: dict[str, list[str]],
               schema: TableSchema) -> tuple[list[LandedFile], list[str]]:
    """The files, with each CSV whose header names no schema column turned into a file of plain lines;
    and a note for each."""
    out, notes = [], []
    for f in files:
        if f.format == "csv" and not set(columns[f.path]) & set(schema.columns):
            f = replace(f, format="lines")
            notes.append(f"landing/{f.entity}/batch={f.batch}/{f.name}: its header names no column of "
                         f"{schema.file}; each line is kept whole and quarantined as malformed")
        out.append(f)
    return out, notes


def drift(files: list[LandedFile], columns: dict[str, list[str]], schema: TableSchema) -> list[str]:
    """Notes on extra or absent optional columns; raises SchemaError on a missing required column.

    A JSON file none of whose lines parse offers no columns, and a file read as plain lines has none:
    their lines are quarantined as malformed, so they are not judged here.
    """
    notes = []
    for f in files:
        have = columns[f.path]
        if f.format == "lines" or (f.format == "json" and not have):
            continue
        where = f"landing/{f.entity}/batch={f.batch}/{f.name}"
        missing = [x.name for x in schema.struct.fields if not x.nullable and x.name not in have]
        if missing:
            raise SchemaError(f"{where} lacks required column(s) {', '.join(missing)} of {schema.file}; "
                              "nothing was ingested")
        extra = [c for c in have if c not in schema.columns and c != CORRUPT]
        absent = [c for c in schema.columns if c not in have]
        if extra:
            notes.append(f"{where}: extra column(s) {', '.join(extra)} ignored")
        if absent:
            notes.append(f"{where}: optional column(s) {', '.join(absent)} absent, read as null")
    return notes


def read_raw(spark: SparkSession, files: list[LandedFile], columns: dict[str, list[str]],
             schema: TableSchema) -> DataFrame:
    """One entity's files as text: batch, source_file, read position (_block: the offset of the file block
    a task read, _seq: monotonically increasing within a task), raw_record and the schema's columns."""
    groups: dict[tuple, list[str]] = {}
    for f in files:
        header = tuple(columns[f.path]) if f.format == "csv" else (f.path,) if f.format == "parquet" else ()
        groups.setdefault((f.batch, f.format, header), []).append(f.path)
    parts = []
    for (batch, fmt, header), paths in groups.items():
        if fmt == "csv":
            df = spark.read.schema(_text_struct(header, CORRUPT)).options(**CSV_OPTIONS).csv(paths)
        elif fmt == "lines":
            df = spark.read.text(paths).withColumnRenamed("value", CORRUPT)
        elif fmt == "json":
            df = (spark.read.schema(_text_struct(schema.columns, CORRUPT))
                  .options(mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT).json(paths))
        else:  # one file per group: Parquet files may differ in their types
            df = spark.read.parquet(*paths)
            df = df.select(*[_as_text(f) for f in df.schema.fields], F.lit(None).cast("string").alias(CORRUPT),
                           *_read_position())
        df = df if fmt == "parquet" else df.select("*", *_read_position())
        parts.append(df.select(
            F.lit(batch).cast("date").alias("batch"), F.col("_file").alias("source_file"), "_block",
            F.monotonically_increasing_id().alias("_seq"), F.col(CORRUPT).alias("raw_record"),
            *[(F.col(f"`{c}`") if c in df.columns else F.lit(None).cast("string")).alias(c) for c in schema.columns]))
    return reduce(DataFrame.unionByName, parts)


def _read_position() -> list:
    """Where a scan read a record: its file, and the start of the file block (a task's share of it)."""
    return [F.col("_metadata.file_name").alias("_file"), F.col("_metadata.file_block_start").alias("_block")]


def _text_struct(names, *extra) -> T.StructType:
    return T.StructType([T.StructField(c, T.StringType()) for c in [*names, *extra]])


def _as_text(f: T.StructField):
    """A typed Parquet column as the text a CSV export would hold (timestamps with a 'T')."""
    c = F.col(f"`{f.name}`")
    if isinstance(f.dataType, (T.TimestampType, T.TimestampNTZType)):
        return F.date_format(c, TIMESTAMP_TEXT).alias(f.name)
    return c.cast("string").alias(f.name)


def to_bronze(entity: str, schema: TableSchema) -> Callable[[DataFrame], DataFrame]:
    """Number each file's records in read order, hash them, and pack the values into `fields`.

    A task reads a file block from its start to its end, so a record's number is the count of its file's
    records in earlier blocks plus its place in its block (_seq less the block's first _seq). Those counts,
    a row per block, come from a first pass over the same read, broadcast to the second: numbering with a
    window over each file instead shuffled and sorted every wide row by file, and a history batch's files
    of millions of records spilled (3M orders: 32 GB spilled, 162 s).
    """
    def apply(df: DataFrame) -> DataFrame:
        block = ["batch", "source_file", "_block"]
        earlier = (Window.partitionBy("batch", "source_file").orderBy("_block")
                   .rowsBetween(Window.unboundedPreceding, -1))
        blocks = (df.groupBy(*block).agg(F.min("_seq").alias("_first"), F.count("*").alias("_n"))
                  .select(*block, "_first", F.coalesce(F.sum("_n").over(earlier), F.lit(0)).alias("_before")))
        return df.join(F.broadcast(blocks), block).select(
            F.lit(entity).alias("entity"), "batch", "source_file",
            (F.col("_before") + F.col("_seq") - F.col("_first") + 1).alias("record_number"),
            record_hash(schema.columns).alias("record_hash"), "raw_record",
            F.create_map(*[x for c in schema.columns for x in (F.lit(c), F.col(f"`{c}`"))]).alias("fields"),
            F.current_timestamp().alias("ingested_at"))
    return apply
