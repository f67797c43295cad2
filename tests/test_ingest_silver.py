"""Silver transforms on hand-made rows: one winner per key whatever the arrival order, validity of versions,
what was known at a past moment, and USD at the latest rate on or before a date."""
import datetime as dt
from decimal import Decimal

from chispa import assert_df_equality

from tradematch.ingest.silver import latest, to_usd, valid_at, with_validity

D, T = dt.date.fromisoformat, dt.datetime.fromisoformat
VERSIONS = "order_id string, valid_from timestamp, status string, batch date, record_hash string"


def same(got, expected):
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True, ignore_column_order=True)


def test_out_of_order_versions_and_copies_keep_one_row_per_version_from_the_first_batch(spark):
    landed = spark.createDataFrame([
        ("O1", T("2025-05-20T10:00:00"), "completed", D("2025-06-01"), "h3"),
        ("O1", T("2025-05-10T10:00:00"), "open", D("2025-06-03"), "h2"),      # late version
        ("O1", T("2025-05-10T10:00:00"), "open", D("2025-06-02"), "h2"),      # the same record, landed earlier
        ("O1", T("2025-03-01T09:00:00"), "open", D("2025-06-01"), "h1")], VERSIONS)
    expected = spark.createDataFrame([
        ("O1", T("2025-03-01T09:00:00"), "open", D("2025-06-01"), "h1", T("2025-05-10T10:00:00")),
        ("O1", T("2025-05-10T10:00:00"), "open", D("2025-06-02"), "h2", T("2025-05-20T10:00:00")),
        ("O1", T("2025-05-20T10:00:00"), "completed", D("2025-06-01"), "h3", None)],
        VERSIONS + ", valid_to timestamp")
    history = landed.transform(latest(["order_id", "valid_from"], [])).transform(with_validity)
    same(history, expected)
    same(landed.orderBy("batch").transform(latest(["order_id", "valid_from"], [])).transform(with_validity), expected)


def test_the_newest_version_wins_by_updated_at_then_by_batch(spark):
    rows = spark.createDataFrame([("P1", T("2025-01-01T00:00:00"), "Dongyang", D("2025-06-03"), "a"),
                                  ("P1", T("2025-02-01T00:00:00"), "Yiwu", D("2025-06-01"), "b"),
                                  ("R1", None, "open", D("2025-06-01"), "c"),
                                  ("R1", None, "closed", D("2025-06-02"), "d")],
                                 "id string, updated_at timestamp, value string, batch date, record_hash string")
    got = rows.transform(latest(["id"], ["updated_at"])).select("id", "value")
    same(got, spark.createDataFrame([("P1", "Yiwu"), ("R1", "closed")], "id string, value string"))


def test_valid_at_gives_the_version_known_at_a_moment(spark):
    history = spark.createDataFrame([("O1", T("2025-03-01T09:00:00"), T("2025-05-10T10:00:00"), "open"),
                                     ("O1", T("2025-05-10T10:00:00"), None, "completed"),
                                     ("O2", T("2025-06-01T00:00:00"), None, "open")],
                                    "order_id string, valid_from timestamp, valid_to timestamp, status string")
    at = lambda moment: [(r.order_id, r.status) for r in history.transform(valid_at(T(moment))).collect()]  # noqa: E731
    assert at("2025-05-10T09:59:59") == [("O1", "open")]
    assert at("2025-05-10T10:00:00") == [("O1", "completed")]
    assert sorted(at("2025-06-01T00:00:00")) == [("O1", "completed"), ("O2", "open")]


def test_usd_uses_the_latest_rate_on_or_before_the_date(spark):
    fx = spark.createDataFrame([(D("2025-03-01"), "CNY", 0.14), (D("2025-03-05"), "CNY", 0.15),
                                (D("2025-03-03"), "EUR", 1.10)], "rate_date date, currency string, usd_per_unit double")
    hundred = Decimal("100.00")
    orders = spark.createDataFrame([("a", hundred, "CNY", D("2025-02-28")), ("b", hundred, "CNY", D("2025-03-01")),
                                    ("c", hundred, "CNY", D("2025-03-04")), ("d", hundred, "CNY", D("2025-03-05")),
                                    ("e", hundred, "USD", D("2025-01-01")), ("f", Decimal("10.00"), "EUR", D("2025-03-09"))],
                                   "id string, amount decimal(18,2), currency string, day date")
    got = orders.transform(to_usd(fx, "amount", "currency", "day", "usd")).select("id", "usd")
    usd = [("a", None), ("b", "14.00"), ("c", "14.00"), ("d", "15.00"), ("e", "100.00"), ("f", "11.00")]
    same(got, spark.createDataFrame([(i, Decimal(u) if u else None) for i, u in usd], "id string, usd decimal(18,2)"))


def test_pricing_reads_the_rows_it_prices_once(spark):
    """The rates come from a calendar of fx alone: the rows are not computed again to find their days."""
    fx = spark.createDataFrame([(D("2025-03-01"), "CNY", 0.14)], "rate_date date, currency string, usd_per_unit double")
    orders = spark.createDataFrame([("a", Decimal("1.00"), "CNY", D("2025-03-02"))],
                                   "id string, amount decimal(18,2), currency string, day date")
    plan = orders.transform(to_usd(fx, "amount", "currency", "day", "usd"))._jdf.queryExecution().optimizedPlan()
    assert plan.toString().count("LogicalRDD [id#") == 1
