"""The FastAPI application: routers of every domain, one error handler for the whole exception tree, and the
limits every request meets before it reaches a route."""

from __future__ import annotations

import gc
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import anyio.to_thread
import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DataError, IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from precinct.domains.access.router import router as access_router
from precinct.domains.analytics.router import router as analytics_router
from precinct.domains.dispatch.router import router as dispatch_router
from precinct.domains.identity import service as identity
from precinct.domains.identity.router import router as identity_router
from precinct.domains.incidents.router import router as incidents_router
from precinct.domains.jobs import JOBS
from precinct.domains.orgs import service as orgs
from precinct.domains.orgs.router import router as orgs_router
from precinct.domains.roads import service as roads
from precinct.domains.roads.router import router as roads_router
from precinct.domains.units.router import router as units_router
from precinct.platform.bus import EventHub
from precinct.platform.config import Settings
from precinct.platform.context import Ctx, system_clock
from precinct.platform.db import Database
from precinct.platform.errors import PrecinctError
from precinct.platform.http import REQUEST_ID_HEADER, AppState, RequestIds, request_id_of
from precinct.platform.jobs import JobRunner
from precinct.web import permissions
from precinct.web.live import router as live_router
from precinct.web.pages import install_pages
from precinct.web.security import SecurityHeaders

log = logging.getLogger("precinct")


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    clock: Callable[[], datetime] = system_clock,
) -> FastAPI:
    settings = settings or Settings()
    db = db or Database(settings.database_url, echo=settings.log_sql, writers=settings.db_writers)
    app = FastAPI(
        lifespan=_warm_up,
        title="precinct",
        version="0.1.0",
        description="The 110 incident loop: incidents, dispatch orders, units, jurisdictions and KPIs.",
        docs_url=None,  # served below from local files: precinct may run on a closed network, with no CDN
        redoc_url=None,
    )
    app.state.precinct = AppState(
        db=db, settings=settings, clock=clock, authorize=permissions.authorizer(identity.authenticate)
    )
    app.state.hub = EventHub(db, settings, clock)
    for router in (
        orgs_router,
        incidents_router,
        units_router,
        dispatch_router,
        roads_router,
        analytics_router,
        identity_router,
        access_router,
        live_router,
    ):
        app.include_router(router)

    @app.get("/health", tags=["system"], summary="Liveness and database check")
    def health() -> dict[str, str]:
        with db.transaction(write=False) as session:
            session.connection().exec_driver_sql("SELECT 1")
        return {"status": "ok", "database": db.backend}

    app.mount("/static/swagger", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="swagger")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="precinct API",
            swagger_js_url="/static/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger/swagger-ui.css",
            swagger_favicon_url="/static/swagger/favicon-32x32.png",
        )

    install_pages(app, settings)
    _install_error_handlers(app)
    app.add_middleware(_Limits, max_body_bytes=settings.max_request_bytes)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestIds)  # outermost: a refused body's reply carries the id too
    return app


@asynccontextmanager
async def _warm_up(app: FastAPI) -> AsyncIterator[None]:
    """Size the request thread pool, and build the jurisdiction index and load the road graph before the first
    request, so that the first calls are as fast as the rest; run the live event feed and the background jobs while
    the app serves."""
    state: AppState = app.state.precinct
    anyio.to_thread.current_default_thread_limiter().total_tokens = state.settings.worker_threads
    try:
        with state.db.transaction(write=False) as session:
            ctx = Ctx(session=session, settings=state.settings, actor="startup", clock=state.clock)
            orgs.warm_up(ctx)
            roads.active_graph(ctx)
    except Exception as error:  # a server with no road network (or no schema yet) still starts
        log.info("start-up warm-up incomplete: %s", error)
    hub: EventHub = app.state.hub
    await hub.start()
    jobs = JobRunner(state.db, state.settings, state.clock, JOBS) if state.settings.run_jobs else None
    if jobs is not None:
        jobs.start()
    # What start-up built (the app, the libraries, the caches: some 200,000 objects) lives as long as the process:
    # left to the collector, every full collection walks it again, an 80 ms pause in the middle of serving calls.
    # Once per process (a server process holds one app; a test process makes many and would keep their garbage).
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()
    try:
        yield
    finally:
        if jobs is not None:
            await jobs.stop()
        await hub.stop()


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PrecinctError)
    async def _domain_error(_request: Request, error: PrecinctError) -> JSONResponse:
        return JSONResponse(status_code=error.status_code, content=error.to_dict())

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = [_describe(e) for e in error.errors()]
        return JSONResponse(
            status_code=422,
            content={
                "code": "invalid_request",
                "message": "; ".join(problems),
                "details": {"problems": problems},
            },
        )

    # Defence in depth: the edge validates first, but a value the database still refuses is the client's error,
    # and a constraint hit by a concurrent write is a conflict to retry, never a 500.
    @app.exception_handler(DataError)
    async def _bad_value(_request: Request, error: DataError) -> JSONResponse:
        log.warning("database refused a value: %s", error.orig)
        return JSONResponse(
            status_code=422,
            content={"code": "invalid_value", "message": "a value is out of range or malformed for storage"},
        )

    @app.exception_handler(IntegrityError)
    async def _constraint(_request: Request, error: IntegrityError) -> JSONResponse:
        log.warning("constraint violated: %s", error.orig)
        return JSONResponse(
            status_code=409,
            content={"code": "conflict", "message": "the change clashes with data written at the same time; retry it"},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        # Answered outside the middleware: the request id is named here, so the reply, the log line and the audit
        # trail point at one another.
        reference = request_id_of(request) or uuid.uuid4().hex[:12]
        log.exception("unhandled error %s on %s %s", reference, request.method, request.url.path)
        return JSONResponse(
            status_code=500,
            content={
                "code": "internal_error",
                "message": f"an internal error occurred; reference {reference}",
            },
            headers={REQUEST_ID_HEADER: reference},
        )


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"
    return f"{where}: {error.get('msg', 'invalid')}"


class _Limits:
    """Refuse bodies over the size limit with 413 before they are read into memory, declared or streamed."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body_bytes):
            await _too_large(send, self.max_body_bytes)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await _too_large(send, self.max_body_bytes)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = f'{{"code":"payload_too_large","message":"the request body is over {limit} bytes"}}'.encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
