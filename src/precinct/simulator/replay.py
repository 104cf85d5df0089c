"""Replaying history: each scheduled call is taken again as a new incident at its moment, with an idempotency key
of its own (``sim-<run id>-<record index>``), so that a retry never makes a second incident."""

from __future__ import annotations

import asyncio
import logging

from precinct.simulator.api import Api
from precinct.simulator.calls import ScheduledCall
from precinct.simulator.options import SimulatorOptions, Stats

log = logging.getLogger("precinct.simulator")


def idempotency_key(run_id: str, record_index: int) -> str:
    return f"sim-{run_id}-{record_index}"


async def replay(api: Api, schedule: list[ScheduledCall], options: SimulatorOptions, stats: Stats) -> None:
    """Post the calls at their offsets from now (at once when behind), then return."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    for item in schedule:
        delay_s = started + item.offset_s - loop.time()
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        call = item.call
        reply = await api.create_incident(call.incident_body(), idempotency_key(options.run_id, call.record_index))
        if reply.ok:
            stats.calls_replayed += 1
            log.info(
                "call of %s replayed as incident %s: %s (%s)",
                call.at.strftime("%m-%d %H:%M"),
                reply.body["number"],
                call.case_code,
                call.type_code,
            )
    log.info("replay finished: every call from the start time on was taken")
