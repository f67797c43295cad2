"""`tradematch erase-party ID`: remove one party's PII from the restricted layer, on request.

The PII columns are those the landing parties schema marks "(PII)". party_identity loses the party's row;
bronze, pending and quarantine records of the party (by party_id, or a raw line that names it) lose their
PII values, and a raw line its text. Delta keeps the old values in files that earlier versions still name: they are
gone only when VACUUM deletes those files after the retention, which the run's notes say. Landing files
are the source system's export and are not touched: the notes say so too.
"""
from __future__ import annotations

from pyspark.sql import functions as F

RECORD_TABLES = ("bronze_records", "pending", "quarantine")
ERASED = "[erased]"


def run(ctx) -> None:
    party_id, tables, notes = ctx.options["party_id"], ctx.tables, ctx.run.notes
    pii = tables.catalog.landing("parties").pii
    erased = {}
    if tables.exists("party_identity"):
        erased["party_identity"] = tables.delete("party_identity", F.col("party_id") == party_id)
    for name in RECORD_TABLES:
        if tables.exists(name):
            columns = tables.schema(name).columns
            erased[name] = tables.update(name, _records_of(party_id, columns), _without(columns, pii))
    ctx.run.metrics.update({f"erased.{name}": rows for name, rows in erased.items()})
    notes.append(f"party {party_id}: PII ({', '.join(pii)}) removed from the current versions: "
                 + ", ".join(f"{name} {rows} row(s)" for name, rows in erased.items()))
    notes.append("earlier Delta versions of these tables still hold it until VACUUM deletes their files: run "
                 "`tradematch maintain` once the retention (vacuum_retention_hours) has passed; landing files "
                 f"of the source export that name {party_id} are outside tradematch and must be deleted there")


def _records_of(party_id: str, columns: list[str]):
    """A parties record of this party, parsed or a raw line that names it (only parties carry PII)."""
    mine = F.col("fields")["party_id"] == party_id
    if "raw_record" in columns:
        mine = mine | F.col("raw_record").contains(party_id)
    return (F.col("entity") == "parties") & mine


def _without(columns: list[str], pii: list[str]) -> dict:
    """The PII keys out of the record's values; a raw line replaced by a marker, so it stays malformed."""
    values = {"fields": F.map_filter("fields", lambda k, _: ~k.isin(*pii))}
    if "raw_record" in columns:
        values["raw_record"] = F.when(F.col("raw_record").isNotNull(), F.lit(ERASED))
    return values
