"""A pooled PostgreSQL connection that the server has ended (a restart, an idle timeout, an administrator) is
replaced when it is taken from the pool, before a transaction can fail on it."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from precinct.platform.db import Database


def _backend_pid(db: Database) -> int:
    with db.transaction(write=False) as session:
        return int(session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def test_a_pooled_connection_the_server_ended_is_replaced_before_it_is_used(db: Database) -> None:
    if db.backend != "postgresql":
        pytest.skip("SQLite has no server to end a connection")
    ended = _backend_pid(db)  # back in the pool, idle
    admin = sa.create_engine(db.url, poolclass=NullPool)
    try:
        with admin.connect() as connection:
            assert connection.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": ended})
            deadline = time.monotonic() + 5
            gone = sa.text("SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = :pid")
            while not connection.scalar(gone, {"pid": ended}) and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        admin.dispose()
    for _ in range(2):  # a write transaction too, and the pool is sound afterwards
        with db.transaction() as session:
            assert session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != ended
