"""Every request that writes leaves one audit entry in its own transaction, naming who, what, when, from where and
the request id it echoes; reads and refused requests leave none; writing commands leave one too."""

from __future__ import annotations

import getpass
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.api.builders import call, create_incident, create_unit, dispatch
from tests.conftest import Clock
from typer.testing import CliRunner

from precinct.cli.main import app as cli
from precinct.platform.audit import AuditEntry
from precinct.platform.db import Database


def entries(db: Database) -> list[Any]:
    with db.engine.connect() as conn:
        return list(conn.execute(sa.select(AuditEntry.__table__).order_by(AuditEntry.id)))


def test_a_write_leaves_one_entry_with_who_what_when_where_and_the_request_id(
    client: TestClient, db: Database, clock: Clock
) -> None:
    taken = client.post("/api/incidents", json=call(), headers={"X-Actor": "forged", "X-Request-ID": "call-0042-abc"})
    assert taken.status_code == 201, taken.text
    assert taken.headers["X-Request-ID"] == "call-0042-abc"
    (entry,) = entries(db)
    assert entry.kind == "write"
    assert entry.actor == "system:tests"  # who signed in (the client's token), never what a header claims
    assert entry.at == clock.now
    assert (entry.method, entry.action, entry.path_params) == ("POST", "/api/incidents", None)
    assert entry.result_id == taken.json()["id"]  # what was acted on: the incident the call created
    assert entry.request_id == "call-0042-abc"
    assert entry.client_address == "testclient"
    assert entry.subject is None
    assert entry.reason is None
    # No body reaches the trail: the caller's name and number stay in the incident alone.
    assert "张三丰" not in repr(entry)
    assert "13812345678" not in repr(entry)

    unit = create_unit(client)
    order = dispatch(client, taken.json()["id"], unit["id"])
    last = entries(db)[-1]
    assert (last.method, last.action) == ("POST", "/api/incidents/{incident_id}/dispatches")
    assert last.path_params == {"incident_id": str(taken.json()["id"])}
    assert last.result_id == order["id"]
    assert len(entries(db)) == 3  # the call, the unit, the order


def test_every_response_carries_a_request_id_and_a_malformed_one_is_replaced(client: TestClient, db: Database) -> None:
    created = client.post("/api/incidents", json=call())
    generated = created.headers["X-Request-ID"]
    assert len(generated) == 32
    assert int(generated, 16) >= 0
    assert entries(db)[-1].request_id == generated

    replaced = client.post("/api/incidents", json=call(), headers={"X-Request-ID": "not ok; DROP TABLE"})
    assert replaced.headers["X-Request-ID"] not in ("not ok; DROP TABLE", generated)
    assert entries(db)[-1].request_id == replaced.headers["X-Request-ID"]

    assert client.get("/api/incidents", headers={"X-Request-ID": "read-00000001"}).headers["X-Request-ID"] == (
        "read-00000001"
    )
    assert "X-Request-ID" in client.get("/api/incidents/999999").headers  # a 404
    too_large = client.post("/api/incidents", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
    assert too_large.status_code == 413
    assert "X-Request-ID" in too_large.headers


def test_reads_and_refused_writes_leave_no_entry(client: TestClient, db: Database) -> None:
    incident = create_incident(client)
    before = len(entries(db))
    assert client.get("/api/incidents").status_code == 200
    assert client.get(f"/api/incidents/{incident['id']}/history").status_code == 200
    assert client.post("/api/incidents/999999/dispatches", json={"unit_id": 1}).status_code == 404
    assert client.post("/api/incidents", json=call(lon=500)).status_code == 422  # refused before the route
    closed = client.post(f"/api/incidents/{incident['id']}/close", json={"reason": "handled on the phone"})
    assert closed.status_code == 200
    again = client.post(f"/api/incidents/{incident['id']}/close", json={"reason": "twice"})
    assert again.status_code == 409  # raised inside the transaction: it rolled back, entry and all
    assert [e.action for e in entries(db)[before:]] == ["/api/incidents/{incident_id}/close"]


def test_the_entry_is_one_insert_more_per_call(client: TestClient, db: Database) -> None:
    """POST /api/incidents over HTTP costs the service's statements (tests/api/test_incidents.py) and the audit
    entry: no lookup of the chain, no lock, and no lookup of who is asking once this process knows the token
    (decision 0012)."""
    create_incident(client)  # the catalogue and jurisdiction caches are warm from here on
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.startswith("BEGIN"):
            statements.append(" ".join(statement.split()))

    for engine in db.engines:  # the request's transaction runs on the event loop's on PostgreSQL
        sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        taken = client.post("/api/incidents", json=call(), headers={"Idempotency-Key": "call-statements-1"})
        assert taken.status_code == 201
    finally:
        for engine in db.engines:
            sa.event.remove(engine, "before_cursor_execute", seen)
    if db.backend == "postgresql":  # the appended rows in one statement: the audit entry is its last INSERT
        assert [s.split()[0] for s in statements] == ["WITH", "WITH"]
        assert statements[-1].rpartition(") INSERT INTO ")[2].startswith("audit_log ")
    else:
        assert [s.split()[0] for s in statements] == ["SELECT", *["INSERT"] * 6]
        assert statements[-1].startswith("INSERT INTO audit_log ")


def test_a_writing_command_leaves_an_entry_and_a_reading_one_none(settings: Any, db: Database, monkeypatch) -> None:
    monkeypatch.setenv("PRECINCT_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    created = runner.invoke(
        cli, ["incidents", "create", "--type", "01020100", "--lon", "-122.6765", "--lat", "45.5231"]
    )
    assert created.exit_code == 0, created.output
    assert runner.invoke(cli, ["orgs", "list"]).exit_code == 0
    refused = runner.invoke(cli, ["units", "add", "CE-P8", "--kind", "traffic", "--org", "NOWHERE"])
    assert refused.exit_code == 1
    (entry,) = entries(db)
    assert entry.actor == f"cli:{getpass.getuser()}"
    assert (entry.kind, entry.action, entry.method) == ("write", "precinct incidents create", None)
    assert entry.client_address  # the host the command ran on

    shown = runner.invoke(cli, ["audit", "show", "--actor", entry.actor, "--json"])
    assert shown.exit_code == 0, shown.output
    assert '"action": "precinct incidents create"' in shown.output
    assert runner.invoke(cli, ["audit", "show", "--actor", "nobody", "--json"]).output.strip() == ""
    monkeypatch.setenv("COLUMNS", "200")
    table = runner.invoke(cli, ["audit", "show", "--since", "2000-01-01T00:00"])
    assert table.exit_code == 0
    assert "incidents create" in table.output
