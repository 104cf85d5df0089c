"""Reference data — the incident-type catalogue, the jurisdiction boundaries — changes a few times a year and is
read on every call taken, so each process keeps its own copy in memory. A revision number per kind of data, raised
in the transaction that changes it, tells a process when its copy is stale.

A process reads the numbers at most once every ``reference_check_s`` seconds (default 1) per database: a change
committed by this process is seen by its next request, one committed by another process (a CLI import, a second
API worker) within that interval.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import CheckConstraint, Engine, Integer, String, bindparam, event, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from precinct.platform.context import Ctx
from precinct.platform.db import Base, on_event_loop, table_of

CATALOGUE = "catalogue"
JURISDICTIONS = "jurisdictions"
# Not reference data, but kept the same way: who holds a session or a token, and what they may see (decision 0012).
# Whatever ends or narrows a principal — a sign-out, a revoked token, a disabled user, a new password, a grant given
# or revoked — raises it.
CREDENTIALS = "credentials"
_CHANGED = "precinct.reference_changed"  # key in Session.info: the kinds this transaction changed

T = TypeVar("T")


class ReferenceRevision(Base):
    __tablename__ = "reference_revisions"
    __table_args__ = (CheckConstraint("revision > 0", name="positive"),)

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class _Reading:
    at: float  # time.monotonic() of the read
    revisions: dict[str, int]


_TABLE = table_of(ReferenceRevision)
_READ = select(_TABLE.c.name, _TABLE.c.revision)
_BUMP = {
    name: make(_TABLE)
    .values(name=bindparam("name"), revision=1)
    .on_conflict_do_update(index_elements=[_TABLE.c.name], set_={"revision": _TABLE.c.revision + 1})
    for name, make in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
_READINGS: dict[str, _Reading] = {}
_LOCK = threading.Lock()


def _revision(ctx: Ctx, database: str, name: str) -> int:
    """The revision of one kind of reference data (0 before its first change), at most ``reference_check_s`` old."""
    reading = _READINGS.get(database)
    if reading is None or time.monotonic() - reading.at >= ctx.settings.reference_check_s:
        rows = ctx.session.connection().execute(_READ)
        reading = _Reading(time.monotonic(), {row.name: row.revision for row in rows})
        with _LOCK:
            _READINGS[database] = reading
    return reading.revisions.get(name, 0)


def bump(ctx: Ctx, name: str) -> None:
    """Mark one kind of reference data as changed by the current transaction; once it commits, this process reads
    the new revision on its next request."""
    connection = ctx.session.connection()
    connection.execute(_BUMP[connection.dialect.name], {"name": name})
    ctx.session.info.setdefault(_CHANGED, set()).add(name)
    database = _database_key(ctx.session)

    def forget(_session: Session) -> None:
        with _LOCK:
            _READINGS.pop(database, None)

    event.listen(ctx.session, "after_commit", forget, once=True)


class ReferenceCache(Generic[T]):
    """What a process builds from one kind of reference data (a lookup table, a spatial index), kept per database
    and revision. A transaction that changed the data itself gets a fresh build that is never kept: the change may
    still roll back."""

    def __init__(self, name: str, *, size: int = 8) -> None:
        self.name = name
        self.size = size
        self._built: OrderedDict[tuple[str, int], T] = OrderedDict()
        self._lock = threading.Lock()  # held to read or change ``_built``, never while building
        self._building = threading.Lock()  # held while building, so one builds while the others wait for it

    def peek(self, database: str, check_s: float) -> T | None:
        """What is built for the revision this process last read, if that reading is recent enough to trust
        without asking the database (``check_s``); ``None`` otherwise. Never reads the database: an event loop may
        call it."""
        reading = _READINGS.get(database)
        if reading is None or time.monotonic() - reading.at >= check_s:
            return None
        return self._built.get((database, reading.revisions.get(self.name, 0)))

    def get(self, ctx: Ctx, build: Callable[[], T]) -> T:
        if self.name in ctx.session.info.get(_CHANGED, ()):
            return build()
        database = _database_key(ctx.session)
        key = (database, _revision(ctx, database, self.name))
        built = self._kept(key)
        if built is not None:
            return built
        # A transaction on the event loop must not wait for the build: the build may be another request's on the
        # same loop, waiting for the database there, and the wait would stop the loop. It builds its own copy.
        if not self._building.acquire(blocking=not on_event_loop()):
            return build()
        try:
            built = self._kept(key)
            if built is None:
                built = build()
                with self._lock:
                    self._built[key] = built
                    while len(self._built) > self.size:
                        self._built.popitem(last=False)
            return built
        finally:
            self._building.release()

    def _kept(self, key: tuple[str, int]) -> T | None:
        with self._lock:
            built = self._built.get(key)
            if built is not None:
                self._built.move_to_end(key)
            return built


def database_key(engine: Engine) -> str:
    """Which database a cache entry belongs to: the engine's URL, without its password."""
    return engine.url.render_as_string(hide_password=True)


def _database_key(session: Session) -> str:
    return database_key(session.get_bind().engine)
