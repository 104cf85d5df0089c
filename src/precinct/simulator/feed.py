"""The live feed (``/ws/events``) as a client keeps it: hand every event to a handler once, and when the socket
drops, reconnect with ``?after=<the last id seen>`` so that nothing is missed (repeats are dropped by id)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

from precinct.core.recent import RecentIds

log = logging.getLogger("precinct.simulator")

REMEMBERED_IDS = 10_000
RECONNECT_S = 1.0  # doubled after each failed attempt, up to RECONNECT_MAX_S
RECONNECT_MAX_S = 10.0


@dataclass(frozen=True)
class Event:
    id: int
    topic: str
    payload: dict[str, Any]


def feed_url(base_url: str) -> str:
    """``http://host:port`` → ``ws://host:port/ws/events`` (https → wss)."""
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws/events", "", ""))


class Feed:
    """Follows the live feed for as long as :meth:`run` runs; :attr:`ready` is set once the first hello came."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.ready = asyncio.Event()
        self.last_id: int | None = None
        self._seen = RecentIds(REMEMBERED_IDS)

    async def run(self, handle: Callable[[Event], None]) -> None:
        failures = 0
        while True:
            url = self.url if self.last_id is None else f"{self.url}?after={self.last_id}"
            try:
                async with connect(url, additional_headers=self.headers, open_timeout=10, max_size=2**22) as socket:
                    failures = 0
                    async for raw in socket:
                        self._receive(json.loads(raw), handle)
                problem = "closed by the server"
            except (OSError, TimeoutError, WebSocketException, ValueError) as error:
                problem = str(error) or type(error).__name__
            delay_s = min(RECONNECT_S * 2**failures, RECONNECT_MAX_S)
            # The first failure of a streak is worth a line; the retries while the server is away are not.
            log.log(logging.WARNING if failures == 0 else logging.DEBUG, "live feed: %s; reconnecting", problem)
            failures += 1
            await asyncio.sleep(delay_s)

    def _receive(self, message: dict[str, Any], handle: Callable[[Event], None]) -> None:
        if message.get("type") == "hello":
            if self.last_id is None:
                self.last_id = int(message["last_id"])
            self.ready.set()
            return
        if message.get("type") != "event" or not self._seen.add(int(message["id"])):
            return
        event = Event(int(message["id"]), str(message["topic"]), dict(message.get("payload") or {}))
        self.last_id = max(self.last_id or 0, event.id)
        try:
            handle(event)
        except Exception:  # a bug in one handler must not stop the feed
            log.exception("handling event %d (%s) failed", event.id, event.topic)
