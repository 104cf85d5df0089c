"""Small builders for API tests: a call, a unit, a dispatched order, and a live server over real HTTP."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import nats
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

# A point in central Portland, inside district 821 (precinct CE).
DOWNTOWN = (-122.6765, 45.5231)
# A point in the Pacific Ocean, outside every jurisdiction.
AT_SEA = (-130.0, 45.0)


def call(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": "phone_110",
        "type_code": "01020100",
        "lon": DOWNTOWN[0],
        "lat": DOWNTOWN[1],
        "address": "SW 5th Ave & SW Morrison St",
        "narrative": "两人在路口打架",
        "caller_name": "张三丰",
        "caller_phone": "13812345678",
    }
    body.update(overrides)
    return body


def create_incident(client: TestClient, headers: dict[str, str] | None = None, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/incidents", json=call(**overrides), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def org_id(client: TestClient, code: str) -> int:
    return next(o["id"] for o in client.get("/api/orgs").json() if o["code"] == code)


def create_unit(client: TestClient, call_sign: str = "CE-P1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "call_sign": call_sign,
        "kind": "patrol_car",
        "home_org_id": org_id(client, "PDX-CE"),
        "capabilities": ["patrol"],
        "lon": DOWNTOWN[0] + 0.01,
        "lat": DOWNTOWN[1],
    }
    body.update(overrides)
    response = client.post("/api/units", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def dispatch(client: TestClient, incident_id: int, unit_id: int) -> dict[str, Any]:
    response = client.post(f"/api/incidents/{incident_id}/dispatches", json={"unit_id": unit_id})
    assert response.status_code == 201, response.text
    return response.json()


def step(client: TestClient, dispatch_id: int, action: str, **body: Any) -> Any:
    return client.post(f"/api/dispatches/{dispatch_id}/{action}", json=body)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free local port, in a thread, for the block; yields its base URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def delete_nats_stream(url: str, name: str) -> None:
    """Remove a test's JetStream stream from the shared NATS server."""

    async def delete() -> None:
        connection = await nats.connect(url)
        try:
            await connection.jetstream().delete_stream(name)
        finally:
            await connection.close()

    # In a thread of its own: a test driving a browser already runs an event loop in this one.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, delete()).result()
