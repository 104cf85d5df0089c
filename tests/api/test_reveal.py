"""Personal data: masked in every answer, shown unmasked only to a signed-in role whose work needs it, with a reason,
and every reveal in the audit trail (the reason, never the value)."""

from __future__ import annotations

import typing
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.api.builders import create_incident
from tests.conftest import Clock

from precinct.core.privacy import PERSONAL_FIELDS
from precinct.domains.identity import accounts
from precinct.domains.incidents.schemas import PersonalField
from precinct.platform.config import Settings
from precinct.platform.db import Database
from precinct.web.app import create_app

PASSWORD = "correct horse battery"


@pytest.fixture
def web(settings: Settings, db: Database, clock: Clock, ctx_factory) -> Iterator[TestClient]:
    with ctx_factory() as ctx:
        for login, role in (("disp", "dispatcher"), ("grid", "grid_worker")):
            accounts.create_user(ctx, login=login, role=role, org_code="PDX-CE", password=PASSWORD)
    plain = settings.model_copy(update={"cookie_secure": False})  # the test client speaks plain HTTP
    with TestClient(create_app(plain, db=db, clock=clock), raise_server_exceptions=False) as client:
        yield client


def signed_in(client: TestClient, login: str) -> dict[str, str]:
    response = client.post("/api/auth/sign-in", json={"login": login, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


def test_a_dispatcher_sees_the_callers_details_with_a_reason_and_the_trail_keeps_it(
    web: TestClient, db: Database
) -> None:
    csrf = signed_in(web, "disp")
    web.headers.update(csrf)
    incident = create_incident(web)
    assert (incident["caller_name"], incident["caller_phone"]) == ("张**", "138****5678")
    body = {"fields": ["caller_phone", "caller_name"], "reason": "回拨报警人核实地址"}
    shown = web.post(f"/api/incidents/{incident['id']}/reveal", json=body, headers=csrf)
    assert shown.status_code == 200, shown.text
    assert shown.json()["values"] == {"caller_phone": "13812345678", "caller_name": "张三丰"}
    assert web.get(f"/api/incidents/{incident['id']}").json()["caller_phone"] == "138****5678"  # still masked

    with db.engine.connect() as conn:
        reveals = conn.execute(
            sa.text("SELECT actor, subject, field, reason FROM audit_log WHERE kind = 'reveal' ORDER BY id")
        ).all()
        everything = " ".join(str(v) for row in conn.execute(sa.text("SELECT * FROM audit_log")) for v in row)
    subject = f"incident:{incident['id']}"
    assert [tuple(r) for r in reveals] == [
        ("disp", subject, "caller_phone", "回拨报警人核实地址"),
        ("disp", subject, "caller_name", "回拨报警人核实地址"),
    ]
    assert "13812345678" not in everything


def test_a_reveal_is_refused_without_sign_in_a_fitting_role_a_reason_or_the_csrf_token(web: TestClient) -> None:
    incident = create_incident(web, headers=signed_in(web, "disp"))
    web.cookies.clear()
    path = f"/api/incidents/{incident['id']}/reveal"
    body = {"fields": ["caller_phone"], "reason": "回访"}
    assert web.post(path, json=body).status_code == 401

    csrf = signed_in(web, "grid")  # a grid worker never needs a caller's number
    refused = web.post(path, json=body, headers=csrf)
    assert refused.status_code == 403
    assert "grid_worker" in refused.json()["message"]

    csrf = signed_in(web, "disp")
    assert web.post(path, json=body).status_code == 403  # the cookie alone: no CSRF token
    for bad in ({"fields": ["caller_phone"], "reason": ""}, {"fields": ["narrative"], "reason": "x"}, {"fields": []}):
        assert web.post(path, json={"reason": "x", **bad}, headers=csrf).status_code == 422, bad
    assert web.post("/api/incidents/999999/reveal", json=body, headers=csrf).status_code == 404


def test_the_api_knows_the_same_personal_fields_as_the_registry() -> None:
    assert set(typing.get_args(PersonalField)) == set(PERSONAL_FIELDS["incident"])
