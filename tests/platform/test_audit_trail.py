"""The audit trail's chain: the sealing job, ``precinct audit verify`` against tampering, the database refusing to
change the trail, and reveals."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from tests.conftest import PG_ADMIN_URL, Clock
from typer.testing import CliRunner

from precinct.cli.main import app as cli
from precinct.platform import audit, migrate
from precinct.platform.config import Settings
from precinct.platform.db import Database
from precinct.platform.errors import InvalidInput

BEFORE_AUDIT = "88b84d8ce68d"  # the revision the audit trail migration follows
LOG, SEALS = audit.AuditEntry.__table__, audit.AuditSeal.__table__


def write(ctx_factory: Callable[[], Any], count: int = 1, action: str = "/api/test") -> None:
    for number in range(count):
        with ctx_factory() as ctx:
            audit.record_write(ctx, audit.Origin(action=action, method="POST", path_params={"n": str(number)}))


def seal(ctx_factory: Callable[[], Any]) -> int:
    with ctx_factory() as ctx:
        return audit.seal_audit_log(ctx)


def ids(db: Database, table: Any, column: str) -> list[int]:
    with db.engine.connect() as conn:
        return list(conn.scalars(sa.select(table.c[column]).order_by(table.c[column])))


def test_the_job_seals_settled_entries_in_order_and_once(
    ctx_factory: Callable[[], Any], db: Database, clock: Clock
) -> None:
    write(ctx_factory, 3)
    assert seal(ctx_factory) == 0  # younger than the settle time: a lower id may still commit
    clock.advance(audit.SETTLE_S + 1)
    write(ctx_factory)  # a fourth, just written
    assert seal(ctx_factory) == 3
    assert seal(ctx_factory) == 0
    with ctx_factory() as ctx:  # a rolled-back write: on PostgreSQL its id becomes a gap
        audit.record_write(ctx, audit.Origin(action="/api/rolled-back"))
        ctx.session.rollback()
    write(ctx_factory)
    clock.advance(audit.SETTLE_S + 1)
    assert seal(ctx_factory) == 2
    entry_ids = ids(db, LOG, "id")
    with db.engine.connect() as conn:
        seals = conn.execute(sa.select(SEALS).order_by(SEALS.c.entry_id)).all()
    assert [s.entry_id for s in seals] == entry_ids
    assert [s.previous_entry_id for s in seals] == [None, *entry_ids[:-1]]
    with db.transaction(write=False) as session:
        found = audit.verify(session)
    assert found.ok
    assert found.sealed == 5
    assert found.waiting == 0
    assert found.head_entry_id == entry_ids[-1]
    assert found.head_hash == seals[-1].hash


def test_a_second_sealer_waits_its_turn(ctx_factory: Callable[[], Any], db: Database, clock: Clock) -> None:
    write(ctx_factory, 2)
    clock.advance(audit.SETTLE_S + 1)
    with ctx_factory() as first:
        assert audit.seal_audit_log(first) == 2
        if db.backend == "postgresql":  # the first still holds the lock: the second skips its run
            with ctx_factory() as second:
                assert audit.seal_audit_log(second) == 0
    assert seal(ctx_factory) == 0
    assert len(ids(db, SEALS, "entry_id")) == 2


def verify_cli(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(cli, ["audit", "verify", *args], env={"PRECINCT_DATABASE_URL": settings.database_url})


def without_triggers(db: Database) -> None:
    """What an attacker with DDL rights on the database would do first."""
    with db.engine.begin() as conn:
        for table in ("audit_log", "audit_seals"):
            if db.backend == "postgresql":
                conn.exec_driver_sql(f"DROP TRIGGER {table}_append_only ON {table}")
            else:
                conn.exec_driver_sql(f"DROP TRIGGER {table}_no_update")
                conn.exec_driver_sql(f"DROP TRIGGER {table}_no_delete")


def test_verify_names_every_edited_deleted_and_inserted_entry(
    ctx_factory: Callable[[], Any], db: Database, clock: Clock, settings: Settings
) -> None:
    write(ctx_factory, 6)
    first = ids(db, LOG, "id")[0]
    gap = first + 7  # an id that was rolled back
    with db.engine.begin() as conn:
        row = {"kind": "write", "at": clock.now, "actor": "test", "action": "/api/test", "id": first + 8}
        conn.execute(sa.insert(LOG), row)
    clock.advance(audit.SETTLE_S + 1)
    assert seal(ctx_factory) == 7
    clean = verify_cli(settings)
    assert clean.exit_code == 0, clean.output
    assert "audit trail intact: 7 entries sealed" in clean.output

    without_triggers(db)
    edited, deleted, unlinked = first + 1, first + 3, first + 5
    with db.engine.begin() as conn:
        conn.execute(sa.update(LOG).where(LOG.c.id == edited).values(actor="someone-else"))
        conn.execute(sa.delete(LOG).where(LOG.c.id == deleted))
        conn.execute(sa.insert(LOG), {**row, "id": gap, "actor": "forged"})
        conn.execute(sa.delete(SEALS).where(SEALS.c.entry_id == unlinked - 1))  # and its entry, to hide it
        conn.execute(sa.delete(LOG).where(LOG.c.id == unlinked - 1))

    tampered = verify_cli(settings, "--json")
    assert tampered.exit_code == 1
    report = json.loads(tampered.output)
    assert not report["ok"]
    assert {(f["entry_id"], f["problem"]) for f in report["findings"]} == {
        (edited, "edited"),
        (deleted, "deleted"),
        (gap, "inserted"),
        (unlinked, "broken_link"),
    }
    said = verify_cli(settings)
    assert said.exit_code == 1
    for entry_id in (edited, deleted, gap, unlinked):
        assert f"entry {entry_id}:" in said.output


def test_the_database_refuses_to_change_the_trail(ctx_factory: Callable[[], Any], db: Database, clock: Clock) -> None:
    write(ctx_factory, 2)
    clock.advance(audit.SETTLE_S + 1)
    seal(ctx_factory)
    changes = [
        sa.update(LOG).values(actor="x"),
        sa.delete(LOG),
        sa.update(SEALS).values(hash="0" * 64),
        sa.delete(SEALS),
    ]
    if db.backend == "postgresql":
        changes += [sa.text("TRUNCATE audit_log"), sa.text("TRUNCATE audit_seals")]
    for change in changes:
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(change)
    assert len(ids(db, LOG, "id")) == 2
    assert len(ids(db, SEALS, "entry_id")) == 2


def test_a_reveal_records_whose_field_was_shown_and_why(
    ctx_factory: Callable[[], Any], db: Database, clock: Clock
) -> None:
    with ctx_factory() as ctx:
        audit.record_reveal(ctx, "incident:42", "caller_phone", "  calling the caller back about the fight  ")
    with db.engine.connect() as conn:
        (entry,) = conn.execute(sa.select(LOG)).all()
    assert (entry.kind, entry.actor, entry.at) == ("reveal", "test", clock.now)
    assert (entry.subject, entry.field, entry.reason) == (
        "incident:42",
        "caller_phone",
        "calling the caller back about the fight",
    )

    for reason in ("", "   ", "x" * (audit.MAX_REASON_CHARS + 1)):
        with pytest.raises(InvalidInput), ctx_factory() as ctx:
            audit.record_reveal(ctx, "incident:42", "caller_phone", reason)
    # The database holds the rule too, for a writer that skips the function.
    no_reason = {"kind": "reveal", "at": clock.now, "actor": "x", "action": "reveal", "subject": "s", "field": "f"}
    for row in (no_reason, {**no_reason, "reason": " "}, {**no_reason, "kind": "peek", "reason": "r"}):
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            conn.execute(sa.insert(LOG), row)


@pytest.fixture
def app_role(backend: str, settings: Settings) -> Iterator[str]:
    """A login role on the PostgreSQL server (roles are cluster-wide: a unique name, dropped after)."""
    if backend != "postgresql":
        pytest.skip("database roles are PostgreSQL's")
    role = f"precinct_app_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
    try:
        yield role
    finally:
        here = sa.create_engine(settings.database_url, isolation_level="AUTOCOMMIT")
        with here.connect() as conn:
            conn.exec_driver_sql(f"DROP OWNED BY {role}")  # its privileges in the test database
        here.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP ROLE {role}")
        admin.dispose()


def assert_append_only_for(role: str, settings: Settings) -> None:
    url = sa.engine.make_url(settings.database_url).set(username=role)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            row = {"kind": "write", "at": datetime.now(UTC), "actor": role, "action": "/api/x"}
            conn.execute(sa.insert(LOG), row)
            assert conn.execute(sa.select(sa.func.count()).select_from(LOG)).scalar() >= 1
            assert conn.execute(sa.select(sa.func.count()).select_from(SEALS)).scalar() == 0
        for statement in (
            "UPDATE audit_log SET actor = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "UPDATE audit_seals SET hash = ''",
            "DELETE FROM audit_seals",
            "TRUNCATE audit_seals",
        ):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), engine.begin() as conn:
                conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def test_the_applications_role_cannot_change_the_trail(app_role: str, settings: Settings, monkeypatch) -> None:
    # An operator who grants the application everything, then restricts it on the trail:
    here = sa.create_engine(settings.database_url, isolation_level="AUTOCOMMIT")
    with here.connect() as conn:
        conn.exec_driver_sql(f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {app_role}")
        conn.exec_driver_sql(f"GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {app_role}")
    here.dispose()
    restricted = CliRunner().invoke(
        cli, ["audit", "restrict-role", app_role], env={"PRECINCT_DATABASE_URL": settings.database_url}
    )
    assert restricted.exit_code == 0, restricted.output
    assert_append_only_for(app_role, settings)

    # The migration does the same for PRECINCT_DB_APP_ROLE, on tables the role had no rights on before.
    monkeypatch.setenv("PRECINCT_DB_APP_ROLE", app_role)
    command.downgrade(migrate.alembic_config(settings.database_url), BEFORE_AUDIT)
    migrate.upgrade(settings.database_url)
    assert_append_only_for(app_role, settings)
