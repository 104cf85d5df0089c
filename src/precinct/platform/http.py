"""What the HTTP routers of every domain share: the per-request context (the request owns the transaction), the
error body, and the error responses a route declares in its OpenAPI entry."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from pydantic import BaseModel

from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database

ACTOR_HEADER = "X-Actor"


@dataclass
class AppState:
    db: Database
    settings: Settings
    clock: Callable[[], datetime]


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.precinct
    return state


def _context(request: Request) -> Iterator[Ctx]:
    """A context whose session commits when the route returns and rolls back if it raises.

    Writes (any method but GET and HEAD) take SQLite's write lock up front, so they never fail half-way.
    """
    state = app_state(request)
    actor = (request.headers.get(ACTOR_HEADER) or "anonymous").strip()[:100] or "anonymous"
    with state.db.transaction(write=request.method not in ("GET", "HEAD")) as session:
        yield Ctx(session=session, settings=state.settings, actor=actor, clock=state.clock)


# scope="function": the transaction commits before the response is sent, so a failed commit is an error reply.
CtxDep = Annotated[Ctx, Depends(_context, scope="function")]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


_ERROR_TEXT = {
    404: "No such record",
    409: "Conflicts with the current state (the body names the current state and the allowed steps)",
    413: "Request body too large",
    422: "The request breaks a rule; the message says which",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry for a route: each error code it may answer with, with the error body."""
    return {code: {"model": ErrorBody, "description": _ERROR_TEXT[code]} for code in codes}
