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

DATE_FORMAT, TIMESTAMP_FORMAT = "yyyy-MM-dd", "yyyy-MM-dd'T'HH:mm:ss"
INTEGER_TEXT, DECIMAL_TEXT = r"^[+-]?[0-9]+$", r"^[+-]?[0-9]+(\.[0-9]+)?$"
FLOAT_TEXT = r"^[+-]?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"  # rates: a tiny rate prints as 6.1E-5


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
        value = F.try_to_date(text, DATE_FORMAT)
    elif isinstance(data_type, T.TimestampType):
        value = F.try_to_timestamp(text, F.lit(TIMESTAMP_FORMAT))
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
