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


def test_building_a_chinese_tree_from_the_cli(empty_database_url: str, monkeypatch) -> None:
    monkeypatch.setenv("PRECINCT_DATABASE_URL", empty_database_url)
    runner = CliRunner()
    steps = [
        ["orgs", "add", "370800", "--name", "济宁市公安局", "--level", "city", "--division-code", "370800"],
        [
            "orgs",
            "add",
            "370811",
            "--name",
            "任城分局",
            "--level",
            "county",
            "--parent",
            "370800",
            "--division-code",
            "370811",
        ],
        ["orgs", "add", "370811-01", "--name", "古槐派出所", "--level", "station", "--parent", "370811"],
    ]
    for args in steps:
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
    tree = runner.invoke(cli, ["orgs", "list"])
    assert tree.output.splitlines() == [
        "370800 济宁市公安局 (city) [370800]",
        "  370811 任城分局 (county) [370811]",
        "    370811-01 古槐派出所 (station)",
    ]
    upside_down = runner.invoke(cli, ["orgs", "add", "X", "--name", "x", "--level", "county", "--parent", "370811-01"])
    assert upside_down.exit_code == 1
    assert "cannot sit under a station" in upside_down.output
    bad_code = runner.invoke(cli, ["orgs", "add", "Y", "--name", "y", "--level", "city", "--division-code", "37"])
    assert "6, 9 or 12 digits" in bad_code.output


def test_importing_roads_from_the_cli(empty_database_url: str, graph_cache, monkeypatch, tmp_path) -> None:
    from tests.conftest import PORTLAND_ROADS, need_data

    monkeypatch.setenv("PRECINCT_DATABASE_URL", empty_database_url)
    monkeypatch.setenv("PRECINCT_CACHE_DIR", str(graph_cache))
    runner = CliRunner()
    garbage = tmp_path / "city.osm.pbf"
    garbage.write_bytes(b"\x00\x00\x00\x0dnot a protobuf at all")
    refused = runner.invoke(cli, ["import", "roads", str(garbage)])
    assert refused.exit_code == 1
    assert "city.osm.pbf" in refused.output
    need_data(PORTLAND_ROADS)
    result = runner.invoke(cli, ["import", "roads", str(PORTLAND_ROADS), "--name", "Portland central"])
    assert result.exit_code == 0, result.output
    assert "road network Portland central" in result.output
