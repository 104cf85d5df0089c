"""What the HTTP routers of every domain share: the per-request context (the request owns the transaction), the
error body, and the error responses a route declares in its OpenAPI entry."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar, get_type_hints

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database

ACTOR_HEADER = "X-Actor"
_READ_ONLY = "__precinct_read_only__"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class AppState:
    db: Database
    settings: Settings
    clock: Callable[[], datetime]


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.precinct
    return state


@dataclass
class RequestCtx(Ctx):
    """A request's context before its transaction opens: the route's own thread opens it (see ``PrecinctRouter``)."""

    db: Database | None = None
    write: bool = False


def _context(request: Request) -> Ctx:
    state = app_state(request)
    actor = (request.headers.get(ACTOR_HEADER) or "anonymous").strip()[:100] or "anonymous"
    return RequestCtx(
        session=None,  # type: ignore[arg-type]  # bound by the route wrapper, in the route's thread
        settings=state.settings,
        actor=actor,
        clock=state.clock,
        db=state.db,
        write=request.method not in ("GET", "HEAD"),
    )


CtxDep = Annotated[Ctx, Depends(_context)]


class PrecinctRouter(APIRouter):
    """A router whose routes each run in one transaction, opened and committed in the route's own worker thread.

    A dependency with ``yield`` would open the session in one threadpool thread and commit it in another; under
    load every pool thread can then be waiting for a row lock held by a request whose commit is queued behind them,
    and the server stalls. Here the commit needs no other thread: a failed commit is the request's error reply, and
    the response is only built once the data is committed.
    """

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().add_api_route(path, _in_transaction(endpoint), **kwargs)


def read_only(endpoint: F) -> F:
    """Mark a route that changes nothing though its method is not GET (a query that needs a body): it runs in a
    read transaction, so a long computation does not hold a writer's turn (or SQLite's write lock)."""
    setattr(endpoint, _READ_ONLY, True)
    return endpoint


def _in_transaction(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    writes = not getattr(endpoint, _READ_ONLY, False)
    hints = get_type_hints(endpoint, include_extras=True)
    names = [name for name, hint in hints.items() if hint is CtxDep]
    if not names:
        return endpoint
    if inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__name__}: a route that uses the database must be a plain def")
    (name,) = names

    @functools.wraps(endpoint)
    def run(*args: Any, **kwargs: Any) -> Any:
        ctx: RequestCtx = kwargs[name]
        assert ctx.db is not None
        with ctx.db.transaction(write=ctx.write and writes) as session:
            ctx.session = session
            return endpoint(*args, **kwargs)

    # FastAPI reads the signature with its annotations resolved here, where the endpoint's module names are known.
    signature = inspect.signature(endpoint)
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()],
        return_annotation=hints.get("return", signature.return_annotation),
    )
    return run


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
