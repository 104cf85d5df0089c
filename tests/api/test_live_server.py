"""Against a real uvicorn server over real HTTP: concurrent retries with one idempotency key make one incident,
and concurrent calls get distinct, gap-free numbers."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from tests.api.builders import call, serving
from tests.conftest import auth_headers

from precinct.platform.config import Settings
from precinct.platform.db import Database
from precinct.web.app import create_app


@pytest.fixture(params=[40, 3], ids=["threads40", "threads3"])
def server(settings: Settings, db: Database, request: pytest.FixtureRequest) -> Iterator[str]:
    """A live server; with only three request threads, a request's commit must never wait for a free thread
    (it did once: threads blocked on the number counter's row lock while the holder's commit queued behind them)."""
    with serving(create_app(settings.model_copy(update={"worker_threads": request.param}))) as base_url:
        yield base_url


@pytest.fixture
def headers(db: Database, settings: Settings) -> dict[str, str]:
    return auth_headers(db, settings)


def test_concurrent_retries_with_one_key_make_one_incident(server: str, headers: dict[str, str]) -> None:
    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=server, timeout=30, headers=headers) as client:
            return client.post("/api/incidents", json=call(), headers={"Idempotency-Key": "race-key-0001"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(16)))
    created = [r for r in responses if r.status_code == 201]
    replays = [r for r in responses if r.status_code == 200]
    assert len(created) == 1
    assert len(replays) == 15, [r.text for r in responses if r.status_code not in (200, 201)]
    assert {r.json()["id"] for r in created + replays} == {created[0].json()["id"]}
    with httpx.Client(base_url=server, headers=headers) as client:
        assert len(client.get("/api/incidents").json()) == 1


def test_concurrent_calls_get_distinct_gap_free_numbers(server: str, headers: dict[str, str]) -> None:
    def post(n: int) -> httpx.Response:
        with httpx.Client(base_url=server, timeout=30, headers=headers) as client:
            return client.post("/api/incidents", json=call(), headers={"Idempotency-Key": f"parallel-{n:04d}"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(40)))
    assert [r.status_code for r in responses] == [201] * 40
    numbers = sorted(r.json()["number"] for r in responses)
    prefix = numbers[0].rsplit("-", 1)[0]
    assert numbers == [f"{prefix}-{n:04d}" for n in range(1, 41)]
