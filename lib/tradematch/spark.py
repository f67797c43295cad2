"""The one SparkSession builder.

Locally it starts Spark with the Delta extension and catalog, the jars that scripts/setup fetched, AQE
on and UTC time. Under spark-submit the master, jars and resources belong to spark-submit and the
cluster: the builder takes the session it is given and sets only what results depend on.
"""
from __future__ import annotations

import logging
import os
from functools import lru_cache

from py4j.java_gateway import java_import
from pyspark.sql import SparkSession

from tradematch.settings import Settings, SettingsError

log = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
# What results depend on, so it is set in every session, local or submitted.
RUNTIME_CONF = {"spark.sql.session.timeZone": "UTC", "spark.sql.adaptive.enabled": "true"}


def under_spark_submit() -> bool:
    """spark-submit starts the Python driver with a gateway already listening."""
    return "PYSPARK_GATEWAY_PORT" in os.environ


def _local_jars(settings: Settings) -> str:
    folder = settings.jars_path()
    jars = sorted(folder.glob("*.jar")) if folder and folder.is_dir() else []
    if not any(j.name.startswith("delta-spark_") for j in jars):
        raise SettingsError(f"{settings.source}: no Delta jars in jars_dir '{settings.jars_dir}' "
                            "(run scripts/setup to fetch them)")
    return ",".join(str(j) for j in jars)


def get_spark(settings: Settings, app_name: str = "tradematch") -> SparkSession:
    if under_spark_submit():
        spark = SparkSession.builder.appName(app_name).getOrCreate()
        extensions = spark.conf.get("spark.sql.extensions", "") or ""
        if DELTA_EXTENSION not in extensions:
            raise SettingsError("spark-submit started Spark without the Delta extension: pass "
                                f"--conf spark.sql.extensions={DELTA_EXTENSION} (scripts/submit does)")
    else:
        builder = (SparkSession.builder.appName(app_name)
                   .master(settings.master or "local[*]")
                   .config("spark.jars", _local_jars(settings))
                   .config("spark.sql.extensions", DELTA_EXTENSION)
                   .config("spark.sql.catalog.spark_catalog", DELTA_CATALOG))
        for key, value in {**RUNTIME_CONF, **settings.spark}.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate()
    for key, value in RUNTIME_CONF.items():
        spark.conf.set(key, value)
    spark.sparkContext.setLogLevel(settings.log_level)
    log.info("spark %s master=%s", spark.version, spark.sparkContext.master)
    return spark


def jvm_class(spark: SparkSession, name: str):
    """A JVM class by its full name. py4j resolves `spark._jvm.a.b.C` one segment at a time, each a failed
    class lookup over Spark's jars (5 ms); an imported short name resolves in 0.4 ms."""
    return getattr(spark._jvm, _imported(spark._jvm, name))


@lru_cache(maxsize=64)
def _imported(jvm, name: str) -> str:
    java_import(jvm, name)
    return name.rsplit(".", 1)[1]
