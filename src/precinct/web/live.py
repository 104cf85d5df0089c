"""The live feed: ``/ws/events`` sends every committed event to a browser as it happens.

On connecting the server says where the feed stands (``{"type": "hello", "last_id": N}``); then each event comes as
``{"type": "event", "id": …, "topic": …, "at": …, "payload": {…}}``; with ``?unit_id=`` only the events about that
unit (its orders), as its terminal needs. Each principal hears only the events of what its scope lets it see
(decision 0011): a station its own incidents and units and those granted to it, a terminal its unit's orders;
every 30 seconds, and when a grant runs out, the feed asks again who is listening. A client that reconnects with
``?after=<the last id it saw>`` first receives what it missed. Ids only grow, but one may arrive late (its
transaction committed after a later one's) or twice: a client keeps the ids it has seen and ignores repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, WebSocket, WebSocketDisconnect

from precinct.core.recent import RecentIds
from precinct.platform.bus import GAP_WAIT_S, EventHub
from precinct.platform.context import NOTHING, Principal, Scope
from precinct.platform.errors import PrecinctError
from precinct.platform.events import Event, events_after, last_event_id
from precinct.platform.http import AppState
from precinct.platform.schemas import SMALL_ID_MAX

router = APIRouter()

REMEMBERED_IDS = 10_000
CATCH_UP_LIMIT = 5_000
SCOPE_CHECK = timedelta(seconds=30)  # how often a long-lived feed asks again who is listening and what it may see
POLICY_VIOLATION = 1008  # WebSocket close code: not signed in, or not allowed
TRY_AGAIN_LATER = 1013  # WebSocket close code: the client fell behind and should reconnect with ?after=


@router.websocket("/ws/events")
async def live_events(
    websocket: WebSocket,
    after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
    unit_id: Annotated[int | None, Query(ge=1, le=SMALL_ID_MAX)] = None,
) -> None:
    state: AppState = websocket.app.state.precinct
    hub: EventHub = websocket.app.state.hub
    try:
        principal = await asyncio.to_thread(state.authorize, websocket)
    except PrecinctError as refused:  # closed before accepting: the browser sees the upgrade refused (403)
        await websocket.close(POLICY_VIOLATION, refused.message[:120])
        return
    scope, checked_at = _scope(principal), state.clock()
    if principal is not None and principal.unit_id is not None:
        if unit_id not in (None, principal.unit_id):
            await websocket.close(POLICY_VIOLATION, "a terminal hears its own unit's orders only")
            return
        unit_id = principal.unit_id
    await websocket.accept()
    last = await asyncio.to_thread(hub.read, last_event_id)
    subscription = hub.subscribe(start=last, unit_id=unit_id)
    sent = RecentIds(REMEMBERED_IDS)
    try:
        await websocket.send_json({"type": "hello", "last_id": last})
        if after is not None:
            # Also what was written shortly before: an event below ``after`` may have committed after it.
            since = state.clock() - timedelta(seconds=GAP_WAIT_S)
            missed = await asyncio.to_thread(
                hub.read, lambda s: events_after(s, after, since=since, limit=CATCH_UP_LIMIT)
            )
            for event in missed:
                if (unit_id is None or event.payload.get("unit_id") == unit_id) and sees(scope, event):
                    await _send(websocket, event, sent)
        closed = asyncio.create_task(_until_closed(websocket))
        while True:
            next_event = asyncio.create_task(subscription.next())
            done, _ = await asyncio.wait({next_event, closed}, return_when=asyncio.FIRST_COMPLETED)
            if closed in done:
                next_event.cancel()
                return
            event = next_event.result()
            if event is None:
                await websocket.close(TRY_AGAIN_LATER, "fell behind; reconnect with ?after=")
                return
            now = state.clock()
            if now >= checked_at + SCOPE_CHECK or (scope.until is not None and now >= scope.until):
                try:  # a grant given or run out, a sign-out: the feed follows within SCOPE_CHECK
                    scope, checked_at = _scope(await asyncio.to_thread(state.authorize, websocket)), now
                except PrecinctError as refused:
                    await websocket.close(POLICY_VIOLATION, refused.message[:120])
                    return
            if sees(scope, event):
                await _send(websocket, event, sent)
    except WebSocketDisconnect:
        return
    finally:
        hub.unsubscribe(subscription)


def _scope(principal: Principal | None) -> Scope:
    # The table lets no one in without a principal; were it ever to, the feed would carry nothing kept per org.
    return principal.scope if principal is not None else NOTHING


def sees(scope: Scope, event: Event) -> bool:
    """Whether an event is about something the scope lets its principal see: an incident (the event's own, or the
    one an order belongs to) by its org or a grant, a unit by its home org; a terminal, its own unit's orders."""
    payload: dict[str, Any] = event.payload
    if scope.everything:
        return True
    if scope.unit_id is not None:
        return payload.get("unit_id") == scope.unit_id
    incident = payload if event.topic.startswith("incident.") else payload.get("incident")
    if isinstance(incident, dict):
        return scope.sees_org(incident.get("org_id")) or incident.get("id") in scope.incident_ids
    if "home_org_id" in payload:
        return scope.sees_org(payload["home_org_id"])
    return False


async def _until_closed(websocket: WebSocket) -> None:
    """Read (and drop) what the client sends, until it goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return


async def _send(websocket: WebSocket, event: Event, sent: RecentIds) -> None:
    if sent.add(event.id):
        await websocket.send_json({"type": "event", **event.to_json()})
