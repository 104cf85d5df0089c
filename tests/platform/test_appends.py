"""Rows a transaction only appends (timeline events, outbox events, audit entries) are written with its commit: on
PostgreSQL the rows of different tables in one statement (decision 0016). They keep the transaction's all-or-nothing:
a row that breaks a constraint takes everything with it, and a rollback leaves none."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
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


def test_a_tables_rows_keep_the_order_they_were_appended_in(db: Database) -> None:
    """The parts of one statement run in no set order, so a table that comes again starts the next statement: each
    table's ids follow the order of appending (a timeline's events), in as few statements as that allows."""
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split()[0])

    sa.event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.transaction() as session:
            for n in range(3):
                append(session, table_of(OutboxMessage), {"topic": f"test.order.{n}", "payload": {}, "created_at": NOW})
                append(session, table_of(AuditEntry), _entry("write") | {"action": f"order {n}"})
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", seen)
    with db.transaction(write=False) as session:
        topics = session.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.id)).all()
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert [t for t in topics if t.startswith("test.order.")] == ["test.order.0", "test.order.1", "test.order.2"]
    assert [a for a in actions if a.startswith("order ")] == ["order 0", "order 1", "order 2"]
    writes = [s for s in statements if s not in ("BEGIN", "COMMIT")]
    assert writes == (["WITH"] * 3 if db.backend == "postgresql" else ["INSERT"] * 6)
