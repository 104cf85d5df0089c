"""Running precinct: the schema, the HTTP server, the background worker, and the demo with its simulator. All but
``db`` are top-level commands, registered in main.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from precinct.cli import demo as demo_module
from precinct.cli.common import console, err, read_password
from precinct.domains.jobs import JOBS
from precinct.platform import migrate
from precinct.platform.config import Settings
from precinct.platform.context import system_clock
from precinct.platform.db import Database
from precinct.platform.jobs import JobRunner
from precinct.simulator import runner as simulator
from precinct.simulator.options import DEFAULT_START, SimulatorOptions, new_run_id, parse_start

db_app = typer.Typer(help="The database schema.", no_args_is_help=True)

SIMULATOR_TOKEN_ENV = "PRECINCT_SIMULATOR_TOKEN"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    settings = Settings()
    migrate.upgrade(settings.database_url)
    console.print(f"schema up to date at {_safe_url(settings.database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64)] = 1,
) -> None:
    """Run the HTTP API with uvicorn."""
    import uvicorn

    uvicorn.run("precinct.web.main:app", host=host, port=port, workers=workers, log_level="info")


def worker(once: Annotated[bool, typer.Option("--once", help="Run every job once and stop")] = False) -> None:
    """Run the background jobs (orders not acknowledged in time, …) every job_interval_s, apart from the API."""
    settings = Settings()
    db = Database(settings.database_url, writers=settings.db_writers)
    runner = JobRunner(db, settings, system_clock, JOBS)
    try:
        if once:
            runner.run_once()
        else:
            console.print(f"running {len(JOBS)} job(s) every {settings.job_interval_s:g} s — Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(runner.run_forever())
    finally:
        db.dispose()


def demo(
    data: Annotated[Path, typer.Option(help="The shared data folder")] = Path("../shared/data"),
    serve_after: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server when ready")] = True,
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    simulate_after: Annotated[
        bool, typer.Option("--simulate/--no-simulate", help="Make it live: run the simulator beside the server")
    ] = True,
) -> None:
    """Build the Portland demo (tree, units, August 2016 history) and serve it, alive with simulated units and calls."""
    settings = Settings()
    summary = demo_module.build(settings, data, console)
    console.print_json(json.dumps(asdict(summary)))
    console.print(demo_module.sign_in_note(settings), soft_wrap=True, markup=False)
    if not serve_after:
        return
    base_url = f"http://127.0.0.1:{port}"
    console.print(f"serving on {base_url} — Ctrl-C to stop; the API is described at {base_url}/docs")
    console.print(f"command screen: {base_url}/command", soft_wrap=True)
    simulator_token, terminal_token = demo_module.demo_tokens(settings)
    if terminal_token is not None:
        who = f"{demo_module.TERMINAL_UNIT}, left to you" if simulate_after else demo_module.TERMINAL_UNIT
        console.print(
            f"officer terminal ({who}): {base_url}/terminal — DEMO terminal token, for a day:", soft_wrap=True
        )
        console.print(terminal_token, soft_wrap=True, markup=False, highlight=False)
    process = _start_simulator(base_url, data, simulator_token) if simulate_after else None
    import uvicorn

    # uvicorn raises the signal that stopped it again once it has shut down; SIGTERM must then unwind through the
    # ``finally`` below (which stops the simulator) instead of ending the process on the spot.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        # With the simulator running, every unit reports its position every few seconds: no line per request.
        uvicorn.run("precinct.web.main:app", host="127.0.0.1", port=port, log_level="info", access_log=process is None)
    finally:
        if process is not None:
            _stop_simulator(process)


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _start_simulator(base_url: str, data: Path, token: str) -> subprocess.Popen[bytes]:
    """``precinct simulate`` in a process of its own (same Python), waiting for the server that starts next; its
    token goes in the environment, which other users cannot read, never in the arguments, which they can."""
    command = [sys.executable, "-m", "precinct.cli.main", "simulate", "--url", base_url, "--data", str(data.resolve())]
    environment = {**os.environ, SIMULATOR_TOKEN_ENV: token}
    return subprocess.Popen([*command, "--leave", demo_module.TERMINAL_UNIT], env=environment)


def _stop_simulator(process: subprocess.Popen[bytes]) -> None:
    # After Ctrl-C the simulator stops on its own signal; otherwise it is told to.
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=3)
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def simulate(
    url: Annotated[str, typer.Option(help="The running server")] = "http://127.0.0.1:8000",
    data: Annotated[Path, typer.Option(help="The shared data folder (road extract and calls)")] = Path(
        "../shared/data"
    ),
    speed: Annotated[float, typer.Option(min=0.01, max=100_000, help="Historical minutes per wall minute")] = 10.0,
    start: Annotated[
        str, typer.Option(help="Historical time to replay calls from; Portland time unless it has an offset")
    ] = DEFAULT_START,
    dispatch_after: Annotated[
        float, typer.Option(min=0, help="Seconds an incident waits before the simulated dispatcher acts; 0 = never")
    ] = 45.0,
    leave: Annotated[
        str | None, typer.Option(help="Call signs, comma-separated, of units left to people (never moved)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds every random choice")] = 1,
    duration: Annotated[float | None, typer.Option(min=0, help="Stop after this many seconds")] = None,
    position_interval: Annotated[
        float, typer.Option(min=0.05, max=600, help="Seconds between a moving unit's position reports")
    ] = 3.0,
    drive_speedup: Annotated[
        float, typer.Option(min=0.01, max=10_000, help="Drive this much faster than roads allow")
    ] = 1.0,
    roads: Annotated[Path | None, typer.Option(help="The OSM extract the server routes on")] = None,
    calls: Annotated[Path | None, typer.Option(help="Historical calls to replay")] = None,
    mapping: Annotated[Path | None, typer.Option(help="CSV mapping the calls to catalogue types")] = None,
    run_id: Annotated[str | None, typer.Option(help="Names this run in the calls' idempotency keys")] = None,
    wait: Annotated[float, typer.Option(min=0, help="Seconds to wait for the server to answer")] = 60.0,
    token_file: Annotated[
        Path | None,
        typer.Option(help=f"A file whose first line is the simulator's bearer token (else ${SIMULATOR_TOKEN_ENV})"),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Log every refused request too")] = False,
) -> None:
    """Make a running demo live: units patrol and answer their orders, past calls come in again, and a dispatcher
    sends units to calls left waiting. A client of the HTTP API and the live feed only, with a token of
    system:simulator (precinct users token add --system simulator --org PDX --role dispatcher)."""
    token = read_password(token_file) if token_file is not None else os.environ.get(SIMULATOR_TOKEN_ENV, "")
    if not token.strip():
        err.print(
            f"[red]error:[/red] the simulator needs a token: --token-file or ${SIMULATOR_TOKEN_ENV} "
            "(precinct users token add --system simulator --org PDX --role dispatcher)"
        )
        raise typer.Exit(2)
    try:
        options = SimulatorOptions(
            url=url.rstrip("/"),
            token=token.strip(),
            roads_path=roads or data / "osm" / "portland-central-filtered.osm.pbf",
            calls_path=calls or data / "portland" / "080116_083116_Data.zip",
            mapping_path=mapping,
            cache_dir=Settings().cache_dir,
            speed=speed,
            start=parse_start(start),
            dispatch_after_s=dispatch_after,
            leave=frozenset(sign.strip() for sign in (leave or "").split(",") if sign.strip()),
            seed=seed,
            duration_s=duration,
            position_interval_s=position_interval,
            drive_speedup=drive_speedup,
            run_id=run_id or new_run_id(),
            health_timeout_s=wait,
        )
    except ValueError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s simulator: %(message)s",
        datefmt="%H:%M:%S",
    )
    for chatty in ("httpx", "httpcore", "websockets"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        stats = asyncio.run(simulator.main(options))
    except simulator.SimulatorError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    except (KeyboardInterrupt, asyncio.CancelledError):
        err.print("simulator stopped")
        return
    console.print(f"simulator stopped: {stats.line()}", soft_wrap=True)
