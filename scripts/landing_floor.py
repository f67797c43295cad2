"""The floor under a history batch's ingest on this machine: every record a lake has landed, read as text per
entity (as `landing_files.read_back` reads them) and written once as Parquet, with no rule, no Delta and no
gate. Whatever ingest does costs at least this; README's Performance section compares it with the 10-minute
target at 10M orders.

Usage: scripts/landing_floor --lake DIR (a lake that `tradematch generate` wrote)
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time

from tradematch.generate.landing_files import read_back
from tradematch.lake import Lake
from tradematch.landing import ENTITIES
from tradematch.schema import Catalog
from tradematch.settings import load_settings
from tradematch.spark import get_spark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True)
    args = parser.parse_args()
    settings = load_settings("local", [f"lake={args.lake}"])  # a relative --lake: under the project root, as in the CLI
    spark = get_spark(settings, app_name="tradematch-landing-floor")
    lake, catalog, out = Lake(settings.lake_uri()), Catalog(), tempfile.mkdtemp(prefix="tradematch-floor-")
    records, seconds = 0, 0.0
    try:
        for entity in ENTITIES:
            start = time.monotonic()
            read_back(spark, lake, entity, catalog.landing(entity)).write.mode("overwrite").parquet(f"{out}/{entity}")
            spent = time.monotonic() - start
            written = spark.read.parquet(f"{out}/{entity}").count()  # outside the timing
            records, seconds = records + written, seconds + spent
            print(f"landing_floor: {entity}: {written:,} records written in {spent:.1f} s", flush=True)
        print(f"landing_floor: all: {records:,} records written in {seconds:.1f} s", flush=True)
    finally:
        spark.stop()
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
