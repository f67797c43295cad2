"""Where a batch's landed records ended, counted per entity and batch: every entity's keys are looked up in
its own silver table only, a one-key entity beside a two-key one."""
import datetime as dt

from chispa import assert_df_equality

from tradematch.ingest.reconcile import places

B = dt.date(2026, 1, 2)
ID = "entity string, batch date, source_file string, record_number bigint"


def test_each_record_is_placed_by_its_own_entitys_keys(spark):
    records = spark.createDataFrame([
        ("orders", B, "f", 1, {"order_id": "O1"}),  # in orders: accepted
        ("orders", B, "f", 2, {"order_id": "O2"}),  # in pending
        ("orders", B, "f", 3, {"order_id": "O3"}),  # in quarantine
        ("orders", B, "f", 4, {"order_id": "O4"}),  # nowhere (an rfq's id, not an order's): lost
        ("reviews", B, "g", 1, {"order_id": "O1", "reviewer_role": "buyer"}),  # in reviews: accepted
        ("reviews", B, "g", 2, {"order_id": "O1", "reviewer_role": "supplier"}),  # its order is, not it: lost
        ("reviews", B, "g", 3, {"order_id": "O5", "reviewer_role": "buyer"}),  # O5 is an order, not a review: lost
        ("rfqs", B, "h", 1, {"rfq_id": "R1"}),  # in rfqs: accepted
    ], f"{ID}, fields map<string,string>")
    orders = spark.createDataFrame([("O1", 10.0), ("O5", 5.0)], "order_id string, amount double")
    reviews = spark.createDataFrame([("O1", "buyer", True)], "order_id string, reviewer_role string, complaint boolean")
    rfqs = spark.createDataFrame([("R1",), ("O4",)], "rfq_id string")
    pending = spark.createDataFrame([("orders", B, "f", 2)], ID)
    quarantine = spark.createDataFrame([("orders", B, "f", 3)], ID)

    counted = places(records, quarantine, pending, {"orders": (orders, ["order_id"]),
                                                    "reviews": (reviews, ["order_id", "reviewer_role"]),
                                                    "rfqs": (rfqs, ["rfq_id"])})

    expected = spark.createDataFrame([("orders", B, 4, 1, 1, 1, 1), ("reviews", B, 3, 1, 0, 0, 2),
                                      ("rfqs", B, 1, 1, 0, 0, 0)],
                                     "entity string, batch date, landed long, accepted long, pending long, "
                                     "quarantined long, lost long")
    assert_df_equality(counted, expected, ignore_row_order=True, ignore_nullable=True)
