"""The calls to replay: the mapping file, which calls are kept and when they come, and the replay schedule."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from tests.conftest import CALLS, need_data

from precinct.core.calls import CallRecords, read_call_points
from precinct.core.routing import RoadGraph
from precinct.simulator.calls import (
    HOURLY_SHARE,
    CallMappingError,
    HistoricalCall,
    historical_calls,
    on_network,
    parse_call_mapping,
    read_call_mapping,
    replay_schedule,
    times_of_day_s,
)

PORTLAND = ZoneInfo("America/Los_Angeles")
DOWNTOWN = (-122.6765, 45.5231)


def test_the_packaged_mapping_is_read_like_the_history_import_reads_it() -> None:
    mapping = read_call_mapping()
    assert mapping.field == "final_case"
    assert mapping.types["ACCINJ"] == ("01050100", 1)
    assert mapping.types["ANIML"] == ("01020900", 4)
    assert len(mapping.types) == 74


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("code,type_code\nA,01020100\n", "type_code and priority columns"),
        ("code,type_code,priority\nA,0102,2\n", "line 2"),
        ("code,type_code,priority\nA,01020100,2\nA,01020200,3\n", "mapped twice"),
    ],
)
def test_a_bad_mapping_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(CallMappingError, match=problem):
        parse_call_mapping(text)


def _call(index: int, at: datetime) -> HistoricalCall:
    return HistoricalCall(index, at, "ACCINJ", "01050100", 1, *DOWNTOWN, "ACCIDENT - INJURY")


def test_the_schedule_keeps_the_order_and_shrinks_the_spacing_by_the_speed() -> None:
    start = datetime(2016, 8, 15, 16, 0, tzinfo=PORTLAND)
    minutes = [25, -5, 0, 10, 10, 70]  # one before the start, two at the same moment
    calls = [_call(i, start + timedelta(minutes=m)) for i, m in enumerate(minutes)]
    schedule = replay_schedule(calls, start, speed=10)
    assert [s.call.record_index for s in schedule] == [2, 3, 4, 0, 5]
    assert [s.offset_s for s in schedule] == pytest.approx([0, 60, 60, 150, 420])
    faster = replay_schedule(calls, start, speed=600)
    assert [s.offset_s for s in faster] == pytest.approx([0, 1, 1, 2.5, 7])
    assert replay_schedule(calls, start + timedelta(days=1), speed=10) == []


def test_calls_off_the_network_unmapped_or_undated_are_left_out(portland: RoadGraph) -> None:
    lon = np.array([DOWNTOWN[0], DOWNTOWN[0], -130.0, DOWNTOWN[0], -122.6740, np.nan])
    lat = np.array([DOWNTOWN[1], DOWNTOWN[1], 45.0, DOWNTOWN[1], 45.5240, np.nan])
    records = CallRecords(
        lon=lon,
        lat=lat,
        fields={
            "final_case": ["ACCINJ", "NOPE", "ACCINJ", "ANIML", "ROBW", "ACCINJ"],
            "occ_date": ["2016-08-15", "2016-08-15", "2016-08-15", None, "2016-08-16", "2016-08-15"],
            "CASE_DESC": ["ACCIDENT - INJURY", "?", "?", "ANIMAL PROBLEM", "ROBBERY - WITH WEAPON *H", "?"],
        },
    )
    usable = on_network(portland, lon, lat, 500.0)
    assert usable.tolist() == [True, True, False, True, True, False]
    calls = historical_calls(
        records,
        read_call_mapping(),
        usable,
        date_field="occ_date",
        description_field="CASE_DESC",
        timezone="America/Los_Angeles",
        seed=1,
    )
    assert [c.record_index for c in calls] == [0, 4]  # in time order: the 15th, then the 16th
    first, second = calls
    assert (first.type_code, first.priority, first.case_code) == ("01050100", 1, "ACCINJ")
    assert (second.type_code, second.priority) == ("01010200", 1)
    assert first.at.date().isoformat() == "2016-08-15"
    assert first.at.tzinfo == PORTLAND
    assert first.narrative.startswith("ACCIDENT - INJURY (Portland call of 2016-08-15")
    body = first.incident_body()
    assert body == {
        "source": "phone_110",
        "type_code": "01050100",
        "priority": 1,
        "lon": DOWNTOWN[0],
        "lat": DOWNTOWN[1],
        "narrative": first.narrative,
    }


def test_the_portland_calls_on_the_network_with_times_fixed_by_the_seed(portland: RoadGraph) -> None:
    need_data(CALLS)
    records = read_call_points(CALLS)
    mapping = read_call_mapping()
    usable = on_network(portland, records.lon, records.lat, 500.0)

    def load(seed: int) -> list[HistoricalCall]:
        return historical_calls(
            records,
            mapping,
            usable,
            date_field="occ_date",
            description_field="CASE_DESC",
            timezone="America/Los_Angeles",
            seed=seed,
        )

    calls = load(1)
    assert 5000 < len(calls) < int(usable.sum()) + 1
    assert all(a.at <= b.at for a, b in itertools.pairwise(calls))
    for call in calls[:: len(calls) // 50]:
        i = call.record_index
        assert mapping.types[records.fields["final_case"][i]] == (call.type_code, call.priority)
        assert call.at.date().isoformat() == records.fields["occ_date"][i]
        assert portland.snap(call.lon, call.lat).distance_m <= 500.0
    assert [c.at for c in load(1)] == [c.at for c in calls]
    assert [c.at for c in load(2)] != [c.at for c in calls]


def test_more_calls_come_in_the_afternoon_than_before_dawn() -> None:
    hours = times_of_day_s(100_000, np.random.default_rng(3)) // 3600
    counts = np.bincount(hours.astype(int), minlength=24) / 100_000
    assert counts == pytest.approx(HOURLY_SHARE, abs=0.004)
    assert counts[16] > 2 * counts[4]
