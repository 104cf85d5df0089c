"""A page's live feed (/ws/events) carried through the test, as over a phone's patchy coverage: every frame goes on
unchanged between the page and the real server, the test sees which events reached the page, and it can cut the
line (the page reconnects) or keep it down (every reconnection fails until it is restored)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import Page, WebSocketRoute

FEED = re.compile(r"/ws/events(\?|$)")


@dataclass
class Heard:
    """An event that reached the page, and on which of its connections (0 for the first)."""

    connection: int
    event: dict[str, Any]


@dataclass
class FeedLine:
    """Pass ``attach`` as ``open_page``'s ``prepare``: the line must be in place before the page connects."""

    page: Page | None = None
    connections: list[WebSocketRoute] = field(default_factory=list)
    heard: list[Heard] = field(default_factory=list)
    down: bool = False

    def attach(self, page: Page) -> None:
        self.page = page
        page.route_web_socket(FEED, self._connect)

    def _connect(self, socket: WebSocketRoute) -> None:
        if self.down:
            socket.close()
            return
        connection = len(self.connections)
        self.connections.append(socket)
        server = socket.connect_to_server()

        def to_page(message: str | bytes) -> None:
            # Sent on to the page before it is noted: the page has handled a frame (its handler runs in the same
            # task as the delivery) by the time the test sees it here.
            socket.send(message)
            frame = json.loads(message)
            if frame.get("type") == "event":
                self.heard.append(Heard(connection, frame))

        server.on_message(to_page)

    def cut(self, *, stay_down: bool = False) -> None:
        """Drop the page's connection; with ``stay_down``, refuse its reconnections until ``restore``."""
        self.down = stay_down
        self.connections[-1].close()

    def restore(self) -> None:
        self.down = False

    def wait_until(self, condition: Callable[[], bool], what: str, timeout_s: float = 10) -> None:
        """Let the page and the line run until ``condition`` holds."""
        assert self.page is not None, "attach the line to a page first"
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"waited {timeout_s:g} s for {what}")
            self.page.wait_for_timeout(50)

    def wait_for_event(self, what: str, test: Callable[[Heard], bool]) -> Heard:
        """The first event that reached the page and passes ``test``, once it has."""
        self.wait_until(lambda: any(test(heard) for heard in self.heard), what)
        return next(heard for heard in self.heard if test(heard))
