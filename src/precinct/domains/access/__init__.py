"""Who sees which organisation's records: a principal's scope, and the explicit, time-limited grants that reach
across orgs (decision 0011)."""
