"""Benchmark the CPU one taken call costs the application: ``POST /api/incidents`` sent straight into the ASGI app
in this process (no sockets, no HTTP parsing, no load generator), one call after another, with the Portland calls'
points and types, signed with a call-taker's token — against ``GET /health`` through the same app and middleware,
the least a request can cost. CPU time (not wall time) per request, and the ratio of the two, which holds on a
noisy machine where the HTTP benchmark's latencies do not. This is the lever of the HTTP figure (issue 2): on two
shared cores, the server's CPU per call sets how much headroom 300 calls a second leave.

    uv run python benchmarks/intake_cpu.py [--backends postgresql,sqlite] [--calls 1500] [--warmup 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from typing import Any

from rich.table import Table

from _common import (
    bench_token,
    console,
    data_present,
    describe_url,
    fresh_databases,
    machine,
    parse_backends,
    settings_for,
)
from load_generator import Calls


async def _request(app: Any, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> int:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in {**headers, "content-length": str(len(body))}.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("precinct", 80),
        "state": {},
    }
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never goes away while the app answers
        raise AssertionError("unreachable")

    status: list[int] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


async def _measure(app: Any, token: str, calls: Calls, n: int, warmup: int) -> dict[str, float]:
    signed = {"host": "precinct", "authorization": f"Bearer {token}", "content-type": "application/json"}
    lifespan_in: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan_out: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await lifespan_in.put({"type": "lifespan.startup"})
    running = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, lifespan_in.get, lifespan_out.put)
    )
    started = await lifespan_out.get()
    assert started["type"] == "lifespan.startup.complete", started

    async def post(i: int) -> None:
        headers = {**signed, "idempotency-key": f"cpu-{uuid.uuid4().hex}"}
        status = await _request(app, "POST", "/api/incidents", headers, calls.bodies[i % len(calls.bodies)])
        assert status == 201, status

    async def health(_: int) -> None:
        assert await _request(app, "GET", "/health", {"host": "precinct"}) == 200

    figures: dict[str, float] = {}
    for name, one in (("health", health), ("incident", post)):
        for i in range(warmup):
            await one(i)
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(warmup, warmup + n):
            await one(i)
        figures[f"{name}_cpu_ms"] = 1000 * (time.process_time() - cpu) / n
        figures[f"{name}_wall_ms"] = 1000 * (time.perf_counter() - wall) / n
    await lifespan_in.put({"type": "lifespan.shutdown"})
    await lifespan_out.get()
    await running
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgresql,sqlite", help="comma-separated: postgresql, sqlite")
    parser.add_argument("--calls", type=int, default=1500, help="measured requests of each kind (default 1500)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests of each kind first")
    args = parser.parse_args(argv)
    out = console()
    if not data_present(out):
        return 1
    from precinct.web.app import create_app

    calls = Calls.load()
    table = Table(title="CPU per request through the ASGI app, in-process, one after another")
    for column in ("backend", "GET /health ms CPU", "POST /api/incidents ms CPU", "ratio", "POST wall ms"):
        table.add_column(column, justify="right" if "ms" in column or column == "ratio" else "left")
    results = []
    with fresh_databases() as made:
        for backend in parse_backends(args.backends):
            url = made.fresh(backend)
            out.print(f"{backend}: {describe_url(url)}")
            token = bench_token(url, "call_taker")
            app = create_app(settings_for(url).model_copy(update={"run_jobs": False}))
            figures = asyncio.run(_measure(app, token, calls, args.calls, args.warmup))
            app.state.precinct.db.dispose()
            made.drop(url)
            ratio = figures["incident_cpu_ms"] / figures["health_cpu_ms"]
            results.append({"backend": backend, **figures, "ratio": ratio})
            table.add_row(
                backend,
                f"{figures['health_cpu_ms']:.3f}",
                f"{figures['incident_cpu_ms']:.3f}",
                f"{ratio:.1f}×",
                f"{figures['incident_wall_ms']:.2f}",
            )
    out.print(table)
    out.print(
        f"{args.calls} requests of each kind after {args.warmup} unmeasured; the database's own CPU (a PostgreSQL "
        "server process) is not counted. " + json.dumps(machine())
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
