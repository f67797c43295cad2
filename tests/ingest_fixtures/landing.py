"""Hand-made landing files for the ingest tests: a few parties, orders and their children, written as a
platform export would drop them (CSV with RFC 4180 quotes, JSON lines, Parquet)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tradematch.lake import Lake
from tradematch.schema import Catalog

PARTY = {"party_id": "P1", "legal_name": "Dongyang Frames Co", "country": "CN", "region": "Zhejiang",
         "city": "Dongyang", "cluster": "Dongyang", "registered_on": "2024-01-10", "tax_id": "91330783",
         "phone": "+86 579 1234", "email_domain": "dyframes.cn", "bank_account_hash": "ab12",
         "address": 'No. 5 "Frame" Road\nDongyang', "updated_at": "2024-01-10T08:00:00"}
ORDER = {"order_id": "O1", "buyer_id": "B1", "supplier_id": "P1", "hs_code": "441400", "origin_country": "CN",
         "destination_country": "US", "quantity": "500", "amount": "1200.00", "currency": "CNY",
         "order_date": "2025-03-01", "promised_ship_date": "2025-03-20", "shipped_date": None,
         "promised_delivery_date": "2025-04-20", "delivered_date": None, "pickup_deadline": None,
         "picked_up_date": None, "payment_due_date": "2025-05-01", "paid_date": None, "status": "open",
         "updated_at": "2025-03-01T09:00:00"}
DISPUTE = {"dispute_id": "D1", "order_id": "O1", "opened_by": "buyer", "reason": "quality",
           "opened_on": "2025-05-02", "closed_on": None, "outcome": "open", "claim_amount": "300.00",
           "currency": "CNY"}
REVIEW = {"order_id": "O1", "reviewer_role": "buyer", "rating": "4", "complaint": "false",
          "created_on": "2025-05-03"}
FX = {"rate_date": "2025-02-28", "currency": "CNY", "usd_per_unit": "0.14"}
RFQ = {"rfq_id": "R1", "buyer_id": "B1", "hs_code": "441400", "quantity": "800", "destination_country": "US",
       "created_on": "2025-04-01", "status": "open"}
OVERRIDE = {"party_id": "P1", "role": "supplier", "action": "clear", "reason": "reviewed, fine",
            "decided_by": "risk.ops", "decided_on": "2025-04-02", "expires_on": None}


def party(**changes) -> dict:
    return {**PARTY, **changes}


def buyer(party_id: str = "B1", **changes) -> dict:
    return {**PARTY, "party_id": party_id, "legal_name": f"Buyer {party_id} Inc", "country": "US", "region": "CA",
            "city": "Oakland", "cluster": None, **changes}


def order(**changes) -> dict:
    return {**ORDER, **changes}


def columns(entity: str) -> list[str]:
    return Catalog().landing(entity).columns


def csv_text(entity: str, rows: list[dict], header: list[str] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = header or columns(entity)
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row[c] for c in names])
    return out.getvalue()


def json_text(rows: list[dict]) -> str:
    return "".join(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n" for row in rows)


def land(lake: Lake, entity: str, batch: str, rows: list[dict] | str, fmt: str = "csv", name: str = "part-0") -> Path:
    """Write one landing file; rows may be ready text (to plant a malformed line)."""
    folder = Path(lake.landing(entity, batch))
    folder.mkdir(parents=True, exist_ok=True)
    text = rows if isinstance(rows, str) else csv_text(entity, rows) if fmt == "csv" else json_text(rows)
    path = folder / f"{name}.{fmt}"
    path.write_text(text)
    return path


def land_parquet(spark, lake: Lake, entity: str, batch: str, rows: list[dict]) -> None:
    """A typed Parquet export, as a platform writing its own types would drop it."""
    schema = Catalog().landing(entity).struct
    text = spark.createDataFrame([[r.get(c) for c in schema.fieldNames()] for r in rows],
                                 ", ".join(f"`{c}` string" for c in schema.fieldNames()))
    text.select(*[text[f.name].cast(f.dataType) for f in schema.fields]).coalesce(1).write.parquet(
        lake.landing(entity, batch) + "/_tmp")
    folder = Path(lake.landing(entity, batch))
    for i, part in enumerate(sorted((folder / "_tmp").glob("part-*.parquet"))):
        part.rename(folder / f"part-{i}.parquet")
    for leftover in (folder / "_tmp").iterdir():
        leftover.unlink()
    (folder / "_tmp").rmdir()
