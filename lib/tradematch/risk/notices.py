"""risk_notices: what counterparts may see of a party's risk state: id, role, state, reason codes,
since, review date. No PII and no figures: the evidence stays in risk_status for staff and the party."""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def notices(status: DataFrame) -> DataFrame:
    """A risk_status snapshot -> notices for every party not in good standing."""
    codes = F.when(F.col("decided_by") != "policy", F.array(F.lit("manual_review"))).otherwise(F.col("rules_fired"))
    return status.where(F.col("state") != "good").select("as_of", "party_id", "role", "state",
                                                         codes.alias("reason_codes"), "since", "review_on")
