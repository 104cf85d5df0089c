"""Importing grids: the Portland tree, any CRS, and every bad feature reported by its index."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.conftest import DISTRICTS, need_data
from typer.testing import CliRunner

from precinct.cli.main import app as cli
from precinct.domains.orgs import service as orgs
from precinct.platform.errors import InvalidInput


def _square(x: float, y: float, size: float = 0.01) -> list[list[float]]:
    return [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]


def _geojson(path: Path, rings: list[list[list[float]]], codes: list[str]) -> Path:
    features = [
        {
            "type": "Feature",
            "properties": {"code": code, "station": "S1"},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }
        for ring, code in zip(rings, codes, strict=True)
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def test_the_portland_tree_is_city_precincts_districts(empty_database_url: str, monkeypatch) -> None:
    need_data(DISTRICTS)
    monkeypatch.setenv("PRECINCT_DATABASE_URL", empty_database_url)
    runner = CliRunner()
    args = ["import", "grids", str(DISTRICTS), "--code-field", "DISTRICT", "--group-field", "PRECINCT", "--root", "PDX"]
    refused = runner.invoke(cli, args)
    assert refused.exit_code == 1
    assert "feature 26: ring self-intersection" in refused.output
    assert "feature 34: ring self-intersection" in refused.output

    result = runner.invoke(cli, [*args, "--repair"])
    assert result.exit_code == 0, result.output
    assert "60 grids created" in result.output
    assert "repaired" in result.output
    engine = sa.create_engine(empty_database_url)
    with engine.connect() as conn:
        levels = dict(conn.execute(sa.text("SELECT level, count(*) FROM orgs GROUP BY level")).all())
        grids = conn.execute(sa.text("SELECT count(*) FROM grids")).scalar_one()
    engine.dispose()
    assert levels == {"city": 1, "station": 3}
    assert grids == 60
    again = runner.invoke(cli, [*args, "--repair"])
    assert "0 grids created, 60 updated" in again.output


def test_bad_features_are_reported_by_index_and_nothing_is_written(ctx_factory, tmp_path: Path) -> None:
    bowtie = [[1.0, 1.0], [1.01, 1.01], [1.01, 1.0], [1.0, 1.01], [1.0, 1.0]]
    path = _geojson(tmp_path / "grids.geojson", [_square(0, 0), _square(0.005, 0), bowtie], ["A", "B", "C"])
    options = orgs.GridImportOptions(code_field="code", group_field="station", root_code="T")
    with pytest.raises(InvalidInput) as error, ctx_factory() as ctx:
        orgs.import_grids(ctx, path, options)
    problems = error.value.details["problems"]
    assert {(p["feature"], p["kind"]) for p in problems} == {(0, "overlap"), (2, "invalid")}
    assert next(p["other_feature"] for p in problems if p["kind"] == "overlap") == 1
    assert "self-intersection" in next(p["message"] for p in problems if p["feature"] == 2)
    with ctx_factory() as ctx:
        assert [o.code for o in orgs.list_orgs(ctx) if o.code.startswith("T")] == []


def test_skip_invalid_imports_the_rest(ctx_factory, tmp_path: Path) -> None:
    bowtie = [[1.0, 1.0], [1.01, 1.01], [1.01, 1.0], [1.0, 1.01], [1.0, 1.0]]
    path = _geojson(tmp_path / "grids.geojson", [_square(0, 0), bowtie], ["A", "B"])
    options = orgs.GridImportOptions(code_field="code", group_field="station", root_code="T", skip_invalid=True)
    with ctx_factory() as ctx:
        report = orgs.import_grids(ctx, path, options)
        assert report.created == 1
        assert [p["feature"] for p in report.problems] == [1]
        place = orgs.locate(ctx, 0.005, 0.005)
        assert place is not None
        assert orgs.get_org(ctx, place.org_id).code == "T-S1"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01garbage", "grids.geojson"),
        (b'{"type": "FeatureCollection", "features": []}', "grids.geojson"),
        (
            b'{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {"code": "A"}, '
            b'"geometry": {"type": "Point", "coordinates": [0, 0]}}]}',
            "grids.geojson",
        ),
    ],
)
def test_malformed_files_are_refused(ctx_factory, tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "grids.geojson"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message), ctx_factory() as ctx:
        orgs.import_grids(ctx, path, orgs.GridImportOptions(code_field="code", station_code="PDX-CE"))


def test_a_missing_code_or_a_repeated_code_is_refused(ctx_factory, tmp_path: Path) -> None:
    path = _geojson(tmp_path / "grids.geojson", [_square(0, 0), _square(1, 1)], ["A", "A"])
    with pytest.raises(InvalidInput, match="repeat"), ctx_factory() as ctx:
        orgs.import_grids(ctx, path, orgs.GridImportOptions(code_field="code", station_code="PDX-CE"))
    with pytest.raises(InvalidInput, match="no value for nope"), ctx_factory() as ctx:
        orgs.import_grids(ctx, path, orgs.GridImportOptions(code_field="nope", station_code="PDX-CE"))
    with pytest.raises(InvalidInput, match="under a station"), ctx_factory() as ctx:
        orgs.import_grids(
            ctx,
            _geojson(tmp_path / "b.geojson", [_square(0, 0)], ["Z"]),
            orgs.GridImportOptions(code_field="code", station_code="PDX"),
        )
