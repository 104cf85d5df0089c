"""Getting committed events from the outbox to every process that serves a live page.

One ``EventHub`` per process hands each event to the process's subscribers (its WebSockets). Where the events come
from depends on ``PRECINCT_EVENT_BUS``:

- ``local`` (default): each process reads the outbox table itself, woken at once by its own commits and every
  ``event_poll_s`` for other processes' commits. Several workers on one database serve one command centre
  consistently with no server to run.
- ``nats``: a relay in each process hands unpublished outbox rows to NATS JetStream (the event id as
  ``Nats-Msg-Id``, so the stream drops a row two relays both send) and marks them published; each process
  subscribes to the stream.

Either way an event may reach a subscriber twice; its id lets the receiver ignore the repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

import nats
from nats.js.api import DeliverPolicy, StreamConfig

from precinct.platform.config import Settings
from precinct.platform.db import Database
from precinct.platform.events import (
    RELAY_BATCH,
    Event,
    events_after,
    mark_published,
    on_events_committed,
    unpublished,
)

log = logging.getLogger("precinct.bus")

SUBSCRIBER_BACKLOG = (
    1000  # events a slow subscriber may fall behind before it is cut off (it reconnects and catches up)
)
GAP_WAIT_S = 30.0  # how long an id below the highest seen is awaited: its transaction may still commit
MAX_GAPS = 1000


class Subscription:
    """What one subscriber receives: the events after ``start`` (the last id when it subscribed) in the order the hub
    got them, then ``None`` if it fell too far behind."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.queue: asyncio.Queue[Event | None] = asyncio.Queue(SUBSCRIBER_BACKLOG + 1)
        self.cut_off = False

    def offer(self, event: Event) -> None:
        if self.cut_off:
            return
        if self.queue.qsize() >= SUBSCRIBER_BACKLOG:
            self.cut_off = True
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)

    async def next(self) -> Event | None:
        return await self.queue.get()


class EventHub:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.subscriptions: set[Subscription] = set()
        self._everything: set[Subscription] = set()
        self._by_unit: dict[int, set[Subscription]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._stop_listening: Callable[[], None] | None = None
        self._nats: Any = None

    # --- subscribers --------------------------------------------------------------------------------------------

    def subscribe(self, start: int, unit_id: int | None = None) -> Subscription:
        """Every event, or with ``unit_id`` only those about that unit (its orders: what its terminal needs)."""
        subscription = Subscription(start)
        self.subscriptions.add(subscription)
        if unit_id is not None:
            self._by_unit.setdefault(unit_id, set()).add(subscription)
        else:
            self._everything.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self.subscriptions.discard(subscription)
        self._everything.discard(subscription)
        for unit_id, listeners in list(self._by_unit.items()):
            listeners.discard(subscription)
            if not listeners:
                del self._by_unit[unit_id]

    def deliver(self, event: Event) -> None:
        for subscription in list(self._everything):
            subscription.offer(event)
        unit_id = event.payload.get("unit_id")
        if isinstance(unit_id, int):
            for subscription in list(self._by_unit.get(unit_id, ())):
                subscription.offer(event)

    # --- running ------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()

        def wake() -> None:  # called in the committing thread
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is listening any more
                loop.call_soon_threadsafe(self._wake.set)

        self._stop_listening = on_events_committed(wake)
        if self.settings.event_bus == "nats":
            await self._connect_nats()
            self._tasks.append(asyncio.create_task(self._relay(), name="precinct-relay"))
        else:
            self._tasks.append(asyncio.create_task(self._tail(), name="precinct-outbox-tail"))

    async def stop(self) -> None:
        if self._stop_listening is not None:
            self._stop_listening()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)  # unlike suppress(), lets stop() be cancelled
        self._tasks.clear()
        if self._nats is not None:
            await self._nats.close()
            self._nats = None

    async def _woken(self) -> None:
        """Return when this process commits events, or after the poll interval (other processes' commits).

        ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` drops a cancellation that arrives as the
        event is set, and the tail would then never stop (a server that hangs on shutdown)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.event_poll_s):
                await self._wake.wait()
        self._wake.clear()

    # --- local: read the outbox -----------------------------------------------------------------------------------

    async def _tail(self) -> None:
        """Read new events while someone is listening (a process with no live page reads nothing)."""
        last: int | None = None
        gaps: dict[int, float] = {}  # ids below ``last`` not seen yet → when first missed
        while True:
            await self._woken()
            if not self.subscriptions:
                last = None
                gaps.clear()
                continue
            if last is None:
                last = min(s.start for s in self.subscriptions)
            try:
                found = await asyncio.to_thread(self.read, partial(events_after, after_id=last, also=sorted(gaps)))
            except Exception:  # the database is away for a moment: try again at the next wake
                log.exception("reading the outbox failed")
                continue
            now = time.monotonic()
            for event in found:
                gaps.pop(event.id, None)
                self.deliver(event)
            if found:
                seen = {e.id for e in found}
                highest = max(seen)
                for missing in range(last + 1, highest):
                    if missing not in seen and len(gaps) < MAX_GAPS:
                        gaps[missing] = now
                last = max(last, highest)
            for missing, since in list(gaps.items()):
                if now - since > GAP_WAIT_S:  # rolled back: that id will never be committed
                    del gaps[missing]

    def read(self, query: Callable[[Any], Any]) -> Any:
        """Run ``query(session)`` in a read transaction (call it in a worker thread)."""
        with self.db.transaction(write=False) as session:
            return query(session)

    # --- nats: relay the outbox to JetStream, and subscribe to it --------------------------------------------------

    async def _connect_nats(self) -> None:
        prefix = self.settings.nats_subject_prefix
        self._nats = await nats.connect(self.settings.nats_url, name="precinct", max_reconnect_attempts=-1)
        stream = self._nats.jetstream()
        await stream.add_stream(
            StreamConfig(name=self.settings.nats_stream, subjects=[f"{prefix}.>"], max_age=24 * 3600)
        )

        async def received(message: Any) -> None:
            try:
                body = json.loads(message.data)
                self.deliver(
                    Event(
                        id=int(body["id"]),
                        topic=str(body["topic"]),
                        at=datetime.fromisoformat(body["at"]),
                        payload=body["payload"],
                    )
                )
            except (ValueError, KeyError, TypeError):
                log.warning("ignored a malformed event on %s", message.subject)

        await stream.subscribe(f"{prefix}.>", cb=received, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW)

    async def _relay(self) -> None:
        stream = self._nats.jetstream()
        prefix = self.settings.nats_subject_prefix
        while True:
            try:
                pending = await asyncio.to_thread(self.read, unpublished)
                for event in pending:
                    await stream.publish(
                        f"{prefix}.{event.topic}",
                        json.dumps(event.to_json(), ensure_ascii=False).encode(),
                        headers={"Nats-Msg-Id": f"{self.settings.nats_stream}-{event.id}"},
                    )
                if pending:
                    ids = [e.id for e in pending]
                    await asyncio.to_thread(self._mark, ids)
                    if len(pending) >= RELAY_BATCH:
                        continue  # more are waiting
            except Exception:  # NATS or the database is away for a moment: try again at the next wake
                log.exception("relaying the outbox failed")
            await self._woken()

    def _mark(self, ids: list[int]) -> None:
        with self.db.transaction(background=True) as session:
            mark_published(session, ids, self.clock())
