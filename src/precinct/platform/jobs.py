"""Background jobs: work that runs on a timer, never inside a request (an order left unacknowledged, say).

A ``JobRunner`` runs each job every ``job_interval_s`` in a transaction of its own, in a worker thread, without
taking a writer's turn from the calls (``Database.transaction(background=True)``). The API runs one in each worker
process unless ``PRECINCT_RUN_JOBS=false``; ``precinct worker`` runs one on its own. Jobs must be safe to run in
several processes at once (lock what they take, skip what another holds)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database

log = logging.getLogger("precinct.jobs")

Job = Callable[[Ctx], Any]


class JobRunner:
    def __init__(self, db: Database, settings: Settings, clock: Callable[[], datetime], jobs: Sequence[Job]) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.jobs = list(jobs)
        self._task: asyncio.Task[None] | None = None

    def run_once(self) -> None:
        """Run every job once, each in its own transaction; a failing job is logged and the others still run."""
        for job in self.jobs:
            try:
                with self.db.transaction(background=True) as session:
                    job(Ctx(session=session, settings=self.settings, actor="system:jobs", clock=self.clock))
            except Exception:
                log.exception("job %s failed", getattr(job, "__name__", job))

    async def run_forever(self) -> None:
        while True:
            await asyncio.to_thread(self.run_once)
            await asyncio.sleep(self.settings.job_interval_s)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run_forever(), name="precinct-jobs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
