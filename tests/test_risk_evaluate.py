"""The `risk` evaluation section on the shared ingested world (20k orders), read-only: a weekly replay
of the policy against the planted bad actors gives every key of the issue, within range."""
from tradematch.evaluate.risk import section
from tradematch.tables import Tables

KEYS = ("blacklist_precision", "blacklist_recall", "blacklist_recall_all", "warning_recall", "false_blacklist_rate_good",
        "median_days_to_first_warning", "median_days_to_blacklist", "recovered_still_blacklisted",
        "max_group_false_blacklist_rate")


def test_the_risk_section_reports_every_key_against_the_truth(spark, ingested_lake):
    lake, world = ingested_lake
    result = section(Tables(spark, lake))
    assert set(KEYS) <= set(result), result
    assert result["as_of"] == world["as_of"].isoformat()
    for key in ("blacklist_precision", "blacklist_recall_all", "warning_recall", "false_blacklist_rate_good"):
        assert result[key] is None or 0.0 <= result[key] <= 1.0, (key, result)
    assert result["blacklisted"] > 0 and result["false_blacklist_rate_good"] <= 0.01, result
    for key in ("median_days_to_first_fault", "median_days_to_second_fault"):  # days since the onset, never before it
        assert result[key] is None or result[key] >= 0, (key, result)
