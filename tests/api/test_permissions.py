"""The permission table against the application: every route in the OpenAPI document (and the live feed) has an
entry, and every subject — each staff role, a unit's terminal, a system acting in no role, and no one — is let in
exactly where the table says and refused (403, or 401 for no one) everywhere else, before its request is even read.
Then the org axis (decision 0011): every role from inside the org that owns the records, and from outside it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from tests.api.builders import DOWNTOWN, create_incident, create_unit, dispatch, org_id
from tests.conftest import Clock, bearer_token

from precinct.domains.identity import accounts
from precinct.domains.identity.models import ROLES
from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database
from precinct.web import permissions
from precinct.web.app import create_app

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


def routes(client: TestClient) -> list[tuple[str, str]]:
    document = client.get("/openapi.json").json()
    return [(m.upper(), path) for path, item in document["paths"].items() for m in item if m in HTTP_METHODS]


@pytest.fixture
def world(settings: Settings, db: Database, clock: Clock, client: TestClient) -> Iterator[dict[str, Any]]:
    """An incident with an order for a unit, and a bearer token for every subject of the table."""
    unit = create_unit(client)
    incident = create_incident(client)
    order = dispatch(client, incident["id"], unit["id"])
    tokens = {role: bearer_token(db, settings, system=f"as-{role.replace('_', '-')}", role=role) for role in ROLES}
    tokens["system"] = bearer_token(db, settings, system="bridge", role=None)
    with db.transaction() as session:
        ctx = Ctx(session=session, settings=settings, actor="test", clock=clock)
        tokens["device"] = accounts.add_token(ctx, unit_call_sign=unit["call_sign"])[1]
    grant = client.post(
        "/api/grants",
        json={
            "to_org_id": org_id(client, "PDX-EA"),
            "incident_id": incident["id"],
            "reason": "a joint operation",
            "hours": 2,
        },
    )
    assert grant.status_code == 201, grant.text
    params = {
        "incident_id": incident["id"],
        "dispatch_id": order["id"],
        "unit_id": unit["id"],
        "org_id": unit["home_org_id"],
        "grant_id": grant.json()["id"],
        "action": "acknowledge",
    }
    with TestClient(create_app(settings, db=db, clock=clock), raise_server_exceptions=False) as anonymous:
        yield {"tokens": tokens, "params": params, "client": anonymous}


def test_every_route_has_an_entry_and_every_entry_a_route(client: TestClient) -> None:
    served = set(routes(client)) | {("WS", "/ws/events")}
    assert served - set(permissions.PERMISSIONS) == set(), "routes without an entry in web/permissions.py"
    assert set(permissions.PERMISSIONS) - served == set(), "entries for routes that no longer exist"


def test_every_subject_is_let_in_exactly_where_the_table_says(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    subjects: dict[str | None, str | None] = {None: None, **world["tokens"]}
    wrong: list[str] = []
    assert len(routes(client)) > 35
    for method, path in routes(client):
        rule = permissions.PERMISSIONS[(method, path)]
        url = path.format(**world["params"])
        for subject, token in subjects.items():
            headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
            body = {} if method in ("POST", "PUT", "PATCH") else None
            status = client.request(method, url, json=body, headers=headers).status_code
            allowed = rule == permissions.ANYONE or (
                subject is not None and (rule == permissions.SIGNED_IN or subject in rule)
            )
            expected_refusal = 401 if subject is None else 403
            if (allowed and status in (401, 403)) or (not allowed and status != expected_refusal):
                wrong.append(
                    f"{method} {path} as {subject or 'no one'}: {status} ({'allowed' if allowed else 'denied'})"
                )
    assert wrong == []


def test_the_live_feed_lets_in_whom_the_table_says(world: dict[str, Any]) -> None:
    client: TestClient = world["client"]
    rule = permissions.PERMISSIONS[("WS", "/ws/events")]
    assert rule not in (permissions.ANYONE, permissions.SIGNED_IN)
    for subject, token in {None: None, **world["tokens"]}.items():
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        if subject is not None and subject in rule:
            with client.websocket_connect("/ws/events", headers=headers) as ws:
                assert ws.receive_json()["type"] == "hello", subject
        else:
            with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws/events", headers=headers):
                pass
            assert refused.value.code == 1008, subject


def test_a_terminal_moves_and_hears_only_its_own_unit(world: dict[str, Any], client: TestClient) -> None:
    other = create_unit(client, "CE-P2")
    theirs = dispatch(client, create_incident(client)["id"], other["id"])
    terminal = {"Authorization": f"Bearer {world['tokens']['device']}"}
    anonymous: TestClient = world["client"]
    for method, url, body in (
        ("GET", f"/api/incidents/{theirs['incident_id']}", None),
        ("GET", f"/api/incidents/{theirs['incident_id']}/route?unit_id={world['params']['unit_id']}", None),
        ("GET", f"/api/units/{other['id']}", None),
        ("POST", f"/api/dispatches/{theirs['id']}/acknowledge", {}),
        ("GET", f"/api/dispatches/{theirs['id']}", None),
        ("PUT", f"/api/units/{other['id']}/position", {"lon": -122.67, "lat": 45.52}),
        ("PUT", f"/api/units/{other['id']}/duty", {"on_duty": False}),
    ):
        refused = anonymous.request(method, url, json=body, headers=terminal)
        assert refused.status_code == 404, (url, refused.text)  # as if it did not exist: nothing leaks
    assert anonymous.get(f"/api/dispatches?unit_id={other['id']}", headers=terminal).json() == []
    mine_incident = anonymous.get(f"/api/incidents/{world['params']['incident_id']}", headers=terminal)
    assert mine_incident.status_code == 200  # the one it was sent to
    mine = anonymous.get("/api/dispatches", headers=terminal).json()
    assert [o["id"] for o in mine] == [world["params"]["dispatch_id"]]
    with (
        pytest.raises(WebSocketDisconnect) as refused_feed,
        anonymous.websocket_connect(f"/ws/events?unit_id={other['id']}", headers=terminal),
    ):
        pass
    assert refused_feed.value.code == 1008
    assert client.get(f"/api/dispatches/{theirs['id']}").json()["status"] == "ordered"


def valid_bodies(params: dict[str, Any], merge_into: int) -> dict[tuple[str, str], dict[str, Any]]:
    """Bodies that pass validation, so that a refusal from the scope (404) is what an outsider meets, not a 422."""
    return {
        ("POST", "/api/incidents/{incident_id}/reveal"): {"fields": ["caller_phone"], "reason": "call back"},
        ("POST", "/api/incidents/{incident_id}/merge"): {"into_incident_id": merge_into},
        ("POST", "/api/incidents/{incident_id}/dispatches"): {"unit_id": params["unit_id"]},
        ("POST", "/api/dispatches/{dispatch_id}/feedback"): {"outcome_code": "mediated"},
        ("PUT", "/api/units/{unit_id}/duty"): {"on_duty": True},
        ("PUT", "/api/units/{unit_id}/position"): {"lon": DOWNTOWN[0], "lat": DOWNTOWN[1]},
    }


QUERIES = {("GET", "/api/incidents/{incident_id}/route"): "?unit_id={unit_id}"}
# Path parameters that name a record kept per org: to an outsider such a record does not exist.
SCOPED = ("{incident_id}", "{dispatch_id}", "{unit_id}", "{grant_id}")
LISTS = {
    "/api/incidents": "incident_id",
    "/api/dispatches": "dispatch_id",
    "/api/units": "unit_id",
    "/api/grants": "grant_id",
}


def test_every_route_keeps_to_the_callers_org(
    world: dict[str, Any], client: TestClient, db: Database, settings: Settings
) -> None:
    """Every role of the station's own precinct (inside) and of another precinct (outside), on every route the table
    lets it call: outside, a record of the inside org is not found (404, so its existence does not leak) and no list
    shows it; inside, it is there."""
    params = world["params"]
    bodies = valid_bodies(params, merge_into=create_incident(client)["id"])
    tokens = {
        where: {
            role: bearer_token(db, settings, system=f"{where}-{role.replace('_', '-')}", role=role, org=org)
            for role in ROLES
        }
        for where, org in (("outside", "PDX-NO"), ("inside", "PDX-CE"))
    }
    anonymous: TestClient = world["client"]
    wrong: list[str] = []
    for method, path in routes(client):
        rule = permissions.PERMISSIONS[(method, path)]
        if rule in (permissions.ANYONE, permissions.SIGNED_IN) or path.startswith("/api/auth"):
            continue
        url = (path + QUERIES.get((method, path), "")).format(**params)
        body = bodies.get((method, path), {}) if method in ("POST", "PUT") else None
        for role in ROLES:
            if role not in rule:
                continue
            answers = {}
            for where, of_role in tokens.items():  # outside first: its requests change nothing
                headers = {"Authorization": f"Bearer {of_role[role]}"}
                answers[where] = anonymous.request(method, url, json=body, headers=headers)
            if any(name in path for name in SCOPED):
                if answers["outside"].status_code != 404:
                    wrong.append(f"{method} {path} as {role} from outside: {answers['outside'].status_code}")
                if answers["inside"].status_code == 404:
                    wrong.append(f"{method} {path} as {role} from inside: 404 {answers['inside'].text}")
            elif method == "GET" and path in LISTS:
                record = params[LISTS[path]]
                for where, listed in answers.items():
                    seen = record in {item["id"] for item in listed.json()}
                    if seen != (where == "inside"):
                        wrong.append(
                            f"{method} {path} as {role} from {where}: {'lists' if seen else 'misses'} {record}"
                        )
    assert wrong == []
