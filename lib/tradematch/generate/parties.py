"""Businesses of the world: where they are, how active, how reliable, and who they claim to be.

A business has one party_id, or two when it is an evader: its old id trades until `exit_day`, then the
same business registers again under a new id after a short gap, with near-identical identity details.
Days are whole days since 1970-01-01.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from tradematch.generate import draws as D


@dataclass(frozen=True)
class World:
    """The frame of one generated world."""

    seed: int
    cfg: dict
    start_day: int
    end_day: int           # the as-of
    orders: int

    @property
    def days(self) -> int:
        return self.end_day - self.start_day


def day_to_date(day: Column) -> Column:
    return F.date_add(F.lit("1970-01-01").cast("date"), day.cast("int"))


def sigmoid(x: Column) -> Column:
    return F.lit(1.0) / (F.lit(1.0) + F.exp(-x))


def p_bad_at(day: Column, prefix: str = "") -> Column:
    """A business's probability of causing a bad order on `day`, from its kind and dates."""
    c = lambda name: F.col(prefix + name)  # noqa: E731
    bad, good = c("p_bad_when_bad"), c("p_bad_when_good")
    return (F.when(c("kind").isin("chronic", "evader"), bad)
            .when(c("kind") == "turns_bad", F.when(day >= c("onset_day"), bad).otherwise(good))
            .when(c("kind") == "recovers", F.when(day < c("recovery_day"), bad).otherwise(good))
            .otherwise(good))


def party_id_at(day: Column, prefix: str = "") -> Column:
    """The id the business trades under on `day`; null in an evader's gap between its two ids."""
    c = lambda name: F.col(prefix + name)  # noqa: E731
    return (F.when(c("new_party_id").isNull() | (day < c("exit_day")), c("party_id"))
            .when(day >= c("new_registered_day"), c("new_party_id")))


_SYLLABLES = ["Hua", "Mei", "Jin", "Long", "Xin", "Da", "Heng", "Feng", "Sheng", "Tai", "Yuan", "Fu",
              "Kang", "Rui", "Bao", "Hong", "Li", "Ming", "Tian", "Yi", "Zhong", "Wei", "Cheng", "Guang",
              "An", "Jia", "Xing", "Hao", "Rong", "Shun", "Tong", "Yong", "Chang", "De", "Hui", "Kai"]
_OTHER = ["Saigon", "Mekong", "Golden", "Star", "Delta", "Royal", "Prime", "Asia", "Global", "Unique",
          "Crescent", "Lotus", "Eagle", "Silver", "Sun", "Ocean", "Pearl", "Harvest", "Summit", "Crown",
          "Bright", "Classic", "Evergreen", "Falcon", "Jade", "Liberty", "Noble", "Orient", "Pioneer", "Victory"]
_SURNAMES = ["Miller", "Schmidt", "Smith", "Rossi", "Garcia", "Dubois", "Jansen", "Nowak", "Berg", "Tanaka",
             "Kim", "Wilson", "Brown", "Muller", "Martin", "Lopez", "Silva", "Novak", "Larsen", "Cohen",
             "Walker", "Young", "Fischer", "Weber", "Moreau", "Ricci", "Santos", "Kowalski", "Sato", "Park"]
_BUYER_NOUNS = ["Home", "Trading", "Imports", "Supply", "Living", "Sourcing", "Goods", "Retail", "Brands",
                "Outfitters", "Direct", "Wholesale"]
_STREETS = ["Industrial", "Commerce", "Harbour", "Market", "Station", "River", "Garden", "Park", "Export",
            "Century", "Liberty", "Main"]
_INDUSTRY = {"dongyang": "Crafts", "yiwu": "Commodities", "shenzhen": "Electronics", "foshan": "Furniture",
             "jinjiang": "Footwear", "hochiminh": "Garments", "dhaka": "Apparel", "tiruppur": "Knitwear",
             "moradabad": "Metalware", "denizli": "Home Textiles", "sialkot": "Sports Goods",
             "monterrey": "Machinery"}
_SUFFIX = {"CN": "Co., Ltd.", "VN": "Company Limited", "BD": "Ltd.", "IN": "Pvt. Ltd.", "TR": "A.S.",
           "PK": "(Pvt) Ltd.", "MX": "S.A. de C.V.", "US": "LLC", "DE": "GmbH", "GB": "Ltd", "FR": "SARL",
           "IT": "S.r.l.", "ES": "S.L.", "NL": "B.V.", "BE": "BV", "PL": "Sp. z o.o.", "SE": "AB",
           "BR": "Ltda.", "CL": "SpA", "AU": "Pty Ltd", "NZ": "Limited", "JP": "K.K.", "KR": "Co., Ltd."}
_DIAL = {"CN": "+86", "VN": "+84", "BD": "+880", "IN": "+91", "TR": "+90", "PK": "+92", "MX": "+52",
         "US": "+1", "CA": "+1", "GB": "+44", "DE": "+49", "FR": "+33", "IT": "+39", "ES": "+34", "NL": "+31",
         "BE": "+32", "PL": "+48", "SE": "+46", "AE": "+971", "SA": "+966", "ZA": "+27", "NG": "+234",
         "JP": "+81", "KR": "+82", "AU": "+61", "NZ": "+64", "SG": "+65", "BR": "+55", "CL": "+56"}


def _count(w: World, role: str) -> int:
    per = w.cfg["scale"][f"orders_per_{role}"]
    return max(20, round(w.orders / per))


def businesses(spark: SparkSession, w: World, role: str) -> DataFrame:
    """One row per business of a role, with its place, activity, reliability and ids."""
    cfg, seed, n = w.cfg, w.seed, _count(w, role)
    biz = F.col("biz")
    u = lambda salt: D.uniform(seed, f"{role}:{salt}", biz)  # noqa: E731
    df = spark.range(n).withColumnRenamed("id", "biz").withColumn("role", F.lit(role))
    if role == "supplier":
        clusters = cfg["clusters"]
        df = df.withColumn("cluster", D.pick(u("cluster"), {k: v["weight"] for k, v in clusters.items()}))
        for attr in ("country", "region", "city", "currency"):
            df = df.withColumn(attr, D.literal_map({k: v[attr] for k, v in clusters.items()})[F.col("cluster")])
        mu, sigma = cfg["traits"]["supplier_good_logit"]
        start_share = cfg["scale"]["supplier_active_share_start"]
    else:
        markets = cfg["markets"]
        df = (df.withColumn("cluster", F.lit(None).cast("string"))
              .withColumn("country", D.pick(u("country"), {k: v["weight"] for k, v in markets.items()}))
              .withColumn("region", F.lit(None).cast("string"))
              .withColumn("city", F.lit(None).cast("string"))
              .withColumn("currency", D.literal_map({k: v["currency"] for k, v in markets.items()})[F.col("country")])
              .withColumn("archetype", D.pick(u("archetype"),
                                              {k: v["weight"] for k, v in cfg["archetypes"].items()})))
        mu, sigma = cfg["traits"]["buyer_good_logit"]
        start_share = cfg["scale"]["buyer_active_share_start"]
    bad = cfg["bad_actors"]
    lo, hi = cfg["traits"]["bad_p_bad"]
    df = (df
          .withColumn("activity", D.lognormal(seed, f"{role}:activity", cfg["scale"]["activity_sigma"], biz))
          .withColumn("registered_day", F.when(
              u("early") < start_share, F.lit(w.start_day) - D.int_between(seed, f"{role}:pre", 30, 1500, biz))
              .otherwise(F.lit(w.start_day) + (u("reg") * (w.days - 60)).cast("int")))
          .withColumn("kind", F.when(u("bad") < bad["share"], D.pick(u("kind"), bad["kinds"]))
                      .otherwise(F.lit("good")))
          .withColumn("p_bad_when_good", sigmoid(F.lit(mu) + F.lit(sigma) * D.normal(seed, f"{role}:p", biz)))
          .withColumn("p_bad_when_bad", D.between(seed, f"{role}:pbad", lo, hi, biz))
          .withColumn("onset_day", F.when(F.col("kind") == "turns_bad", F.greatest(
              F.col("registered_day") + 90,
              F.lit(w.end_day) - D.int_between(seed, f"{role}:onset", *bad["onset_window_days"], biz)))))
    df = (df
          .withColumn("recovery_day", F.when(F.col("kind") == "recovers", F.greatest(
              F.col("registered_day") + 180,
              F.lit(w.end_day) - D.int_between(seed, f"{role}:recovery", *bad["recovery_window_days"], biz))))
          .withColumn("exit_day", F.when(F.col("kind") == "evader", F.greatest(
              F.col("registered_day") + 240,
              F.lit(w.end_day) - D.int_between(seed, f"{role}:exit", 200, 700, biz))))
          .withColumn("new_registered_day", F.col("exit_day") + D.int_between(
              seed, f"{role}:gap", *bad["evader_gap_days"], biz))
          .withColumn("party_id", D.hex_id("P", seed, role, 12, biz))
          .withColumn("new_party_id", F.when(F.col("kind") == "evader",
                                             D.hex_id("P", seed, role + ":new", 12, biz))))
    if role == "buyer":
        df = df.withColumn("loyalty", D.between(seed, "buyer:loyalty", *cfg["buyers"]["loyalty"], biz))
        df = df.withColumn("churn_day", F.when(
            u("churn") < cfg["buyers"]["churn_share"],
            F.greatest(F.col("registered_day"), F.lit(w.start_day)) + 90 +
            (u("churn_at") * F.greatest(F.lit(1), F.lit(w.end_day) - F.greatest(
                F.col("registered_day"), F.lit(w.start_day)) - 90)).cast("int")))
    else:
        weak = cfg["traits"]
        df = (df.withColumn("weak_market", F.when(
                u("weak") < weak["weak_market_share"], D.pick(u("weak_at"),
                                                             {k: v["weight"] for k, v in cfg["markets"].items()})))
              .withColumn("churn_day", F.lit(None).cast("int")))
    return df


def identities(w: World, biz: DataFrame) -> DataFrame:
    """The parties landing rows (with PII): one per party id; an evader's new id resembles its old one."""
    seed, role = w.seed, F.col("role")
    k = lambda salt: D.uniform(seed, salt, role, F.col("biz"))  # noqa: E731
    base = biz.select(
        "role", "biz", "party_id", "new_party_id", "country", "region", "city", "cluster",
        "registered_day", "new_registered_day",
        F.when(role == "supplier", F.concat_ws(
            " ", F.col("city"),
            F.when(F.col("country") == "CN",
                   F.concat(D.choose(k("s1"), _SYLLABLES), F.lower(D.choose(k("s2"), _SYLLABLES))))
            .otherwise(D.choose(k("o1"), _OTHER)),
            D.literal_map(_INDUSTRY)[F.col("cluster")], D.literal_map(_SUFFIX)[F.col("country")]))
        .otherwise(F.concat_ws(" ", D.choose(k("b1"), _SURNAMES), D.choose(k("b2"), _BUYER_NOUNS),
                               F.coalesce(D.literal_map(_SUFFIX)[F.col("country")], F.lit("Ltd"))))
        .alias("legal_name"),
        F.concat(F.lit("TX"), F.col("country"), F.upper(F.substring(F.sha2(F.concat_ws(
            "|", F.lit(seed), F.lit("tax"), role, F.col("biz")), 256), 1, 14))).alias("tax_id"),
        F.concat_ws(" ", D.literal_map(_DIAL)[F.col("country")],
                    F.lpad(F.floor(k("phone") * 1e10).cast("bigint").cast("string"), 10, "0")).alias("phone"),
        F.sha2(F.concat_ws("|", F.lit(seed), F.lit("bank"), role, F.col("biz")), 256).alias("bank_account_hash"),
        F.concat(F.lit("No. "), D.int_between(seed, "street_no", 1, 999, role, F.col("biz")).cast("string"),
                 F.lit(" "), D.choose(k("street"), _STREETS), F.lit(" Road, "),
                 F.coalesce(F.col("city"), F.col("country"))).alias("address"),
    ).withColumn("email_domain", F.concat(
        F.lower(F.regexp_replace(F.substring_index(F.col("legal_name"), " ", 2), "[^A-Za-z]", "")),
        F.lit(".com")))
    old = base.select("party_id", "legal_name", "country", "region", "city", "cluster",
                      F.col("registered_day"), "tax_id", "phone", "email_domain", "bank_account_hash", "address")
    e = base.where(F.col("new_party_id").isNotNull())
    keep = lambda salt, share: k("keep:" + salt) < share  # noqa: E731
    strong = keep("tax", 0.5) | keep("phone", 0.6)
    fresh = lambda salt: F.sha2(F.concat_ws("|", F.lit(seed), F.lit(salt), role, F.col("biz")), 256)  # noqa: E731
    new = e.select(
        F.col("new_party_id").alias("party_id"),
        D.choose(k("variant"), [0, 1, 2, 3]).alias("_variant"), "legal_name", "country", "region", "city",
        "cluster", F.col("new_registered_day").alias("registered_day"),
        F.when(keep("tax", 0.5), F.col("tax_id")).otherwise(
            F.concat(F.lit("TX"), F.col("country"), F.upper(F.substring(fresh("tax2"), 1, 14)))).alias("tax_id"),
        F.when(keep("phone", 0.6), F.col("phone")).otherwise(F.concat_ws(
            " ", D.literal_map(_DIAL)[F.col("country")],
            F.lpad(F.floor(k("phone2") * 1e10).cast("bigint").cast("string"), 10, "0"))).alias("phone"),
        F.when(keep("email", 0.7), F.col("email_domain")).otherwise(
            F.concat(F.lower(F.substring(fresh("mail"), 1, 8)), F.lit(".com"))).alias("email_domain"),
        F.when(keep("bank", 0.6) | ~strong, F.col("bank_account_hash")).otherwise(fresh("bank2"))
        .alias("bank_account_hash"),
        F.when(keep("address", 0.8), F.col("address")).otherwise(F.regexp_replace(
            F.col("address"), "^No\\. \\d+", "No. 1" + "0")).alias("address"))
    new = new.withColumn("legal_name", F.expr(
        "CASE _variant WHEN 0 THEN regexp_replace(legal_name, '[.,]', '') "
        "WHEN 1 THEN concat('New ', legal_name) "
        "WHEN 2 THEN regexp_replace(legal_name, ' (Co\\\\., Ltd\\\\.|Ltd\\\\.?|LLC|GmbH)$', ' Trading $1') "
        "ELSE upper(legal_name) END")).drop("_variant")
    return old.unionByName(new)
