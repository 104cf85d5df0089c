"""precinct users: adding staff with a password from a file, listing, changing a password, disabling, and bearer
tokens for terminals and systems, each command audited without its secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from tests.api.builders import create_unit
from typer.testing import CliRunner

from precinct.cli.main import app as cli
from precinct.platform.audit import AuditEntry
from precinct.platform.config import Settings
from precinct.platform.db import Database

PASSWORD = "a long enough secret"
TOKEN = re.compile(r"pct_[0-9a-f]{12}_\S+")


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("PRECINCT_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("COLUMNS", "200")
    return CliRunner()


def password_file(tmp_path: Path, password: str) -> str:
    path = tmp_path / f"password-{len(password)}"
    path.write_text(password + "\n", encoding="utf-8")
    return str(path)


def sign_in(client: TestClient, login: str, password: str) -> int:
    return client.post("/api/auth/sign-in", json={"login": login, "password": password}).status_code


def test_adding_a_user_changing_the_password_and_disabling_them(
    runner: CliRunner, client: TestClient, db: Database, tmp_path: Path
) -> None:
    who = ["users", "add", "Zhang.Wei", "--role", "dispatcher", "--org", "PDX-CE", "--name", "张伟"]
    added = runner.invoke(cli, [*who, "--password-file", password_file(tmp_path, PASSWORD)])
    assert added.exit_code == 0, added.output
    assert "zhang.wei (dispatcher at PDX-CE) added" in added.output
    assert sign_in(client, "zhang.wei", PASSWORD) == 200

    listed = runner.invoke(cli, ["users", "list"])
    assert listed.exit_code == 0, listed.output
    assert re.search(r"zhang\.wei\s.*张伟.*staff.*dispatcher.*PDX-CE.*active", listed.output)

    again = runner.invoke(
        cli,
        [
            "users",
            "add",
            "zhang.wei",
            "--role",
            "analyst",
            "--org",
            "PDX",
            "--password-file",
            password_file(tmp_path, PASSWORD),
        ],
    )
    assert again.exit_code == 1
    assert "already exists" in again.output
    short = runner.invoke(
        cli,
        [
            "users",
            "add",
            "li.na",
            "--role",
            "analyst",
            "--org",
            "PDX",
            "--password-file",
            password_file(tmp_path, "short"),
        ],
    )
    assert short.exit_code == 1
    assert "at least 12" in short.output
    prompted = runner.invoke(
        cli, ["users", "add", "li.na", "--role", "mediator", "--org", "PDX-CE"], input=f"{PASSWORD}x\n{PASSWORD}x\n"
    )
    assert prompted.exit_code == 0, prompted.output
    assert PASSWORD not in prompted.output  # the prompt does not echo it
    assert sign_in(client, "li.na", PASSWORD + "x") == 200

    new_password = "another long secret"
    changed = runner.invoke(
        cli, ["users", "password", "zhang.wei", "--password-file", password_file(tmp_path, new_password)]
    )
    assert changed.exit_code == 0, changed.output
    assert sign_in(client, "zhang.wei", PASSWORD) == 401
    assert sign_in(client, "zhang.wei", new_password) == 200

    disabled = runner.invoke(cli, ["users", "disable", "zhang.wei"])
    assert disabled.exit_code == 0, disabled.output
    assert sign_in(client, "zhang.wei", new_password) == 401
    assert re.search(r"zhang\.wei\s.*disabled", runner.invoke(cli, ["users", "list"]).output)
    assert runner.invoke(cli, ["users", "disable", "nobody"]).exit_code == 1

    with db.engine.connect() as conn:
        entries = list(conn.execute(sa.select(AuditEntry.__table__).order_by(AuditEntry.id)))
    commands = [e.action for e in entries if e.actor.startswith("cli:")]
    assert commands == ["precinct users add", "precinct users add", "precinct users password", "precinct users disable"]
    assert PASSWORD not in repr(entries)
    assert new_password not in repr(entries)


def test_tokens_for_a_terminal_and_a_system_work_until_revoked(runner: CliRunner, client: TestClient) -> None:
    unit = create_unit(client, "CE-P1")
    made = runner.invoke(cli, ["users", "token", "add", "--unit", "CE-P1"])
    assert made.exit_code == 0, made.output
    assert "shown this once" in made.output
    token = TOKEN.search(made.output)
    assert token is not None, made.output
    bearer = {"Authorization": f"Bearer {token.group()}"}
    me = client.get("/api/auth/me", headers=bearer)
    assert me.status_code == 200, me.text
    assert (me.json()["login"], me.json()["unit_id"]) == ("device:CE-P1", unit["id"])

    system = runner.invoke(
        cli, ["users", "token", "add", "--system", "cad-bridge", "--org", "PDX", "--expires-days", "30"]
    )
    assert system.exit_code == 0, system.output
    system_token = TOKEN.search(system.output)
    assert system_token is not None
    assert client.get("/api/auth/me", headers={"Authorization": f"Bearer {system_token.group()}"}).json()["kind"] == (
        "system"
    )

    listed = runner.invoke(cli, ["users", "list"])
    assert token.group() not in listed.output  # listed by id and prefix, never the token
    assert re.search(r"device:CE-P1.*valid", listed.output)
    token_id = re.search(r"token (\d+) for device:CE-P1", made.output)
    assert token_id is not None
    revoked = runner.invoke(cli, ["users", "token", "revoke", token_id.group(1)])
    assert revoked.exit_code == 0, revoked.output
    assert client.get("/api/auth/me", headers=bearer).status_code == 401
    assert re.search(r"device:CE-P1.*revoked", runner.invoke(cli, ["users", "list"]).output)
    # A lost terminal is disabled by its login as listed (the call sign keeps its case), and enabled again.
    second = TOKEN.search(runner.invoke(cli, ["users", "token", "add", "--unit", "CE-P1"]).output)
    assert second is not None
    fresh = {"Authorization": f"Bearer {second.group()}"}
    disabled = runner.invoke(cli, ["users", "disable", "device:CE-P1"])
    assert disabled.exit_code == 0, disabled.output
    assert client.get("/api/auth/me", headers=fresh).status_code == 401
    enabled = runner.invoke(cli, ["users", "enable", "device:CE-P1"])
    assert enabled.exit_code == 0, enabled.output
    assert client.get("/api/auth/me", headers=fresh).status_code == 200

    assert runner.invoke(cli, ["users", "token", "add"]).exit_code == 2
    assert runner.invoke(cli, ["users", "token", "add", "--unit", "CE-P1", "--system", "x"]).exit_code == 2
    assert (
        runner.invoke(cli, ["users", "token", "add", "--system", "new-one"]).exit_code == 1
    )  # a new system needs --org
    assert runner.invoke(cli, ["users", "token", "add", "--unit", "NOWHERE"]).exit_code == 1
    assert runner.invoke(cli, ["users", "token", "revoke", "999"]).exit_code == 1
