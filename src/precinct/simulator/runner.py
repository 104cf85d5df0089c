"""One run of the simulator: load the roads and the calls, wait for the server, follow the live feed, then run the
units, the replay and the dispatcher until the duration is up or the run is stopped (SIGINT, SIGTERM)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

import httpx

from precinct.core.calls import CallFileError, read_call_points
from precinct.core.routing import RoadGraph, RoutingError, load_or_build
from precinct.simulator.api import Api
from precinct.simulator.calls import (
    CallMappingError,
    ScheduledCall,
    historical_calls,
    on_network,
    read_call_mapping,
    replay_schedule,
)
from precinct.simulator.dispatcher import Dispatcher
from precinct.simulator.feed import Event, Feed, feed_url
from precinct.simulator.options import SimulatorOptions, Stats
from precinct.simulator.patrol import UnitAgent
from precinct.simulator.replay import replay
from precinct.simulator.responder import Responder

log = logging.getLogger("precinct.simulator")

FEED_TIMEOUT_S = 30.0
WATCH_S = 5.0  # how often the run checks that its server is still there
REQUEST_TIMEOUT_S = 15.0


class SimulatorError(Exception):
    """The simulator cannot start; the message says why and what to do."""


def prepare(options: SimulatorOptions) -> tuple[RoadGraph, list[ScheduledCall]]:
    """The road graph (from the cache the server built, when it is there) and the calls to replay."""
    try:
        graph = load_or_build(options.roads_path, options.cache_dir)
        records = read_call_points(options.calls_path)
        usable = on_network(graph, records.lon, records.lat, options.snap_max_distance_m)
        calls = historical_calls(
            records,
            read_call_mapping(options.mapping_path),
            usable,
            date_field=options.date_field,
            description_field=options.description_field,
            timezone=options.data_timezone,
            seed=options.seed,
        )
    except (RoutingError, CallFileError, CallMappingError) as error:
        raise SimulatorError(str(error)) from error
    return graph, replay_schedule(calls, options.start, options.speed)


async def run(options: SimulatorOptions, stop: asyncio.Event | None = None) -> Stats:
    """Run until ``stop`` is set or ``options.duration_s`` has passed; what was done comes back as :class:`Stats`."""
    stop = stop or asyncio.Event()
    stats = Stats()
    graph, schedule = await asyncio.to_thread(prepare, options)
    if schedule:
        first, last = schedule[0].call.at, schedule[-1].call.at
        log.info(
            "%d calls to replay, %s to %s, at %g× speed",
            len(schedule),
            f"{first:%m-%d %H:%M}",
            f"{last:%m-%d %H:%M}",
            options.speed,
        )
    else:
        log.warning("no call to replay from %s on", options.start.isoformat())
    headers = {"Authorization": f"Bearer {options.token}"}
    async with httpx.AsyncClient(base_url=options.url, headers=headers, timeout=REQUEST_TIMEOUT_S) as client:
        api = Api(client, stats)
        if not await api.wait_healthy(options.health_timeout_s):
            raise SimulatorError(f"no answer from {options.url}/health within {options.health_timeout_s:g} s")
        await _check_network(api, graph, options)
        units = await _units(api, options)
        agents = _agents(units, api, graph, options, stats)
        responder = Responder(api, options, stats, agents)
        dispatcher = Dispatcher(api, options, stats, {int(u["id"]): str(u["call_sign"]) for u in units})

        def on_event(event: Event) -> None:
            responder.on_event(event)
            dispatcher.on_event(event)

        feed = Feed(feed_url(options.url), headers)
        tasks = [asyncio.create_task(feed.run(on_event))]
        try:
            try:
                await asyncio.wait_for(feed.ready.wait(), FEED_TIMEOUT_S)
            except TimeoutError:
                raise SimulatorError(f"no live feed at {feed.url} within {FEED_TIMEOUT_S:g} s") from None
            # Orders left open by an earlier run: its units take them up again, its overdue orders are cancelled.
            left_open = (await api.open_orders()).body or []
            responder.adopt(left_open)
            await dispatcher.catch_up(left_open)
            tasks += [asyncio.create_task(responder.run_unit(agent)) for agent in agents.values()]
            tasks.append(asyncio.create_task(replay(api, schedule, options, stats)))
            tasks.append(asyncio.create_task(_watch(api, options, stop)))
            log.info("simulating %d units at %s (Ctrl-C to stop)", len(agents), options.url)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), options.duration_s)
        finally:
            for task in tasks:
                task.cancel()
            await dispatcher.stop()
            await asyncio.gather(*tasks, return_exceptions=True)
    return stats


async def _watch(api: Api, options: SimulatorOptions, stop: asyncio.Event) -> None:
    """Stop the run when the server has been gone for ``health_timeout_s`` (e.g. the demo that started it died)."""
    loop = asyncio.get_running_loop()
    last_seen = loop.time()
    while True:
        await asyncio.sleep(WATCH_S)
        if await api.healthy():
            last_seen = loop.time()
        elif loop.time() - last_seen > options.health_timeout_s:
            log.warning("no answer from %s for %g s; stopping", options.url, options.health_timeout_s)
            stop.set()
            return


async def main(options: SimulatorOptions) -> Stats:
    """:func:`run` for the command line: the first SIGINT or SIGTERM stops it cleanly, a second one at once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    current = asyncio.current_task()

    def on_signal() -> None:
        if stop.is_set() and current is not None:
            current.cancel()
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, on_signal)
    return await run(options, stop)


async def _check_network(api: Api, graph: RoadGraph, options: SimulatorOptions) -> None:
    """Warn when the server routes on another network than the one the units patrol (or on none)."""
    network = await api.road_network()
    if not network.ok:
        log.warning("the server has no road network: units patrol, but no route nor recommendation can be had")
    elif any(abs(a - b) > 1e-6 for a, b in zip(network.body["bounds"], graph.bounds, strict=True)):
        log.warning(
            "the server routes on %s, not on %s: patrols and routes may not match",
            network.body["name"],
            options.roads_path,
        )


async def _units(api: Api, options: SimulatorOptions) -> list[dict[str, Any]]:
    listed = await api.units()
    if not listed.ok:
        raise SimulatorError(f"cannot list the units at {options.url}/api/units")
    units: list[dict[str, Any]] = listed.body
    unknown = options.leave - {u["call_sign"] for u in units}
    if unknown:
        log.warning("no unit has the call sign %s (from --leave)", ", ".join(sorted(unknown)))
    return units


def _agents(
    units: list[dict[str, Any]], api: Api, graph: RoadGraph, options: SimulatorOptions, stats: Stats
) -> dict[int, UnitAgent]:
    """The units to simulate: every unit but those left to people, their reporting moments spread over the
    interval so that their position reports come evenly."""
    simulated = [u for u in units if u["call_sign"] not in options.leave]
    now = asyncio.get_running_loop().time()
    step_s = options.position_interval_s / max(len(simulated), 1)
    agents = {
        int(unit["id"]): UnitAgent(
            unit, api=api, graph=graph, options=options, stats=stats, first_tick_s=now + i * step_s
        )
        for i, unit in enumerate(simulated)
    }
    off_road = [a.call_sign for a in agents.values() if not a.can_patrol()]
    if off_road:
        named = ", ".join(off_road[:6]) + (", …" if len(off_road) > 6 else "")
        log.info("%d units stand off the road network and will not patrol (%s)", len(off_road), named)
    return agents
