"""Table schemas from schemas/<layer>/<table>.json: the one place a table's columns are typed.

A schema file holds the table's layer, comment, keys, partition columns, optional Delta table
properties set when the table is created (`properties`) and, per column, a Spark SQL type, nullability
and a one-line comment. Code builds StructTypes from it; nothing types a table twice.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import types as T

from tradematch.settings import project_root

LAYERS = ("landing", "bronze", "silver", "gold", "ops", "truth")


class SchemaError(ValueError):
    """A schema file that does not parse, or a table that does not match its file."""


_SIMPLE = {
    "string": T.StringType(), "boolean": T.BooleanType(), "int": T.IntegerType(),
    "bigint": T.LongType(), "double": T.DoubleType(), "float": T.FloatType(),
    "date": T.DateType(), "timestamp": T.TimestampType(), "binary": T.BinaryType(),
}


def _split_top(text: str) -> list[str]:
    """Split on commas that are not inside <> or ()."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "<(":
            depth += 1
        elif ch in ">)":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return parts


def parse_type(text: str) -> T.DataType:
    """Parse the subset of Spark SQL type names the schema files use."""
    s = text.strip().lower()
    if s in _SIMPLE:
        return _SIMPLE[s]
    if m := re.fullmatch(r"decimal\((\d+),\s*(\d+)\)", s):
        return T.DecimalType(int(m[1]), int(m[2]))
    if s.startswith("array<") and s.endswith(">"):
        return T.ArrayType(parse_type(text.strip()[6:-1]), True)
    if s.startswith("map<") and s.endswith(">"):
        key, value = _split_top(text.strip()[4:-1])
        return T.MapType(parse_type(key), parse_type(value), True)
    if s.startswith("struct<") and s.endswith(">"):
        members = []
        for part in _split_top(text.strip()[7:-1]):
            name, _, kind = part.partition(":")
            members.append(T.StructField(name.strip(), parse_type(kind), True))
        return T.StructType(members)
    raise SchemaError(f"unknown column type {text!r}")


@dataclass(frozen=True)
class TableSchema:
    name: str
    layer: str
    comment: str
    keys: tuple[str, ...]
    partition_by: tuple[str, ...]
    struct: T.StructType
    file: Path
    properties: tuple[tuple[str, str], ...] = ()

    @property
    def columns(self) -> list[str]:
        return self.struct.fieldNames()

    @property
    def pii(self) -> list[str]:
        """The columns whose comment marks them as personal data: "(PII)"."""
        return [f.name for f in self.struct.fields if "(PII)" in f.metadata.get("comment", "")]


def _column(entry: dict, file: Path) -> T.StructField:
    try:
        name, kind, comment = entry["name"], entry["type"], entry["comment"]
    except (KeyError, TypeError) as exc:
        raise SchemaError(f"{file}: every column needs name, type and comment ({entry!r})") from exc
    try:
        data_type = parse_type(kind)
    except SchemaError as exc:
        raise SchemaError(f"{file}: column '{name}': {exc}") from None
    return T.StructField(name, data_type, bool(entry.get("nullable", True)), {"comment": comment})


def read_schema_file(file: Path) -> TableSchema:
    try:
        doc = json.loads(file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaError(f"{file}: schema file does not parse: {exc}") from exc
    layer = file.parent.name
    if layer not in LAYERS or not isinstance(doc, dict) or doc.get("table") != file.stem:
        raise SchemaError(f"{file}: expected {{\"table\": \"{file.stem}\", ...}} under one of {LAYERS}")
    struct = T.StructType([_column(c, file) for c in doc.get("columns", [])])
    names = struct.fieldNames()
    if not names or len(set(names)) != len(names):
        raise SchemaError(f"{file}: columns must be present and unique")
    keys, parts = tuple(doc.get("keys", [])), tuple(doc.get("partition_by", []))
    unknown = [c for c in keys + parts if c not in names]
    if unknown:
        raise SchemaError(f"{file}: keys or partition_by name unknown columns {unknown}")
    props = doc.get("properties", {})
    if not isinstance(props, dict) or not all(k.startswith("delta.") and isinstance(v, str) for k, v in props.items()):
        raise SchemaError(f"{file}: properties must map delta.* table properties to strings ({props!r})")
    return TableSchema(file.stem, layer, doc.get("comment", ""), keys, parts, struct, file,
                       tuple(sorted(props.items())))


class Catalog:
    """The schema files and quality suites under one project root (the checkout, or a test's folder)."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root or project_root())
        self._schemas: dict[str, TableSchema] | None = None

    def schemas(self) -> dict[str, TableSchema]:
        """Every table's schema file under schemas/, by name (unique across layers).

        Landing files are a contract for files, not tables, and share their names with silver tables
        (landing orders -> silver orders), so they are read with landing() instead.
        """
        if self._schemas is None:
            found: dict[str, TableSchema] = {}
            for file in sorted((self.root / "schemas").glob("*/*.json")):
                if file.parent.name == "landing":
                    continue
                schema = read_schema_file(file)
                if schema.name in found:
                    raise SchemaError(f"{file}: table '{schema.name}' is also defined in "
                                      f"{found[schema.name].file}")
                found[schema.name] = schema
            self._schemas = found
        return self._schemas

    def schema(self, name: str) -> TableSchema:
        try:
            return self.schemas()[name]
        except KeyError:
            raise SchemaError(f"no schema file for table '{name}' under {self.root / 'schemas'}") from None

    def landing(self, entity: str) -> TableSchema:
        """The landing contract of one entity: schemas/landing/<entity>.json."""
        file = self.root / "schemas" / "landing" / f"{entity}.json"
        if not file.is_file():
            raise SchemaError(f"no landing schema for entity '{entity}' at {file}")
        return read_schema_file(file)

    def suite_file(self, name: str) -> Path:
        return self.root / "conf" / "quality" / f"{name}.yaml"


def describe_difference(actual: T.StructType, expected: T.StructType) -> list[str]:
    """Plain-words differences between a table's schema and its file (comments ignored)."""
    have = {f.name: f for f in actual.fields}
    want = {f.name: f for f in expected.fields}
    out = [f"column '{n}' is in the table but not in the file" for n in have if n not in want]
    out += [f"column '{n}' is in the file but not in the table" for n in want if n not in have]
    for name in want.keys() & have.keys():
        a, e = have[name], want[name]
        if a.dataType.simpleString() != e.dataType.simpleString():
            out.append(f"column '{name}' is {a.dataType.simpleString()} in the table, "
                       f"{e.dataType.simpleString()} in the file")
        elif a.nullable != e.nullable:
            out.append(f"column '{name}' nullable={a.nullable} in the table, {e.nullable} in the file")
    if not out and [f.name for f in actual.fields] != [f.name for f in expected.fields]:
        out.append("columns are in a different order")
    return out


def addable_columns(actual: T.StructType, expected: T.StructType) -> list[T.StructField] | None:
    """The columns a migration may add: nullable ones appended to the end of an otherwise equal schema."""
    n = len(actual.fields)
    head = T.StructType(expected.fields[:n])
    if describe_difference(actual, head):
        return None
    tail = expected.fields[n:]
    return list(tail) if all(f.nullable for f in tail) else None
