"""Choosing units by road: the ranking, the run card, what cannot be ranked and why, and sending the best."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from tests.api.builders import AT_SEA, create_incident, create_unit, dispatch, step
from tests.conftest import PORTLAND_ROADS, need_data

from precinct.domains.roads import service as roads
from precinct.platform.context import Ctx

NEAR = (-122.6740, 45.5240)  # a few blocks from DOWNTOWN
FAR = (-122.6500, 45.5300)  # across the river


@pytest.fixture
def with_roads(ctx_factory: Callable[[], Iterator[Ctx]]) -> None:
    need_data(PORTLAND_ROADS)
    with ctx_factory() as ctx:
        roads.import_roads(ctx, PORTLAND_ROADS, name="Portland central")


def _recommend(client: TestClient, incident_id: int, **params: int) -> dict:
    response = client.get(f"/api/incidents/{incident_id}/recommendations", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_units_are_ranked_by_road_eta_with_reasons(client: TestClient, with_roads: None) -> None:
    near = create_unit(client, "NEAR", lon=NEAR[0], lat=NEAR[1])
    far = create_unit(client, "FAR", lon=FAR[0], lat=FAR[1])
    create_unit(client, "RESTING", lon=NEAR[0], lat=NEAR[1], on_duty=False)
    create_unit(client, "NOWHERE", lon=None, lat=None)
    create_unit(client, "ELSEWHERE", lon=-122.80, lat=45.60)
    incident = create_incident(client)
    found = _recommend(client, incident["id"])
    assert [u["call_sign"] for u in found["units"]] == ["NEAR", "FAR"]
    first, second = found["units"]
    assert 0 < first["eta_s"] < second["eta_s"]
    assert first["distance_m"] > 0
    assert first["reasons"][0].startswith("ETA ")
    skipped = {s["call_sign"]: s["reason"] for s in found["skipped"]}
    assert set(skipped) == {"NOWHERE", "ELSEWHERE"}
    assert "no position" in skipped["NOWHERE"]
    assert "outside the road network" in skipped["ELSEWHERE"]

    # The route a dispatcher sees takes exactly the recommended time.
    route = client.get(f"/api/incidents/{incident['id']}/route", params={"unit_id": near["id"]}).json()
    assert route["geometry"]["type"] == "LineString"
    assert route["properties"]["eta_s"] == pytest.approx(first["eta_s"], abs=0.2)
    assert far["id"] != near["id"]


def test_the_run_card_asks_for_a_traffic_unit_at_an_accident(client: TestClient, with_roads: None) -> None:
    create_unit(client, "PATROL", lon=NEAR[0], lat=NEAR[1])
    create_unit(client, "TRAFFIC", kind="traffic", capabilities=["traffic"], lon=FAR[0], lat=FAR[1])
    accident = create_incident(client, type_code="01050100")  # 伤人交通事故: one traffic and one patrol unit
    found = _recommend(client, accident["id"])
    assert found["run_card"] == [{"capability": "traffic", "count": 1}, {"capability": "patrol", "count": 1}]
    by_sign = {u["call_sign"]: u for u in found["units"]}
    assert by_sign["PATROL"]["proposed"]
    assert by_sign["TRAFFIC"]["proposed"]
    assert by_sign["TRAFFIC"]["fills"] == "traffic"

    sent = client.post(f"/api/incidents/{accident['id']}/dispatch-recommended", json={"all_proposed": True})
    assert sent.status_code == 201
    assert sorted(o["unit_id"] for o in sent.json()) == sorted(u["unit_id"] for u in found["units"])
    assert all(o["note"].startswith("recommended: ETA") for o in sent.json())
    assert client.get(f"/api/incidents/{accident['id']}").json()["status"] == "dispatched"


def test_returning_and_busy_units_rank_behind_free_ones(client: TestClient, with_roads: None, clock) -> None:
    tired = create_unit(client, "TIRED", lon=NEAR[0], lat=NEAR[1])
    create_unit(client, "FRESH", lon=NEAR[0] + 0.0004, lat=NEAR[1])
    # TIRED has answered three calls today.
    for _ in range(3):
        order = dispatch(client, create_incident(client)["id"], tired["id"])
        step(client, order["id"], "cancel", reason="test")
    found = _recommend(client, create_incident(client)["id"])
    ranked = {u["call_sign"]: u for u in found["units"]}
    assert ranked["TIRED"]["score_s"] == pytest.approx(ranked["TIRED"]["eta_s"] + 60, abs=0.2)
    assert any("3 orders today" in r for r in ranked["TIRED"]["reasons"])
    assert found["units"][0]["call_sign"] == "FRESH"


def test_sending_the_best_unit_in_one_step(client: TestClient, with_roads: None) -> None:
    near = create_unit(client, "NEAR", lon=NEAR[0], lat=NEAR[1])
    create_unit(client, "FAR", lon=FAR[0], lat=FAR[1])
    incident = create_incident(client)
    sent = client.post(f"/api/incidents/{incident['id']}/dispatch-recommended", json={})
    assert sent.status_code == 201
    assert [o["unit_id"] for o in sent.json()] == [near["id"]]
    # NEAR is busy now: the next recommendation offers FAR only.
    assert [u["call_sign"] for u in _recommend(client, incident["id"])["units"]] == ["FAR"]


def test_what_cannot_be_recommended_says_why(client: TestClient, ctx_factory) -> None:
    incident = create_incident(client)
    no_network = client.get(f"/api/incidents/{incident['id']}/recommendations")
    assert no_network.status_code == 409
    assert "import roads" in no_network.json()["message"]
    need_data(PORTLAND_ROADS)
    with ctx_factory() as ctx:
        roads.import_roads(ctx, PORTLAND_ROADS)
    at_sea = create_incident(client, lon=AT_SEA[0], lat=AT_SEA[1])
    response = client.get(f"/api/incidents/{at_sea['id']}/recommendations")
    assert response.status_code == 422
    assert at_sea["number"] in response.json()["message"]
    by_address = create_incident(client, lon=None, lat=None, address="somewhere")
    response = client.get(f"/api/incidents/{by_address['id']}/recommendations")
    assert response.status_code == 422
    assert "no coordinates" in response.json()["message"]
    assert client.get(f"/api/incidents/{incident['id']}/recommendations", params={"k": 0}).status_code == 422
    nobody = client.post(f"/api/incidents/{incident['id']}/dispatch-recommended", json={})
    assert nobody.status_code == 422
    assert "no unit" in nobody.json()["message"]


def test_each_reason_comes_as_a_code_with_its_values_too(client: TestClient, with_roads: None) -> None:
    incident = create_incident(client, lon=NEAR[0], lat=NEAR[1])
    create_unit(client, "CE-P1", lon=NEAR[0], lat=NEAR[1])
    [unit] = _recommend(client, incident["id"])["units"]
    assert [e["code"] for e in unit["explanations"]] == ["eta", "fills_run_card"]
    eta = unit["explanations"][0]["values"]
    assert eta["eta_min"] == round(unit["eta_s"] / 60, 1)
    assert unit["reasons"][0] == f"ETA {eta['eta_min']:.1f} min, {eta['distance_km']:.1f} km by road"
