"""The CLI takes calls and registers units against the same database as the API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from precinct.cli.main import app as cli


def test_taking_a_call_and_adding_a_unit_from_the_cli(client: TestClient, settings, monkeypatch) -> None:
    monkeypatch.setenv("PRECINCT_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    args = [
        "incidents",
        "create",
        "--type",
        "01020100",
        "--lon",
        "-122.6765",
        "--lat",
        "45.5231",
        "--idempotency-key",
        "cli-call-0001",
    ]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "created" in first.output
    again = runner.invoke(cli, args)
    assert "already existed" in again.output
    assert len(client.get("/api/incidents").json()) == 1
    assert client.get("/api/incidents").json()[0]["created_by"].startswith("cli:")

    bad = runner.invoke(cli, ["incidents", "create", "--type", "01020100", "--lon", "500", "--lat", "1"])
    assert bad.exit_code == 2
    assert "lon" in bad.output

    unit = runner.invoke(
        cli, ["units", "add", "CE-P7", "--kind", "traffic", "--org", "PDX-CE", "--capability", "traffic"]
    )
    assert unit.exit_code == 0, unit.output
    assert client.get("/api/units").json()[0]["capabilities"] == ["traffic"]
    unknown = runner.invoke(cli, ["units", "add", "CE-P8", "--kind", "traffic", "--org", "NOWHERE"])
    assert unknown.exit_code == 1
    assert "NOWHERE" in unknown.output
