"""Org scope (decision 0011): a station sees the incidents, orders and units of its own subtree, an outsider meets
404 as if they did not exist, only the top of the tree sees incidents outside every jurisdiction, and an explicit,
time-limited, logged grant — given by hand or when a unit is sent to help — opens another org's records for a while.
The walk of every route from inside and outside an org is in ``test_permissions.py``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.api.builders import AT_SEA, DOWNTOWN, call, create_incident, create_unit, dispatch, org_id, serving, step
from tests.api.test_identity import CtxFactory, add_user, plain_http, sign_in
from tests.conftest import Clock, bearer_token

from precinct.domains.access import service as access
from precinct.domains.identity import accounts
from precinct.domains.incidents.repository import IncidentRepository
from precinct.platform.audit import AuditEntry
from precinct.platform.config import Settings
from precinct.platform.context import Principal, Scope
from precinct.platform.db import Database
from precinct.web.app import create_app

NORTH = (-122.7, 45.58)  # North Portland, in precinct NO


@pytest.fixture
def anyone(settings: Settings, db: Database, clock: Clock) -> Iterator[TestClient]:
    """A client with no identity of its own: each request says who it is."""
    with TestClient(create_app(plain_http(settings), db=db, clock=clock), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def as_org(db: Database, settings: Settings) -> Any:
    """Headers of a system acting in a role for an org's subtree (a station's own console, say)."""

    def headers(org: str, role: str = "dispatcher") -> dict[str, str]:
        name = f"{org}-{role}".lower().replace("_", "-")
        return {"Authorization": f"Bearer {bearer_token(db, settings, system=name, role=role, org=org)}"}

    return headers


def in_precinct(client: TestClient, point: tuple[float, float], code: str) -> dict[str, Any]:
    found = client.get("/api/jurisdiction", params={"lon": point[0], "lat": point[1]}).json()
    assert found["org_code"].startswith(code), found
    return create_incident(client, lon=point[0], lat=point[1])


def test_a_precinct_sees_its_own_incidents_and_meets_404_for_a_neighbours(
    client: TestClient, anyone: TestClient, as_org: Any, clock: Clock
) -> None:
    central, north = in_precinct(client, DOWNTOWN, "PDX-CE"), in_precinct(client, NORTH, "PDX-NO")
    at_sea = create_incident(client, lon=AT_SEA[0], lat=AT_SEA[1])
    ce = as_org("PDX-CE")
    listed = {i["id"] for i in anyone.get("/api/incidents", headers=ce).json()}
    assert central["id"] in listed
    assert not {north["id"], at_sea["id"]} & listed
    for hidden in (north["id"], at_sea["id"]):
        refused = anyone.get(f"/api/incidents/{hidden}/history", headers=ce)
        unknown = anyone.get("/api/incidents/999999/history", headers=ce)
        assert (
            (refused.status_code, refused.json()["code"])
            == (unknown.status_code, unknown.json()["code"])
            == (
                404,
                "not_found",
            )
        )
        assert refused.json()["message"] == f"no incident with id {hidden}"  # the same words as for no incident
    # The top of the tree sees everything, the incidents outside every jurisdiction too.
    assert {central["id"], north["id"], at_sea["id"]} <= {i["id"] for i in client.get("/api/incidents").json()}
    # A station's figures are its own.
    day = timedelta(days=1)
    period = {"from": (clock.now - day).isoformat(), "to": (clock.now + day).isoformat()}
    assert anyone.get("/api/kpi", params=period, headers=as_org("PDX-CE", "analyst")).json()["incidents"] == 1
    assert client.get("/api/kpi", params=period).json()["incidents"] == 3


def test_a_retry_gets_back_the_call_its_first_attempt_left_outside_the_callers_scope(
    client: TestClient, anyone: TestClient, as_org: Any
) -> None:
    """A station's call-taker takes a call from a point outside every jurisdiction: the incident goes to the top of
    the tree, outside the station's scope. A retry with the same key must still answer with that incident, not 409;
    another station with the same key and body learns nothing of it."""
    body = call(lon=AT_SEA[0], lat=AT_SEA[1])
    headers = as_org("PDX-CE", "call_taker") | {"Idempotency-Key": "at-sea-1"}
    first = anyone.post("/api/incidents", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert first.json()["org_id"] is None
    retry = anyone.post("/api/incidents", json=body, headers=headers)
    assert (retry.status_code, retry.json()["id"], retry.json()["number"]) == (
        200,
        first.json()["id"],
        first.json()["number"],
    )
    stranger = as_org("PDX-NO", "call_taker") | {"Idempotency-Key": "at-sea-1"}
    refused = anyone.post("/api/incidents", json=body, headers=stranger)
    assert refused.status_code == 409
    assert "another caller" in refused.json()["message"]
    assert "incident_id" not in (refused.json().get("details") or {})
    assert first.json()["number"] not in refused.text


def test_a_call_taker_is_offered_the_probable_duplicates_in_their_scope_only(
    client: TestClient, anyone: TestClient, as_org: Any
) -> None:
    """On PostgreSQL the search for probable duplicates runs in the statement that takes the call; it keeps to the
    call-taker's scope as every query does. A call from a neighbour's ground joins the neighbour's incidents, but the
    call-taker is offered none of them; nor the incidents outside every jurisdiction, which only the top sees."""
    downtown, at_sea = create_incident(client), create_incident(client, lon=AT_SEA[0], lat=AT_SEA[1])

    def offered(headers: dict[str, str] | None, point: tuple[float, float]) -> list[int]:
        taken = anyone.post("/api/incidents", json=call(lon=point[0], lat=point[1]), headers=headers)
        assert taken.status_code == 201, taken.text
        return [d["incident_id"] for d in taken.json()["duplicates"]]

    assert offered(as_org("PDX-NO", "call_taker"), DOWNTOWN) == []
    assert offered(as_org("PDX-CE", "call_taker"), AT_SEA) == []
    assert downtown["id"] in offered(as_org("PDX-CE", "call_taker"), DOWNTOWN)
    assert at_sea["id"] in offered({"Authorization": client.headers["Authorization"]}, AT_SEA)  # the city's


def test_a_unit_is_added_and_seen_by_its_own_station_only(client: TestClient, anyone: TestClient, as_org: Any) -> None:
    central = create_unit(client, "CE-P1")
    chief = as_org("PDX-CE", "station_chief")
    theirs = anyone.post(
        "/api/units",
        json={"call_sign": "NO-P9", "kind": "patrol_car", "home_org_id": org_id(client, "PDX-NO")},
        headers=chief,
    )
    assert theirs.status_code == 404
    assert "outside your organisation" in theirs.json()["message"]
    assert anyone.get(f"/api/units/{central['id']}", headers=as_org("PDX-NO")).status_code == 404
    assert [u["id"] for u in anyone.get("/api/units", headers=as_org("PDX-NO")).json()] == []
    assert [u["id"] for u in anyone.get("/api/units", headers=chief).json()] == [central["id"]]


def test_a_grant_opens_another_org_for_its_time_and_leaves_a_log(
    client: TestClient,
    anyone: TestClient,
    as_org: Any,
    ctx_factory: CtxFactory,
    clock: Clock,
    db: Database,
    settings: Settings,
) -> None:
    incident = create_incident(client)  # in precinct CE
    bob_id = add_user(ctx_factory, "bob", "dispatcher", "PDX-NO")
    with serving(create_app(plain_http(settings), db=db, clock=clock)) as url, httpx.Client(base_url=url) as bob:
        assert sign_in(bob, "bob").status_code == 200
        assert bob.get(f"/api/incidents/{incident['id']}").status_code == 404
        chief = as_org("PDX-CE", "station_chief")
        body = {"to_user_id": bob_id, "org_id": org_id(client, "PDX-CE"), "reason": "covering the CE desk", "hours": 2}
        given = anyone.post("/api/grants", json=body, headers=chief)
        assert given.status_code == 201, given.text
        assert given.json()["granted_by"] == "system:pdx-ce-station-chief"
        assert bob.get(f"/api/incidents/{incident['id']}").status_code == 200
        assert incident["id"] in {i["id"] for i in bob.get("/api/incidents").json()}

        clock.advance(2 * 3600 + 1)  # it runs out by itself
        assert sign_in(bob, "bob").status_code == 200  # (the session's idle timeout is shorter)
        assert bob.get(f"/api/incidents/{incident['id']}").status_code == 404

        again = anyone.post("/api/grants", json=body, headers=chief).json()
        assert bob.get(f"/api/incidents/{incident['id']}").status_code == 200
        north_chief = as_org("PDX-NO", "station_chief")
        assert anyone.post(f"/api/grants/{again['id']}/revoke", headers=north_chief).status_code == 404
        revoked = anyone.post(f"/api/grants/{again['id']}/revoke", headers=chief)
        assert (revoked.status_code, revoked.json()["revoked_by"]) == (200, "system:pdx-ce-station-chief")
        assert bob.get(f"/api/incidents/{incident['id']}").status_code == 404
        assert anyone.post(f"/api/grants/{again['id']}/revoke", headers=chief).status_code == 409

    log = anyone.get("/api/grants", params={"include_ended": True}, headers=chief).json()
    assert [(g["id"], g["reason"], g["revoked_at"] is not None) for g in log] == [
        (again["id"], "covering the CE desk", True),
        (given.json()["id"], "covering the CE desk", False),
    ]
    assert anyone.get("/api/grants", headers=chief).json() == []  # none in force
    with db.transaction() as session:
        audited = session.scalars(sa.select(AuditEntry.action).where(AuditEntry.action.like("/api/grants%"))).all()
    assert sorted(audited) == ["/api/grants", "/api/grants", "/api/grants/{grant_id}/revoke"]


def test_the_grants_list_is_kept_to_the_scope_before_it_is_cut_to_its_length(
    client: TestClient, anyone: TestClient, as_org: Any, ctx_factory: CtxFactory
) -> None:
    """A station's list of grants holds its own even when newer grants of other orgs would fill a page."""
    bob, carol = add_user(ctx_factory, "bob", "dispatcher", "PDX-NO"), add_user(ctx_factory, "carol", "dispatcher")
    ce, no = as_org("PDX-CE", "station_chief"), as_org("PDX-NO", "station_chief")
    ce_org = org_id(client, "PDX-CE")
    own = {"to_user_id": bob, "org_id": ce_org, "reason": "covering the CE desk", "hours": 2}
    theirs = {"to_user_id": carol, "org_id": org_id(client, "PDX-NO"), "reason": "covering the NO desk", "hours": 2}
    ours = anyone.post("/api/grants", json=own, headers=ce).json()
    assert anyone.post("/api/grants", json=theirs, headers=no).status_code == 201  # newer, outside CE's scope
    chief = Principal("staff", carol, "carol", "station_chief", ce_org, None, "token", scope=Scope(frozenset({ce_org})))
    with ctx_factory() as ctx:
        ctx.principal = chief
        assert [g.id for g in access.list_grants(ctx, limit=1)] == [ours["id"]]


def test_only_the_org_that_owns_a_record_opens_it_and_within_the_limits(
    client: TestClient, anyone: TestClient, as_org: Any, ctx_factory: CtxFactory, settings: Settings
) -> None:
    incident = create_incident(client)
    bob = add_user(ctx_factory, "bob", "dispatcher", "PDX-NO")
    ce, no = as_org("PDX-CE", "station_chief"), as_org("PDX-NO", "station_chief")
    ce_org = org_id(client, "PDX-CE")
    cases = [
        (no, {"to_user_id": bob, "org_id": ce_org}, 404, "in your scope"),
        (no, {"to_user_id": bob, "incident_id": incident["id"]}, 404, "no incident"),
        (ce, {"to_user_id": bob, "org_id": ce_org, "hours": settings.grant_max_hours + 1}, 422, "1 to"),
        (ce, {"to_user_id": 999_999, "org_id": ce_org}, 422, "not an active staff member"),
        (ce, {"to_org_id": org_id(client, "PDX-NO")}, 422, "name one thing"),
        (ce, {"to_user_id": bob, "to_org_id": ce_org, "org_id": ce_org}, 422, "name one grantee"),
        (ce, {"to_user_id": bob, "org_id": ce_org, "reason": "   "}, 422, "reason"),
    ]
    for headers, body, status, words in cases:
        answer = anyone.post("/api/grants", json={"reason": "why", "hours": 1, **body}, headers=headers)
        assert (answer.status_code, words in answer.text) == (status, True), (body, answer.text)
    # A station that sees an incident by a grant does not pass it on.
    given = anyone.post(
        "/api/grants",
        json={"to_org_id": org_id(client, "PDX-NO"), "incident_id": incident["id"], "reason": "assist", "hours": 1},
        headers=ce,
    )
    assert given.status_code == 201
    passed_on = anyone.post(
        "/api/grants",
        json={"to_org_id": org_id(client, "PDX-EA"), "incident_id": incident["id"], "reason": "more", "hours": 1},
        headers=no,
    )
    assert passed_on.status_code == 403
    assert len(client.get("/api/grants").json()) == 1  # nothing half-written by the refusals


def test_a_unit_sent_to_help_opens_the_incident_to_its_own_station_for_a_while(
    client: TestClient, anyone: TestClient, as_org: Any, clock: Clock, settings: Settings
) -> None:
    incident, other = create_incident(client), create_incident(client, type_code="01010100")
    helper = create_unit(client, "NO-P1", home_org_id=org_id(client, "PDX-NO"))
    local = create_unit(client, "CE-P1")
    order = dispatch(client, incident["id"], helper["id"])  # by the city's command centre
    dispatch(client, incident["id"], local["id"])
    north = as_org("PDX-NO")
    history = anyone.get(f"/api/incidents/{incident['id']}/history", headers=north)
    assert history.status_code == 200
    sent = [e["data"] for e in history.json()["events"] if e["kind"] == "dispatched"]
    assert [("assist_grant_id" in data) for data in sent] == [True, False]  # the local unit's station sees it anyway
    assert anyone.post(f"/api/dispatches/{order['id']}/acknowledge", json={}, headers=north).status_code == 200
    assert anyone.get(f"/api/incidents/{other['id']}", headers=north).status_code == 404  # that one only
    (grant,) = anyone.get("/api/grants", headers=as_org("PDX-CE", "station_chief")).json()
    assert (grant["incident_id"], grant["reason"]) == (incident["id"], "unit NO-P1 sent to assist")

    clock.advance(settings.assist_grant_hours * 3600)
    assert anyone.get(f"/api/incidents/{incident['id']}", headers=north).status_code == 404
    assert step(client, order["id"], "depart").status_code == 200  # the command centre still sees it all


def test_a_terminal_that_clears_its_order_leaves_the_incident_to_the_units_still_there(
    client: TestClient, anyone: TestClient, ctx_factory: CtxFactory
) -> None:
    """A terminal sees only its own unit's orders, yet the incident's state follows from all of them."""
    incident = create_incident(client)
    first, second = create_unit(client, "CE-P1"), create_unit(client, "CE-P2")
    mine, theirs = dispatch(client, incident["id"], first["id"]), dispatch(client, incident["id"], second["id"])
    for order in (mine, theirs):
        for action in ("acknowledge", "depart", "arrive"):
            assert step(client, order["id"], action).status_code == 200
    with ctx_factory() as ctx:
        terminal = {"Authorization": f"Bearer {accounts.add_token(ctx, unit_call_sign='CE-P1')[1]}"}
    assert [o["id"] for o in anyone.get("/api/dispatches", headers=terminal).json()] == [mine["id"]]
    cleared = anyone.post(f"/api/dispatches/{mine['id']}/clear", json={}, headers=terminal)
    assert cleared.status_code == 200, cleared.text
    assert client.get(f"/api/incidents/{incident['id']}").json()["status"] == "on_scene"  # CE-P2 is still there


def test_the_live_feed_carries_only_what_its_listener_may_see(
    client: TestClient, anyone: TestClient, as_org: Any
) -> None:
    with anyone.websocket_connect("/ws/events", headers=as_org("PDX-NO")) as feed:
        assert feed.receive_json()["type"] == "hello"
        create_incident(client)  # CE's
        create_unit(client, "CE-P1")
        north_incident = in_precinct(client, NORTH, "PDX-NO")
        north_unit = create_unit(client, "NO-P1", home_org_id=org_id(client, "PDX-NO"))
        heard = [feed.receive_json() for _ in range(2)]
    assert [(e["topic"], e["payload"].get("id", e["payload"].get("unit_id"))) for e in heard] == [
        ("incident.created", north_incident["id"]),
        ("unit.updated", north_unit["id"]),
    ]


def test_a_query_that_spans_the_city_refuses_a_narrower_scope(db: Database) -> None:
    with db.transaction(write=False) as session:
        repo = IncidentRepository(session, Scope(org_ids=frozenset({1})))
        with pytest.raises(PermissionError, match="jobs and imports only"):
            repo.unacknowledged_since(datetime.now(UTC), 1)
