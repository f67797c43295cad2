"""Landing files of every kind read as text without failing: quoted fields with newlines, short and long
CSV rows, lines that are not JSON, typed Parquet; each record numbered in its file and hashed."""
import pytest

from ingest_fixtures.landing import FX, ORDER, REVIEW, columns, csv_text, land, land_parquet, party
from tradematch.ingest import bronze
from tradematch.landing import record_hash
from tradematch.schema import Catalog, SchemaError

BATCH = "2025-06-01"


def read(spark, lake, entity):
    files, notes = bronze.list_files(spark, lake, entity, BATCH)
    cols = bronze.file_columns(spark, files)
    schema = Catalog().landing(entity)
    notes += bronze.drift(files, cols, schema)
    rows = bronze.read_raw(spark, files, cols, schema).transform(bronze.to_bronze(entity, schema))
    return rows.orderBy("source_file", "record_number"), notes


def test_csv_keeps_quotes_and_newlines_and_a_row_it_cannot_split_whole(spark, lake):
    good = party(legal_name='Frames "Best" Co, Ltd')
    text = csv_text("parties", [good]) + "P2,short row\n" + csv_text("parties", [party(party_id="P3")]).split("\n", 1)[1]
    land(lake, "parties", BATCH, text)
    rows, notes = read(spark, lake, "parties")
    got = [(r.record_number, r.raw_record, r.fields["party_id"], r.fields["address"]) for r in rows.collect()]
    assert got == [(1, None, "P1", 'No. 5 "Frame" Road\nDongyang'), (2, "P2,short row", "P2", None),
                   (3, None, "P3", 'No. 5 "Frame" Road\nDongyang')]
    assert notes == []
    expected = (spark.createDataFrame([[good[c] for c in columns("parties")]], ", ".join(f"`{c}` string" for c in columns("parties")))
                .select(record_hash(columns("parties"))).head()[0])
    assert rows.head().record_hash == expected


def test_json_lines_that_do_not_parse_are_kept_as_raw_text(spark, lake):
    land(lake, "reviews", BATCH, '{"order_id": "O1", "reviewer_role": "buyer", "rating": "4", "complaint": "true", '
                                 '"created_on": "2025-05-03"}\nnot json at all\n[1, 2]\n', "json")
    rows, _ = read(spark, lake, "reviews")
    assert [(r.record_number, r.raw_record, r.fields["order_id"]) for r in rows.collect()] == [
        (1, None, "O1"), (2, "not json at all", None), (3, "[1, 2]", None)]


def test_records_are_numbered_in_file_order_when_files_are_read_in_many_blocks(spark, lake):
    reviews = [{**REVIEW, "order_id": f"O{i}"} for i in range(1, 41)]
    land(lake, "reviews", BATCH, reviews, "json", name="part-0")  # about 4 KB: split into blocks of 256 bytes
    land(lake, "reviews", BATCH, reviews[:3], "json", name="part-1")
    land(lake, "reviews", BATCH, reviews[:2], "csv", name="part-2")  # a CSV is read whole, in one block
    small = {"spark.sql.files.maxPartitionBytes": "256", "spark.sql.files.openCostInBytes": "1"}
    before = {k: spark.conf.get(k) for k in small}
    try:
        for k, v in small.items():
            spark.conf.set(k, v)
        rows, _ = read(spark, lake, "reviews")
        got = [(r.source_file, r.record_number, r.fields["order_id"]) for r in rows.collect()]
        blocks = spark.read.json(lake.landing("reviews", BATCH) + "/part-0.json").rdd.getNumPartitions()
    finally:
        for k, v in before.items():
            spark.conf.set(k, v)
    assert blocks > 10
    assert got == ([("part-0.json", i, f"O{i}") for i in range(1, 41)] + [("part-1.json", i, f"O{i}") for i in (1, 2, 3)]
                   + [("part-2.csv", i, f"O{i}") for i in (1, 2)])


def test_typed_parquet_reads_as_the_text_a_csv_would_hold(spark, lake):
    land_parquet(spark, lake, "orders", BATCH, [ORDER])
    rows, _ = read(spark, lake, "orders")
    fields = rows.head().fields
    assert (fields["updated_at"], fields["amount"], fields["quantity"], fields["shipped_date"]) == (
        "2025-03-01T09:00:00", "1200.00", "500", None)


def test_drift_notes_extra_and_absent_optional_columns_and_stops_on_a_missing_required_one(spark, lake):
    header = [c for c in columns("fx_rates")] + ["source"]
    land(lake, "fx_rates", BATCH, csv_text("fx_rates", [{**FX, "source": "ecb"}], header=header))
    land(lake, "reviews", BATCH, '{"order_id": "O1", "reviewer_role": "buyer", "rating": "4", "complaint": "true"}\n',
         "json", name="part-1")
    land(lake, "orders", BATCH, csv_text("orders", [ORDER], header=[c for c in ORDER if c != "status"]))
    _, notes = read(spark, lake, "fx_rates")
    assert notes == [f"landing/fx_rates/batch={BATCH}/part-0.csv: extra column(s) source ignored"]
    with pytest.raises(SchemaError, match=rf"landing/reviews/batch={BATCH}/part-1.json lacks required column\(s\) created_on"):
        read(spark, lake, "reviews")
    with pytest.raises(SchemaError, match="part-0.csv lacks required column"):
        read(spark, lake, "orders")


def test_files_that_are_not_data_are_skipped_with_a_note(spark, lake):
    land(lake, "reviews", BATCH, [REVIEW], "json")
    folder = lake.landing("reviews", BATCH)
    open(f"{folder}/README.txt", "w").write("hello")
    open(f"{folder}/part-9.json", "w").close()
    open(f"{folder}/_SUCCESS", "w").close()
    files, notes = bronze.list_files(spark, lake, "reviews", BATCH)
    assert [f.name for f in files] == ["part-0.json"]
    assert notes == [f"landing/reviews/batch={BATCH}/README.txt: ignored (not .csv, .json or .parquet)",
                     f"landing/reviews/batch={BATCH}/part-9.json: ignored (empty file)"]
