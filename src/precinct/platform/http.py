"""What the HTTP routers of every domain share: who is asking and whether they may (every route, before its body is
read), the per-request context (the request owns the transaction, and a writing one leaves its audit entry in it),
request ids, the error body, and the error responses a route declares in its OpenAPI entry."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol, TypeVar, get_type_hints

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from precinct.platform import audit
from precinct.platform.config import Settings
from precinct.platform.context import Ctx, Principal
from precinct.platform.db import Database

ANONYMOUS = "anonymous"
REQUEST_ID_HEADER = "X-Request-ID"
_READ_ONLY = "__precinct_read_only__"
_IN_WORKER_THREAD = "__precinct_in_worker_thread__"
F = TypeVar("F", bound=Callable[..., Any])


class NeedsIO(Exception):
    """An authorizer asked to answer from memory cannot: it must read the database (in a worker thread)."""


class Authorize(Protocol):
    """Who is asking and whether they may ask this route: the principal (None only where anyone may ask), or
    ``Unauthorized``/``Forbidden``. With ``io=False`` it answers only from what the process holds — no database,
    so the event loop may call it — and raises ``NeedsIO`` when it cannot."""

    def __call__(self, request: HTTPConnection, io: bool = True) -> Principal | None: ...


def _nobody_may(request: HTTPConnection, io: bool = True) -> Principal | None:
    raise RuntimeError("the application was built without an authorizer")


@dataclass
class AppState:
    db: Database
    settings: Settings
    clock: Callable[[], datetime]
    # Who is asking and whether they may ask this route (the web shell's, from identity and its permission table):
    # returns the principal (None only where the table lets anyone in) or raises Unauthorized or Forbidden.
    authorize: Authorize = _nobody_may


def app_state(request: HTTPConnection) -> AppState:
    state: AppState = request.app.state.precinct
    return state


@dataclass
class RequestCtx(Ctx):
    """A request's context before its transaction opens: the route's own thread opens it (see ``PrecinctRouter``)."""

    db: Database | None = None
    write: bool = False
    origin: audit.Origin | None = None  # what the audit entry of a write records about the request


async def _authorize(request: Request) -> Principal | None:
    """On the event loop when the principal is known to this process (most requests); else in a worker thread."""
    authorize = app_state(request).authorize
    try:
        return authorize(request, io=False)
    except NeedsIO:
        return await run_in_threadpool(authorize, request)


async def _context(request: Request, principal: Annotated[Principal | None, Depends(_authorize)]) -> Ctx:
    # async: it does no I/O, and a plain def would cost every request a hop to the thread pool and back
    state = app_state(request)
    write = request.method not in ("GET", "HEAD")
    return RequestCtx(
        session=None,  # type: ignore[arg-type]  # bound by the route wrapper, in the route's thread
        settings=state.settings,
        actor=principal.login if principal is not None else ANONYMOUS,
        clock=state.clock,
        principal=principal,
        db=state.db,
        write=write,
        origin=_origin(request) if write else None,
    )


def _origin(request: Request) -> audit.Origin:
    route = request.scope.get("route")
    template = getattr(route, "path", None)  # /api/incidents/{incident_id}/dispatches
    return audit.Origin(
        action=template if isinstance(template, str) else request.url.path,  # request.url costs: only if needed
        method=request.method,
        path_params=dict(request.path_params),
        request_id=request.scope.get(_REQUEST_ID_KEY) or audit.request_id(None),
        client_address=client_address(request),
    )


def client_address(request: HTTPConnection) -> str | None:
    """The address a request came from, as the audit trail and the sign-in limits record it."""
    return request.client.host[:64] if request.client else None


CtxDep = Annotated[Ctx, Depends(_context)]


class PrecinctRouter(APIRouter):
    """A router whose every route is authorized first (before its body is even validated, so a stranger learns
    nothing from a 422), and whose routes each run in one transaction, opened and committed in the route's own
    worker thread.

    A dependency with ``yield`` would open the session in one threadpool thread and commit it in another; under
    load every pool thread can then be waiting for a row lock held by a request whose commit is queued behind them,
    and the server stalls. Here the commit needs no other thread: a failed commit is the request's error reply, and
    the response is only built once the data is committed.
    """

    def add_api_route(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["dependencies"] = [Depends(_authorize), *(kwargs.get("dependencies") or ())]
        kwargs["responses"] = {**errors(401, 403), **(kwargs.get("responses") or {})}
        super().add_api_route(path, _in_transaction(endpoint), **kwargs)


def read_only(endpoint: F) -> F:
    """Mark a route that changes nothing though its method is not GET (a query that needs a body): it runs in a
    read transaction, so a long computation does not hold a writer's turn (or SQLite's write lock)."""
    setattr(endpoint, _READ_ONLY, True)
    return endpoint


def in_worker_thread(endpoint: F) -> F:
    """Mark a route that computes for long (a password hash, a route over the road graph, a KPI over a month): it
    runs in a worker thread on every backend. On the event loop (decision 0015) it would hold up every other
    request of its process until it was done; in a thread, the interpreter's lock passes to them every few
    milliseconds."""
    setattr(endpoint, _IN_WORKER_THREAD, True)
    return endpoint


def _in_transaction(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    writes = not getattr(endpoint, _READ_ONLY, False)
    may_run_on_loop = not getattr(endpoint, _IN_WORKER_THREAD, False)
    hints = get_type_hints(endpoint, include_extras=True)
    names = [name for name, hint in hints.items() if hint is CtxDep]
    if not names:
        return endpoint
    if inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{endpoint.__name__}: a route that uses the database must be a plain def")
    (name,) = names

    def work(session: Session, ctx: RequestCtx, args: Any, kwargs: Any) -> Any:
        ctx.session = session
        result = endpoint(*args, **kwargs)
        if ctx.write and ctx.origin is not None:  # last, so its id is taken just before the commit
            audit.record_write(ctx, ctx.origin, result_id=_result_id(result))
        return result

    def in_thread(ctx: RequestCtx, args: Any, kwargs: Any) -> Any:
        assert ctx.db is not None
        with ctx.db.transaction(write=ctx.write) as session:
            return work(session, ctx, args, kwargs)

    # A coroutine to FastAPI, so that it checks and serializes the answer on the event loop: for a plain def it
    # would make a second hop to the thread pool and back just for that. The transaction itself runs on the loop
    # where the database allows it (decision 0015), else in the route's own worker thread.
    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        ctx: RequestCtx = kwargs[name]
        ctx.write = ctx.write and writes
        assert ctx.db is not None
        if may_run_on_loop and ctx.db.runs_on_loop:
            return await ctx.db.run(functools.partial(work, ctx=ctx, args=args, kwargs=kwargs), write=ctx.write)
        return await run_in_threadpool(in_thread, ctx, args, kwargs)

    # FastAPI reads the signature with its annotations resolved here, where the endpoint's module names are known.
    signature = inspect.signature(endpoint)
    run.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()],
        return_annotation=hints.get("return", signature.return_annotation),
    )
    return run


def _result_id(result: Any) -> int | None:
    """The id of the record a route answered with (the incident a call created, the order a step moved)."""
    value = getattr(result, "id", None) if isinstance(result, BaseModel) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_REQUEST_ID_KEY = "precinct.request_id"  # in the ASGI scope
_REQUEST_ID_NAME = REQUEST_ID_HEADER.lower().encode()  # as ASGI spells header names


def request_id_of(request: Request) -> str | None:
    """The id ``RequestIds`` gave this request (None outside it)."""
    value = request.scope.get(_REQUEST_ID_KEY)
    return value if isinstance(value, str) else None


class RequestIds:
    """Give every HTTP request an id (the caller's ``X-Request-ID`` when well-formed, else a new one), echo it on
    the response, and leave it in the scope for the audit entry."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((value for key, value in scope["headers"] if key == _REQUEST_ID_NAME), None)
        request_id = audit.request_id(given.decode("latin-1") if given is not None else None)
        scope[_REQUEST_ID_KEY] = request_id
        header = (_REQUEST_ID_NAME, request_id.encode("ascii"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        await self.app(scope, receive, send_with_id)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] | None = None


_ERROR_TEXT = {
    401: "Not signed in: no valid session cookie or bearer token (or the sign-in was refused)",
    403: "Signed in but not allowed (for a cookie session: the X-CSRF-Token header is missing or wrong)",
    404: "No such record",
    409: "Conflicts with the current state (the body names the current state and the allowed steps)",
    413: "Request body too large",
    422: "The request breaks a rule; the message says which",
    429: "Too many attempts from this address; wait and try again",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry for a route: each error code it may answer with, with the error body."""
    return {code: {"model": ErrorBody, "description": _ERROR_TEXT[code]} for code in codes}
