"""Station numbers computed from timeline timestamps: call-to-dispatch time and response time as distributions
(median, 90th percentile) and the share of arrivals within target (the 5-minute arrival rate, DOMAIN.md §5)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class IncidentTimes:
    """The timestamps of one incident that its numbers are computed from (``None`` where it never happened)."""

    type_code: str
    priority: int
    called_at: datetime
    taken_at: datetime
    first_ordered_at: datetime | None
    first_on_scene_at: datetime | None
    target_s: int


@dataclass(frozen=True)
class Distribution:
    count: int
    median_s: float | None
    p90_s: float | None
    mean_s: float | None


@dataclass(frozen=True)
class ResponseSummary:
    clock_start: str
    arrivals: Distribution
    within_target: int
    within_target_share: float | None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of values sorted ascending; ``q`` in [0, 100]."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    position = (len(sorted_values) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def distribution(values_s: Sequence[float]) -> Distribution:
    ordered = sorted(values_s)
    if not ordered:
        return Distribution(0, None, None, None)
    return Distribution(
        count=len(ordered),
        median_s=percentile(ordered, 50),
        p90_s=percentile(ordered, 90),
        mean_s=sum(ordered) / len(ordered),
    )


def dispatch_delays_s(incidents: Sequence[IncidentTimes]) -> list[float]:
    """Seconds from the call to the first order, for incidents that got one."""
    return [(i.first_ordered_at - i.called_at).total_seconds() for i in incidents if i.first_ordered_at is not None]


def response_summary(incidents: Sequence[IncidentTimes], clock_start: str) -> ResponseSummary:
    """Arrival times from the configured clock start to the first unit on scene, and how many met their target.

    Incidents with no arrival are left out of the distribution (they are counted elsewhere, as open or as
    closed without attendance); with the clock starting at the order, so are incidents never ordered.
    """
    if clock_start not in ("call", "taken", "ordered"):
        raise ValueError(f"clock start {clock_start!r} is not one of call, taken, ordered")
    arrivals: list[float] = []
    within = 0
    for incident in incidents:
        start = {
            "call": incident.called_at,
            "taken": incident.taken_at,
            "ordered": incident.first_ordered_at,
        }[clock_start]
        if start is None or incident.first_on_scene_at is None:
            continue
        seconds = max(0.0, (incident.first_on_scene_at - start).total_seconds())
        arrivals.append(seconds)
        within += seconds <= incident.target_s
    return ResponseSummary(
        clock_start=clock_start,
        arrivals=distribution(arrivals),
        within_target=within,
        within_target_share=within / len(arrivals) if arrivals else None,
    )
