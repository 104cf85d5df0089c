"""Sending units and following each order to the end: the incident's state follows its orders, and an illegal
step is a 409 naming the current state and the allowed next steps."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.api.builders import create_incident, create_unit, dispatch, step
from tests.conftest import Clock

from precinct.platform.db import Database


def test_the_whole_loop_from_call_to_close(client: TestClient, clock: Clock) -> None:
    incident = create_incident(client)
    unit = create_unit(client)
    clock.advance(30)
    order = dispatch(client, incident["id"], unit["id"])
    assert order["status"] == "ordered"
    assert order["allowed_actions"] == ["acknowledge", "return", "cancel"]
    assert client.get(f"/api/units/{unit['id']}").json()["status"] == "assigned"

    expected = [
        ("acknowledge", "acknowledged", "dispatched", "assigned"),
        ("depart", "en_route", "en_route", "en_route"),
        ("arrive", "on_scene", "on_scene", "on_scene"),
        ("clear", "cleared", "cleared", "available"),
    ]
    for action, order_status, incident_status, unit_status in expected:
        clock.advance(60)
        response = step(client, order["id"], action)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == order_status
        assert client.get(f"/api/incidents/{incident['id']}").json()["status"] == incident_status
        assert client.get(f"/api/units/{unit['id']}").json()["status"] == unit_status

    feedback = client.post(
        f"/api/dispatches/{order['id']}/feedback",
        json={"outcome_code": "RESOLVED", "text": "双方已劝离", "people_helped": 2, "casualties": 0},
    )
    assert feedback.status_code == 200
    assert feedback.json()["people_helped"] == 2
    closed = client.post(f"/api/incidents/{incident['id']}/close", json={"reason": "处置完毕"})
    assert closed.status_code == 200
    assert closed.json()["status"] == "closed"

    history = client.get(f"/api/incidents/{incident['id']}/history").json()
    kinds = [e["kind"] for e in history["events"]]
    assert kinds == [
        "received",
        "dispatched",
        "status_changed",
        "acknowledged",
        "en_route",
        "status_changed",
        "on_scene",
        "status_changed",
        "cleared",
        "status_changed",
        "feedback_filed",
        "closed",
    ]
    times = [e["at"] for e in history["events"]]
    assert times == sorted(times)
    assert history["dispatches"][0]["acknowledged_at"] is not None
    assert all(e["actor"] == "system:tests" for e in history["events"])


def test_an_illegal_step_names_the_current_state_and_the_allowed_ones(client: TestClient) -> None:
    order = dispatch(client, create_incident(client)["id"], create_unit(client)["id"])
    response = step(client, order["id"], "arrive")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "illegal_transition"
    assert body["details"]["current"] == "ordered"
    assert body["details"]["allowed"] == ["acknowledge", "return", "cancel"]
    assert "ordered" in body["message"]
    assert client.get(f"/api/dispatches/{order['id']}").json()["status"] == "ordered"


def test_an_unknown_action_is_422_and_unknown_order_404(client: TestClient) -> None:
    order = dispatch(client, create_incident(client)["id"], create_unit(client)["id"])
    assert step(client, order["id"], "teleport").status_code == 422
    assert step(client, 999_999, "acknowledge").status_code == 404


def test_closing_an_incident_with_a_unit_on_the_way_is_refused(client: TestClient) -> None:
    incident = create_incident(client)
    order = dispatch(client, incident["id"], create_unit(client)["id"])
    step(client, order["id"], "acknowledge")
    response = client.post(f"/api/incidents/{incident['id']}/close", json={})
    assert response.status_code == 409
    assert response.json()["details"] == {"current": "dispatched", "allowed": ["dispatch"]}


def test_returning_or_cancelling_needs_a_reason_and_frees_the_unit(client: TestClient) -> None:
    incident = create_incident(client)
    unit = create_unit(client)
    order = dispatch(client, incident["id"], unit["id"])
    refused = step(client, order["id"], "return")
    assert refused.status_code == 422
    assert "reason" in refused.json()["message"]
    assert client.get(f"/api/dispatches/{order['id']}").json()["status"] == "ordered"
    returned = step(client, order["id"], "return", reason="车辆故障")
    assert returned.json()["status"] == "returned"
    assert returned.json()["end_reason"] == "车辆故障"
    assert client.get(f"/api/incidents/{incident['id']}").json()["status"] == "received"
    assert client.get(f"/api/units/{unit['id']}").json()["status"] == "available"


def test_several_units_on_one_incident(client: TestClient) -> None:
    incident = create_incident(client)
    first = dispatch(client, incident["id"], create_unit(client, "CE-P1")["id"])
    second = dispatch(client, incident["id"], create_unit(client, "CE-P2")["id"])
    for action in ("acknowledge", "depart", "arrive"):
        step(client, first["id"], action)
    assert client.get(f"/api/incidents/{incident['id']}").json()["status"] == "on_scene"
    step(client, first["id"], "clear")
    # The second unit is still on its way: the incident is not cleared until it is.
    assert client.get(f"/api/incidents/{incident['id']}").json()["status"] == "dispatched"
    step(client, second["id"], "cancel", reason="警力已足够")
    assert client.get(f"/api/incidents/{incident['id']}").json()["status"] == "cleared"


def test_units_that_cannot_go_are_refused(client: TestClient) -> None:
    first, second = create_incident(client), create_incident(client)
    busy = create_unit(client, "CE-P1")
    dispatch(client, first["id"], busy["id"])
    response = client.post(f"/api/incidents/{second['id']}/dispatches", json={"unit_id": busy["id"]})
    assert response.status_code == 409
    assert "CE-P1" in response.json()["message"]

    resting = create_unit(client, "CE-P2", on_duty=False)
    response = client.post(f"/api/incidents/{second['id']}/dispatches", json={"unit_id": resting["id"]})
    assert response.status_code == 409
    assert "off duty" in response.json()["message"]

    response = client.post(f"/api/incidents/{second['id']}/dispatches", json={"unit_id": 987_654})
    assert response.status_code == 404
    assert "987654" in response.json()["message"]
    assert client.get(f"/api/incidents/{second['id']}/history").json()["dispatches"] == []


def test_feedback_is_filed_once_and_only_on_scene_or_after(client: TestClient) -> None:
    order = dispatch(client, create_incident(client)["id"], create_unit(client)["id"])
    body = {"outcome_code": "RESOLVED"}
    assert client.post(f"/api/dispatches/{order['id']}/feedback", json=body).status_code == 409
    for action in ("acknowledge", "depart", "arrive"):
        step(client, order["id"], action)
    assert client.post(f"/api/dispatches/{order['id']}/feedback", json=body).status_code == 200
    again = client.post(f"/api/dispatches/{order['id']}/feedback", json=body)
    assert again.status_code == 409
    assert "already filed" in again.json()["message"]
    bad = client.post(f"/api/dispatches/{order['id']}/feedback", json={"outcome_code": "OK", "casualties": -1})
    assert bad.status_code == 422


def test_a_closed_incident_can_be_reopened(client: TestClient) -> None:
    incident = create_incident(client, type_code="04010000")
    assert client.post(f"/api/incidents/{incident['id']}/close", json={"reason": "咨询已答复"}).status_code == 200
    reopened = client.post(f"/api/incidents/{incident['id']}/reopen", json={"reason": "来电人再次来电"})
    assert reopened.status_code == 200
    assert reopened.json()["status"] == "received"
    assert client.post(f"/api/incidents/{incident['id']}/reopen", json={}).status_code == 409


def test_the_creator_is_who_signed_in_whatever_a_header_claims(client: TestClient) -> None:
    incident = client.post(
        "/api/incidents",
        json={"type_code": "01020100", "address": "SW Main St"},
        headers={"X-Actor": "calltaker-07"},
    ).json()
    assert incident["created_by"] == "system:tests"


def test_timeline_events_cannot_be_edited_or_deleted(client: TestClient, db: Database) -> None:
    create_incident(client)
    for statement in ("UPDATE incident_events SET kind = 'forged'", "DELETE FROM incident_events"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.transaction() as session:
            session.execute(sa.text(statement))
    with db.transaction(write=False) as session:
        assert session.execute(sa.text("SELECT kind FROM incident_events")).scalars().all() == ["received"]


def test_units_are_validated(client: TestClient) -> None:
    unit = create_unit(client)
    assert client.post("/api/units", json={**unit, "id": None}).status_code == 422
    body = {"call_sign": "CE-P1", "kind": "patrol_car", "home_org_id": unit["home_org_id"]}
    duplicate = client.post("/api/units", json=body)
    assert duplicate.status_code == 409
    assert client.post("/api/units", json={**body, "call_sign": "X", "kind": "spaceship"}).status_code == 422
    assert client.post("/api/units", json={**body, "call_sign": "X", "home_org_id": 999}).status_code == 404
    assert client.put(f"/api/units/{unit['id']}/position", json={"lon": 200, "lat": 0}).status_code == 422
    moved = client.put(f"/api/units/{unit['id']}/position", json={"lon": -122.6, "lat": 45.5})
    assert moved.json()["lon"] == -122.6
    assert moved.json()["position_at"] is not None
    assert client.put(f"/api/units/{unit['id']}/duty", json={"on_duty": False}).json()["status"] == "off_duty"
    assert client.get("/api/units", params={"status": "off_duty"}).json()[0]["id"] == unit["id"]


def test_a_step_resent_with_its_idempotency_key_is_taken_once(client: TestClient) -> None:
    """What a terminal queued offline may reach the server twice (the first reply was lost): the repeat returns
    the order, it neither refuses the step already taken nor records it twice."""
    incident = create_incident(client)
    order = dispatch(client, incident["id"], create_unit(client)["id"])
    key = {"Idempotency-Key": "terminal-7-ack-0001"}
    first = client.post(f"/api/dispatches/{order['id']}/acknowledge", json={}, headers=key)
    again = client.post(f"/api/dispatches/{order['id']}/acknowledge", json={}, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json()["status"] == "acknowledged"
    assert again.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    kinds = [e["kind"] for e in client.get(f"/api/incidents/{incident['id']}/history").json()["events"]]
    assert kinds.count("acknowledged") == 1

    # The same key for another step is a mistake the client must hear about.
    other = client.post(f"/api/dispatches/{order['id']}/depart", json={}, headers=key)
    assert other.status_code == 409
    assert "different request" in other.json()["message"]
    # Without a key, a repeated step is still an illegal transition.
    assert step(client, order["id"], "acknowledge").status_code == 409


def test_feedback_resent_with_its_idempotency_key_is_filed_once(client: TestClient) -> None:
    incident = create_incident(client)
    order = dispatch(client, incident["id"], create_unit(client)["id"])
    for action in ("acknowledge", "depart", "arrive"):
        assert step(client, order["id"], action).status_code == 200
    body = {"outcome_code": "resolved", "text": "劝离", "people_helped": 2}
    key = {"Idempotency-Key": "terminal-7-feedback-0001"}
    first = client.post(f"/api/dispatches/{order['id']}/feedback", json=body, headers=key)
    again = client.post(f"/api/dispatches/{order['id']}/feedback", json=body, headers=key)
    assert first.status_code == again.status_code == 200
    assert again.json()["feedback_at"] == first.json()["feedback_at"]
    changed = client.post(f"/api/dispatches/{order['id']}/feedback", json={**body, "people_helped": 3}, headers=key)
    assert changed.status_code == 409


def test_a_terminal_lists_its_own_open_orders(client: TestClient) -> None:
    mine, other = create_unit(client, "CE-P1"), create_unit(client, "CE-P2")
    first = dispatch(client, create_incident(client)["id"], mine["id"])
    dispatch(client, create_incident(client)["id"], other["id"])
    assert [o["id"] for o in client.get("/api/dispatches", params={"unit_id": mine["id"]}).json()] == [first["id"]]
    assert len(client.get("/api/dispatches").json()) == 2
    for action in ("acknowledge", "depart", "arrive", "clear"):
        assert step(client, first["id"], action).status_code == 200
    assert client.get("/api/dispatches", params={"unit_id": mine["id"]}).json() == []
