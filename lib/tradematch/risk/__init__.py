"""Risk: warnings, demotions and blacklists with evidence, as policy in conf/policy.yaml.

policy.py:   load and check conf/policy.yaml;
evidence.py: per-order fault flags as known at each as-of -> counts per party, role and window;
status.py:   rules -> points -> ladder state, overrides, since and review date;
events.py:   changes of state against the previous snapshot (risk_events);
notices.py:  what counterparts may see (risk_notices);
job.py:      `tradematch job risk`; backtest.py: `tradematch backtest`.
"""
