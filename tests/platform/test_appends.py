"""Rows a transaction only appends (timeline events, outbox events, audit entries) are written with its commit: on
PostgreSQL in one pipeline with the COMMIT. They keep the transaction's all-or-nothing: a row that breaks a
constraint takes everything with it, and a rollback leaves none."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from psycopg.pq import PipelineStatus
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from precinct.platform.audit import AuditEntry
from precinct.platform.db import Database, append, table_of
from precinct.platform.events import OutboxMessage

NOW = datetime(2026, 12, 1, 1, 0, tzinfo=UTC)


def _counts(db: Database) -> tuple[int, int]:
    with db.transaction(write=False) as session:
        outbox = session.scalar(select(func.count()).select_from(OutboxMessage)) or 0
        audit = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
    return outbox, audit


def _entry(kind: str) -> dict[str, object]:
    return {"kind": kind, "at": NOW, "actor": "test", "action": "test", "path_params": {"id": "7"}}


def test_appended_rows_are_written_with_the_commit_and_read_back_as_given(db: Database) -> None:
    with db.transaction() as session:
        append(
            session, table_of(OutboxMessage), {"topic": "test.one", "payload": {"n": 1, "名": "张"}, "created_at": NOW}
        )
        append(session, table_of(AuditEntry), _entry("write"))
    with db.transaction(write=False) as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "test.one")).one()
        entry = session.scalars(select(AuditEntry).where(AuditEntry.actor == "test")).one()
    assert (message.payload, message.created_at) == ({"n": 1, "名": "张"}, NOW)
    assert (entry.at, entry.path_params) == (NOW, {"id": "7"})


def test_an_appended_row_that_breaks_a_constraint_takes_the_whole_transaction_with_it(db: Database) -> None:
    before = _counts(db)

    def write() -> None:
        with db.transaction() as session:
            append(session, table_of(OutboxMessage), {"topic": "test.lost", "payload": {}, "created_at": NOW})
            append(session, table_of(AuditEntry), _entry("bogus"))  # CHECK kind IN ('write', 'reveal')

    with pytest.raises(IntegrityError):
        write()
    assert _counts(db) == before
    with db.transaction() as session:  # the pooled connection is sound afterwards
        append(session, table_of(AuditEntry), _entry("write"))
    assert _counts(db) == (before[0], before[1] + 1)


def test_on_the_event_loop_too_a_row_that_breaks_a_constraint_takes_the_whole_transaction_with_it(
    db: Database,
) -> None:
    if not db.runs_on_loop:
        pytest.skip("SQLite's transactions all run in threads")
    before = _counts(db)

    def broken(session: Session) -> None:
        append(session, table_of(OutboxMessage), {"topic": "test.lost", "payload": {}, "created_at": NOW})
        append(session, table_of(AuditEntry), _entry("bogus"))

    with pytest.raises(IntegrityError):
        asyncio.run(db.run(broken, write=True))
    assert _counts(db) == before
    asyncio.run(db.run(lambda session: append(session, table_of(AuditEntry), _entry("write")), write=True))
    assert _counts(db) == (before[0], before[1] + 1)


def test_a_rollback_leaves_no_appended_row(db: Database) -> None:
    before = _counts(db)

    def fail() -> None:
        with db.transaction() as session:
            append(session, table_of(AuditEntry), _entry("write"))
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        fail()
    assert _counts(db) == before


def test_a_session_committed_outside_the_database_helper_still_writes_its_rows(db: Database) -> None:
    before = _counts(db)
    with db.sessions() as session:
        append(session, table_of(AuditEntry), _entry("write"))
        session.commit()
    assert _counts(db) == (before[0], before[1] + 1)


def test_a_connection_goes_back_to_the_pool_out_of_pipeline_mode(db: Database) -> None:
    """Committing inside the pipeline returned the connection to the pool still in pipeline mode, and a request in
    another thread that took it failed ('connection not in pipeline mode', seen under load). The same for a
    transaction on the event loop, with psycopg's asyncio connection."""
    if db.backend != "postgresql":
        pytest.skip("the pipeline is PostgreSQL's")
    returned: list[PipelineStatus] = []

    def checked_in(_dbapi_connection: Any, record: Any) -> None:
        returned.append(PipelineStatus(record.driver_connection.pgconn.pipeline_status))

    def write(session: Session) -> None:
        append(session, table_of(AuditEntry), _entry("write"))

    for engine in db.engines:
        sa.event.listen(engine, "checkin", checked_in)
    try:
        with db.transaction() as session:
            write(session)
        asyncio.run(db.run(write, write=True))
    finally:
        for engine in db.engines:
            sa.event.remove(engine, "checkin", checked_in)
    assert returned == [PipelineStatus.OFF, PipelineStatus.OFF]
    assert _counts(db)[1] >= 2
