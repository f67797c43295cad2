"""tradematch register: SQL that names each gold table over its Delta location, for SQL and BI users.

The statements only point a metastore at tables the jobs own: CREATE TABLE IF NOT EXISTS ... USING DELTA
LOCATION takes the columns and their comments from the Delta log (tables are created with the comments
of their schema files), so registering never writes to a table. They are valid Spark SQL and
Databricks SQL; they run when the environment has a persistent metastore (spark.sql.catalogImplementation:
hive), and are otherwise written for someone to run there.
"""
from __future__ import annotations

from tradematch.settings import Settings
from tradematch.tables import Tables, _sql_str

DEFAULT_SCHEMA = "tradematch"


def gold_tables(tables: Tables) -> list[str]:
    """The gold tables, in schema-file order, that exist in the lake."""
    return [name for name, schema in tables.catalog.schemas().items()
            if schema.layer == "gold" and tables.exists(name)]


def statements(tables: Tables, schema: str = DEFAULT_SCHEMA) -> list[str]:
    """One CREATE SCHEMA, then one CREATE TABLE per gold table in the lake."""
    out = [f"CREATE SCHEMA IF NOT EXISTS {schema} COMMENT 'tradematch gold tables, read by BI'"]
    for name in gold_tables(tables):
        out.append(f"CREATE TABLE IF NOT EXISTS {schema}.{name} USING DELTA LOCATION '{_sql_str(tables.path(name))}' "
                   f"COMMENT '{_sql_str(tables.schema(name).comment)}'")
    return out


def has_metastore(settings: Settings) -> bool:
    """A persistent catalog that outlives the session: only then is running the SQL worth anything."""
    return settings.spark.get("spark.sql.catalogImplementation") == "hive"


def register(tables: Tables, schema: str = DEFAULT_SCHEMA, execute: bool = False) -> str:
    """The SQL script; with execute, each statement is run in the session's catalog too."""
    sql = statements(tables, schema)
    if execute:
        for statement in sql:
            tables.spark.sql(statement)
    return "".join(f"{statement};\n" for statement in sql)
