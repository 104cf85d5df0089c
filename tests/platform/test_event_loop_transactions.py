"""On PostgreSQL a request's transaction runs on the event loop, in a greenlet, with psycopg's asyncio connection
(decision 0015); a route marked ``in_worker_thread`` and every route on SQLite run in a worker thread. Nothing the
loop runs may wait for a lock that another request on the same loop holds while it waits for the database."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session
from tests.api.builders import create_incident

from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database, on_event_loop
from precinct.platform.reference import ReferenceCache


def _where_statements_run(db: Database, starting: str) -> tuple[list[bool], Any]:
    """Whether each statement that starts so ran on the event loop (the live feed reads in a thread beside)."""
    seen: list[bool] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().startswith(starting):
            seen.append(on_event_loop())

    for engine in db.engines:
        sa.event.listen(engine, "before_cursor_execute", record)

    def stop() -> None:
        for engine in db.engines:
            sa.event.remove(engine, "before_cursor_execute", record)

    return seen, stop


def test_a_call_is_taken_on_the_event_loop_on_postgresql_and_in_a_thread_on_sqlite(
    client: TestClient, db: Database
) -> None:
    create_incident(client)  # the caller's token is known from here on (the first look reads it in a thread)
    seen, stop = _where_statements_run(db, "WITH" if db.backend == "postgresql" else "INSERT")  # the call's writes
    try:
        create_incident(client)
    finally:
        stop()
    assert seen
    assert set(seen) == {db.backend == "postgresql"}


def test_a_route_that_computes_for_long_runs_in_a_worker_thread(client: TestClient, db: Database) -> None:
    client.get("/api/auth/me")
    seen, stop = _where_statements_run(db, "SELECT")
    try:
        answer = client.get("/api/kpi", params={"from": "2026-11-01T00:00:00Z", "to": "2026-11-23T00:00:00Z"})
    finally:
        stop()
    assert answer.status_code == 200, answer.text
    assert seen
    assert set(seen) == {False}


def test_two_transactions_on_the_loop_that_need_the_same_cache_built_both_get_it(
    db: Database, settings: Settings
) -> None:
    """The first to need it built it holding a thread lock, and waited for the database on the loop; the second
    waited for that lock on the loop, so the loop stopped and the first never finished: the worker hung."""
    if not db.runs_on_loop:
        pytest.skip("SQLite's transactions all run in threads")
    cache: ReferenceCache[int] = ReferenceCache("test-kind")

    def work(session: Session) -> int:
        ctx = Ctx(session=session, settings=settings, actor="test")
        # the build waits for the database, giving the loop to the other transaction
        return cache.get(ctx, lambda: int(session.connection().exec_driver_sql("SELECT 7 FROM pg_sleep(0.2)").one()[0]))

    async def both() -> list[int]:
        return list(await asyncio.gather(db.run(work, write=False), db.run(work, write=False)))

    answers: list[list[int]] = []
    loop = threading.Thread(target=lambda: answers.append(asyncio.run(both())), daemon=True)
    loop.start()
    loop.join(timeout=15)
    assert answers == [[7, 7]], "the event loop stopped: a transaction on it waited for a lock held by another"
