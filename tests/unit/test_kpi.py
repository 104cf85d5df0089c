"""KPI arithmetic against numpy, and the clock start setting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from precinct.core.kpi import IncidentTimes, distribution, percentile, response_summary

T0 = datetime(2026, 8, 1, tzinfo=UTC)


def _times(called: int, taken: int, ordered: int | None, arrived: int | None, target: int = 300) -> IncidentTimes:
    def at(seconds: int | None) -> datetime | None:
        return None if seconds is None else T0 + timedelta(seconds=seconds)

    return IncidentTimes("01020100", 2, at(called), at(taken), at(ordered), at(arrived), target)  # type: ignore[arg-type]


def test_percentiles_match_numpy() -> None:
    rng = np.random.default_rng(7)
    for size in (1, 2, 5, 101):
        values = sorted(rng.exponential(200, size).tolist())
        for q in (0, 10, 50, 90, 99, 100):
            assert percentile(values, q) == pytest.approx(np.percentile(values, q))
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    assert distribution([]).median_s is None


def test_the_clock_start_changes_what_is_measured() -> None:
    incidents = [_times(0, 10, 40, 250), _times(0, 5, 30, 400), _times(0, 5, None, None)]
    from_call = response_summary(incidents, "call")
    assert from_call.arrivals.count == 2
    assert from_call.arrivals.median_s == 325
    assert from_call.within_target == 1
    assert from_call.within_target_share == 0.5
    from_order = response_summary(incidents, "ordered")
    assert from_order.arrivals.median_s == 290
    assert from_order.within_target == 1
    assert response_summary([_times(0, 5, 30, 290)], "taken").arrivals.median_s == 285
    with pytest.raises(ValueError, match="clock start"):
        response_summary(incidents, "sunrise")
