"""An order not acknowledged (签收) within the deadline is flagged once, by a background job, with a timeline event
and an alert on the live feed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.api.builders import create_incident, create_unit, dispatch, step
from tests.api.test_live_events import next_event, worker
from tests.conftest import Clock
from typer.testing import CliRunner

from precinct.cli.main import app as cli
from precinct.domains.incidents import orders
from precinct.platform.config import Settings

pytestmark = pytest.mark.timeout(60)


def history_kinds(client: TestClient, incident_id: int) -> list[str]:
    return [e["kind"] for e in client.get(f"/api/incidents/{incident_id}/history").json()["events"]]


def test_an_order_left_unacknowledged_is_flagged_once(
    client: TestClient, ctx_factory: Callable[[], Any], clock: Clock
) -> None:
    late = dispatch(client, create_incident(client)["id"], create_unit(client, "CE-P1")["id"])
    signed = dispatch(client, create_incident(client)["id"], create_unit(client, "CE-P2")["id"])
    assert step(client, signed["id"], "acknowledge").status_code == 200
    clock.advance(59)
    with ctx_factory() as ctx:
        assert orders.flag_overdue_orders(ctx) == []
    clock.advance(2)
    with client.websocket_connect("/ws/events") as ws:
        ws.receive_json()
        with ctx_factory() as ctx:
            assert [o.id for o in orders.flag_overdue_orders(ctx)] == [late["id"]]
        alert = next_event(ws)
    assert alert["topic"] == "dispatch.overdue"
    assert alert["payload"]["id"] == late["id"]
    assert alert["payload"]["waited_s"] == 61
    with ctx_factory() as ctx:
        assert orders.flag_overdue_orders(ctx) == []  # once only
    order = client.get(f"/api/incidents/{late['incident_id']}/history").json()["dispatches"][0]
    assert order["overdue_at"] is not None
    assert history_kinds(client, late["incident_id"]).count("acknowledge_overdue") == 1
    assert "acknowledge_overdue" not in history_kinds(client, signed["incident_id"])


def test_the_api_workers_run_the_job_in_the_background(settings: Settings, clock: Clock) -> None:
    with_jobs = settings.model_copy(update={"run_jobs": True, "job_interval_s": 0.05, "acknowledge_deadline_s": 30})
    with worker(with_jobs, clock) as api, api.websocket_connect("/ws/events") as ws:
        ws.receive_json()
        order = dispatch(api, create_incident(api)["id"], create_unit(api)["id"])
        assert [next_event(ws)["topic"] for _ in range(3)] == ["incident.created", "unit.updated", "dispatch.ordered"]
        clock.advance(31)
        alert = next_event(ws)
        assert (alert["topic"], alert["payload"]["id"]) == ("dispatch.overdue", order["id"])


def test_precinct_worker_runs_the_jobs(client: TestClient, settings: Settings, monkeypatch) -> None:
    order = dispatch(client, create_incident(client)["id"], create_unit(client)["id"])
    monkeypatch.setenv("PRECINCT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PRECINCT_ACKNOWLEDGE_DEADLINE_S", "1")
    # The CLI reads the real clock, hours after the test clock's morning: the order is long overdue.
    result = CliRunner().invoke(cli, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "acknowledge_overdue" in history_kinds(client, order["incident_id"])
