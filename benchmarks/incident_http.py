"""Benchmark taking calls over HTTP: ``POST /api/incidents`` against a real uvicorn server, with the load generated
in a separate process (``load_generator.py``).

For each configuration (PostgreSQL with 1 and 2 workers, SQLite with 1, by default) on a fresh seeded database:
an open-loop run at a constant arrival rate, where every request has a fixed due time and its latency is counted
from that time (so queueing counts: no coordinated omission), then a short closed-loop run of N concurrent clients
for the most the server can take. Points and types come from Portland's August 2016 calls; every request has its own
Idempotency-Key, and 5% re-send an earlier key and body, which must answer 200 with the first incident's id.
Before the first configuration the generator runs at the same rate against ``/health``, to show it keeps its
timetable (with its own raw-stream client, and with httpx for comparison). An open-loop run whose server falls so far
behind that every connection is busy for 3 s stops early; what it never sent counts as errors. Each phase gets a newly
started server on the same database and 2 s of uncounted warm-up at its own pace (after a burst at full speed, an open
loop measures the burst's aftermath). Target: ≥ 300 requests/s at p99 < 50 ms on PostgreSQL, open loop.

    uv run python benchmarks/incident_http.py [--backends postgresql,sqlite] [--pg-workers 1,2] [--rates 300]
        [--seconds 15] [--concurrency 16] [--closed-seconds 5] [--client raw|httpx] [--health-clients raw,httpx]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.table import Table

from _common import (
    REPO_ROOT,
    TOKEN_ENV,
    bench_token,
    console,
    data_present,
    describe_url,
    fresh_databases,
    machine,
    parse_backends,
)
from load_generator import DRAIN_TIMEOUT_S, Calls

TARGET_RATE_PER_S = 300
TARGET_P99_MS = 50.0
TARGET_BACKEND = "postgresql"
# An open-loop run passes when it served what was asked: all of it, on time; a 2% allowance covers the last
# requests' own latency at the end of the window.
RATE_ALLOWANCE = 0.98
HEALTH_SECONDS = 3.0


GENERATOR = Path(__file__).with_name("load_generator.py")


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

    def cpu_s(self) -> dict[int, float]:
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


def process_group_cpu_s(pgrp: int) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each live process of one process group, by pid."""
    used = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[2]) == pgrp:
            used[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def run_generator(server: Server, options: list[str], timeout_s: float) -> dict[str, Any]:
    """One generator process; the server's and the machine's CPU use are sampled over its measured window."""
    command = [sys.executable, str(GENERATOR), "--port", str(server.port), *options]
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
    by_process = {pid: 100 * (used - before[1].get(pid, 0.0)) / wall_s for pid, used in after[1].items()}
    return result | {
        "server_cpu_pct": sum(by_process.values()),
        # Each uvicorn worker's share (the supervisor's too, near 0): the kernel hands a new connection to whichever
        # worker accepts first, and a keep-alive connection stays with it, so the load may not be shared evenly.
        "process_cpu_pct": sorted(by_process.values(), reverse=True),
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
            f"{r['generator_cpu_pct']:.0f}/{r['server_cpu_pct']:.0f}/{r['machine_cpu_pct']:.0f}"
            f" ({'+'.join(f'{pct:.0f}' for pct in r['process_cpu_pct'][: row.workers])})",
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
        "CPU: generator / server processes / whole machine, % of one core; in brackets, each server worker's."
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
    parser.add_argument(
        "--warmup", type=float, default=2, help="uncounted seconds before each phase, at its pace (default 2)"
    )
    parser.add_argument("--closed-seconds", type=float, default=5, help="closed-loop duration (default 5)")
    parser.add_argument("--backends", default="postgresql,sqlite", help="comma-separated: postgresql, sqlite")
    parser.add_argument("--pg-workers", default="1,2", help="uvicorn worker counts on PostgreSQL (default 1,2)")
    parser.add_argument("--sqlite-workers", default="1", help="uvicorn worker counts on SQLite (default 1)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    args.rates = [float(r) for r in args.rates.split(",") if r.strip()]
    args.health_clients = [c.strip() for c in args.health_clients.split(",") if c.strip()]
    return conduct(args)


if __name__ == "__main__":
    sys.exit(main())
