"""Background jobs run on their own timer, beside the calls. On PostgreSQL a job's transaction takes no writer's turn,
so a process's calls never queue behind the jobs; on SQLite, whose one writer is every writer, a job waits its turn."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from tests.conftest import Clock

from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database
from precinct.platform.jobs import JobRunner


@pytest.fixture
def one_writer(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url, writers=1)
    yield database
    database.dispose()


def test_a_job_takes_no_writers_turn_on_postgresql_and_waits_for_sqlites_one_writer(
    one_writer: Database, settings: Settings, clock: Clock
) -> None:
    ran = threading.Event()

    def job(ctx: Ctx) -> None:
        ctx.session.execute(select(1))
        ran.set()

    holding, done = threading.Event(), threading.Event()

    def busy_call() -> None:  # a call in the middle of its write transaction: the process's only turn is taken
        with one_writer.transaction():
            holding.set()
            done.wait(10)

    call = threading.Thread(target=busy_call)
    call.start()
    assert holding.wait(5)
    jobs = threading.Thread(target=JobRunner(one_writer, settings, clock, [job]).run_once)
    jobs.start()
    try:
        if one_writer.backend == "postgresql":
            assert ran.wait(5), "the job waited for a call's turn to write"
        else:
            assert not ran.wait(0.5), "the job wrote beside SQLite's one writer"
    finally:
        done.set()
        call.join(10)
        jobs.join(10)
    assert ran.is_set()
