"""The OpenAPI document is a product: every route is described, with the errors it can answer."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_every_operation_has_a_summary_and_declares_its_errors(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operations = [
        (path, method, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    assert len(operations) >= 20
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), f"{where} has no summary"
        codes = set(operation["responses"])
        has_input = "{" in path or operation.get("parameters") or operation.get("requestBody")
        if has_input:
            assert "422" in codes, f"{where} takes input but declares no 422"
        if "{" in path:
            assert "404" in codes, f"{where} names a record but declares no 404"
        if method == "post" and path != "/api/incidents/{incident_id}/dispatches" and "{" in path:
            assert "409" in codes, f"{where} changes state but declares no 409"
        for code in codes - {"200", "201"}:
            schema = operation["responses"][code]["content"]["application/json"]["schema"]
            assert schema, f"{where} {code} has no body schema"


def test_the_error_body_is_described(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    error = document["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"code", "message"}


def test_the_api_pages_need_no_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
