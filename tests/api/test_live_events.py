"""The live feed (``/ws/events``): committed events reach every connected page, across worker processes (through
the outbox, or NATS JetStream), and a page that reconnects catches up on what it missed."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.testclient import WebSocketTestSession
from starlette.websockets import WebSocketDisconnect
from tests.api.builders import create_incident, create_unit, delete_nats_stream, dispatch
from tests.conftest import Clock, auth_headers

from precinct.platform.bus import EventHub
from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database
from precinct.platform.events import emit, prune_outbox
from precinct.web.app import create_app

NATS_URL = os.environ.get("PRECINCT_TEST_NATS_URL", "nats://127.0.0.1:4222")
pytestmark = pytest.mark.timeout(60)


def next_event(ws: WebSocketTestSession) -> dict[str, Any]:
    message = ws.receive_json()
    assert message["type"] == "event", message
    return message


@contextmanager
def worker(settings: Settings, clock: Clock) -> Iterator[TestClient]:
    """Another API worker process on the same database: its own app, engine, caches and event hub."""
    db = Database(settings.database_url)
    try:
        app = create_app(settings, db=db, clock=clock)
        with TestClient(app, raise_server_exceptions=False, headers=auth_headers(db, settings)) as client:
            yield client
    finally:
        db.dispose()


def test_a_new_incident_reaches_the_live_feed(client: TestClient) -> None:
    with client.websocket_connect("/ws/events") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello"
        incident = create_incident(client)
        event = next_event(ws)
        assert event["topic"] == "incident.created"
        assert event["id"] > hello["last_id"]
        assert event["payload"]["number"] == incident["number"]
        assert "caller_phone" not in event["payload"]  # the feed carries no personal data


def test_a_terminal_hears_only_its_own_orders(client: TestClient) -> None:
    mine, other = create_unit(client, "CE-P1"), create_unit(client, "CE-P2")
    incident = create_incident(client)
    with client.websocket_connect(f"/ws/events?unit_id={mine['id']}") as ws:
        ws.receive_json()  # hello
        dispatch(client, incident["id"], other["id"])
        order = dispatch(client, create_incident(client)["id"], mine["id"])
        event = next_event(ws)  # not the other unit's order, nor the new incident
        assert event["topic"] == "dispatch.ordered"
        assert event["payload"]["id"] == order["id"]
        assert event["payload"]["unit_id"] == mine["id"]


def test_a_unit_that_is_registered_moves_or_goes_off_duty_is_announced(client: TestClient) -> None:
    with client.websocket_connect("/ws/events") as ws:
        ws.receive_json()
        unit = create_unit(client)
        registered = next_event(ws)
        assert (registered["topic"], registered["payload"]["call_sign"]) == ("unit.updated", unit["call_sign"])
        assert client.put(f"/api/units/{unit['id']}/position", json={"lon": -122.67, "lat": 45.52}).status_code == 200
        moved = next_event(ws)
        assert moved["topic"] == "unit.moved"
        assert moved["payload"] | {"position_at": None} == {
            "unit_id": unit["id"],
            "call_sign": unit["call_sign"],
            "home_org_id": unit["home_org_id"],
            "status": "available",
            "on_duty": True,
            "lon": -122.67,
            "lat": 45.52,
            "position_at": None,
        }
        assert client.put(f"/api/units/{unit['id']}/duty", json={"on_duty": False}).status_code == 200
        updated = next_event(ws)
        assert (updated["topic"], updated["payload"]["status"]) == ("unit.updated", "off_duty")


def test_a_page_that_reconnects_catches_up(client: TestClient) -> None:
    with client.websocket_connect("/ws/events") as ws:
        seen = ws.receive_json()["last_id"]
    missed = [create_incident(client)["number"] for _ in range(2)]
    with client.websocket_connect(f"/ws/events?after={seen}") as ws:
        ws.receive_json()  # hello
        numbers = [next_event(ws)["payload"]["number"] for _ in missed]
    assert numbers == missed
    assert client.get("/ws/events").status_code == 404  # only WebSocket here
    with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws/events?after=-1") as ws:
        ws.receive_json()
    assert refused.value.code == 1008  # policy violation: the query does not validate


def test_workers_on_one_database_serve_one_feed(settings: Settings, client: TestClient, clock: Clock) -> None:
    quick = settings.model_copy(update={"event_poll_s": 0.05})
    with worker(quick, clock) as other, other.websocket_connect("/ws/events") as ws:
        ws.receive_json()
        incident = create_incident(client)  # taken by the first worker
        assert next_event(ws)["payload"]["id"] == incident["id"]


def test_an_event_committed_late_still_arrives(client: TestClient, db: Database, settings: Settings) -> None:
    if db.backend == "sqlite":
        pytest.skip("SQLite commits one writer at a time, so ids always commit in order")
    with client.websocket_connect("/ws/events") as ws:
        ws.receive_json()
        with db.transaction() as slow:
            emit(Ctx(session=slow, settings=settings, actor="test"), "test.slow", {"n": 1})  # the lower id
            with db.transaction() as quick:
                emit(Ctx(session=quick, settings=settings, actor="test"), "test.quick", {"n": 2})
            assert next_event(ws)["topic"] == "test.quick"
        late = next_event(ws)
        assert late["topic"] == "test.slow"


def test_two_workers_through_nats_jetstream(settings: Settings, clock: Clock) -> None:
    tag = uuid.uuid4().hex[:10]
    over_nats = settings.model_copy(
        update={
            "event_bus": "nats",
            "nats_url": NATS_URL,
            "nats_stream": f"PRECINCT_TEST_{tag}",
            "nats_subject_prefix": f"precinct_test_{tag}",
        }
    )
    with worker(over_nats, clock) as first, worker(over_nats, clock) as second:
        with second.websocket_connect("/ws/events") as ws:
            ws.receive_json()
            incident = create_incident(first)
            event = next_event(ws)
            assert event["topic"] == "incident.created"
            assert event["payload"]["id"] == incident["id"]
        db = Database(settings.database_url)
        try:
            deadline = time.monotonic() + 10
            while True:
                with db.transaction(write=False) as session:
                    pending = (
                        session.connection()
                        .exec_driver_sql("SELECT count(*) FROM outbox WHERE published_at IS NULL")
                        .scalar()
                    )
                if pending == 0 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert pending == 0  # every row handed to the stream is marked
        finally:
            db.dispose()
    delete_nats_stream(NATS_URL, over_nats.nats_stream)


def test_old_events_are_pruned_after_the_retention(
    client: TestClient, ctx_factory: Callable[[], Any], clock: Clock, settings: Settings
) -> None:
    old = create_incident(client)
    clock.advance(8 * 86_400)  # past the default 7 days
    new = create_incident(client)
    with ctx_factory() as ctx:
        unrelayed = Ctx(session=ctx.session, settings=settings.model_copy(update={"event_bus": "nats"}), clock=clock,
                        actor="test")  # fmt: skip
        assert prune_outbox(unrelayed) == 0  # with NATS on, an event the relay has not sent yet stays
        assert prune_outbox(ctx) == 1
        assert prune_outbox(ctx) == 0
    with client.websocket_connect("/ws/events?after=0") as ws:
        ws.receive_json()
        assert next_event(ws)["payload"]["id"] == new["id"]
    assert client.get(f"/api/incidents/{old['id']}/history").json()["events"]  # the timeline keeps the history


def test_unit_positions_leave_the_outbox_after_an_hour(
    client: TestClient, ctx_factory: Callable[[], Any], clock: Clock
) -> None:
    unit = create_unit(client)
    for lon in (-122.670, -122.671):
        assert client.put(f"/api/units/{unit['id']}/position", json={"lon": lon, "lat": 45.52}).status_code == 200
    incident = create_incident(client)
    clock.advance(3601)
    with ctx_factory() as ctx:
        assert prune_outbox(ctx) == 2  # both positions; the unit's registration and the call stay their 7 days
    with client.websocket_connect("/ws/events?after=0") as ws:
        ws.receive_json()
        registered, call = next_event(ws), next_event(ws)
        assert (registered["topic"], call["topic"], call["payload"]["id"]) == (
            "unit.updated",
            "incident.created",
            incident["id"],
        )


def test_the_hub_stops_when_a_commit_wakes_it_as_it_is_stopped(db: Database, settings: Settings, clock: Clock) -> None:
    """A server shutting down as a call commits: the wake-up and the cancellation land in one turn of the loop.
    With ``asyncio.wait_for`` (Python 3.11) the cancellation was lost and the outbox tail, so the server, never
    stopped."""

    async def stop_as_woken() -> None:
        hub = EventHub(db, settings, clock)
        await hub.start()
        await asyncio.sleep(0.05)  # the tail is waiting to be woken
        hub._wake.set()
        stopping = asyncio.ensure_future(hub.stop())
        done, _ = await asyncio.wait([stopping], timeout=5)
        assert done, "the event hub did not stop"

    asyncio.run(stop_as_woken())
