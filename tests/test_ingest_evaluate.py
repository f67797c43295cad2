"""The ingest evaluation section counts, on hand-made tables, what the truth ledger planted and where it went."""
import datetime as dt
from decimal import Decimal

from tradematch.evaluate.ingest import section
from tradematch.tables import Tables

B = dt.date(2025, 6, 1)
D = dt.date.fromisoformat
ORDER = {"order_id": "O1", "buyer_id": "B1", "supplier_id": "P1", "hs_code": "441400", "hs_chapter": "44",
         "origin_country": "CN", "destination_country": "US", "quantity": 5, "amount": Decimal("10.00"),
         "currency": "USD", "amount_usd": Decimal("10.00"), "order_date": D("2025-03-01"),
         "promised_ship_date": D("2025-03-10"), "promised_delivery_date": D("2025-04-01"),
         "payment_due_date": D("2025-04-15"), "status": "open", "updated_at": dt.datetime(2025, 3, 1), "batch": B,
         "record_hash": "h", "order_month": D("2025-03-01")}
Q_ID = {"entity": "orders", "batch": B, "source_file": "part-0.csv", "fields": {}, "raw_record": None}


def test_section_counts_caught_wrong_rule_lost_and_duplicate_orders(spark, lake):
    tables = Tables(spark, lake)
    truth = spark.createDataFrame([("orders", "2025-06-01", "h1", "bad_code"), ("orders", "2025-06-01", "h2", "duplicate_record"),
                                   ("orders", "2025-06-01", "h3", "bad_date"), ("orders", "2025-06-01", "x", "malformed_record"),
                                   ("reviews", "2025-06-01", "h9", "orphan_reference")],
                                  "entity string, batch string, record_hash string, rule string")
    truth.write.format("delta").save(lake.path("truth", "dirty_records"))
    quarantined = [("h1", "bad_code"), ("h2", "duplicate_record"), ("h3", "bad_number"),  # h3: the wrong rule
                   ("whole-line", "malformed_record"), ("h5", "bad_code")]                # h5: a good record lost
    tables.overwrite("quarantine", tables.rows("quarantine", [
        {**Q_ID, "record_number": i, "record_hash": h, "rule": r, "rules": [r], "quarantined_at": dt.datetime(2025, 6, 1)}
        for i, (h, r) in enumerate(quarantined)]))
    tables.overwrite("pending", tables.rows("pending", [
        {**Q_ID, "entity": "reviews", "record_number": 1, "record_hash": "h9", "waiting_for": ["orders.order_id=O9"],
         "orphan_on": dt.date(2025, 6, 4)}]))
    tables.overwrite("orders", tables.rows("orders", [{**ORDER, "order_id": o} for o in ("O1", "O1", "O2")]))
    assert section(Tables(spark, lake)) == {"dirty_rows_injected": 5, "dirty_rows_quarantined_with_right_rule": 3,
                                    "good_rows_lost": 1, "duplicate_orders_in_silver": 1}

