"""Taking calls over HTTP: creation, numbering, jurisdiction, masking, idempotency, duplicates and merging."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update
from tests.api.builders import AT_SEA, DOWNTOWN, call, create_incident, org_id
from tests.conftest import Clock

from precinct.core.geo.cells import cell_of
from precinct.domains.incidents import service as incidents
from precinct.domains.incidents.models import IncidentCounter
from precinct.domains.incidents.repository import format_number
from precinct.domains.incidents.schemas import IncidentCreate, IncidentOut
from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database


def test_a_call_becomes_an_incident_in_its_jurisdiction(client: TestClient) -> None:
    incident = create_incident(client)
    assert incident["status"] == "received"
    assert incident["priority"] == 2  # 打架斗殴 carries priority 2 in the default catalogue
    assert incident["category_code"] == "01000000"
    assert incident["org_id"] == org_id(client, "PDX-CE")
    assert incident["grid_id"] is not None
    assert incident["unassigned"] is False
    assert incident["number"] == "PDX-CE-20261123-0001"
    assert incident["allowed_actions"] == ["dispatch", "close", "merge"]

    jurisdiction = client.get("/api/jurisdiction", params={"lon": DOWNTOWN[0], "lat": DOWNTOWN[1]}).json()
    assert jurisdiction["org_code"] == "PDX-CE"
    assert jurisdiction["grid_id"] == incident["grid_id"]


def test_personal_data_is_stored_but_returned_masked(client: TestClient) -> None:
    incident = create_incident(client)
    assert incident["caller_phone"] == "138****5678"
    assert incident["caller_name"] == "张**"
    for path in (f"/api/incidents/{incident['id']}", f"/api/incidents/{incident['id']}/history"):
        text = client.get(path).text
        assert "13812345678" not in text
        assert "张三丰" not in text


def test_numbers_count_up_per_station_and_day(client: TestClient, clock: Clock) -> None:
    numbers = [create_incident(client)["number"] for _ in range(3)]
    assert numbers == [f"PDX-CE-20261123-{n:04d}" for n in (1, 2, 3)]
    clock.advance(86_400)
    assert create_incident(client)["number"] == "PDX-CE-20261124-0001"


def test_a_day_past_the_ten_thousandth_call_numbers_on_in_more_digits(client: TestClient, db: Database) -> None:
    """The database spells the number (in the statement that takes it, on PostgreSQL) as ``format_number`` does."""
    create_incident(client)
    with db.transaction() as session:
        session.execute(update(IncidentCounter).values(last_value=9998))
    numbers = [create_incident(client)["number"] for _ in range(2)]
    assert numbers == ["PDX-CE-20261123-9999", "PDX-CE-20261123-10000"]
    assert numbers[-1] == format_number("PDX-CE", date(2026, 11, 23), 10000)


def test_a_point_outside_every_jurisdiction_is_kept_and_flagged(client: TestClient) -> None:
    incident = create_incident(client, lon=AT_SEA[0], lat=AT_SEA[1])
    assert incident["unassigned"] is True
    assert incident["org_id"] is None
    assert incident["number"].startswith("X-")
    assert client.get(f"/api/incidents/{incident['id']}").status_code == 200


def test_a_call_with_only_an_address_is_taken(client: TestClient) -> None:
    incident = create_incident(client, lon=None, lat=None, address="1111 SW 2nd Ave")
    assert incident["unassigned"] is True
    assert incident["lon"] is None


def test_a_retry_with_the_same_key_returns_the_same_incident(client: TestClient) -> None:
    headers = {"Idempotency-Key": "call-2026-0001"}
    first = client.post("/api/incidents", json=call(), headers=headers)
    again = client.post("/api/incidents", json=call(), headers=headers)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert len(client.get("/api/incidents").json()) == 1


def test_the_same_key_with_another_body_is_a_conflict(client: TestClient) -> None:
    headers = {"Idempotency-Key": "call-2026-0002"}
    assert client.post("/api/incidents", json=call(), headers=headers).status_code == 201
    clash = client.post("/api/incidents", json=call(narrative="something else"), headers=headers)
    assert clash.status_code == 409
    assert "different request" in clash.json()["message"]
    assert len(client.get("/api/incidents").json()) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lon": 181.0}, "lon"),
        ({"lat": -91.0}, "lat"),
        ({"lon": None}, "both lon and lat"),
        ({"type_code": "123"}, "type_code"),
        ({"source": "carrier_pigeon"}, "source"),
        ({"caller_phone": "call me maybe"}, "caller_phone"),
        ({"priority": 5}, "priority"),
        ({"called_at": "2026-11-23T09:00:00"}, "time zone"),
        ({"lon": None, "lat": None, "address": None}, "give a location"),
        ({"narrative": "x" * 20_001}, "narrative"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_calls_are_refused_with_a_clear_message(client: TestClient, change: dict, field: str) -> None:
    response = client.post("/api/incidents", json=call(**change))
    assert response.status_code == 422, response.text
    assert field in response.json()["message"]
    assert client.get("/api/incidents").json() == []


def test_an_unknown_type_code_is_refused(client: TestClient) -> None:
    response = client.post("/api/incidents", json=call(type_code="99999999"))
    assert response.status_code == 422
    assert "99999999" in response.json()["message"]
    assert "not in the catalogue" in response.json()["message"]


def test_a_category_without_priority_needs_one(client: TestClient) -> None:
    response = client.post("/api/incidents", json=call(type_code="01000000"))
    assert response.status_code == 422
    assert "priority" in response.json()["message"]
    assert create_incident(client, type_code="01000000", priority=1)["priority"] == 1


def test_a_narrative_over_the_configured_limit_is_refused(client: TestClient) -> None:
    response = client.post("/api/incidents", json=call(narrative="很" * 4001))
    assert response.status_code == 422
    assert "4000" in response.json()["message"]


def test_an_oversized_body_is_refused_before_it_is_read(client: TestClient) -> None:
    response = client.post(
        "/api/incidents", content=b"{" + b" " * 2_000_000 + b"}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_malformed_json_is_a_clear_422(client: TestClient) -> None:
    response = client.post("/api/incidents", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"


def test_a_future_time_of_call_is_refused(client: TestClient) -> None:
    response = client.post("/api/incidents", json=call(called_at="2027-01-01T00:00:00+08:00"))
    assert response.status_code == 422
    assert "future" in response.json()["message"]


def test_probable_duplicates_are_offered_and_can_be_merged(client: TestClient, clock: Clock) -> None:
    first = create_incident(client)
    clock.advance(120)
    # Same category (报警), 50 m away, two minutes later.
    second = client.post("/api/incidents", json=call(lon=DOWNTOWN[0] + 0.0006, type_code="01020200")).json()
    assert [d["incident_id"] for d in second["duplicates"]] == [first["id"]]
    assert 30 < second["duplicates"][0]["distance_m"] < 70
    # Far away, another category, or long after: not duplicates.
    far = create_incident(client, lon=DOWNTOWN[0] + 0.02)
    other_kind = create_incident(client, type_code="02020100")
    assert far["duplicates"] == []
    assert other_kind["duplicates"] == []
    clock.advance(3600)
    assert create_incident(client)["duplicates"] == []

    merged = client.post(f"/api/incidents/{second['id']}/merge", json={"into_incident_id": first["id"]})
    assert merged.status_code == 200
    assert merged.json()["status"] == "merged"
    assert merged.json()["merged_into_id"] == first["id"]
    kinds = [e["kind"] for e in client.get(f"/api/incidents/{first['id']}/history").json()["events"]]
    assert kinds == ["received", "merged_in"]
    again = client.post(f"/api/incidents/{second['id']}/merge", json={"into_incident_id": first["id"]})
    assert again.status_code == 409
    assert again.json()["details"]["current"] == "merged"


def test_duplicates_are_the_nearest_within_the_radius_and_at_most_twenty(client: TestClient, clock: Clock) -> None:
    metres_north = 1 / 111_195  # degrees of latitude per metre on the mean-radius sphere
    inside = create_incident(client, lat=DOWNTOWN[1] + 290 * metres_north)["id"]
    beyond = create_incident(client, lat=DOWNTOWN[1] + 320 * metres_north)["id"]  # beyond the 300 m radius
    near = create_incident(client, lat=DOWNTOWN[1] + 100 * metres_north)["id"]
    crowd = []
    for _ in range(22):  # a crowd of reports from one place, a minute apart
        clock.advance(60)
        crowd.append(create_incident(client)["id"])
    found = create_incident(client)["duplicates"]
    assert len(found) == 20
    # Nearest first; at the same place, the nearest in time first.
    assert [d["incident_id"] for d in found] == crowd[::-1][:20]
    assert {d["distance_m"] for d in found} == {0.0}

    assert beyond not in {d["incident_id"] for d in found}

    moved_call = create_incident(client, lat=DOWNTOWN[1] + 200 * metres_north)
    moved = moved_call["duplicates"]
    assert [d["incident_id"] for d in moved][:3] == [inside, near, beyond]
    assert [round(d["distance_m"]) for d in moved][:4] == [90, 100, 120, 200]

    # With an idempotency key (claimed when the incident is written): the same list, and a retry gets it too.
    keyed = create_incident(client, {"Idempotency-Key": "dup-order-1"}, lat=DOWNTOWN[1] + 200 * metres_north)
    expected = [moved_call["id"], *(d["incident_id"] for d in moved)][:20]
    assert [d["incident_id"] for d in keyed["duplicates"]] == expected
    retried = client.post(
        "/api/incidents", json=call(lat=DOWNTOWN[1] + 200 * metres_north), headers={"Idempotency-Key": "dup-order-1"}
    )
    assert retried.status_code == 200
    assert retried.json()["id"] == keyed["id"]
    assert [d["incident_id"] for d in retried.json()["duplicates"]] == expected


def test_duplicates_are_found_across_a_cell_edge_and_beyond_the_cells(
    client: TestClient, db: Database, settings: Settings, clock: Clock
) -> None:
    """Duplicates are looked up in the cells around the call (core/geo/cells.py): two calls 15 m apart on either
    side of a cell's edge still find each other, and so does a search too wide for cells."""
    edge = -122.67  # a cell edge, a few blocks east of downtown
    west = create_incident(client, lon=edge - 0.0001, lat=DOWNTOWN[1])
    east = create_incident(client, lon=edge + 0.0001, lat=DOWNTOWN[1])
    assert cell_of(edge - 0.0001, DOWNTOWN[1]) != cell_of(edge + 0.0001, DOWNTOWN[1])
    assert [d["incident_id"] for d in east["duplicates"]] == [west["id"]]

    wide = settings.model_copy(update={"duplicate_radius_m": 20_000.0})  # some 600 cells: searched without them
    with db.transaction() as session:
        ctx = Ctx(session=session, settings=wide, actor="test", clock=clock)
        taken = incidents.create_incident(ctx, IncidentCreate.model_validate(call(lon=-122.55, lat=45.45)))
    assert {d.incident_id for d in taken.duplicates} == {west["id"], east["id"]}


def test_merging_into_itself_or_a_missing_incident_is_refused(client: TestClient) -> None:
    incident = create_incident(client)
    assert (
        client.post(f"/api/incidents/{incident['id']}/merge", json={"into_incident_id": incident["id"]}).status_code
        == 422
    )
    assert client.post(f"/api/incidents/{incident['id']}/merge", json={"into_incident_id": 999_999}).status_code == 404


def test_unknown_incidents_are_404(client: TestClient) -> None:
    for path in ("/api/incidents/424242", "/api/incidents/424242/history", "/api/incidents/424242/duplicates"):
        response = client.get(path)
        assert response.status_code == 404
        assert "424242" in response.json()["message"]


def test_listing_filters_by_org_subtree_and_status(client: TestClient) -> None:
    central = create_incident(client)
    create_incident(client, lon=AT_SEA[0], lat=AT_SEA[1])
    listed = client.get("/api/incidents", params={"org_id": org_id(client, "PDX")}).json()
    assert [i["id"] for i in listed] == [central["id"]]
    assert len(client.get("/api/incidents", params={"status": "received"}).json()) == 2
    assert client.get("/api/incidents", params={"status": "closed"}).json() == []
    assert client.get("/api/incidents", params={"limit": 0}).status_code == 422


def test_values_the_database_could_not_store_are_refused_at_the_edge(client: TestClient) -> None:
    assert client.post("/api/incidents", json=call(narrative="bad\x00byte")).status_code == 422
    assert client.get("/api/incidents/9223372036854775808").status_code == 422
    assert client.get("/api/incidents", params={"org_id": 2**31}).status_code == 422
    assert client.get("/api/incidents", params={"status": "\x00"}).status_code == 422
    body = {"unit_id": 2**40}
    assert client.post("/api/incidents/1/dispatches", json=body).status_code == 422
    assert client.get("/api/incidents").json() == []


def test_taking_a_call_costs_two_statements_and_six_on_sqlite(client: TestClient, db: Database, ctx_factory) -> None:
    """Claim the key, take the number, write the incident (naming its key) and look for its duplicates in one
    statement (four on SQLite), then its event and the outbox row, appended with the commit in one more (two on
    SQLite); reading the new incident back for the reply must not query it again."""
    create_incident(client)  # the catalogue and jurisdiction caches are warm from here on
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if not statement.startswith("BEGIN"):
            statements.append(" ".join(statement.split()[:3]))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with ctx_factory() as ctx:
            created = incidents.create_incident(ctx, IncidentCreate.model_validate(call()), "call-statements-1")
            IncidentOut.model_validate(created.incident)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    # WITH claimed AS (INSERT …), taken AS (INSERT … FROM claimed), inserted AS (INSERT … FROM taken), nearby AS
    # (SELECT …) SELECT … FROM inserted LEFT OUTER JOIN nearby; then WITH appended_0 AS (INSERT …) INSERT …
    expected = ["WITH", "WITH"] if db.backend == "postgresql" else ["SELECT", *["INSERT"] * 5]
    assert [s.split()[0] for s in statements] == expected
