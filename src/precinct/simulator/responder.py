"""Simulated units answer their orders as crews do: acknowledge (签收) after a moment, set off, drive the route the
API draws, arrive, stay on scene, file the feedback record (反馈单) and clear; between jobs they patrol. An order
cancelled or returned by someone else ends the job, and the unit goes back to patrol."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from precinct.simulator.api import Api
from precinct.simulator.feed import Event
from precinct.simulator.motion import TimedPath, path_along, straight
from precinct.simulator.options import SimulatorOptions, Stats
from precinct.simulator.patrol import Order, UnitAgent

log = logging.getLogger("precinct.simulator")

PROGRESS = ("ordered", "acknowledged", "en_route", "on_scene", "cleared")
ENDED = frozenset({"returned", "cancelled"})
STEP_REACHES = {"acknowledge": "acknowledged", "depart": "en_route", "arrive": "on_scene", "clear": "cleared"}

# Historical seconds, shrunk by the run's speed.
THINK_S = (15.0, 60.0)  # from the order to acknowledging it
GET_GOING_S = (10.0, 40.0)  # from acknowledging to setting off
ON_SCENE_S = (8 * 60.0, 25 * 60.0)
OFF_ROAD_SPEED_M_S = 10.0  # a unit with no road route to the incident goes straight there
STEP_TRIES = 3

# (outcome code, feedback text, weight)
OUTCOMES = (
    ("RESOLVED", "Resolved on scene.", 5),
    ("ADVISED", "Parties advised; no further action.", 3),
    ("GONE_ON_ARRIVAL", "Nobody found at the scene.", 2),
    ("REPORT_TAKEN", "Report taken; a case is opened.", 2),
)


class Responder:
    """Runs every simulated unit: its orders first, patrol in between."""

    def __init__(self, api: Api, options: SimulatorOptions, stats: Stats, agents: dict[int, UnitAgent]) -> None:
        self.api, self.options, self.stats, self.agents = api, options, stats, agents
        self._jobs: dict[int, asyncio.Task[None]] = {}

    def on_event(self, event: Event) -> None:
        payload = event.payload
        agent = self.agents.get(payload.get("unit_id", 0))
        if agent is None:
            return
        if event.topic.startswith("unit."):
            agent.observe(status=payload.get("status"), on_duty=payload.get("on_duty"))
        elif event.topic == "dispatch.ordered":
            incident = payload.get("incident") or {}
            agent.observe(status=payload.get("unit_status"))
            order = Order(int(payload["id"]), int(payload["incident_id"]), "ordered")
            if agent.assign(order):
                log.info(
                    "%s: order %d for incident %s", agent.call_sign, order.id, incident.get("number", order.incident_id)
                )
        elif event.topic == "dispatch.updated" and "status" in payload:
            self._order_moved(agent, int(payload["id"]), str(payload["status"]), payload.get("unit_status"))

    def _order_moved(self, agent: UnitAgent, order_id: int, status: str, unit_status: str | None) -> None:
        mine = [o for o in (agent.pending, agent.job) if o is not None and o.id == order_id]
        if mine or (agent.pending is None and agent.job is None):  # not a late word on an older order
            agent.observe(status=unit_status)
        if not mine or status not in ENDED:
            return
        log.info("%s: order %d was %s by someone else; back on patrol", agent.call_sign, order_id, status)
        if agent.pending is not None and agent.pending.id == order_id:
            agent.pending = None
        job = self._jobs.get(agent.id)
        if agent.job is not None and agent.job.id == order_id and job is not None:
            job.cancel()

    def adopt(self, open_orders: list[dict[str, Any]]) -> None:
        """Take up again the open orders of simulated units (left by an earlier run that stopped midway)."""
        for order in open_orders:
            agent = self.agents.get(int(order["unit_id"]))
            if agent is None:
                continue
            taken = Order(int(order["id"]), int(order["incident_id"]), str(order["status"]))
            if agent.assign(taken):
                log.info("%s: taking up order %d again (%s)", agent.call_sign, taken.id, taken.status)

    async def run_unit(self, agent: UnitAgent) -> None:
        """The unit's life: work on an order when one comes, patrol while free, otherwise wait for a change."""
        while True:
            try:
                agent.wakeup.clear()
                if agent.pending is not None:
                    await self._work(agent, agent.pending)
                elif agent.free and agent.can_patrol():
                    await agent.patrol_leg()
                else:
                    await agent.wakeup.wait()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop the unit for good
                log.exception("%s: unexpected error; going on", agent.call_sign)
                await asyncio.sleep(1.0)

    async def _work(self, agent: UnitAgent, order: Order) -> None:
        agent.pending, agent.job = None, order
        job = asyncio.create_task(self._respond(agent, order))
        self._jobs[agent.id] = job
        try:
            await asyncio.wait({job})
        finally:
            job.cancel()
            agent.job = None
            self._jobs.pop(agent.id, None)
        if not job.cancelled() and job.exception() is not None:
            log.error("%s: order %d failed: %r", agent.call_sign, order.id, job.exception())

    async def _respond(self, agent: UnitAgent, order: Order) -> None:
        """Take the order from its current state to cleared; stop when it is ended or moved out of reach."""
        status: str | None = order.status
        if status == "ordered":
            await asyncio.sleep(self.options.between(agent.rng, *THINK_S))
            status = await self._advance(agent, order, "acknowledge")
            if status is not None:
                self.stats.orders_acknowledged += 1
        if status == "acknowledged":
            await asyncio.sleep(self.options.between(agent.rng, *GET_GOING_S))
            status = await self._advance(agent, order, "depart")
        if status == "en_route":
            path = await self._path_to_incident(agent, order)
            if path is not None:
                await agent.drive(path)
            status = await self._advance(agent, order, "arrive")
        if status == "on_scene":
            await asyncio.sleep(self.options.between(agent.rng, *ON_SCENE_S))
            await self.api.feedback(order.id, self._feedback(agent, order), self._key(order, "feedback"))
            status = await self._advance(agent, order, "clear")
        if status == "cleared":
            self.stats.orders_cleared += 1
            log.info("%s: order %d cleared", agent.call_sign, order.id)

    async def _advance(self, agent: UnitAgent, order: Order, action: str) -> str | None:
        """Take one step; the order's state after it, or None when the job should stop (the order ended, or
        someone else holds it in a state this step cannot follow)."""
        for attempt in range(STEP_TRIES):
            reply = await self.api.step(order.id, action, self._key(order, action))
            if reply.ok:
                return str(reply.body["status"])
            if reply.status != 0 and reply.status < 500:
                break
            await asyncio.sleep(1.0 + attempt)
        current = await self.api.order(order.id)
        if not current.ok:
            return None
        status = str(current.body["status"])
        if status in PROGRESS and PROGRESS.index(status) >= PROGRESS.index(STEP_REACHES[action]):
            return status  # someone did the step for the unit (a person at its terminal): follow on from there
        log.info("%s: cannot %s order %d, which is %s; leaving it", agent.call_sign, action, order.id, status)
        return None

    def _key(self, order: Order, action: str) -> str:
        """The idempotency key of one step: a retry after a lost answer is then taken once."""
        return f"sim-{self.options.run_id}-order{order.id}-{action}"

    async def _path_to_incident(self, agent: UnitAgent, order: Order) -> TimedPath | None:
        reply = await self.api.route(order.incident_id, agent.id)
        if reply.ok:
            return path_along(reply.body["geometry"]["coordinates"], float(reply.body["properties"]["eta_s"]))
        incident = await self.api.incident(order.incident_id)
        if agent.lon is None or agent.lat is None or not incident.ok or incident.body["lon"] is None:
            return None
        goal = (float(incident.body["lon"]), float(incident.body["lat"]))
        return straight((agent.lon, agent.lat), goal, OFF_ROAD_SPEED_M_S)

    def _feedback(self, agent: UnitAgent, order: Order) -> dict[str, Any]:
        code, text, _ = agent.rng.choices(OUTCOMES, weights=[weight for *_, weight in OUTCOMES])[0]
        body: dict[str, Any] = {
            "outcome_code": code,
            "text": f"{text} (simulated)",
            "people_helped": agent.rng.randint(0, 2),
            "casualties": 0,
        }
        if code == "REPORT_TAKEN":
            body["case_ref"] = f"SIM-{order.id}"
        return body
