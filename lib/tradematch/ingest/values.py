"""Raw landed text -> typed values, by the landing schema's intended type; null when the text does not parse.

One parser serves the rules (a value that does not parse breaks bad_number or bad_date) and silver (the
typed value), so a record is accepted exactly when silver can type it. Formats are the landing
contract's: dates YYYY-MM-DD, timestamps YYYY-MM-DDTHH:MM:SS (UTC), numbers with an optional dot
(and an exponent for floating-point rates only).
"""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql import types as T

# dates and timestamps: the exact shape, then a cast (a formatter parse of the same text costs twice as much)
DATE_TEXT, TIMESTAMP_TEXT = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"
INTEGER_TEXT, DECIMAL_TEXT = r"^[+-]?[0-9]+$", r"^[+-]?[0-9]+(\.[0-9]+)?$"
FLOAT_TEXT = r"^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"  # rates: a tiny rate prints as 6.1E-5


def field(column: str) -> Column:
    """A landed record's text of a column, from its `fields` map. try_element_at, not fields[column]: Spark
    counts a map subscript as cheap and copies it into every expression that reads the column (a dozen
    lookups per value for the rules, and generated code too big to compile); typing 4.7M orders took
    259 s that way, 85 s this way."""
    return F.try_element_at(F.col("fields"), F.lit(column))


def raw(column: str) -> Column:
    return F.col(f"`{column}`")


def blank(column: str) -> Column:
    """Missing: absent, null or only whitespace."""
    return F.coalesce(F.trim(raw(column)) == "", F.lit(True))


def is_number(data_type: T.DataType) -> bool:
    return isinstance(data_type, (T.IntegralType, T.DecimalType, T.DoubleType, T.FloatType))


def is_date(data_type: T.DataType) -> bool:
    return isinstance(data_type, (T.DateType, T.TimestampType))


def parse(column: str, data_type: T.DataType) -> Column:
    """The typed value of a text column, or null when it is blank or does not parse."""
    text = raw(column)
    if isinstance(data_type, T.DateType):
        value = F.when(text.rlike(DATE_TEXT), text.try_cast(data_type))
    elif isinstance(data_type, T.TimestampType):
        value = F.when(text.rlike(TIMESTAMP_TEXT), text.try_cast(data_type))
    elif isinstance(data_type, T.IntegralType):
        value = F.when(text.rlike(INTEGER_TEXT), text.try_cast(data_type))
    elif isinstance(data_type, T.DecimalType):
        value = F.when(text.rlike(DECIMAL_TEXT), text.try_cast(data_type))
    elif is_number(data_type):
        value = F.when(text.rlike(FLOAT_TEXT), text.try_cast(data_type))
    elif isinstance(data_type, T.BooleanType):
        value = F.when(F.lower(text).isin("true", "false"), F.lower(text) == "true")
    else:
        value = text
    return F.when(~blank(column), value)
