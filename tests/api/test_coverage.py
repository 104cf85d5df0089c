"""1-3-5-minute coverage over HTTP: reach areas as GeoJSON, and each station's covered share of roads, area and
past incidents."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.api.builders import AT_SEA, DOWNTOWN, create_incident, create_unit
from tests.conftest import PORTLAND_ROADS, need_data

from precinct.domains.roads import service as roads
from precinct.platform.db import Database

POST = {"lon": DOWNTOWN[0], "lat": DOWNTOWN[1]}


@pytest.fixture
def with_roads(ctx_factory) -> None:
    need_data(PORTLAND_ROADS)
    with ctx_factory() as ctx:
        roads.import_roads(ctx, PORTLAND_ROADS)


def test_a_post_covers_more_the_longer_the_time(client: TestClient, with_roads: None) -> None:
    near = create_incident(client)  # at the post itself
    far = create_incident(client, lon=-122.70, lat=45.49)  # several km away, same station? any station
    response = client.post("/api/coverage", json={"posts": [POST], "thresholds_s": [60, 180]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert [f["properties"]["threshold_s"] for f in body["features"]] == [60, 180]
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in body["features"])
    one, three = (f["properties"]["reachable_length_m"] for f in body["features"])
    assert 0 < one < three
    central = [s for s in body["stations"] if s["code"] == "PDX-CE"]
    assert [s["threshold_s"] for s in central] == [60, 180]
    for share in ("road_covered_share", "area_covered_share"):
        assert 0 < central[0][share] <= central[1][share] <= 1
    assert central[0]["incidents"] >= 1
    assert central[0]["incidents_covered_share"] > 0  # the call at the post is inside the 1-minute area
    roads_in_station = sum(
        s["road_length_m"] * s["road_covered_share"] for s in body["stations"] if s["threshold_s"] == 60
    )
    assert roads_in_station <= one * 1.001
    assert near["id"] != far["id"]


def test_coverage_runs_beside_a_writing_transaction(client: TestClient, db: Database, with_roads: None) -> None:
    # Coverage only reads: it must not wait for a writer's turn (on SQLite, for the one write lock).
    with db.transaction():
        response = client.post("/api/coverage", json={"posts": [POST], "thresholds_s": [60]})
    assert response.status_code == 200, response.text


def test_coverage_from_the_units_where_they_stand(client: TestClient, with_roads: None) -> None:
    create_unit(client, "A")
    create_unit(client, "NOWHERE", lon=None, lat=None)
    body = client.post("/api/coverage", json={"thresholds_s": [120]}).json()
    assert body["sources"] == 1
    assert body["skipped"] == ["unit NOWHERE has reported no position"]


def test_bad_coverage_requests(client: TestClient, ctx_factory) -> None:
    assert client.post("/api/coverage", json={"posts": [POST]}).status_code == 409  # no road network yet
    need_data(PORTLAND_ROADS)
    with ctx_factory() as ctx:
        roads.import_roads(ctx, PORTLAND_ROADS)
    for thresholds in ([0], [4000], [], [60] * 7):
        assert client.post("/api/coverage", json={"posts": [POST], "thresholds_s": thresholds}).status_code == 422
    at_sea = client.post("/api/coverage", json={"posts": [{"lon": AT_SEA[0], "lat": AT_SEA[1]}]})
    assert at_sea.status_code == 422
    assert "post 0" in at_sea.json()["message"]
    assert client.post("/api/coverage", json={"posts": [{"lon": 200, "lat": 0}]}).status_code == 422
    assert client.post("/api/coverage", json={"posts": [POST], "org_id": 99999}).status_code == 404
