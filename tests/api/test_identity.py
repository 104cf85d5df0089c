"""Signing in and out, sessions and bearer tokens, lockout and the per-address limit, the CSRF check, and secrets
kept out of the database, the audit trail and the logs (decision 0008)."""

from __future__ import annotations

import hashlib
import logging
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.websockets import WebSocketDisconnect
from tests.api.builders import serving
from tests.conftest import Clock

from precinct.domains.identity import accounts
from precinct.domains.identity import service as identity
from precinct.domains.identity.models import ApiToken, SignInThrottle, User, UserSession
from precinct.domains.units.models import Unit
from precinct.platform.audit import AuditEntry
from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database
from precinct.platform.http import NeedsIO
from precinct.web.app import create_app

PASSWORD = "correct horse battery"
CtxFactory = Callable[[], AbstractContextManager[Ctx]]


def add_user(ctx_factory: CtxFactory, login: str = "alice", role: str = "dispatcher", org: str = "PDX-CE") -> int:
    with ctx_factory() as ctx:
        return accounts.create_user(ctx, login=login, role=role, org_code=org, password=PASSWORD).id


def plain_http(settings: Settings, **changes: Any) -> Settings:
    """Settings for a client that speaks plain HTTP: it would not send back a Secure cookie."""
    return settings.model_copy(update={"cookie_secure": False, **changes})


@pytest.fixture
def web(settings: Settings, db: Database, clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(plain_http(settings), db=db, clock=clock), raise_server_exceptions=False) as client:
        yield client


def sign_in(client: TestClient | httpx.Client, login: str = "alice", password: str = PASSWORD) -> httpx.Response:
    return client.post("/api/auth/sign-in", json={"login": login, "password": password})


def rows(db: Database, model: Any) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(sa.select(model.__table__)))


def cookie_attributes(response: httpx.Response, name: str) -> set[str]:
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return {part.strip().lower() for part in header.split(";")[1:]}


def test_sign_in_sets_http_only_strict_secure_cookies_over_real_http(
    settings: Settings, db: Database, clock: Clock, ctx_factory: CtxFactory
) -> None:
    add_user(ctx_factory)
    with serving(create_app(settings, db=db, clock=clock)) as base_url, httpx.Client(base_url=base_url) as client:
        signed_in = sign_in(client)
        assert signed_in.status_code == 200, signed_in.text
        body = signed_in.json()
        assert (body["login"], body["role"], body["org_code"], body["kind"]) == (
            "alice",
            "dispatcher",
            "PDX-CE",
            "staff",
        )
        assert "password" not in signed_in.text
        assert signed_in.headers["cache-control"] == "no-store"
        session = cookie_attributes(signed_in, "precinct_session")
        assert {"httponly", "samesite=strict", "secure", "path=/"} <= session
        csrf = cookie_attributes(signed_in, "precinct_csrf")
        assert {"samesite=strict", "secure"} <= csrf
        assert "httponly" not in csrf  # the page reads it to send it back as a header
        assert signed_in.cookies["precinct_csrf"] == body["csrf_token"]
        # A Secure cookie is not sent over plain HTTP, so it is sent by hand here.
        token = signed_in.cookies["precinct_session"]
        me = client.get("/api/auth/me", headers={"Cookie": f"precinct_session={token}"})
        assert me.status_code == 200
        assert me.json()["login"] == "alice"
        assert client.get("/api/auth/me").status_code == 401


def test_a_browser_session_from_sign_in_to_sign_out(
    settings: Settings, db: Database, clock: Clock, ctx_factory: CtxFactory
) -> None:
    add_user(ctx_factory)
    app = create_app(plain_http(settings), db=db, clock=clock)
    with serving(app) as base_url, httpx.Client(base_url=base_url) as browser:
        assert sign_in(browser).status_code == 200
        token, csrf = browser.cookies["precinct_session"], browser.cookies["precinct_csrf"]
        me = browser.get("/api/auth/me")
        assert me.status_code == 200, me.text
        assert me.json()["display_name"] == "alice"
        assert "csrf_token" not in me.json()

        refused = browser.post("/api/auth/sign-out")  # the cookie alone: what another site's form could send
        assert refused.status_code == 403
        assert "X-CSRF-Token" in refused.json()["message"]
        assert browser.post("/api/auth/sign-out", headers={"X-CSRF-Token": csrf[:-1] + "x"}).status_code == 403
        assert browser.get("/api/auth/me").status_code == 200  # still signed in

        out = browser.post("/api/auth/sign-out", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200
        assert out.json() == {"ended": True}
        assert "precinct_session" not in browser.cookies
        assert browser.get("/api/auth/me").status_code == 401
        # The old cookie is dead at once: its row is gone, not just forgotten by the browser.
        assert browser.get("/api/auth/me", headers={"Cookie": f"precinct_session={token}"}).status_code == 401
        assert rows(db, UserSession) == []
        assert browser.post("/api/auth/sign-out").json() == {"ended": False}


def test_every_change_made_with_the_session_cookie_needs_the_csrf_token(
    settings: Settings, db: Database, clock: Clock, ctx_factory: CtxFactory
) -> None:
    add_user(ctx_factory)
    with ctx_factory() as ctx:
        unit_id = create_unit_for_tokens(ctx)
        _, bearer = accounts.add_token(ctx, unit_call_sign="CE-T1")
    app = create_app(plain_http(settings), db=db, clock=clock)
    duty = f"/api/units/{unit_id}/duty"
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.put(duty, json={"on_duty": False}).status_code == 401
        csrf = sign_in(client).json()["csrf_token"]
        assert client.put(duty, json={"on_duty": False}).status_code == 403
        assert client.put(duty, json={"on_duty": False}, headers={"X-CSRF-Token": "forged"}).status_code == 403
        assert client.get(f"/api/units/{unit_id}").json()["on_duty"] is True  # refused: nothing changed
        changed = client.put(duty, json={"on_duty": False}, headers={"X-CSRF-Token": csrf})
        assert changed.status_code == 200, changed.text
        assert client.get(f"/api/units/{unit_id}").status_code == 200  # a safe method needs no token
        client.cookies.clear()
        # A bearer token is not sent by a browser on its own, so it needs no CSRF token.
        by_token = client.put(duty, json={"on_duty": True}, headers={"Authorization": f"Bearer {bearer}"})
        assert by_token.status_code == 200, by_token.text
    entries = rows(db, AuditEntry)
    assert [e.actor for e in entries if e.action == "/api/units/{unit_id}/duty"] == ["alice", "device:CE-T1"]


def create_unit_for_tokens(ctx: Ctx, call_sign: str = "CE-T1") -> int:
    from precinct.domains.orgs import service as orgs
    from precinct.domains.units import service as units

    return units.create_unit(
        ctx, call_sign=call_sign, kind="patrol_car", home_org_id=orgs.get_org_by_code(ctx, "PDX-CE").id
    ).id


def test_a_bearer_token_identifies_a_terminal_until_revoked_or_expired(
    web: TestClient, clock: Clock, ctx_factory: CtxFactory, db: Database
) -> None:
    with ctx_factory() as ctx:
        unit = {"id": create_unit_for_tokens(ctx), "call_sign": "CE-T1"}
        unit["home_org_id"] = ctx.session.get(Unit, unit["id"]).home_org_id
        row, token = accounts.add_token(ctx, unit_call_sign=unit["call_sign"])
        _, expiring = accounts.add_token(ctx, system_name="cad-bridge", org_code="PDX", expires_days=1)
    me = web.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert (me.json()["kind"], me.json()["unit_id"], me.json()["org_id"], me.json()["role"]) == (
        "device",
        unit["id"],
        unit["home_org_id"],
        None,
    )
    system = web.get("/api/auth/me", headers={"Authorization": f"Bearer {expiring}"}).json()
    assert (system["kind"], system["login"], system["org_code"]) == ("system", "system:cad-bridge", "PDX")

    prefix = token.split("_")[1]
    for forged in (f"pct_{prefix}_{'A' * 43}", "pct_000000000000_" + token.split("_", 2)[2], "not-a-token", ""):
        assert web.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    stored = {r.id: r for r in rows(db, ApiToken)}
    assert stored[row.id].token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(stored)

    with ctx_factory() as ctx:
        accounts.revoke_token(ctx, row.id)
    assert web.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    clock.advance(86_400)
    assert web.get("/api/auth/me", headers={"Authorization": f"Bearer {expiring}"}).status_code == 401


def test_revoking_a_terminals_token_ends_the_session_it_was_traded_for(
    web: TestClient, ctx_factory: CtxFactory
) -> None:
    with ctx_factory() as ctx:
        create_unit_for_tokens(ctx)
        row, token = accounts.add_token(ctx, unit_call_sign="CE-T1")
        other_row, other = accounts.add_token(ctx, unit_call_sign="CE-T1")
    assert web.post("/api/auth/terminal-sign-in", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    session = {"Cookie": f"precinct_session={web.cookies['precinct_session']}"}
    web.cookies.clear()
    assert web.get("/api/auth/me", headers=session).status_code == 200
    with ctx_factory() as ctx:
        accounts.revoke_token(ctx, other_row.id)
    assert web.get("/api/auth/me", headers=session).status_code == 200  # another token's end is not this one's
    with ctx_factory() as ctx:
        accounts.revoke_token(ctx, row.id)
    assert web.get("/api/auth/me", headers=session).status_code == 401  # the lost terminal is out at once

    with ctx_factory() as ctx:
        accounts.disable_user(ctx, "device:CE-T1")
        _, fresh = accounts.add_token(ctx, unit_call_sign="CE-T1")
    assert web.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 401
    with ctx_factory() as ctx:
        accounts.enable_user(ctx, "device:CE-T1")  # the unit gets its terminal back, with a new token
    assert web.get("/api/auth/me", headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
    assert web.get("/api/auth/me", headers={"Authorization": f"Bearer {other}"}).status_code == 401


def test_a_token_revoked_by_another_process_stops_working_within_the_check_interval(
    settings: Settings, db: Database, clock: Clock, ctx_factory: CtxFactory
) -> None:
    """This process keeps the principals it has authenticated (decision 0012); a revocation committed elsewhere (the
    CLI, another worker) reaches it through the credentials' revision, read at most every ``reference_check_s``."""
    with ctx_factory() as ctx:
        create_unit_for_tokens(ctx)
        row, token = accounts.add_token(ctx, unit_call_sign="CE-T1")
    app = create_app(plain_http(settings, reference_check_s=0.3), db=db, clock=clock)
    bearer = {"Authorization": f"Bearer {token}"}
    with TestClient(app, raise_server_exceptions=False) as web:
        assert web.get("/api/auth/me", headers=bearer).status_code == 200  # known from here on
        with db.engine.begin() as conn:  # as another process would: its own commit, no word to this one
            conn.execute(sa.update(ApiToken).where(ApiToken.id == row.id).values(revoked_at=clock.now))
            raised = conn.execute(
                sa.text("UPDATE reference_revisions SET revision = revision + 1 WHERE name = 'credentials'")
            )
            if raised.rowcount == 0:
                conn.execute(sa.text("INSERT INTO reference_revisions (name, revision) VALUES ('credentials', 1)"))
        time.sleep(0.35)
        assert web.get("/api/auth/me", headers=bearer).status_code == 401


def test_a_known_principal_is_answered_from_memory_and_a_revoked_one_is_not(
    web: TestClient, ctx_factory: CtxFactory
) -> None:
    """Decision 0012: the event loop may authenticate a principal this process already proved (``io=False``, no
    database); anything else must go to a worker thread (``NeedsIO``), a revoked token included."""
    with ctx_factory() as ctx:
        create_unit_for_tokens(ctx)
        row, token = accounts.add_token(ctx, unit_call_sign="CE-T1")
    request = Request(
        {"type": "http", "method": "GET", "headers": [(b"authorization", f"Bearer {token}".encode())], "app": web.app}
    )
    with pytest.raises(NeedsIO):
        identity.authenticate(request, io=False)  # not proved yet
    proved = identity.authenticate(request)
    assert proved is not None
    assert identity.authenticate(request, io=False) == proved
    with ctx_factory() as ctx:
        accounts.revoke_token(ctx, row.id)
    with pytest.raises(NeedsIO):
        identity.authenticate(request, io=False)
    assert identity.authenticate(request) is None


def test_wrong_passwords_lock_the_account_until_the_lock_expires(
    web: TestClient, clock: Clock, settings: Settings, ctx_factory: CtxFactory
) -> None:
    add_user(ctx_factory)
    refusals = [sign_in(web, password="wrong password 1") for _ in range(settings.sign_in_max_failures)]
    assert {r.status_code for r in refusals} == {401}
    locked = sign_in(web)  # the right password, on a locked account
    assert locked.status_code == 401
    assert locked.json() == refusals[0].json()  # the same answer: a lock tells nothing more than a wrong password
    clock.advance(settings.sign_in_lockout_s - 1)
    assert sign_in(web).status_code == 401
    clock.advance(1)
    assert sign_in(web).status_code == 200

    # Failures spread wider than the window do not add up to a lock.
    for _ in range(settings.sign_in_max_failures - 1):
        assert sign_in(web, password="wrong password 2").status_code == 401
    clock.advance(settings.sign_in_failure_window_s)
    assert sign_in(web, password="wrong password 3").status_code == 401
    assert sign_in(web).status_code == 200


def test_an_unknown_login_and_a_wrong_password_get_the_same_answer_in_similar_time(
    web: TestClient, ctx_factory: CtxFactory
) -> None:
    add_user(ctx_factory)
    add_user(ctx_factory, login="bob")  # bob's failures here, so alice's do not lock her out

    def timed(login: str) -> tuple[float, httpx.Response]:
        started = time.perf_counter()
        response = sign_in(web, login=login, password="not the password")
        return time.perf_counter() - started, response

    sign_in(web, login="nobody")  # the dummy hash is made on first use
    unknown = [timed("nobody") for _ in range(3)]
    wrong = [timed("alice") for _ in range(2)] + [timed("bob")]
    assert {r.status_code for _, r in unknown + wrong} == {401}
    assert {r.text for _, r in unknown} == {r.text for _, r in wrong}
    assert unknown[0][1].json()["code"] == "unauthorized"
    # Without the dummy hash an unknown login would answer some ten times faster than a known one.
    assert statistics.median(t for t, _ in unknown) > 0.5 * statistics.median(t for t, _ in wrong)


def test_sign_in_attempts_from_one_address_are_limited(
    settings: Settings, db: Database, clock: Clock, ctx_factory: CtxFactory
) -> None:
    add_user(ctx_factory)
    limited = plain_http(settings, sign_in_address_limit=3, sign_in_address_window_s=60)
    with TestClient(create_app(limited, db=db, clock=clock), raise_server_exceptions=False) as client:
        assert sign_in(client, password="wrong password").status_code == 401
        assert sign_in(client, login="nobody").status_code == 401
        assert sign_in(client).status_code == 200
        refused = sign_in(client)
        assert refused.status_code == 429
        assert refused.json()["details"]["retry_after_s"] == 61
        clock.advance(60)
        assert sign_in(client).status_code == 200


def test_expired_sessions_and_forged_cookies_are_refused(
    settings: Settings, db: Database, clock: Clock, ctx_factory: CtxFactory
) -> None:
    add_user(ctx_factory)
    short = plain_http(settings, session_lifetime_s=3600, session_idle_s=1800)
    with TestClient(create_app(short, db=db, clock=clock), raise_server_exceptions=False) as client:
        csrf = sign_in(client).json()["csrf_token"]
        for _ in range(2):  # used every 25 minutes, it is never idle for 30 ...
            clock.advance(25 * 60)
            assert client.get("/api/auth/me").status_code == 200
        clock.advance(10 * 60 + 1)  # ... yet ends an hour after sign-in
        assert client.get("/api/auth/me").status_code == 401

        sign_in(client)
        clock.advance(30 * 60)
        assert client.get("/api/auth/me").status_code == 401  # idle for 30 minutes

        client.cookies.clear()
        for forged in ("x" * 43, csrf, "x" * 5000):
            assert client.get("/api/auth/me", headers={"Cookie": f"precinct_session={forged}"}).status_code == 401


def test_secrets_are_stored_hashed_and_kept_out_of_the_audit_trail_and_logs(
    web: TestClient, db: Database, ctx_factory: CtxFactory, caplog: pytest.LogCaptureFixture
) -> None:
    add_user(ctx_factory)
    caplog.set_level(logging.DEBUG)
    signed_in = sign_in(web)
    token, csrf = web.cookies["precinct_session"], signed_in.json()["csrf_token"]
    for _ in range(5):
        sign_in(web, password="a wrong guess!")  # locks alice: logged by login, never the password
    assert sign_in(web, login=PASSWORD, password=PASSWORD).status_code == 401  # a password typed as the login
    assert web.post("/api/auth/sign-out", headers={"X-CSRF-Token": csrf}).json() == {"ended": True}

    (user,) = rows(db, User)
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert user.locked_until is not None
    assert rows(db, UserSession) == []
    entries = rows(db, AuditEntry)
    assert [(e.action, e.actor, e.result_id) for e in entries] == [
        ("/api/auth/sign-in", "alice", user.id),  # a sign-in that worked names the user it signed in
        *[("/api/auth/sign-in", "alice", None)] * 5,
        ("/api/auth/sign-in", identity.UNKNOWN_ACTOR, None),
        ("/api/auth/sign-out", "alice", None),
    ]
    written = repr(entries) + caplog.text
    for secret in (PASSWORD, "a wrong guess!", token, csrf):
        assert secret not in written
    assert "alice" in caplog.text  # the lock is logged


def test_a_session_row_holds_only_the_hash_of_its_token(web: TestClient, db: Database, ctx_factory: CtxFactory) -> None:
    add_user(ctx_factory)
    sign_in(web)
    token = web.cookies["precinct_session"]
    (session,) = rows(db, UserSession)
    assert session.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(session)


def test_a_hash_made_with_older_parameters_is_redone_at_sign_in(
    web: TestClient, db: Database, settings: Settings, clock: Clock
) -> None:
    cheap = settings.model_copy(update={"password_hash_memory_kib": 1024, "password_hash_time_cost": 1})
    with db.transaction() as session:
        ctx = Ctx(session=session, settings=cheap, actor="test", clock=clock)
        accounts.create_user(ctx, login="alice", role="analyst", org_code="PDX", password=PASSWORD)
    assert rows(db, User)[0].password_hash.startswith("$argon2id$v=19$m=1024,t=1,")
    assert sign_in(web).status_code == 200
    assert rows(db, User)[0].password_hash.startswith("$argon2id$v=19$m=65536,t=3,")
    assert sign_in(web).status_code == 200


def test_passwords_follow_the_rules(ctx_factory: CtxFactory) -> None:
    from precinct.platform.errors import InvalidInput

    for password, problem in (("short pass", "at least 12"), ("Alice.Smith", "at least 12")):
        with pytest.raises(InvalidInput, match=problem), ctx_factory() as ctx:
            accounts.create_user(ctx, login="alice.smith", role="analyst", org_code="PDX", password=password)
    with pytest.raises(InvalidInput, match="login"), ctx_factory() as ctx:
        accounts.create_user(ctx, login="alice.smith.1", role="analyst", org_code="PDX", password="ALICE.SMITH.1")


def test_the_database_refuses_users_that_do_not_fit_their_kind(db: Database) -> None:
    with db.engine.connect() as conn:
        org = conn.execute(sa.text("SELECT id FROM orgs WHERE code = 'PDX-CE'")).scalar_one()
    now = "'2026-11-23 01:00:00'"
    columns = (
        "kind, login, display_name, role, org_id, unit_id, password_hash, active, failed_sign_ins, created_at, "
        "updated_at"
    )
    bad = {
        "staff without an org": f"'staff', 'a', 'a', 'dispatcher', NULL, NULL, 'h', true, 0, {now}, {now}",
        "staff without a role": f"'staff', 'a', 'a', NULL, {org}, NULL, 'h', true, 0, {now}, {now}",
        "an unknown role": f"'staff', 'a', 'a', 'sheriff', {org}, NULL, 'h', true, 0, {now}, {now}",
        "a device without a unit": f"'device', 'd', 'd', NULL, {org}, NULL, NULL, true, 0, {now}, {now}",
        "a system with a password": f"'system', 's', 's', NULL, {org}, NULL, 'h', true, 0, {now}, {now}",
        "the public in an org": f"'public', 'p', 'p', NULL, {org}, NULL, 'h', true, 0, {now}, {now}",
        "an unknown kind": f"'robot', 'r', 'r', NULL, {org}, NULL, NULL, true, 0, {now}, {now}",
    }
    for what, values in bad.items():
        with db.engine.connect() as conn:
            try:
                conn.execute(sa.text(f"INSERT INTO users ({columns}) VALUES ({values})"))  # noqa: S608
            except sa.exc.IntegrityError:
                continue
        pytest.fail(f"the database accepted {what}")
    fits = f"'public', 'p', 'p', NULL, NULL, NULL, 'h', true, 0, {now}, {now}"
    with db.engine.begin() as conn:  # and a row that fits is taken
        conn.execute(sa.text(f"INSERT INTO users ({columns}) VALUES ({fits})"))  # noqa: S608


def test_dead_sessions_and_past_sign_in_windows_are_pruned(
    web: TestClient, db: Database, clock: Clock, ctx_factory: CtxFactory
) -> None:
    add_user(ctx_factory)
    sign_in(web)
    with ctx_factory() as ctx:
        assert identity.prune_sign_ins(ctx) == 0  # a live session and a current window stay
    assert (len(rows(db, UserSession)), len(rows(db, SignInThrottle))) == (1, 1)
    clock.advance(30 * 60)  # idle for the default 30 minutes; the 5-minute window has long passed
    with ctx_factory() as ctx:
        assert identity.prune_sign_ins(ctx) == 2
    assert (rows(db, UserSession), rows(db, SignInThrottle)) == ([], [])


def test_a_live_feed_opened_with_the_cookie_must_come_from_this_servers_pages(
    web: TestClient, ctx_factory: CtxFactory
) -> None:
    add_user(ctx_factory)
    assert sign_in(web).status_code == 200
    with web.websocket_connect("/ws/events", headers={"Origin": "http://testserver"}) as ws:
        assert ws.receive_json()["type"] == "hello"
    # Another site's page could open it in the same browser, with the cookie, and read the feed.
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        web.websocket_connect("/ws/events", headers={"Origin": "https://elsewhere.example"}),
    ):
        pass
    assert refused.value.code == 1008
