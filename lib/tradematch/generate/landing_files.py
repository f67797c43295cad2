"""Writing the landing files: text values, dirty records with their ledger, batches, content hashes.

Every record becomes text first (as a platform export would hold it); dirty records are corrupted
copies of real ones, added beside them, so the clean world stays whole and each dirty record breaks
exactly one ingest rule, which the ledger names.
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from tradematch.generate import draws as D
from tradematch.generate.parties import World, day_to_date
from tradematch.landing import record_hash
from tradematch.lake import Lake
from tradematch.schema import TableSchema

FORMATS = {"parties": "csv", "orders": "csv", "disputes": "json", "reviews": "json", "fx_rates": "csv",
           "rfqs": "parquet", "risk_overrides": "csv"}
ROWS_PER_FILE = 1_500_000

# Which corruptions make sense for which entity: rule -> (column, how) choices.
DIRT = {
    "parties": ["missing_required_field", "bad_date", "unknown_country", "duplicate_record"],
    "orders": ["missing_required_field", "bad_number", "bad_date", "absurd_amount", "unknown_currency",
               "unknown_country", "impossible_dates", "bad_code", "duplicate_record", "orphan_reference"],
    "disputes": ["missing_required_field", "bad_number", "bad_date", "absurd_amount", "unknown_currency",
                 "bad_code", "duplicate_record", "orphan_reference"],
    "reviews": ["missing_required_field", "bad_number", "bad_date", "bad_code", "duplicate_record",
                "orphan_reference"],
    "rfqs": ["missing_required_field", "absurd_amount", "unknown_country", "bad_code", "duplicate_record",
             "orphan_reference"],
}
_DATE_COL = {"parties": "registered_on", "orders": "order_date", "disputes": "opened_on", "reviews": "created_on"}
_NUMBER_COL = {"orders": "amount", "disputes": "claim_amount", "reviews": "rating"}
_AMOUNT_COL = {"orders": "amount", "disputes": "claim_amount", "rfqs": "quantity"}
_CODE = {"orders": ("status", "shipped"), "disputes": ("reason", "rude"), "reviews": ("rating", "9"),
         "rfqs": ("status", "pending")}
_COUNTRY_COL = {"parties": "country", "orders": "destination_country", "rfqs": "destination_country"}
_ORPHAN_COL = {"orders": ("buyer_id", "P"), "disputes": ("order_id", "O"), "reviews": ("order_id", "O"),
               "rfqs": ("buyer_id", "P")}


def to_text(df: DataFrame, schema: TableSchema) -> DataFrame:
    """The landing columns as the text a CSV export holds: ISO dates, 'T'-separated UTC timestamps."""
    cols = []
    for f in schema.struct.fields:
        c = F.col(f.name)
        if isinstance(f.dataType, T.DateType):
            c = F.date_format(c, "yyyy-MM-dd")
        elif isinstance(f.dataType, T.TimestampType):
            c = F.date_format(c, "yyyy-MM-dd'T'HH:mm:ss")
        cols.append(c.cast("string").alias(f.name))
    return df.select(*cols, "batch")


def with_batches(df: DataFrame, history_day: int) -> DataFrame:
    """A record known on or before the history day lands in the history batch, later ones daily."""
    return df.withColumn("batch", F.date_format(day_to_date(F.greatest(F.col("known_day"), F.lit(history_day))),
                                                "yyyy-MM-dd")).drop("known_day")


def latest_per_batch(df: DataFrame, key: str, history_day: int) -> DataFrame:
    """Within one batch only the newest state of a record lands (a dispute opened and closed before
    the history batch lands once, closed)."""
    from pyspark.sql.window import Window

    b = F.greatest(F.col("known_day"), F.lit(history_day))
    newest = Window.partitionBy(key, b).orderBy(F.col("known_day").desc())
    return df.withColumn("_n", F.row_number().over(newest)).where(F.col("_n") == 1).drop("_n")


def _corrupt(w: World, entity: str, schema: TableSchema, rule: Column, h: Column) -> list[Column]:
    """The columns of a corrupted copy: each rule changes one column so that it breaks that rule first."""
    u = D.uniform(w.seed, "dirtcol", h)
    required = [f.name for f in schema.struct.fields if not f.nullable]
    missing = D.choose(u, required)
    out = []
    for f in schema.struct.fields:
        c, name = F.col(f.name), f.name
        expr = F.when((rule == "missing_required_field") & (missing == name), F.lit(None).cast("string"))
        if _NUMBER_COL.get(entity) == name:
            expr = expr.when(rule == "bad_number", F.when(F.lit(name == "rating"), F.lit("five"))
                             .otherwise(F.regexp_replace(F.coalesce(c, F.lit("12.50")), r"\.", ",")))
        if _DATE_COL.get(entity) == name:
            expr = expr.when(rule == "bad_date", D.choose(u, ["2025-02-30", "2024-13-01", "yesterday"]))
        if _AMOUNT_COL.get(entity) == name:
            expr = expr.when(rule == "absurd_amount", F.when(F.lit(name == "quantity"), F.lit("-5"))
                             .otherwise(F.concat(F.lit("-"), F.coalesce(c, F.lit("100.00")))))
        if name == "currency":
            expr = expr.when(rule == "unknown_currency", F.lit("XYZ"))
        if _COUNTRY_COL.get(entity) == name:
            expr = expr.when(rule == "unknown_country", D.choose(u, ["ZZ", "Germany"]))
        if entity == "orders" and name == "delivered_date":
            expr = expr.when(rule == "impossible_dates", F.date_format(F.date_sub(F.to_date("order_date"), 10), "yyyy-MM-dd"))
        if _CODE.get(entity, ("",))[0] == name:
            expr = expr.when(rule == "bad_code", F.lit(_CODE[entity][1]))
        if _ORPHAN_COL.get(entity, ("",))[0] == name:
            prefix = _ORPHAN_COL[entity][1]
            expr = expr.when(rule == "orphan_reference", F.concat(F.lit(prefix + "X"), F.upper(F.substring(h, 1, 12))))
        out.append(expr.otherwise(c).alias(name))
    return out


def add_dirt(w: World, entity: str, schema: TableSchema, text: DataFrame, rate: float,
             history_batch: str) -> tuple[DataFrame, DataFrame]:
    """(text with corrupted copies added, ledger of them: entity, batch, record_hash, rule)."""
    cols = schema.columns
    if rate <= 0 or entity not in DIRT:
        return text, None
    h = record_hash(cols)
    chosen = text.withColumn("_h", h).where(D.uniform(w.seed, "dirt:" + entity, F.col("_h")) < rate)
    kinds = {k: v for k, v in w.cfg["dirt"]["kinds"].items() if k in DIRT[entity]}
    rule = D.pick(D.uniform(w.seed, "dirtkind", F.col("_h")), kinds)
    # an orphan waits in pending for a grace period; only the history batch is old enough to be judged
    rule = F.when((rule == "orphan_reference") & (F.col("batch") != history_batch), F.lit("duplicate_record")).otherwise(rule)
    chosen = chosen.withColumn("_rule", rule)
    dirty = chosen.select(*_corrupt(w, entity, schema, F.col("_rule"), F.col("_h")), "batch", "_rule")
    ledger = dirty.select(F.lit(entity).alias("entity"), "batch", record_hash(cols).alias("record_hash"),
                          F.col("_rule").alias("rule"))
    return text.unionByName(dirty.drop("_rule")), ledger


def write_entity(lake: Lake, entity: str, schema: TableSchema, text: DataFrame, history_batch: str,
                 batches: int, expected_rows: int) -> None:
    """landing/<entity>/batch=<date>/ files; the history batch is split into files of ~1.5M rows.

    The row count is an estimate given by the caller, so the records are computed once, when written.
    """
    fmt = FORMATS[entity]
    splits = max(1, -(-expected_rows // ROWS_PER_FILE))
    salt = F.when(F.col("batch") == history_batch, F.pmod(F.xxhash64(*schema.columns), F.lit(splits))).otherwise(0)
    out = text.withColumn("_salt", salt).repartition(batches + splits, "batch", "_salt").drop("_salt")
    if fmt == "parquet":  # a typed export: the text is cast back to the schema's types
        out = out.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.struct.fields], "batch")
    writer = out.write.mode("overwrite").partitionBy("batch")
    path = lake.landing(entity)
    if fmt == "csv":
        writer.option("header", True).option("escape", '"').csv(path)
    elif fmt == "json":
        writer.json(path)
    else:
        writer.parquet(path)


def read_back(spark, lake: Lake, entity: str, schema: TableSchema) -> DataFrame:
    """The landed files of an entity as text columns, as a reader of the export sees them."""
    fmt, path = FORMATS[entity], lake.landing(entity)
    text_schema = T.StructType([T.StructField(c, T.StringType()) for c in schema.columns])
    if fmt == "csv":
        df = spark.read.option("header", True).option("escape", '"').schema(text_schema).csv(path)
    elif fmt == "json":
        df = spark.read.schema(text_schema).json(path)
    else:
        df = spark.read.parquet(path).select(*[F.col(c).cast("string").alias(c) for c in schema.columns])
    return df


def content_hash(df: DataFrame, columns: list[str]) -> tuple[str, int]:
    """An order-free fingerprint of a set of records: (sum of row hashes mod 2^64 in hex, rows)."""
    row = df.agg(F.sum(F.xxhash64(*[F.coalesce(F.col(c), F.lit("\u0000")) for c in columns])
                       .cast("decimal(38,0)")).alias("s"), F.count("*").alias("n")).head()
    return format(int(row.s or 0) % (1 << 64), "016x"), int(row.n)
