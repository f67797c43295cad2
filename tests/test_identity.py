"""Identity, worked by hand on tiny party_identity frames: a returning business found by an exact key,
a near-duplicate name carried by a shared bank account, look-alikes (two real businesses sharing a city
and a common name) that must not link, blocking that skips over-shared keys, the canonical id, and the
job publishing party_links (no PII, no self-links) on the generated world."""
import datetime as dt
import shutil

from chispa import assert_df_equality
from pyspark.sql import functions as F

from tradematch import pipeline
from tradematch.identity import load_conf
from tradematch.identity.groups import canonical_ids
from tradematch.identity.job import LINKS, links, with_canonical
from tradematch.identity.keys import candidates, normalised
from tradematch.lake import Lake
from tradematch.schema import Catalog
from tradematch.tables import Tables

D = dt.date.fromisoformat
CONF = load_conf()
CATALOG = Catalog()
AS_OF = D("2026-06-01")

# party_id, legal_name, tax_id, phone, email_domain, bank_account_hash, address, city, country, registered_on
PARTIES = [
    # P1 comes back as P2: same tax id, "New" before the same name, new phone and bank, same street
    ("P1", "Foshan Mingxin Furniture Co., Ltd.", "TXCN111", "+86 1111111111", "foshanmingxin.com", "b1",
     "No. 12 Harbour Road, Foshan", "Foshan", "CN", "2020-01-01"),
    ("P2", "New Foshan Mingxin Furniture Co., Ltd.", "TXCN111", "+86 2222222222", "foshanmingxin.com", "b2",
     "No. 10 Harbour Road, Foshan", "Foshan", "CN", "2024-05-01"),
    # P3 comes back as P4: only the bank account and the address are kept; the name is a near duplicate
    ("P3", "Foshan Mingxing Furniture Co Ltd", "TXCN333", "+86 3333333333", "foshanmingxing.com", "b3",
     "No. 5 Garden Road, Foshan", "Foshan", "CN", "2021-03-01"),
    ("P4", "FOSHAN MINGXING FURNITUR CO., LTD.", "TXCN444", "+86 4444444444", "fmx.com", "b3",
     "No. 5 Garden Road, Foshan", "Foshan", "CN", "2025-01-01"),
    # P5 and P6: two real businesses with the same common name, city, e-mail domain and street
    ("P5", "Yiwu Huamei Commodities Co., Ltd.", "TXCN555", "+86 5555555555", "yiwuhuamei.com", "b5",
     "No. 8 Market Road, Yiwu", "Yiwu", "CN", "2019-06-01"),
    ("P6", "Yiwu Huamei Commodities Co., Ltd.", "TXCN666", "+86 6666666666", "yiwuhuamei.com", "b6",
     "No. 311 Market Road, Yiwu", "Yiwu", "CN", "2022-02-01"),
    # P7 shares P1's tax id but registers after the as-of: not linked yet
    ("P7", "Foshan Mingxin Furniture Trading Co., Ltd.", "TXCN111", None, None, None, None, "Foshan", "CN", "2026-07-01"),
]


def _frames(spark, rows=PARTIES):
    identity = spark.createDataFrame(
        [{"party_id": r[0], "legal_name": r[1], "tax_id": r[2], "phone": r[3], "email_domain": r[4],
          "bank_account_hash": r[5], "address": r[6], "updated_at": dt.datetime(2026, 1, 1), "batch": D("2026-01-01"),
          "record_hash": r[0]} for r in rows], CATALOG.schema("party_identity").struct)
    parties = spark.createDataFrame(
        [{"party_id": r[0], "country": r[8], "region": None, "city": r[7], "cluster": None,
          "registered_on": D(r[9]), "updated_at": dt.datetime(2026, 1, 1), "batch": D("2026-01-01")} for r in rows],
        CATALOG.schema("parties").struct)
    return identity, parties


def test_names_are_reduced_to_their_core_words(spark):
    identity, parties = _frames(spark)
    norm = identity.join(parties.select("party_id", "country", "city", "registered_on"), "party_id").transform(normalised(CONF))
    got = {r.party_id: (r.name, r.phone, r.street) for r in norm.collect()}  # seven rows
    assert got["P1"] == ("FOSHAN MINGXIN FURNITURE", "861111111111", "HARBOUR ROAD FOSHAN")
    assert got["P2"][0] == got["P1"][0] == got["P7"][0]  # "New", "Trading", legal forms and punctuation dropped
    assert got["P4"][0] == "FOSHAN MINGXING FURNITUR"


def test_links_exact_keys_and_near_duplicate_names_but_not_look_alikes(spark):
    identity, parties = _frames(spark)
    found = with_canonical(links(identity, parties, CONF, AS_OF), parties.select("party_id", "registered_on"),
                           CONF["max_rounds"])
    # P1-P2: tax 13, bank -1, phone -1, name same 6, e-mail 2, same street 1, city 1 = 21
    # P3-P4: tax -1, bank 12, phone -1, name similar 3 (one letter), e-mail -1, same address 3, city 1 = 16
    # P5-P6 (look-alikes): tax -1, bank -1, phone -1, name 6, e-mail 2, same street 1, city 1 = 7 < 12
    expected = spark.createDataFrame(
        [("P1", "P2", "P1", 21.0, ["same tax id", "same name", "same email domain", "same street", "same city"], D("2024-05-01")),
         ("P3", "P4", "P3", 16.0, ["same bank account", "similar name", "same address", "same city"], D("2025-01-01"))],
        "party_id string, linked_party_id string, canonical_id string, match_weight double, evidence array<string>, "
        "linked_on date")
    got = found.select(*[F.col(c).cast(t) for c, t in expected.dtypes])
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_look_alikes_are_compared_but_fall_below_the_bar(spark):
    identity, parties = _frames(spark)
    norm = identity.join(parties.select("party_id", "country", "city", "registered_on"), "party_id").transform(normalised(CONF))
    pairs = {(r.party_id, r.linked_party_id) for r in norm.transform(candidates(CONF)).collect()}  # a few pairs
    assert ("P5", "P6") in pairs  # same name in the same country: a candidate ...
    assert ("P1", "P5") not in pairs  # ... but nothing shared, nothing compared
    weight = (identity.transform(lambda df: links(df, parties, {**CONF, "link_weight": -100}, AS_OF))
              .where((F.col("party_id") == "P5") & (F.col("linked_party_id") == "P6")).head().match_weight)
    assert weight == 7.0 < CONF["link_weight"]


def test_a_key_shared_by_more_parties_than_the_cap_blocks_nothing(spark):
    rows = [(f"Q{i}", f"Business {name} Ltd", f"TX{i}", "+1 5550000000", None, None, None, "Austin", "US", "2020-01-01")
            for i, name in enumerate(["Alpha", "Beta", "Gamma"])]
    identity, parties = _frames(spark, rows)
    norm = identity.join(parties.select("party_id", "country", "city", "registered_on"), "party_id").transform(normalised(CONF))
    assert norm.transform(candidates({**CONF, "blocking": {"max_block_size": 3}})).count() == 3
    assert norm.transform(candidates({**CONF, "blocking": {"max_block_size": 2}})).count() == 0


def test_a_chain_of_links_gets_one_canonical_id_the_earliest_registered(spark):
    _, parties = _frames(spark)
    chain = spark.createDataFrame([("P4", "P7"), ("P1", "P7")], "party_id string, linked_party_id string")
    got = {r.party_id: r.canonical_id for r in canonical_ids(chain, parties.select("party_id", "registered_on"), 5).collect()}
    assert got == {"P1": "P1", "P4": "P1", "P7": "P1"}


def test_the_job_publishes_links_of_the_generated_evaders(spark, settings, ingested_lake, tmp_path):
    source, world = ingested_lake
    lake = Lake(str(tmp_path / "lake"))
    for part in ("silver/parties", "silver/party_identity", "truth/evader_links"):
        shutil.copytree(source.path(part), lake.path(part))
    pipeline.execute(pipeline.job_named("identity"), spark, settings, lake, "r1", world["as_of"], Catalog(), {})
    tables = Tables(spark, lake)
    published = tables.read(LINKS).cache()
    assert set(published.columns) == {"party_id", "linked_party_id", "canonical_id", "match_weight", "evidence", "linked_on"}
    assert published.where(F.col("party_id") >= F.col("linked_party_id")).count() == 0
    truth = tables.read("evader_links").select(F.least("old_party_id", "new_party_id").alias("party_id"),
                                               F.greatest("old_party_id", "new_party_id").alias("linked_party_id"))
    true_links = published.join(truth, ["party_id", "linked_party_id"]).count()
    assert truth.count() > 0 and published.count() > 0
    assert true_links >= 0.95 * published.count()  # precision
    assert true_links >= 0.8 * truth.count()  # recall
    dq = tables.read("dq_results").where(F.col("table_name") == LINKS).collect()  # one row
    assert [r.success for r in dq] == [True]
