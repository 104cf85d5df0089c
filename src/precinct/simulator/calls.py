"""The historical calls to replay, pure: the mapping of a source field's values to catalogue types (the CSV the
history import reads too), the calls that lie on the road network, each with a time, and the replay schedule.

The Portland file gives each call's date but not its time of day, so the time within the day is drawn (seeded) from
a typical urban calls-for-service day: quiet before dawn, busiest in the late afternoon and evening.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from numpy.typing import NDArray

from precinct.core.calls import CallRecords
from precinct.core.routing import RoadGraph

# Share of a day's calls in each hour from midnight (a typical city's calls for service; normalised below).
_HOURLY_WEIGHTS = (
    *(4.5, 3.8, 3.2, 2.5, 2.0, 1.9, 2.3, 3.2, 3.9, 4.3, 4.6, 4.8),
    *(5.0, 5.0, 5.1, 5.4, 5.6, 5.7, 5.5, 5.2, 5.1, 5.0, 4.9, 4.5),
)
HOURLY_SHARE = np.array(_HOURLY_WEIGHTS) / sum(_HOURLY_WEIGHTS)
_SNAP_SEARCH_M = 50_000.0  # snap everything, then keep what is near enough: one refused point must not fail all


class CallMappingError(ValueError):
    """A mapping file that cannot be used; the message says which line and why."""


@dataclass(frozen=True)
class CallMapping:
    """Which catalogue type and priority each value of one source field becomes."""

    field: str
    types: dict[str, tuple[str, int]]


def parse_call_mapping(text: str, name: str = "the mapping") -> CallMapping:
    """Read a mapping CSV whose first column names the source field, with ``type_code`` and ``priority`` columns."""
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    if len(header) < 3 or not {"type_code", "priority"} <= set(header):
        raise CallMappingError(
            f"{name} needs a first column named after the source field, then type_code and priority columns"
        )
    source_field = header[0]
    types: dict[str, tuple[str, int]] = {}
    for line, row in enumerate(reader, start=2):
        value, code, priority = ((row.get(c) or "").strip() for c in (source_field, "type_code", "priority"))
        if not value or len(code) != 8 or priority not in ("1", "2", "3", "4"):
            raise CallMappingError(f"{name}, line {line}: needs a value, an 8-character type code and a priority 1-4")
        if value in types:
            raise CallMappingError(f"{name}, line {line}: {value!r} is mapped twice")
        types[value] = (code, int(priority))
    return CallMapping(source_field, types)


def read_call_mapping(path: Path | None = None) -> CallMapping:
    """The mapping in ``path``, or the packaged one for the Portland calls."""
    if path is None:
        packaged = resources.files("precinct.data").joinpath("portland_call_mapping.csv")
        return parse_call_mapping(packaged.read_text(encoding="utf-8"), "portland_call_mapping.csv")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CallMappingError(f"cannot read the mapping file {path}: {error}") from error
    return parse_call_mapping(text, path.name)


@dataclass(frozen=True)
class HistoricalCall:
    """One call of the data, as it will be taken again."""

    record_index: int
    at: datetime
    case_code: str
    type_code: str
    priority: int
    lon: float
    lat: float
    narrative: str

    def incident_body(self) -> dict[str, Any]:
        """The ``POST /api/incidents`` body (the data has no address nor caller)."""
        return {
            "source": "phone_110",
            "type_code": self.type_code,
            "priority": self.priority,
            "lon": self.lon,
            "lat": self.lat,
            "narrative": self.narrative,
        }


@dataclass(frozen=True)
class ScheduledCall:
    offset_s: float  # wall seconds after the replay starts
    call: HistoricalCall


def times_of_day_s(count: int, rng: np.random.Generator) -> NDArray[np.float64]:
    """Seconds after midnight for ``count`` calls: an hour drawn by :data:`HOURLY_SHARE`, then a second in it."""
    hours = rng.choice(24, size=count, p=HOURLY_SHARE)
    return np.asarray(hours * 3600.0 + rng.uniform(0.0, 3600.0, size=count), dtype=np.float64)


def on_network(graph: RoadGraph, lon: NDArray[np.float64], lat: NDArray[np.float64], max_distance_m: float) -> Any:
    """A boolean array: which points lie inside the network's bounds and within ``max_distance_m`` of a road."""
    min_lon, min_lat, max_lon, max_lat = graph.bounds
    inside = np.isfinite(lon) & np.isfinite(lat)
    inside &= (lon >= min_lon) & (lon <= max_lon) & (lat >= min_lat) & (lat <= max_lat)
    near = np.zeros(lon.shape[0], dtype=bool)
    index = np.flatnonzero(inside)
    if index.size:
        snaps = graph.snap_many(lon[index], lat[index], max_distance_m=_SNAP_SEARCH_M)
        near[index] = snaps.distance_m <= max_distance_m
    return near


def historical_calls(
    records: CallRecords,
    mapping: CallMapping,
    usable: NDArray[np.bool_],
    *,
    date_field: str,
    description_field: str | None,
    timezone: str,
    seed: int,
) -> list[HistoricalCall]:
    """The calls to replay, in time order: those ``usable`` (on the network) whose value the mapping knows.

    Every record gets its time of day whether it is used or not, so a call's time depends only on the seed.
    """
    for needed in (mapping.field, date_field):
        if needed not in records.fields:
            raise CallMappingError(f"the calls have no field {needed!r}; their fields: {', '.join(records.fields)}")
    zone = ZoneInfo(timezone)
    seconds = times_of_day_s(len(records), np.random.default_rng(seed))
    descriptions = records.fields.get(description_field) if description_field else None
    calls = []
    for i in np.flatnonzero(usable).tolist():
        value = records.fields[mapping.field][i]
        mapped = mapping.types.get(str(value).strip()) if value is not None else None
        day = _day(records.fields[date_field][i])
        if mapped is None or day is None:
            continue
        at = datetime.combine(day, time(0), zone) + timedelta(seconds=float(seconds[i]))
        description = str(descriptions[i]).strip() if descriptions and descriptions[i] else str(value)
        calls.append(
            HistoricalCall(
                record_index=i,
                at=at,
                case_code=str(value).strip(),
                type_code=mapped[0],
                priority=mapped[1],
                lon=float(records.lon[i]),
                lat=float(records.lat[i]),
                narrative=f"{description} (Portland call of {day.isoformat()}, replayed)",
            )
        )
    calls.sort(key=lambda c: (c.at, c.record_index))
    return calls


def replay_schedule(calls: list[HistoricalCall], start: datetime, speed: float) -> list[ScheduledCall]:
    """The calls from ``start`` on, in their historical order, their spacing shrunk ``speed`` times."""
    ordered = sorted((c for c in calls if c.at >= start), key=lambda c: (c.at, c.record_index))
    return [ScheduledCall((c.at - start).total_seconds() / speed, c) for c in ordered]


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value if not isinstance(value, datetime) else value.date()
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
