"""Benchmark pushing dispatch orders to officer terminals: from an order's write to its receipt on the unit's
WebSocket (``/ws/events?unit_id=``), with 1,000 terminals connected.

For each configuration — one uvicorn worker with the local outbox feed; two workers on the local feed (an event
crosses to the other worker when it next reads the outbox, every ``event_poll_s``); two workers with NATS JetStream
between them (a terminal and the dispatcher's request usually land on different workers) — on a fresh database with
1,000 units and as many open incidents: a separate process opens one WebSocket per unit, then sends dispatch orders
over HTTP at a steady rate, each to a different unit, and times each order from the server's timestamp on its event
(taken in the writing transaction, just before commit; server and generator share this machine's clock) to the
moment its terminal receives it. An order that never arrives counts against the run. Target: p99 ≤ 100 ms.

    uv run python benchmarks/push_latency.py [--terminals 1000] [--rate 20] [--seconds 15] [--backend postgresql]
        [--configs local:1,local:2,nats:2] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import nats
import websockets
from rich.table import Table

from _common import (
    TOKEN_ENV,
    bearer_from_env,
    bench_token,
    console,
    data_present,
    describe_url,
    fresh_databases,
    latency_ms,
    machine,
    settings_for,
)
from incident_http import Server
from load_generator import RawClient

TARGET_P99_MS = 100.0
NATS_URL = os.environ.get("PRECINCT_BENCH_NATS_URL", "nats://127.0.0.1:4222")
DOWNTOWN = (-122.6765, 45.5231)


# --- the terminals and the dispatcher (own process: ``push_latency.py --generate …``) -----------------------------


async def generate(port: int, pairs: list[tuple[int, int]], rate: float, seconds: float) -> dict[str, Any]:
    """Open a terminal per unit, then send ``rate`` orders a second for ``seconds``; report the push latencies."""
    received: dict[int, float] = {}  # unit id → latency in seconds
    ready = 0
    all_ready = asyncio.Event()
    units = [unit for _, unit in pairs]
    # One dispatcher's token for the orders and, filtered by unit, for every terminal's feed: a device token per
    # terminal would cost the same lookup once per connection, and the figure is the push after connecting.
    bearer = bearer_from_env()

    async def terminal(unit_id: int) -> None:
        nonlocal ready
        feed = f"ws://127.0.0.1:{port}/ws/events?unit_id={unit_id}"
        async with websockets.connect(feed, additional_headers=bearer, max_queue=None) as ws:
            json.loads(await ws.recv())  # hello
            ready += 1
            if ready == len(units):
                all_ready.set()
            async for raw in ws:
                arrived = time.time()
                message = json.loads(raw)
                if message.get("topic") == "dispatch.ordered" and unit_id not in received:
                    at = datetime.fromisoformat(message["at"]).timestamp()
                    received[unit_id] = arrived - at

    terminals = [asyncio.create_task(terminal(u)) for u in units]
    opened = time.perf_counter()
    await asyncio.wait_for(all_ready.wait(), timeout=120)
    open_s = time.perf_counter() - opened

    client = RawClient("127.0.0.1", port, max_connections=32)
    count = min(len(pairs), int(rate * seconds))
    start = time.perf_counter()
    sent: list[int] = []
    errors = 0

    async def order(incident_id: int, unit_id: int) -> None:
        nonlocal errors
        body = json.dumps({"unit_id": unit_id}).encode()
        headers = {"Content-Type": "application/json", **bearer}
        status, _ = await client.request("POST", f"/api/incidents/{incident_id}/dispatches", body, headers)
        if status == 201:
            sent.append(unit_id)
        else:
            errors += 1

    requests = []
    for n, (incident_id, unit_id) in enumerate(pairs[:count]):
        delay = start + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        requests.append(asyncio.create_task(order(incident_id, unit_id)))
    await asyncio.gather(*requests)
    deadline = time.perf_counter() + 5
    while time.perf_counter() < deadline and not all(u in received for u in sent):
        await asyncio.sleep(0.05)
    for task in terminals:
        task.cancel()
    await asyncio.gather(*terminals, return_exceptions=True)
    await client.close()
    latencies = [received[u] for u in sent if u in received]
    return {
        "terminals": len(units),
        "open_s": open_s,
        "orders": len(sent),
        "order_errors": errors,
        "received": len(latencies),
        "lost": len(sent) - len(latencies),
        **latency_ms(latencies),
    }


# --- the conductor ---------------------------------------------------------------------------------------------


def seed_units_and_incidents(url: str, count: int) -> list[tuple[int, int]]:
    """``count`` units on duty and ``count`` open incidents; pairs (incident, unit) to dispatch."""
    from precinct.domains.incidents import service as incidents
    from precinct.domains.incidents.schemas import IncidentCreate
    from precinct.domains.orgs import service as orgs
    from precinct.domains.units import service as units
    from precinct.platform.context import Ctx
    from precinct.platform.db import Database

    db = Database(url)
    rng = random.Random(20161123)
    try:
        with db.transaction() as session:
            ctx = Ctx(session=session, settings=settings_for(url), actor="bench")
            home = next(o.id for o in orgs.list_orgs(ctx) if o.code == "PDX-CE")
            unit_ids = [
                units.create_unit(ctx, call_sign=f"T{n:04d}", kind="patrol_car", home_org_id=home).id
                for n in range(count)
            ]
            incident_ids = []
            for n in range(count):
                body = IncidentCreate(
                    type_code="01020100",
                    lon=DOWNTOWN[0] + rng.uniform(-0.02, 0.02),
                    lat=DOWNTOWN[1] + rng.uniform(-0.02, 0.02),
                    narrative=f"bench {n}",
                )
                incident_ids.append(incidents.create_incident(ctx, body).incident.id)
    finally:
        db.dispose()
    return list(zip(incident_ids, unit_ids, strict=True))


def run_configuration(url: str, bus: str, workers: int, pairs: list[tuple[int, int]], args: argparse.Namespace,
                      log_dir: Path) -> dict[str, Any]:  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    env = {"PRECINCT_EVENT_BUS": bus}
    if bus == "nats":
        env |= {
            "PRECINCT_NATS_URL": NATS_URL,
            "PRECINCT_NATS_STREAM": f"PRECINCT_BENCH_{tag}",
            "PRECINCT_NATS_SUBJECT_PREFIX": f"precinct_bench_{tag}",
        }
    pairs_file = log_dir / f"pairs-{tag}.json"
    pairs_file.write_text(json.dumps(pairs))
    server = Server(url, workers, log_dir, env=env)
    try:
        server.wait_healthy()
        command = [sys.executable, __file__, "--generate", str(server.port), "--pairs", str(pairs_file),
                   "--rate", str(args.rate), "--seconds", str(args.seconds)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, timeout=args.seconds + 200, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the generator failed: {done.stderr[-2000:]}\nserver: {server.log_tail()}")
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        server.stop()
        if bus == "nats":
            asyncio.run(_delete_stream(f"PRECINCT_BENCH_{tag}"))


async def _delete_stream(name: str) -> None:
    connection = await nats.connect(NATS_URL)
    try:
        await connection.jetstream().delete_stream(name)
    finally:
        await connection.close()


def conduct(args: argparse.Namespace) -> int:
    out = console()
    if not data_present(out):
        return 2
    rows = []
    configs = [(c.split(":")[0], int(c.split(":")[1])) for c in args.configs.split(",") if c.strip()]
    with fresh_databases() as databases, tempfile.TemporaryDirectory(prefix="precinct-bench-push-") as logs:
        for bus, workers in configs:
            url = databases.fresh(args.backend)
            out.print(f"[dim]{bus} bus, {workers} worker(s): {describe_url(url)}; seeding {args.terminals} units[/dim]")
            pairs = seed_units_and_incidents(url, args.terminals)
            os.environ[TOKEN_ENV] = bench_token(url, "dispatcher")  # the generator's process inherits it
            result = run_configuration(url, bus, workers, pairs, args, Path(logs))
            p99 = result["p99_ms"]
            ok = p99 is not None and p99 <= TARGET_P99_MS and result["lost"] == 0 and result["order_errors"] == 0
            rows.append({"bus": bus, "workers": workers, **result, "verdict": "PASS" if ok else "FAIL"})
            databases.drop(url)
    table = Table(title=f"Push latency, order written → terminal received ({args.backend})")
    for column in ("bus", "workers", "terminals", "orders", "received", "lost", "p50 ms", "p90 ms", "p99 ms",
                   "max ms", "verdict"):  # fmt: skip
        table.add_column(column, justify="right" if column not in ("bus", "verdict") else "left")
    for r in rows:
        ms = [f"{r[k]:.1f}" if r[k] is not None else "–" for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")]
        table.add_row(r["bus"], str(r["workers"]), str(r["terminals"]), str(r["orders"]), str(r["received"]),
                      str(r["lost"]), *ms, r["verdict"])  # fmt: skip
    out.print(table)
    out.print(
        f"{args.rate:g} orders/s for {args.seconds:g} s, each to a different unit; one WebSocket per unit "
        f"(terminals opened in {rows[0]['open_s']:.1f} s). Target p99 ≤ {TARGET_P99_MS:g} ms."
        if rows
        else "nothing ran"
    )
    if args.json:
        report = {"rows": rows, "args": vars(args) | {"json": str(args.json)}, "machine": machine()}
        args.json.write_text(json.dumps(report | {"when": datetime.now(UTC).isoformat()}, indent=2))
    return 0 if rows and all(r["verdict"] == "PASS" for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--terminals", type=int, default=1000, help="units, each with a terminal (default 1000)")
    parser.add_argument("--rate", type=float, default=20, help="dispatch orders a second (default 20)")
    parser.add_argument("--seconds", type=float, default=15, help="how long orders are sent (default 15)")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--configs", default="local:1,local:2,nats:2", help="bus:workers, comma-separated")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--generate", dest="port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pairs", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.port is not None:
        pairs = [tuple(p) for p in json.loads(args.pairs.read_text())]
        print(json.dumps(asyncio.run(generate(args.port, pairs, args.rate, args.seconds))))  # type: ignore[arg-type]
        return 0
    return conduct(args)


if __name__ == "__main__":
    sys.exit(main())
