"""Merging accepted orders into silver (publish_accepted) on hand-made typed rows."""
import datetime as dt

from chispa import assert_df_equality
from delta.tables import DeltaTable
from pyspark.sql import functions as F

from ingest_fixtures.landing import order
from tradematch.ingest.publish import publish_accepted
from tradematch.ingest.silver import typed
from tradematch.landing import ENTITIES
from tradematch.tables import Tables


def accepted(spark, landing, batch, rows):
    """Typed order rows as ingest accepts them: the landed text of each record in its `fields` map."""
    records = [({k: v for k, v in r.items() if v is not None}, batch, f"h-{batch}-{i}") for i, r in enumerate(rows)]
    return spark.createDataFrame(records, "fields map<string,string>, batch string, record_hash string").transform(
        typed(landing["orders"]))


def test_a_daily_version_whose_order_date_moves_month_replaces_the_versions_held_in_the_old_month(spark, lake):
    """A daily batch reads and merges only the months holding its orders' versions. O1 moves from February
    to March: its February version is still found (closed, and gone from orders); O2's April is not read."""
    tables = Tables(spark, lake)
    landing = {e: tables.catalog.landing(e) for e in ENTITIES}
    day, t = dt.date.fromisoformat, dt.datetime.fromisoformat
    first = [order(currency="USD", order_date="2025-02-28", updated_at="2025-02-28T09:00:00"),
             order(order_id="O2", currency="USD", order_date="2025-04-10", updated_at="2025-04-10T09:00:00")]
    publish_accepted(tables, {"orders": accepted(spark, landing, "2025-06-01", first)}, landing)
    moved = [order(currency="USD", order_date="2025-03-01", updated_at="2025-06-02T08:00:00")]
    publish_accepted(tables, {"orders": accepted(spark, landing, "2025-06-02", moved)}, landing)

    history = tables.read("orders_history").select("order_id", "order_date", "order_month", "valid_from", "valid_to")
    assert_df_equality(history, spark.createDataFrame(
        [("O1", day("2025-02-28"), day("2025-02-01"), t("2025-02-28T09:00:00"), t("2025-06-02T08:00:00")),
         ("O1", day("2025-03-01"), day("2025-03-01"), t("2025-06-02T08:00:00"), None),
         ("O2", day("2025-04-10"), day("2025-04-01"), t("2025-04-10T09:00:00"), None)],
        "order_id string, order_date date, order_month date, valid_from timestamp, valid_to timestamp"),
        ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)
    orders = tables.read("orders").select("order_id", "order_date", F.col("updated_at").cast("string"))
    assert_df_equality(orders, spark.createDataFrame(
        [("O1", day("2025-03-01"), "2025-06-02 08:00:00"), ("O2", day("2025-04-10"), "2025-04-10 09:00:00")],
        "order_id string, order_date date, updated_at string"),
        ignore_row_order=True, ignore_nullable=True, ignore_metadata=True)
    for name in ("orders_history", "orders"):  # each daily merge was bounded by the two months
        predicate = DeltaTable.forPath(spark, tables.path(name)).history(1).head().operationParameters["predicate"]
        assert "2025-02-01" in predicate and "2025-03-01" in predicate and "2025-04-01" not in predicate
