"""A small landing story in three batches, told in order and with the last two swapped in the job tests.

History 2025-06-01: parties P1, B1, B2; orders O1 (versions of 03-01 and 05-20), O2 and an exact copy
of it, O3 (its buyer B3 lands a day later), O4 with a bad amount; CNY and EUR rates; a dispute on O5
(lands two days later); a review of an order that never lands.
2025-06-02: buyer B3, a new CNY rate that re-prices O1, order O6 (its CSV carries an extra column).
2025-06-03: O1's version of 05-10 (late: it goes between the two known ones), order O5, a new version of
P1, and an exact copy of B3's record from the day before.
"""
from __future__ import annotations

from ingest_fixtures.landing import DISPUTE, FX, REVIEW, buyer, csv_text, land, order, party

H, D1, D2 = "2025-06-01", "2025-06-02", "2025-06-03"
B3 = buyer("B3", registered_on="2025-06-01", updated_at="2025-06-01T10:00:00")


def land_batch(lake, batch: str) -> None:
    if batch == H:
        land(lake, "parties", H, [party(), buyer("B1"), buyer("B2", country="DE")])
        o2 = order(order_id="O2", buyer_id="B2", currency="EUR", amount="800.00")
        land(lake, "orders", H, [order(), order(status="completed", shipped_date="2025-03-08",
                                                 delivered_date="2025-04-02", paid_date="2025-04-10",
                                                 updated_at="2025-05-20T10:00:00"),
                                 o2, o2, order(order_id="O3", buyer_id="B3"), order(order_id="O4", amount="12,50")])
        land(lake, "fx_rates", H, [FX, {**FX, "currency": "EUR", "usd_per_unit": "1.10"}])
        land(lake, "disputes", H, [{**DISPUTE, "order_id": "O5"}], "json")
        land(lake, "reviews", H, [{**REVIEW, "order_id": "O404"}], "json")
    elif batch == D1:
        land(lake, "parties", D1, [B3])
        land(lake, "fx_rates", D1, [{**FX, "rate_date": "2025-03-01", "usd_per_unit": "0.15"}])
        o6 = order(order_id="O6", buyer_id="B1", currency="USD", amount="99.90", order_date="2025-06-01",
                   updated_at="2025-06-01T12:00:00")
        text = csv_text("orders", [{**o6, "channel": "app"}], header=[*o6, "channel"])
        land(lake, "orders", D1, text)
    else:
        land(lake, "orders", D2, [order(status="open", shipped_date="2025-03-08", updated_at="2025-05-10T10:00:00"),
                                  order(order_id="O5", buyer_id="B2", updated_at="2025-05-02T08:00:00")])
        land(lake, "parties", D2, [party(city="Yiwu", updated_at="2025-06-02T12:00:00"), B3])
