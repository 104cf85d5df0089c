"""The road network over HTTP: what it is, and its roads as lines for the maps."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable, Iterator

import httpx
import numpy as np
from fastapi.testclient import TestClient
from tests.api.builders import serving
from tests.conftest import PORTLAND_ROADS, auth_headers, need_data

from precinct.domains.roads import service as roads
from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database
from precinct.web.app import create_app


def test_the_roads_come_as_gzipped_geojson_lines(
    client: TestClient, ctx_factory: Callable[[], Iterator[Ctx]], settings: Settings, db: Database
) -> None:
    need_data(PORTLAND_ROADS)
    with ctx_factory() as ctx:
        roads.import_roads(ctx, PORTLAND_ROADS, name="Portland central")
        _, graph = roads.active_graph(ctx)
    network = client.get("/api/roads").json()
    assert network["name"] == "Portland central"
    west, south, east, north = network["bounds"]
    assert -122.8 < west < east < -122.5
    assert 45.4 < south < north < 45.7

    # Over real HTTP, to see the bytes and headers a browser gets.
    headers = auth_headers(db, settings)
    with (
        serving(create_app(settings, db=db)) as url,
        httpx.stream("GET", f"{url}/api/roads/lines.geojson", headers=headers) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/geo+json"
        assert response.headers["content-encoding"] == "gzip"
        body = b"".join(response.iter_raw())
    lines = json.loads(gzip.decompress(body))["features"][0]["geometry"]["coordinates"]
    segments = sum(len(line) - 1 for line in lines)
    edge = np.arange(graph.edge_count)
    assert segments == int(((graph.reverse_edge < 0) | (edge < graph.reverse_edge)).sum())


def test_without_a_road_network_the_map_hears_why(client: TestClient) -> None:
    for path in ("/api/roads", "/api/roads/lines.geojson"):
        response = client.get(path)
        assert response.status_code == 409
        assert "import roads" in response.json()["message"]
