"""Benchmark taking calls over HTTP: ``POST /api/incidents`` against a real uvicorn server, with the load generated
in a separate process.

For each configuration (PostgreSQL with 1 and 2 workers, SQLite with 1, by default) on a fresh seeded database:
an open-loop run at a constant arrival rate, where every request has a fixed due time and its latency is counted
from that time (so queueing counts: no coordinated omission), then a short closed-loop run of N concurrent clients
for the most the server can take. Points and types come from Portland's August 2016 calls; every request has its own
Idempotency-Key, and 5% re-send an earlier key and body, which must answer 200 with the first incident's id.
Before the first configuration the generator runs at the same rate against ``/health``, to show it keeps its
timetable (with its own raw-stream client, and with httpx for comparison). An open-loop run whose server falls so far
behind that every connection is busy for 3 s stops early; what it never sent counts as errors. Each phase gets a newly
started server on the same database. Target: ≥ 300 requests/s at p99 < 50 ms on PostgreSQL, open loop.

    uv run python benchmarks/incident_http.py [--backends postgresql,sqlite] [--pg-workers 1,2] [--rates 300]
        [--seconds 15] [--concurrency 16] [--closed-seconds 5] [--client raw|httpx] [--health-clients raw,httpx]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from _common import (
    CALL_MAPPING,
    CALLS_ZIP,
    REPO_ROOT,
    TOKEN_ENV,
    bearer_from_env,
    bench_token,
    console,
    data_present,
    describe_url,
    fresh_databases,
    latency_ms,
    machine,
    parse_backends,
)

TARGET_RATE_PER_S = 300
TARGET_P99_MS = 50.0
TARGET_BACKEND = "postgresql"
# An open-loop run passes when it served what was asked: all of it, on time; a 2% allowance covers the last
# requests' own latency at the end of the window.
RATE_ALLOWANCE = 0.98
REQUEST_TIMEOUT_S = 5.0
DRAIN_TIMEOUT_S = 2 * REQUEST_TIMEOUT_S
STALL_ABORT_S = 3.0
HEALTH_SECONDS = 3.0
SEED = 20160801


# --- the load generator (runs in its own process: ``incident_http.py generate …``) ----------------------------


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: far less CPU per request than httpx, for when the
    generator shares a small machine with the server."""

    def __init__(self, host: str, port: int, max_connections: int) -> None:
        self.host, self.port = host, port
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.slots = asyncio.Semaphore(max_connections)
        self.reconnects = 0

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        async with self.slots:
            reused = bool(self.idle)
            try:
                return await self._exchange(method, path, body, headers, reused)
            except (ConnectionError, asyncio.IncompleteReadError):
                if not reused:
                    raise
                # The server closed an idle connection; the request is idempotent (it has a key), so send it again.
                self.reconnects += 1
                return await self._exchange(method, path, body, headers, False)

    async def _exchange(
        self, method: str, path: str, body: bytes, headers: dict[str, str], reuse: bool
    ) -> tuple[int, bytes]:
        reader, writer = self.idle.pop() if reuse and self.idle else await asyncio.open_connection(self.host, self.port)
        try:
            head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Length: {len(body)}\r\n"
            head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            writer.write(head.encode("latin-1") + b"\r\n" + body)
            lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            content = await reader.readexactly(int(fields.get("content-length", "0")))
        except BaseException:
            writer.close()
            raise
        if fields.get("connection", "").lower() == "close":
            writer.close()
        else:
            self.idle.append((reader, writer))
        return status, content

    async def close(self) -> None:
        for _, writer in self.idle:
            writer.close()


class HttpxClient:
    def __init__(self, base_url: str, max_connections: int) -> None:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self.client = httpx.AsyncClient(base_url=base_url, limits=limits, timeout=REQUEST_TIMEOUT_S)
        self.reconnects = 0

    async def request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        response = await self.client.request(method, path, content=body or None, headers=headers)
        return response.status_code, response.content

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class Outcome:
    kind: str  # "create", "replay" or "health"
    due: float
    sent: float = 0.0
    done: float = 0.0
    status: int = 0
    incident_id: int | None = None
    error: str | None = None
    call: int = 0  # which call's key and body
    replay_of: int | None = None  # for a replay: the index of the outcome that made the incident


@dataclass
class Calls:
    """Request bodies from the Portland calls: real points, and the type and priority the call mapping gives."""

    bodies: list[bytes]
    tag: str = field(default_factory=lambda: f"{os.getpid()}-{int(time.time())}")

    @classmethod
    def read(cls, path: Path) -> Calls:
        """The bodies ``write`` saved, one JSON document a line: the generator starts without reading shapefiles."""
        return cls(path.read_bytes().splitlines())

    def write(self, path: Path) -> None:
        path.write_bytes(b"\n".join(self.bodies) + b"\n")

    @classmethod
    def load(cls) -> Calls:
        from precinct.core.calls import read_call_points
        from precinct.domains.incidents.history import read_mapping

        records, mapping = read_call_points(CALLS_ZIP), read_mapping(CALL_MAPPING)
        bodies = []
        for i in range(len(records)):
            mapped = mapping.types.get(str(records.fields[mapping.field][i]).strip())
            lon, lat = float(records.lon[i]), float(records.lat[i])
            if mapped is None or lon != lon or lat != lat:  # unmapped, or NaN: no usable point
                continue
            body = {
                "source": "phone_110",
                "type_code": mapped[0],
                "priority": mapped[1],
                "lon": lon,
                "lat": lat,
                "address": f"Portland call {i}",
                "narrative": f"benchmark call {i}: {records.fields[mapping.field][i]}",
                "caller_name": "张三",
                "caller_phone": "13812345678",
            }
            bodies.append(json.dumps(body, ensure_ascii=False).encode())
        return cls(bodies)

    def key(self, phase: str, n: int) -> str:
        return f"bench-{self.tag}-{phase}-{n}"


class Load:
    """What one generator run sends and what it got back."""

    def __init__(
        self, client: RawClient | HttpxClient, calls: Calls | None, replay_fraction: float, phase: str
    ) -> None:
        self.client, self.calls, self.replay_fraction, self.phase = client, calls, replay_fraction, phase
        self.rng = random.Random(SEED)
        self.outcomes: list[Outcome] = []
        self.created: list[int] = []  # outcomes whose incident was made (201): what a replay may re-send
        self.originals = 0
        self.unsent = 0  # requests an aborted open-loop run never sent
        self.bearer = bearer_from_env()

    def next_request(self, due: float) -> tuple[Outcome, str, str, bytes, dict[str, str]]:
        if self.calls is None:
            return Outcome("health", due), "GET", "/health", b"", {}
        headers = {"Content-Type": "application/json", **self.bearer}
        if self.created and self.rng.random() < self.replay_fraction:
            earlier = self.rng.choice(self.created)
            outcome = Outcome("replay", due, call=self.outcomes[earlier].call, replay_of=earlier)
        else:
            outcome = Outcome("create", due, call=self.originals)
            self.originals += 1
        headers["Idempotency-Key"] = self.calls.key(self.phase, outcome.call)
        return outcome, "POST", "/api/incidents", self.calls.bodies[outcome.call % len(self.calls.bodies)], headers

    async def send(self, due: float) -> None:
        outcome, method, path, body, headers = self.next_request(due)
        index = len(self.outcomes)
        self.outcomes.append(outcome)
        outcome.sent = time.perf_counter()
        try:
            status, content = await asyncio.wait_for(
                self.client.request(method, path, body, headers), timeout=REQUEST_TIMEOUT_S
            )
            outcome.status = status
            if status in (200, 201) and outcome.kind != "health":
                outcome.incident_id = int(json.loads(content)["id"])
            if status == 201 and outcome.kind == "create":
                self.created.append(index)
        except Exception as error:  # every failure is a result to count, never a reason to stop
            outcome.error = type(error).__name__
        outcome.done = time.perf_counter()

    async def open_loop(self, rate: float, seconds: float, max_in_flight: int) -> tuple[float, float]:
        """Send ``rate × seconds`` requests, the i-th due at ``start + i / rate`` whatever came back before.

        A server that has stopped answering (``max_in_flight`` requests outstanding for ``STALL_ABORT_S``) ends
        the run early; the requests never sent count as errors.
        """
        n_requests = int(rate * seconds)
        start = time.perf_counter() + 0.05
        tasks: set[asyncio.Task[None]] = set()
        saturated_since: float | None = None
        for i in range(n_requests):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if len(tasks) < max_in_flight:
                saturated_since = None
            elif saturated_since is None:
                saturated_since = due
            elif due - saturated_since > STALL_ABORT_S:
                self.unsent = n_requests - i
                break
            task = asyncio.create_task(self.send(due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks, timeout=DRAIN_TIMEOUT_S)
        return start, max((o.done for o in self.outcomes), default=start)

    async def closed_loop(self, concurrency: int, seconds: float) -> tuple[float, float]:
        """``concurrency`` clients, each sending its next request as soon as the last one is answered."""
        start = time.perf_counter()
        end = start + seconds

        async def client() -> None:
            while time.perf_counter() < end:
                await self.send(time.perf_counter())

        await asyncio.wait_for(asyncio.gather(*(client() for _ in range(concurrency))), seconds + DRAIN_TIMEOUT_S)
        return start, time.perf_counter()

    def summary(self, start: float, end: float) -> dict[str, Any]:
        done = [o for o in self.outcomes if o.done]
        ok = [o for o in done if o.error is None and (o.status == 200 if o.kind != "create" else o.status == 201)]
        replays = [o for o in done if o.kind == "replay"]
        # A replay that got an answer must be 200 with the first incident's id; one that got none is an error.
        answered = [o for o in replays if o.status]
        mismatches = sum(
            1 for o in answered if o.status != 200 or o.incident_id != self.outcomes[o.replay_of or 0].incident_id
        )
        errors = Counter(o.error or f"HTTP {o.status}" for o in done if o not in ok)
        errors["unfinished"] = len(self.outcomes) - len(done)
        errors["not sent: the server fell behind (aborted)"] = self.unsent
        lateness = sorted(o.sent - o.due for o in done)
        elapsed_s = max(end - start, 1e-9)
        return {
            "requests": len(self.outcomes) + self.unsent,
            "ok": len(ok),
            "errors": sum(errors.values()),
            "error_kinds": {k: v for k, v in errors.items() if v},
            "replays": len(replays),
            "replays_answered": len(answered),
            "replay_mismatches": mismatches,
            "elapsed_s": elapsed_s,
            "achieved_per_s": len(ok) / elapsed_s,
            **latency_ms([o.done - o.due for o in done]),
            "send_lateness_p99_ms": 1000 * lateness[int(0.99 * (len(lateness) - 1))] if lateness else None,
            "reconnects": self.client.reconnects,
        }


async def generate(args: argparse.Namespace) -> dict[str, Any]:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    calls = Calls.read(args.bodies) if args.target == "incidents" else None
    if args.client == "raw":
        client: RawClient | HttpxClient = RawClient("127.0.0.1", args.port, args.max_connections)
    else:
        client = HttpxClient(f"http://127.0.0.1:{args.port}", args.max_connections)
    if args.warmup:  # not counted: each worker builds its jurisdiction index on its first call
        warmup = Load(client, calls, args.replay_fraction, "warmup")
        await warmup.closed_loop(1, 0.5)
        await warmup.closed_loop(8, args.warmup)
    load = Load(client, calls, args.replay_fraction, args.mode)
    print("START", flush=True)
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    if args.mode == "open":
        start, end = await load.open_loop(args.rate, args.seconds, args.max_connections)
    else:
        start, end = await load.closed_loop(args.concurrency, args.seconds)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    await client.close()
    cpu_s = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    return load.summary(start, end) | {"generator_cpu_pct": 100 * cpu_s / max(end - start, 1e-9)}


# --- the conductor: databases, servers, generator runs, the table ---------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``uvicorn precinct.web.main:app`` in its own process group, so that it and its workers stop together."""

    def __init__(self, url: str, workers: int, log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.command = [
            sys.executable, "-m", "uvicorn", "precinct.web.main:app", "--host", "127.0.0.1",
            "--port", str(self.port), "--workers", str(workers), "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        self.log_path = log_dir / f"server-{self.port}.log"
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=os.environ | {"PRECINCT_DATABASE_URL": url} | (env or {}),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_healthy(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}): {self.log_tail()}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the server did not answer /health within {timeout_s:.0f} s: {self.log_tail()}")

    def log_lines(self) -> int:
        return len(self.log_path.read_text(errors="replace").splitlines())

    def log_tail(self, lines: int = 15) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def cpu_s(self) -> float:
        return process_group_cpu_s(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=3)
            except ProcessLookupError:
                pass


def process_group_cpu_s(pgrp: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of one process group."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgrp:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def run_generator(server: Server, options: list[str], timeout_s: float) -> dict[str, Any]:
    """One generator process; the server's and the machine's CPU use are sampled over its measured window."""
    command = [sys.executable, __file__, "--generate", str(server.port), *options]
    process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        before = after = None
        result: dict[str, Any] = {}
        for line in process.stdout:
            if line.startswith("START"):
                before = (time.perf_counter(), server.cpu_s(), machine_busy_s())
            elif line.startswith("{"):
                after = (time.perf_counter(), server.cpu_s(), machine_busy_s())
                result = json.loads(line)
        process.wait(timeout=timeout_s)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0 or not result or before is None or after is None:
        raise RuntimeError(f"the load generator failed ({process.returncode}); server log: {server.log_tail()}")
    wall_s = after[0] - before[0]
    return result | {
        "server_cpu_pct": 100 * (after[1] - before[1]) / wall_s,
        "machine_cpu_pct": 100 * (after[2] - before[2]) / wall_s,
    }


@dataclass
class Row:
    backend: str
    workers: int
    mode: str
    target: str
    result: dict[str, Any]
    verdict: str = ""


def run_configuration(backend: str, workers: int, url: str, args: argparse.Namespace, log_dir: Path) -> list[Row]:
    """Every phase on a newly started server (same database): an overloaded open-loop run leaves a backlog in the
    server that would otherwise be served during the next phase."""
    rows = []
    timeout_s = max(args.seconds, args.closed_seconds) + DRAIN_TIMEOUT_S + 60
    sent = ["--replay-fraction", str(args.replay_fraction), "--warmup", str(args.warmup), "--bodies", str(args.bodies)]
    phases: list[tuple[str, str, list[str]]] = [
        (
            "open",
            f"{rate:g}/s",
            [*sent, "--client", args.client, "--mode", "open", "--rate", str(rate), "--seconds", str(args.seconds)],
        )
        for rate in args.rates
    ]
    closed = ["--mode", "closed", "--concurrency", str(args.concurrency), "--seconds", str(args.closed_seconds)]
    phases.append((f"closed ×{args.concurrency}", "max", [*sent, "--client", args.client, *closed]))
    for n, (mode, target, options) in enumerate(phases):
        server = Server(url, workers, log_dir)
        try:
            server.wait_healthy()
            if n == 0 and not args.health_checked:
                args.health_checked = True
                for client in args.health_clients:
                    health = ["--target", "health", "--client", client, "--rate", str(args.rates[0]), "--warmup", "0"]
                    result = run_generator(server, [*health, "--seconds", str(HEALTH_SECONDS)], timeout_s)
                    rows.append(Row(backend, workers, f"open, GET /health ({client})", f"{args.rates[0]:g}/s", result))
            rows.append(Row(backend, workers, mode, target, run_generator(server, options, timeout_s)))
        finally:
            server.stop()
        rows[-1].result["server_warnings"] = server.log_lines()
    for row in rows:
        row.result |= {"server_command": " ".join(server.command[1:]), "database": describe_url(url)}
    return rows


def verdict(row: Row) -> str:
    if row.backend != TARGET_BACKEND or row.mode != "open" or row.target != f"{TARGET_RATE_PER_S:g}/s":
        return ""
    r = row.result
    met = (
        r["achieved_per_s"] >= RATE_ALLOWANCE * TARGET_RATE_PER_S
        and (r["p99_ms"] or float("inf")) < TARGET_P99_MS
        and r["errors"] == 0
        and r["replay_mismatches"] == 0
    )
    return "PASS" if met else "FAIL"


def print_table(rows: list[Row]) -> None:
    table = Table(title="POST /api/incidents over HTTP (load generator in its own process)")
    columns = ("backend", "workers", "mode", "target", "achieved/s", "p50 ms", "p90 ms", "p99 ms", "max ms")
    for column in (*columns, "errors", "replays (bad)", "CPU gen/srv/all %", "verdict"):
        table.add_column(column, justify="left" if column in ("backend", "mode") else "right")

    def ms(value: float | None) -> str:
        return "" if value is None else f"{value:.1f}"

    for row in rows:
        r = row.result
        style = {"PASS": "green", "FAIL": "red"}.get(row.verdict)
        table.add_row(
            row.backend,
            str(row.workers),
            row.mode,
            row.target,
            f"{r['achieved_per_s']:.1f}",
            ms(r["p50_ms"]),
            ms(r["p90_ms"]),
            ms(r["p99_ms"]),
            ms(r["max_ms"]),
            str(r["errors"]),
            f"{r['replays']} ({r['replay_mismatches']})",
            f"{r['generator_cpu_pct']:.0f}/{r['server_cpu_pct']:.0f}/{r['machine_cpu_pct']:.0f}",
            f"[{style}]{row.verdict}[/{style}]" if style else "",
        )
    console().print(table)


def conduct(args: argparse.Namespace) -> int:
    out = console()
    if not data_present(out):
        return 2
    configurations = []
    for backend in parse_backends(args.backends):
        worker_counts = args.pg_workers if backend == "postgresql" else args.sqlite_workers
        configurations += [(backend, int(w)) for w in worker_counts.split(",") if w.strip()]
    args.health_checked = False
    rows: list[Row] = []
    with fresh_databases() as databases, tempfile.TemporaryDirectory(prefix="precinct-bench-logs-") as logs:
        args.bodies = Path(logs) / "bodies.jsonl"
        Calls.load().write(args.bodies)
        for backend, workers in configurations:
            url = databases.fresh(backend)
            os.environ[TOKEN_ENV] = bench_token(url, "call_taker")  # the generator's process inherits it
            out.print(f"[dim]{backend}, {workers} worker(s): {describe_url(url)}[/dim]")
            rows += run_configuration(backend, workers, url, args, Path(logs))
            databases.drop(url)
    for row in rows:
        row.verdict = verdict(row)
    print_table(rows)
    if rows:
        out.print(f"server: {rows[0].result['server_command']} (PRECINCT_DATABASE_URL set per backend)")
    rates = ", ".join(f"{r:g}" for r in args.rates)
    out.print(
        f"client: {args.client}; open loop: {rates} requests/s for {args.seconds:g} s, latency from each "
        f"request's due time; {args.replay_fraction:.0%} re-send an earlier key (must answer 200, same id). "
        "CPU: generator / server processes / whole machine, % of one core."
    )
    verdicts = [r.verdict for r in rows if r.verdict]
    out.print(
        f"target ≥ {TARGET_RATE_PER_S} requests/s at p99 < {TARGET_P99_MS:g} ms on {TARGET_BACKEND}: "
        + (", ".join(f"{r.workers} worker(s) {r.verdict}" for r in rows if r.verdict) or "not run")
    )
    if args.json:
        report = {
            "rates_per_s": args.rates,
            "seconds": args.seconds,
            "concurrency": args.concurrency,
            "closed_seconds": args.closed_seconds,
            "client": args.client,
            "replay_fraction": args.replay_fraction,
            "rows": [row.__dict__ for row in rows],
            "target": {"rate_per_s": TARGET_RATE_PER_S, "p99_ms": TARGET_P99_MS, "backend": TARGET_BACKEND},
            "machine": machine(),
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if verdicts and all(v == "PASS" for v in verdicts) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default=f"{TARGET_RATE_PER_S}", help="open-loop requests/s, comma-separated (300)")
    parser.add_argument("--seconds", type=float, default=15, help="open-loop duration (default 15)")
    parser.add_argument("--concurrency", type=int, default=16, help="closed-loop clients (default 16)")
    parser.add_argument("--replay-fraction", type=float, default=0.05, help="share of requests that retry a key")
    parser.add_argument(
        "--client", choices=("raw", "httpx"), default="raw", help="raw asyncio streams (default), httpx"
    )
    parser.add_argument(
        "--health-clients", default="raw,httpx", help="clients to check against /health at the first rate (raw,httpx)"
    )
    parser.add_argument("--warmup", type=float, default=1, help="uncounted closed-loop seconds before each phase")
    parser.add_argument("--closed-seconds", type=float, default=5, help="closed-loop duration (default 5)")
    parser.add_argument("--backends", default="postgresql,sqlite", help="comma-separated: postgresql, sqlite")
    parser.add_argument("--pg-workers", default="1,2", help="uvicorn worker counts on PostgreSQL (default 1,2)")
    parser.add_argument("--sqlite-workers", default="1", help="uvicorn worker counts on SQLite (default 1)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    # The generator process's own options: ``--generate PORT`` turns this script into the load generator.
    parser.add_argument("--generate", dest="port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--target", choices=("incidents", "health"), default="incidents", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=("open", "closed"), default="open", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=TARGET_RATE_PER_S, help=argparse.SUPPRESS)
    parser.add_argument("--max-connections", type=int, default=256, help=argparse.SUPPRESS)
    parser.add_argument("--bodies", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.port is not None:
        print(json.dumps(asyncio.run(generate(args))), flush=True)
        return 0
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    args.health_clients = [c.strip() for c in args.health_clients.split(",") if c.strip()]
    return conduct(args)


if __name__ == "__main__":
    sys.exit(main())
