"""Helpers of the browser tests: precinct as a server process of its own, and a unit and a call made over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from tests.api.builders import DOWNTOWN
from tests.conftest import REPO_ROOT

from precinct.platform.config import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server_process(settings: Settings, port: int, **environment: str) -> Iterator[str]:
    """``precinct serve`` as a process of its own on ``port`` (the same port again after a restart)."""
    env = {
        **os.environ,
        "PRECINCT_DATABASE_URL": settings.database_url,
        "PRECINCT_CACHE_DIR": str(settings.cache_dir),
        "PRECINCT_RUN_JOBS": "false",
        **environment,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "precinct.web.main:app", "--port", str(port), "--log-level", "warning"],
        cwd=REPO_ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server on port {port} did not start")
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=20)


NEAR = (-122.6740, 45.5240)  # a few blocks from DOWNTOWN, on a road


def add_unit(api: httpx.Client, url: str, call_sign: str, lon: float, lat: float, home: str = "PDX-CE") -> int:
    homes = {o["code"]: o["id"] for o in api.get(f"{url}/api/orgs").json()}
    response = api.post(
        f"{url}/api/units",
        json={
            "call_sign": call_sign,
            "kind": "patrol_car",
            "home_org_id": homes[home],
            "capabilities": ["patrol"],
            "lon": lon,
            "lat": lat,
        },
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def take_call(api: httpx.Client, url: str, **overrides: Any) -> dict[str, Any]:
    body = {
        "type_code": "01020100",
        "lon": DOWNTOWN[0],
        "lat": DOWNTOWN[1],
        "address": "SW 5th Ave & SW Morrison St",
        "narrative": "两人在路口打架",
        "caller_phone": "13812345678",
        **overrides,
    }
    response = api.post(f"{url}/api/incidents", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def order_for_a_new_unit(api: httpx.Client, url: str, *steps: str) -> tuple[int, dict[str, Any]]:
    """Central precinct's unit CE-P1, sent to a call near it, its order moved through ``steps`` from the station
    (by radio, as it were): the unit's id and the order."""
    unit_id = add_unit(api, url, "CE-P1", *NEAR)
    incident = take_call(api, url)
    sent = api.post(f"{url}/api/incidents/{incident['id']}/dispatches", json={"unit_id": unit_id})
    assert sent.status_code == 201, sent.text
    for action in steps:
        stepped = api.post(f"{url}/api/dispatches/{sent.json()['id']}/{action}", json={})
        assert stepped.status_code == 200, stepped.text
    return unit_id, sent.json()
