"""KPIs computed from timeline events, over HTTP and from the CLI."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from tests.api.builders import AT_SEA, create_incident, create_unit, dispatch, org_id, step
from tests.conftest import Clock
from typer.testing import CliRunner

from precinct.cli.main import app as cli

PERIOD = {"from": "2026-11-23T00:00:00+00:00", "to": "2026-11-24T00:00:00+00:00"}


def _respond(client: TestClient, clock: Clock, call_sign: str, dispatch_after_s: int, arrive_after_s: int) -> int:
    """One call answered by one unit: ordered and on scene the given seconds after the call was taken."""
    incident = create_incident(client)
    unit = create_unit(client, call_sign)
    clock.advance(dispatch_after_s)
    order = dispatch(client, incident["id"], unit["id"])
    step(client, order["id"], "acknowledge")
    step(client, order["id"], "depart")
    clock.advance(arrive_after_s - dispatch_after_s)
    step(client, order["id"], "arrive")
    clock.advance(600)
    return int(incident["id"])


def test_response_times_and_the_five_minute_rate(client: TestClient, clock: Clock) -> None:
    # Arrivals 120, 240 and 420 s after the call (targets: 300 s for 打架斗殴, priority 2).
    for n, (ordered, arrived) in enumerate([(20, 120), (40, 240), (60, 420)]):
        _respond(client, clock, f"CE-P{n}", ordered, arrived)
    create_incident(client)  # no unit yet: counted, but not in the arrival figures
    order = dispatch(
        client, create_incident(client, lon=AT_SEA[0], lat=AT_SEA[1])["id"], create_unit(client, "U9")["id"]
    )
    clock.advance(90)  # past the 60 s acknowledgement deadline

    report = client.get("/api/kpi", params=PERIOD).json()
    assert report["incidents"] == 5
    assert report["by_priority"] == [{"key": "2", "name": None, "count": 5}]
    assert report["call_to_dispatch"]["count"] == 4
    assert report["call_to_dispatch"]["median_s"] == 30.0  # 0 (the last one), 20, 40, 60
    response = report["response"]
    assert response["clock_start"] == "call"
    assert response["arrivals"]["count"] == 3
    assert response["arrivals"]["median_s"] == 240.0
    assert response["arrivals"]["p90_s"] == 384.0  # numpy's linear percentile of 120, 240, 420
    assert response["within_target"] == 2
    assert abs(response["within_target_share"] - 2 / 3) < 1e-9
    assert report["unacknowledged_orders"] == 1
    assert report["overdue_acknowledgements"] == 1
    assert order["status"] == "ordered"

    from_order = client.get("/api/kpi", params={**PERIOD, "clock_start": "ordered"}).json()["response"]
    assert from_order["arrivals"]["median_s"] == 200.0  # 100, 200, 360

    central = client.get("/api/kpi", params={**PERIOD, "org_id": org_id(client, "PDX-CE")}).json()
    assert central["incidents"] == 4
    assert central["unacknowledged_orders"] == 0
    elsewhere = client.get("/api/kpi", params={**PERIOD, "org_id": org_id(client, "PDX-NO")}).json()
    assert elsewhere["incidents"] == 0
    assert elsewhere["response"]["within_target_share"] is None


def test_bad_kpi_requests(client: TestClient) -> None:
    assert client.get("/api/kpi", params={"from": PERIOD["to"], "to": PERIOD["from"]}).status_code == 422
    naive = client.get("/api/kpi", params={"from": "2026-11-23T00:00:00", "to": "2026-11-24T00:00:00"})
    assert naive.status_code == 422
    assert "time zone" in naive.json()["message"]
    assert client.get("/api/kpi", params={**PERIOD, "clock_start": "lunch"}).status_code == 422
    assert client.get("/api/kpi", params={**PERIOD, "org_id": 4242}).status_code == 404


def test_the_cli_prints_the_same_figures(client: TestClient, clock: Clock, settings, monkeypatch) -> None:
    _respond(client, clock, "CE-P1", 30, 200)
    monkeypatch.setenv("PRECINCT_DATABASE_URL", settings.database_url)
    runner = CliRunner()
    result = runner.invoke(cli, ["kpi", "--from", PERIOD["from"], "--to", PERIOD["to"], "--org", "PDX", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["response"]["arrivals"]["median_s"] == 200.0
    assert report == client.get("/api/kpi", params={**PERIOD, "org_id": org_id(client, "PDX")}).json() | {
        "overdue_acknowledgements": report["overdue_acknowledgements"]
    }
    table = runner.invoke(cli, ["kpi", "--from", PERIOD["from"], "--to", PERIOD["to"]])
    assert table.exit_code == 0
    assert "within target" in table.output
    unknown = runner.invoke(cli, ["kpi", "--from", PERIOD["from"], "--to", PERIOD["to"], "--org", "NOPE"])
    assert unknown.exit_code == 1
    assert "NOPE" in unknown.output
