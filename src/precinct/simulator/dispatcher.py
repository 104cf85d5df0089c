"""A patient simulated dispatcher, so that the command screen keeps moving with nobody at it: an incident still
waiting for a unit after ``dispatch_after_s`` gets the recommended unit; an incident whose orders are all cleared is
closed (结警) a little later; an order it sent that is not acknowledged in time is cancelled and sent again.
A person acting first always wins: the dispatcher looks again before each step, and a refusal is no error."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Coroutine
from typing import Any

from precinct.simulator.api import Api
from precinct.simulator.feed import Event
from precinct.simulator.options import ACTOR, SimulatorOptions, Stats

log = logging.getLogger("precinct.simulator")

CLOSE_AFTER_S = (60.0, 180.0)  # historical seconds from the last order cleared to closing
DISPATCH_TRIES = 10  # an incident no unit can take yet is tried again, every dispatch_after_s
CLOSE_REASON = "all units cleared; closed by the simulated dispatcher"
OVERDUE_REASON = "not acknowledged in time; the simulated dispatcher sends another unit"


class Dispatcher:
    def __init__(self, api: Api, options: SimulatorOptions, stats: Stats, call_signs: dict[int, str]) -> None:
        self.api, self.options, self.stats = api, options, stats
        self.call_signs = call_signs  # for the log
        self.rng = random.Random(f"{options.seed}:dispatcher")
        self._waiting: set[int] = set()
        self._closing: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def on_event(self, event: Event) -> None:
        payload = event.payload
        if event.topic in ("incident.created", "incident.updated") and payload.get("status") == "received":
            self.expect(int(payload["id"]))  # a new call, or one reopened with no unit on it
        elif event.topic == "dispatch.updated" and isinstance(payload.get("incident"), dict):
            incident = payload["incident"]
            if incident.get("status") == "cleared":
                self.close_later(int(incident["id"]))
            elif incident.get("status") == "received":  # every order returned or cancelled: it waits again
                self.expect(int(incident["id"]))
        elif event.topic == "dispatch.overdue":
            self._spawn(self._cancel_overdue(int(payload["id"])))

    async def catch_up(self, open_orders: list[dict[str, Any]]) -> None:
        """Take on what was already waiting when the simulator started."""
        for order in open_orders:
            if order["status"] == "ordered" and order["ordered_by"] == ACTOR and order.get("overdue_at"):
                self._spawn(self._cancel_overdue(int(order["id"])))
        for incident in (await self.api.incidents(["received"])).body or []:
            self.expect(int(incident["id"]))
        for incident in (await self.api.incidents(["cleared"])).body or []:
            self.close_later(int(incident["id"]))

    def expect(self, incident_id: int) -> None:
        """Dispatch to this incident later, unless someone else does first."""
        if self.options.dispatch_after_s > 0 and incident_id not in self._waiting:
            self._waiting.add(incident_id)
            self._spawn(self._dispatch_later(incident_id))

    def close_later(self, incident_id: int) -> None:
        if incident_id not in self._closing:
            self._closing.add(incident_id)
            self._spawn(self._close_later(incident_id))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _dispatch_later(self, incident_id: int) -> None:
        try:
            for attempt in range(DISPATCH_TRIES):
                await asyncio.sleep(self.options.dispatch_after_s)
                incident = await self.api.incident(incident_id)
                if not incident.ok or incident.body["status"] != "received":
                    return  # dispatched (or closed) by someone else meanwhile
                reply = await self.api.dispatch_recommended(incident_id)
                if reply.ok:
                    self.stats.incidents_dispatched += 1
                    units = ", ".join(
                        f"{self.call_signs.get(o['unit_id'], o['unit_id'])} ({o.get('note') or 'recommended'})"
                        for o in reply.body
                    )
                    log.info("dispatcher: incident %s gets %s", incident.body["number"], units)
                    return
                if reply.status == 409:
                    return  # someone else acted at the same moment
                if attempt == 0:
                    log.info("dispatcher: no unit for incident %s yet; trying again", incident.body["number"])
        finally:
            self._waiting.discard(incident_id)

    async def _close_later(self, incident_id: int) -> None:
        try:
            await asyncio.sleep(self.options.between(self.rng, *CLOSE_AFTER_S))
            incident = await self.api.incident(incident_id)
            if not incident.ok or incident.body["status"] != "cleared":
                return
            if (await self.api.close(incident_id, CLOSE_REASON)).ok:
                self.stats.incidents_closed += 1
                log.info("dispatcher: incident %s closed", incident.body["number"])
        finally:
            self._closing.discard(incident_id)

    async def _cancel_overdue(self, order_id: int) -> None:
        """Cancel an order not acknowledged in time, if this dispatcher sent it (a person's order stays theirs)."""
        order = await self.api.order(order_id)
        if not order.ok or order.body["ordered_by"] != ACTOR or order.body["status"] != "ordered":
            return
        key = f"sim-{self.options.run_id}-order{order_id}-cancel"
        if (await self.api.step(order_id, "cancel", key, OVERDUE_REASON)).ok:
            log.info("dispatcher: order %d was not acknowledged in time; cancelled", order_id)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
