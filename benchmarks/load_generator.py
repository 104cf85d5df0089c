"""The load generator of ``incident_http.py`` (and ``push_latency.py``'s client), run in its own process so that its
CPU is not the server's: ``POST /api/incidents`` with the Portland calls' bodies (5% re-sending an earlier key), or
``GET /health``, in an open loop at a constant arrival rate (latency counted from each request's due time, so
queueing counts) or a closed loop of N clients. It prints ``START`` when the measured window opens, then one JSON line
with the results.

    python benchmarks/load_generator.py --port PORT [--target incidents|health] [--bodies FILE] [--mode open|closed]
        [--rate 300] [--seconds 15] [--concurrency 16] [--replay-fraction 0.05] [--client raw|httpx] [--warmup 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from _common import CALL_MAPPING, CALLS_ZIP, bearer_from_env, latency_ms

REQUEST_TIMEOUT_S = 5.0
DRAIN_TIMEOUT_S = 2 * REQUEST_TIMEOUT_S
STALL_ABORT_S = 3.0
SEED = 20160801


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: far less CPU per request than httpx, for when the
    generator shares a small machine with the server."""

    def __init__(self, host: str, port: int, max_connections: int) -> None:
        self.host, self.port = host, port
        # Idle connections, the longest idle first: every open connection takes its turn, as the desks of a call centre
        # each send now and then. (Taking the last one back, two or three connections carried nearly every request,
        # and with them one server worker whichever connections it had accepted.)
        self.idle: deque[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = deque()
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
        reader, writer = (
            self.idle.popleft() if reuse and self.idle else await asyncio.open_connection(self.host, self.port)
        )
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
        # At the pace measured next: an open loop that starts in the wake of a burst at full speed measures the
        # burst's aftermath (its first half second queued behind it, in every run), not the steady rate.
        if args.mode == "open":
            await warmup.open_loop(args.rate, args.warmup, args.max_connections)
        else:
            await warmup.closed_loop(args.concurrency, args.warmup)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="the server's port on 127.0.0.1")
    parser.add_argument("--target", choices=("incidents", "health"), default="incidents")
    parser.add_argument("--bodies", type=Path, help="request bodies, one JSON document a line (Calls.write)")
    parser.add_argument("--mode", choices=("open", "closed"), default="open")
    parser.add_argument("--rate", type=float, default=300, help="open loop: requests/s")
    parser.add_argument("--seconds", type=float, default=15, help="measured duration")
    parser.add_argument("--concurrency", type=int, default=16, help="closed loop: clients")
    parser.add_argument("--replay-fraction", type=float, default=0.05, help="share of requests that retry a key")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--warmup", type=float, default=2, help="uncounted seconds first, at the measured pace")
    parser.add_argument("--max-connections", type=int, default=256)
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(generate(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
