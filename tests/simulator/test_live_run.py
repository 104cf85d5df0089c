"""The simulator against a live server, over real HTTP and the live feed: units patrol on the roads and answer their
orders to the end (or drop them when someone cancels), history comes in again with its mapped types, and a unit
left to people is never touched."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.api.builders import call, serving
from tests.conftest import CALLS, PORTLAND_ROADS, auth_headers, bearer_token, need_data
from typer.testing import CliRunner

from precinct.cli.main import app
from precinct.core.routing import RoadGraph
from precinct.domains.roads import service as roads
from precinct.platform.config import Settings
from precinct.platform.context import Ctx, system_clock
from precinct.platform.db import Database
from precinct.simulator import runner
from precinct.simulator.feed import Event, Feed, feed_url
from precinct.simulator.options import ACTOR, SimulatorOptions, Stats, parse_start
from precinct.web.app import create_app

pytestmark = pytest.mark.timeout(120)

# Three patrol cars downtown, and the unit left to a person across the river.
PATROL_POSTS = {"SIM-1": (-122.6765, 45.5231), "SIM-2": (-122.6800, 45.5150), "SIM-3": (-122.6700, 45.5280)}
PERSON_POST = (-122.6500, 45.5300)
NEAR_SIM_1 = (-122.6740, 45.5240)
FAR_FROM_SIM_2 = (-122.6450, 45.5350)  # some minutes away by road, even driving 30 times faster
RUN_S = 14.0


@pytest.fixture
def with_roads(ctx_factory: Callable[[], Iterator[Ctx]]) -> None:
    need_data(PORTLAND_ROADS, CALLS)
    with ctx_factory() as ctx:
        roads.import_roads(ctx, PORTLAND_ROADS, name="Portland central")


def _options(url: str, cache_dir: Path, token: str = "") -> SimulatorOptions:
    return SimulatorOptions(
        url=url,
        token=token,
        roads_path=PORTLAND_ROADS,
        calls_path=CALLS,
        cache_dir=cache_dir,
        speed=600,  # an hour of history in 6 s: on scene for 1-2.5 s
        start=parse_start("2016-08-15T04:00"),  # a quiet hour: about a call a second at this speed
        dispatch_after_s=2.0,
        leave=frozenset({"PERSON"}),
        seed=7,
        duration_s=RUN_S,
        position_interval_s=0.3,
        drive_speedup=30.0,
        run_id="test",
    )


@dataclass
class Watch:
    """What the test sees of the simulated units while the simulator runs: (time, lon, lat) samples per unit."""

    http: httpx.Client
    unit_ids: set[int]
    samples: dict[int, list[tuple[float, float, float]]] = field(default_factory=dict)

    def look(self) -> list[dict[str, Any]]:
        units = [u for u in self.http.get("/api/units").json() if u["id"] in self.unit_ids]
        for unit in units:
            self.samples.setdefault(unit["id"], []).append((time.monotonic(), unit["lon"], unit["lat"]))
        return units

    def places(self, unit_id: int, since: float = 0.0) -> set[tuple[float, float]]:
        return {(lon, lat) for at, lon, lat in self.samples[unit_id] if at >= since}


def _add_unit(http: httpx.Client, call_sign: str, at: tuple[float, float], **extra: Any) -> dict[str, Any]:
    ce = next(o["id"] for o in http.get("/api/orgs").json() if o["code"] == "PDX-CE")
    body = {"call_sign": call_sign, "kind": "patrol_car", "home_org_id": ce, "capabilities": ["patrol"]}
    response = http.post("/api/units", json={**body, "lon": at[0], "lat": at[1], **extra})
    assert response.status_code == 201, response.text
    return response.json()


def _send(http: httpx.Client, unit_id: int, at: tuple[float, float]) -> dict[str, Any]:
    incident = http.post("/api/incidents", json=call(lon=at[0], lat=at[1])).json()
    order = http.post(f"/api/incidents/{incident['id']}/dispatches", json={"unit_id": unit_id})
    assert order.status_code == 201, order.text
    return order.json()


def _until(condition: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _steps_by(http: httpx.Client, order: dict[str, Any]) -> dict[str, str]:
    history = http.get(f"/api/incidents/{order['incident_id']}/history").json()
    return {e["kind"]: e["actor"] for e in history["events"] if e["dispatch_id"] == order["id"]}


def test_the_simulator_brings_the_demo_to_life(
    settings: Settings, db: Database, with_roads: None, portland: RoadGraph
) -> None:
    app = create_app(settings, db=db, clock=system_clock)
    headers = auth_headers(db, settings)  # a human duty commander, beside the simulator's own identity
    token = bearer_token(db, settings, system="simulator", role="dispatcher")
    with serving(app) as url, httpx.Client(base_url=url, headers=headers, timeout=15) as http:
        patrol = {sign: _add_unit(http, sign, _on_road(portland, at)) for sign, at in PATROL_POSTS.items()}
        person = _add_unit(http, "PERSON", PERSON_POST, kind="rapid_response")
        options = _options(url, settings.cache_dir, token)
        done: list[Stats] = []
        thread = threading.Thread(target=lambda: done.append(asyncio.run(runner.run(options))), daemon=True)
        thread.start()

        # Once a unit has moved, the simulator listens to the feed; a dispatcher (this test) sends three orders.
        watch = Watch(http, {u["id"] for u in patrol.values()})
        _until(
            lambda: any(u["position_at"] != patrol[u["call_sign"]]["position_at"] for u in watch.look()),
            "the simulator never moved a unit",
        )
        to_sim_1 = _send(http, patrol["SIM-1"]["id"], NEAR_SIM_1)
        to_person = _send(http, person["id"], NEAR_SIM_1)
        to_sim_2 = _send(http, patrol["SIM-2"]["id"], FAR_FROM_SIM_2)
        order_url = f"/api/dispatches/{to_sim_2['id']}"
        _until(lambda: http.get(order_url).json()["status"] == "en_route", "SIM-2 never set off")
        cancelled = http.post(f"{order_url}/cancel", json={"reason": "sent by mistake"})
        assert cancelled.status_code == 200, cancelled.text
        cancelled_at = time.monotonic()

        while thread.is_alive():
            watch.look()
            time.sleep(0.4)
        assert done, "the simulator run failed"
        stats = done[0]

        # Patrol: every simulated unit moved, and every position it reported lies on a road.
        for unit in patrol.values():
            places = watch.places(unit["id"])
            assert len(places) >= 5, f"{unit['call_sign']} hardly moved"
            assert max(portland.snap(lon, lat).distance_m for lon, lat in places) < 1.0
        assert stats.positions_reported > 30

        # The order was acknowledged, driven to, worked on scene, reported on and cleared, all by the simulator,
        # and the incident closed once its orders were cleared.
        history = http.get(f"/api/incidents/{to_sim_1['incident_id']}/history").json()
        order = next(o for o in history["dispatches"] if o["id"] == to_sim_1["id"])
        assert order["status"] == "cleared"
        assert order["acknowledged_at"] < order["en_route_at"] < order["on_scene_at"] < order["cleared_at"]
        assert order["feedback_at"] is not None
        assert order["outcome_code"]
        steps = _steps_by(http, to_sim_1)
        assert all(
            steps[kind] == ACTOR for kind in ("acknowledged", "en_route", "on_scene", "feedback_filed", "cleared")
        )
        assert history["incident"]["status"] == "closed"
        assert stats.orders_cleared >= 1

        # The order cancelled on the way: the unit dropped it and drove on.
        assert http.get(order_url).json()["status"] == "cancelled"
        assert set(_steps_by(http, to_sim_2)) == {"dispatched", "acknowledged", "en_route", "cancelled"}
        assert len(watch.places(patrol["SIM-2"]["id"], since=cancelled_at + 1.0)) >= 3

        # Replayed calls became incidents of the types their categories map to.
        replayed = [i for i in http.get("/api/incidents", params={"limit": 1000}).json() if i["created_by"] == ACTOR]
        assert len(replayed) == stats.calls_replayed >= 5
        _, schedule = runner.prepare(options)
        mapped = {(s.call.lon, s.call.lat, s.call.narrative): (s.call.type_code, s.call.priority) for s in schedule}
        for incident in replayed:
            assert mapped[(incident["lon"], incident["lat"], incident["narrative"])] == (
                incident["type_code"],
                incident["priority"],
            )
        assert stats.incidents_dispatched >= 1

        # The unit left to people: never moved, its order never answered.
        after = http.get(f"/api/units/{person['id']}").json()
        assert (after["lon"], after["lat"], after["position_at"]) == (
            person["lon"],
            person["lat"],
            person["position_at"],
        )
        assert http.get(f"/api/dispatches/{to_person['id']}").json()["status"] == "ordered"
        assert _steps_by(http, to_person) == {"dispatched": "system:tests"}
        assert stats.http_errors == 0


def _on_road(graph: RoadGraph, at: tuple[float, float]) -> tuple[float, float]:
    snap = graph.snap(*at)
    return snap.lon, snap.lat


def test_the_feed_catches_up_after_a_drop_and_hands_each_event_over_once(settings: Settings, db: Database) -> None:
    app = create_app(settings, db=db, clock=system_clock)
    headers = auth_headers(db, settings)
    with serving(app) as url, httpx.Client(base_url=url, headers=headers, timeout=15) as http:

        async def follow() -> list[Event]:
            feed, heard = Feed(feed_url(url), headers), []
            first = asyncio.create_task(feed.run(heard.append))
            await asyncio.wait_for(feed.ready.wait(), 10)
            await asyncio.to_thread(http.post, "/api/incidents", json=call())
            await _heard(heard, 1)
            first.cancel()  # the socket drops
            await asyncio.gather(first, return_exceptions=True)
            await asyncio.to_thread(http.post, "/api/incidents", json=call())  # made while nobody listens
            again = asyncio.create_task(feed.run(heard.append))
            await _heard(heard, 2)  # brought by ?after=
            await asyncio.to_thread(http.post, "/api/incidents", json=call())
            await _heard(heard, 3)
            await asyncio.sleep(0.5)  # time for a repeat to show up, if one were handed over
            again.cancel()
            await asyncio.gather(again, return_exceptions=True)
            return heard

        heard = asyncio.run(follow())
        created = [e.payload["id"] for e in heard if e.topic == "incident.created"]
        assert created == [i["id"] for i in sorted(http.get("/api/incidents").json(), key=lambda i: i["id"])]
        assert len(created) == 3


async def _heard(heard: list[Event], count: int) -> None:
    for _ in range(100):
        if len([e for e in heard if e.topic == "incident.created"]) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the feed brought {len(heard)} events, not {count}")


def test_a_run_that_cannot_reach_its_server_says_so(graph_cache: Path, portland: RoadGraph) -> None:
    need_data(CALLS)
    options = replace(_options("http://127.0.0.1:9", graph_cache), health_timeout_s=1.0)
    with pytest.raises(runner.SimulatorError, match="no answer"):
        asyncio.run(runner.run(options))


def test_the_command_line_refuses_bad_options_and_says_when_no_server_answers() -> None:
    need_data(CALLS, PORTLAND_ROADS)
    cli = CliRunner()
    no_token = cli.invoke(app, ["simulate"], env={"PRECINCT_SIMULATOR_TOKEN": ""})
    assert no_token.exit_code == 2
    assert "needs a token" in no_token.output
    token = {"PRECINCT_SIMULATOR_TOKEN": "pct_000000000000_" + "A" * 43}
    bad = cli.invoke(app, ["simulate", "--start", "yesterday afternoon"], env=token)
    assert bad.exit_code == 2
    assert "yesterday afternoon" in bad.output
    args = ["simulate", "--url", "http://127.0.0.1:9", "--data", str(CALLS.parents[1]), "--wait", "0.5"]
    nobody = cli.invoke(app, args, env=token)
    assert nobody.exit_code == 1
    assert "no answer from http://127.0.0.1:9/health" in nobody.output
