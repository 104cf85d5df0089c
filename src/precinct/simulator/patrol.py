"""A simulated unit: what the server last said about it, where it is, and how it drives: along a timed path,
reporting its position at moments of its own (spread over the interval, so that the units do not report at once),
and, while it is free, on random routes around its home."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from precinct.core.routing import RoadGraph, RoutingError, Snap
from precinct.simulator.api import Api
from precinct.simulator.motion import TimedPath, path_from_route, patrol_targets
from precinct.simulator.options import SimulatorOptions, Stats

log = logging.getLogger("precinct.simulator")


@dataclass
class Order:
    """A dispatch order the unit works on."""

    id: int
    incident_id: int
    status: str


class UnitAgent:
    """One simulated unit. Its ``status`` and ``on_duty`` follow the live feed; ``pending`` is an order that
    arrived and ``job`` the one being worked on; ``wakeup`` is set on any change its driving must notice."""

    def __init__(
        self,
        unit: dict[str, Any],
        *,
        api: Api,
        graph: RoadGraph,
        options: SimulatorOptions,
        stats: Stats,
        first_tick_s: float,
    ) -> None:
        self.id = int(unit["id"])
        self.call_sign = str(unit["call_sign"])
        self.status = str(unit["status"])
        self.on_duty = bool(unit["on_duty"])
        self.lon: float | None = unit.get("lon")
        self.lat: float | None = unit.get("lat")
        self.api, self.graph, self.options, self.stats = api, graph, options, stats
        self.rng = random.Random(f"{options.seed}:{self.id}")
        self.pending: Order | None = None
        self.job: Order | None = None
        self.wakeup = asyncio.Event()
        self._first_tick_s = first_tick_s
        self._home = (self.lon, self.lat)
        self._targets: NDArray[np.int64] | None = None
        self._here: Snap | None = None  # the road point where the last patrol leg ended
        self._off_road: tuple[float, float] | None = None  # a position found too far from every road

    @property
    def free(self) -> bool:
        """On duty, available, and with no order arrived or in hand: free to patrol."""
        return self.on_duty and self.status == "available" and self.pending is None and self.job is None

    def observe(self, *, status: str | None = None, on_duty: bool | None = None) -> None:
        """Take in what the server says the unit's status is now."""
        if status is not None:
            self.status = status
        if on_duty is not None:
            self.on_duty = on_duty
        self.wakeup.set()

    def assign(self, order: Order) -> bool:
        """An order for this unit arrived; False when it is one already known."""
        if order.id in {o.id for o in (self.pending, self.job) if o is not None}:
            return False
        self.pending = order
        self.wakeup.set()
        return True

    def can_patrol(self) -> bool:
        return self._origin() is not None

    async def report(self, lon: float, lat: float) -> None:
        self.lon, self.lat = lon, lat
        if (await self.api.report_position(self.id, lon, lat)).ok:
            self.stats.positions_reported += 1

    async def drive(self, path: TimedPath, *, stop: Callable[[], bool] | None = None) -> bool:
        """Drive ``path`` from now on, reporting the position at each tick; False if ``stop()`` came true first."""
        loop = asyncio.get_running_loop()
        self._here = None
        started = loop.time()
        while True:
            if await self._sleep_to_tick(stop):
                return False
            elapsed_s = (loop.time() - started) * self.options.drive_speedup
            await self.report(*path.position_at(elapsed_s))
            if elapsed_s >= path.duration_s:
                return True

    async def patrol_leg(self) -> None:
        """Drive to a random road point around home, unless something needs the unit on the way."""
        origin = self._origin()
        if origin is None:
            return
        node = int(self._patrol_targets()[self.rng.randrange(len(self._patrol_targets()))])
        try:
            target = self.graph.snap(float(self.graph.node_lon[node]), float(self.graph.node_lat[node]))
            route = await asyncio.to_thread(self.graph.route, origin, target)
        except RoutingError as error:
            log.debug("%s: no patrol route (%s)", self.call_sign, error)
            self._here = None
            await asyncio.sleep(self.options.position_interval_s)
            return
        if await self.drive(path_from_route(self.graph, route), stop=lambda: not self.free):
            self._here = target

    def _origin(self) -> Snap | None:
        """The road point the unit stands on, or None when it is off the road network."""
        if self._here is None and self.lon is not None and self.lat is not None:
            position = (self.lon, self.lat)
            if position != self._off_road:
                try:
                    self._here = self.graph.snap(*position, max_distance_m=self.options.snap_max_distance_m)
                except RoutingError:
                    self._off_road = position
        return self._here

    def _patrol_targets(self) -> NDArray[np.int64]:
        if self._targets is None:
            home_lon, home_lat = self._home
            if home_lon is None or home_lat is None:
                home_lon, home_lat = self.lon or 0.0, self.lat or 0.0
            self._targets = patrol_targets(self.graph, home_lon, home_lat, self.options.patrol_radius_m)
        return self._targets

    async def _sleep_to_tick(self, stop: Callable[[], bool] | None) -> bool:
        """Sleep until this unit's next reporting moment; True if ``stop()`` came true before it."""
        loop = asyncio.get_running_loop()
        interval_s = self.options.position_interval_s
        ticks = math.floor((loop.time() - self._first_tick_s) / interval_s) + 1
        deadline = self._first_tick_s + max(ticks, 0) * interval_s
        while True:
            self.wakeup.clear()
            if stop is not None and stop():
                return True
            remaining_s = deadline - loop.time()
            if remaining_s <= 0:
                return False
            if stop is None:
                await asyncio.sleep(remaining_s)
                return False
            with contextlib.suppress(TimeoutError):  # not wait_for, which may drop a cancellation (see bus._woken)
                async with asyncio.timeout(remaining_s):
                    await self.wakeup.wait()
