"""Security headers on every answer, no caching of API answers, and an unexpected error that names its request."""

from __future__ import annotations

from fastapi.testclient import TestClient

from precinct.platform.config import Settings
from precinct.platform.db import Database
from precinct.web.app import create_app


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/api/incidents", "/command", "/static/app/js/live.js", "/api/incidents/999999", "/docs"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert headers["referrer-policy"] == "no-referrer", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
    page_policy = client.get("/command").headers["content-security-policy"]
    assert "script-src 'self';" in page_policy  # no inline script, nothing from elsewhere
    assert "script-src 'self' 'unsafe-inline'" in client.get("/docs").headers["content-security-policy"]


def test_api_answers_are_not_cached_unless_the_route_says_so(client: TestClient) -> None:
    assert client.get("/api/incidents").headers["cache-control"] == "no-store"
    assert client.post("/api/incidents", json={}).headers["cache-control"] == "no-store"
    assert "cache-control" not in client.get("/command").headers


def test_an_unexpected_error_names_its_request_and_shows_no_trace(settings: Settings, db: Database) -> None:
    app = create_app(settings, db=db)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail from deep inside")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "req-boom-0001"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-boom-0001"
    assert response.json() == {
        "code": "internal_error",
        "message": "an internal error occurred; reference req-boom-0001",
    }
    assert "secret detail" not in response.text
