"""Comparable identity fields and candidate pairs by blocking.

Candidate pairs come only from parties sharing a blocking key: an exact key (tax id, bank account hash,
phone digits) or a cheap normalised one (the name's core words within a country). A key value shared by
more than `blocking.max_block_size` parties yields no pairs, so the work grows with the parties, never
with parties x parties.
"""
from __future__ import annotations

from typing import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

_NOT_WORD = r"[^\p{L}\p{N}]+"


def _words(col: str) -> Column:
    """Upper case, dots, commas and apostrophes dropped ("A.S." is "AS"), every other run of punctuation or
    space made one space, trimmed."""
    return F.trim(F.regexp_replace(F.regexp_replace(F.upper(F.col(col)), "[.,'’]", ""), _NOT_WORD, " "))


def _nonempty(c: Column) -> Column:
    return F.when(c != "", c)


def normalised(conf: dict) -> Callable[[DataFrame], DataFrame]:
    """party_identity rows with each party's country, city and registered_on -> (party_id, country, city,
    registered_on, tax_id, bank_account, phone, name, email_domain, address, street): values made
    comparable (case, punctuation, legal forms and words like "New" or "Trading" in names, the house
    number for `street`); empty values become null."""
    drop = sorted({w.upper() for w in conf["name"]["drop_words"]})

    def apply(identity: DataFrame) -> DataFrame:
        core = F.array_join(F.filter(F.split(_words("legal_name"), " "), lambda w: (w != "") & ~w.isin(*drop)), " ")
        address = _words("address")
        return identity.select(
            "party_id", F.upper(F.trim("country")).alias("country"), _nonempty(_words("city")).alias("city"),
            "registered_on",
            _nonempty(F.regexp_replace(F.upper("tax_id"), _NOT_WORD, "")).alias("tax_id"),
            _nonempty(F.lower(F.trim("bank_account_hash"))).alias("bank_account"),
            _nonempty(F.regexp_replace("phone", "[^0-9]", "")).alias("phone"),
            _nonempty(core).alias("name"),
            _nonempty(F.lower(F.trim("email_domain"))).alias("email_domain"),
            _nonempty(address).alias("address"),
            _nonempty(F.trim(F.regexp_replace(address, r"^(NO )?[0-9]+[A-Z]? ", ""))).alias("street"))
    return apply


def blocking_keys() -> dict[str, Column]:
    """Blocking key kind -> its value on a normalised row (null: the party has no such key)."""
    return {"tax_id": F.col("tax_id"), "bank_account": F.col("bank_account"), "phone": F.col("phone"),
            "name": F.when(F.col("name").isNotNull(), F.concat_ws("|", "country", "name"))}


def candidates(conf: dict) -> Callable[[DataFrame], DataFrame]:
    """Normalised rows -> distinct (party_id, linked_party_id) pairs, party_id < linked_party_id, of
    parties sharing a blocking key value held by at most max_block_size parties."""
    cap = int(conf["blocking"]["max_block_size"])

    def apply(parties: DataFrame) -> DataFrame:
        keys = F.array(*[F.struct(F.lit(kind).alias("kind"), value.alias("value"))
                         for kind, value in blocking_keys().items()])
        keyed = (parties.select("party_id", F.explode(keys).alias("k"))
                 .select("party_id", "k.kind", "k.value").where(F.col("value").isNotNull()).distinct())
        block = Window.partitionBy("kind", "value")
        keyed = keyed.withColumn("_n", F.count("*").over(block)).where(F.col("_n") <= cap).drop("_n")
        a, b = keyed.alias("a"), keyed.alias("b")
        same_key = (F.col("a.kind") == F.col("b.kind")) & (F.col("a.value") == F.col("b.value"))
        return (a.join(b, same_key & (F.col("a.party_id") < F.col("b.party_id")))
                .select(F.col("a.party_id").alias("party_id"), F.col("b.party_id").alias("linked_party_id"))
                .distinct())
    return apply
