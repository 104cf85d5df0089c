"""The database: the declarative base with its constraint naming convention, portable column types, the engine
for SQLite (WAL) or PostgreSQL, the one place that commits (``Database.transaction``), and the rows a transaction
only appends (``append``), written with its commit."""

from __future__ import annotations

import asyncio
import select
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, contextmanager, nullcontext
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Table,
    bindparam,
    create_engine,
    event,
    insert,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import greenlet_spawn

SQLITE_BUSY_TIMEOUT_S = 30  # how long a writer waits for SQLite's lock (held by another process) before giving up
WRITER_TURN_TIMEOUT_S = 30  # how long a writer waits for its turn in this process
_NO_TURN = f"no turn to write to the database within {WRITER_TURN_TIMEOUT_S} s"
DEFAULT_WRITERS = 2  # writing transactions at once per process on PostgreSQL (see ``Database``)
_T = TypeVar("_T")
_APPENDS = "precinct.appends"  # key in Session.info: the rows ``append`` queued, in order

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements that skip the unit of work on hot paths."""
    return model.metadata.tables[model.__tablename__]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite keeps no zone, so it is stored as naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC time is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
# SQLite autoincrements only an INTEGER PRIMARY KEY, so big ids are plain integers there.
IdType = BigInteger().with_variant(Integer(), "sqlite")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine tuned for its backend: SQLite in WAL mode with foreign keys on; PostgreSQL with a pool."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_S, "isolation_level": None},
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, echo=echo, pool_size=10, max_overflow=20)
    event.listen(engine, "checkout", _still_connected)
    return engine


def _still_connected(dbapi_connection: Any, _record: Any, proxy: Any) -> None:
    """Refuse a pooled PostgreSQL connection that the server has ended (a restart, an idle timeout, an
    administrator): the pool then opens a new one. An idle connection hears nothing from the server but its last
    words and the close, so anything waiting on the socket means it is gone — a look at the socket, where a ping
    (``pool_pre_ping``) would cost every transaction a round trip."""
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the connection is closed")
    waiting = select.poll()
    waiting.register(proxy.driver_connection.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    if waiting.poll(0):
        raise DisconnectionError("the server ended the connection while it sat in the pool")


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling defers BEGIN and cannot take a write lock up front; we emit BEGIN
    # ourselves so that a writing transaction starts IMMEDIATE and never fails half-way on a lock upgrade.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get("write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """An engine and its session factory. Sessions never commit on their own: ``transaction`` (in a thread) or
    ``run`` (on the event loop) does, once."""

    def __init__(self, url: str, *, echo: bool = False, writers: int = DEFAULT_WRITERS) -> None:
        self.url = url
        self.echo = echo
        self.engine = make_engine(url, echo=echo)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.backend = self.engine.dialect.name
        # Writing transactions of one process take turns here, each let in the moment another ends. SQLite lets
        # one writer in at a time, and a writer that finds its lock taken sleeps in steps of up to 100 ms before
        # it looks again. On PostgreSQL, more writers than cores only lengthen each transaction: they contend for
        # the interpreter's lock while holding row locks (the day's incident counter) that other calls wait for.
        # Other processes still meet the database's own locks.
        self._writer_count = 1 if self.backend == "sqlite" else writers
        self._writers = threading.BoundedSemaphore(self._writer_count)
        # The same turns for ``run``, one semaphore per event loop (it waits on one loop; tests run apps on several)
        self._loop_writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def runs_on_loop(self) -> bool:
        """Whether ``run`` can serve a transaction on the event loop: PostgreSQL, which has an asyncio driver."""
        return self.backend == "postgresql"

    @property
    def engines(self) -> tuple[Engine, ...]:
        """Every engine transactions may run on: the threads' and, where ``runs_on_loop``, the event loop's."""
        return (self.engine, self._loop_engine.sync_engine) if self.runs_on_loop else (self.engine,)

    async def run(self, work: Callable[[Session], _T], *, write: bool) -> _T:
        """``work(session)`` in one transaction, committed when it returns, on the running event loop (decision
        0015): the same synchronous code as in ``transaction``, run in a greenlet whose every wait for the database
        gives the loop back to the other requests. No thread: a request's statements cost no hand-over between
        threads and no wait for the interpreter's lock. PostgreSQL only (``runs_on_loop``)."""
        if not write:
            return await greenlet_spawn(self._run, work, False)
        async with self._loop_writer_turn():
            return await greenlet_spawn(self._run, work, True)

    def _run(self, work: Callable[[Session], _T], write: bool) -> _T:  # in the greenlet
        with self._session(self._loop_sessions, write) as session:
            return work(session)

    @cached_property
    def _loop_engine(self) -> AsyncEngine:
        """An engine of its own, with psycopg's asyncio connections in its pool; built on first use."""
        engine = create_async_engine(self.url, echo=self.echo, pool_size=10, max_overflow=20)
        event.listen(engine.sync_engine, "checkout", _still_connected)
        return engine

    @cached_property
    def _loop_sessions(self) -> sessionmaker[Session]:
        return sessionmaker(self._loop_engine.sync_engine, expire_on_commit=False)

    @contextmanager
    def transaction(self, *, write: bool = True, background: bool = False) -> Iterator[Session]:
        """A session whose work is committed when the block ends, and rolled back if it raises.

        A ``background`` writer (a job) on PostgreSQL does not take a turn: it holds none of the locks that calls
        wait for, and in a turn it would leave the process's calls one writer short for as long as it runs (at 300
        calls a second, a queue behind the other writer every time the jobs ran). SQLite's one writer is every
        writer's."""
        takes_turn = write and not (background and self.backend == "postgresql")
        with self._writer_turn() if takes_turn else nullcontext(), self._session(self.sessions, write) as session:
            yield session

    @contextmanager
    def _session(self, sessions: sessionmaker[Session], write: bool) -> Iterator[Session]:
        session = sessions()
        if write:
            session.connection(execution_options={"write": True})
        try:
            yield session
            session.commit()  # with the rows the transaction appended (``_write_appends``)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        if not self._writers.acquire(timeout=WRITER_TURN_TIMEOUT_S):
            raise TimeoutError(_NO_TURN)
        try:
            yield
        finally:
            self._writers.release()

    @asynccontextmanager
    async def _loop_writer_turn(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        turns = self._loop_writers.get(loop)
        if turns is None:
            turns = self._loop_writers[loop] = asyncio.Semaphore(self._writer_count)
        try:
            async with asyncio.timeout(WRITER_TURN_TIMEOUT_S):
                await turns.acquire()
        except TimeoutError:
            raise TimeoutError(_NO_TURN) from None
        try:
            yield
        finally:
            turns.release()

    def dispose(self) -> None:
        self.engine.dispose()
        if "_loop_engine" in self.__dict__:  # built: its connections close on a loop of their own, in a thread of
            # their own (the caller's thread may be running a loop)
            with ThreadPoolExecutor(max_workers=1) as closer:
                closer.submit(asyncio.run, self._loop_engine.dispose()).result()


def on_event_loop() -> bool:
    """Whether the code calling runs on an event loop's thread (in a transaction ``Database.run`` serves), where a
    wait for a lock held by another request would stop the loop, and with it that request."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


# --- appended rows ------------------------------------------------------------------------------------------------


def append(session: Session, table: Table, row: dict[str, Any]) -> None:
    """Add a row that the transaction never reads back (a timeline event, an outbox event, an audit entry). It is
    written as the transaction commits, after everything else the transaction wrote; a rollback drops it (a
    savepoint's rollback would not: precinct uses none)."""
    session.info.setdefault(_APPENDS, []).append((table, row))


@event.listens_for(Session, "before_commit")
def _write_appends(session: Session) -> None:
    """The rows the transaction appended, after the unit of work. On PostgreSQL the rows of different tables go in one
    statement, each but the last as a data-modifying CTE (decision 0016): a call's event, outbox row and audit entry
    are one statement, then the COMMIT. On SQLite, one INSERT each."""
    rows = session.info.pop(_APPENDS, None)
    if not rows:
        return
    session.flush()
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        for table, row in rows:
            connection.execute(_insert(table), row)
        return
    for run in _runs_of_distinct_tables(rows):
        sql, processors = _appended_insert(connection.dialect, tuple((table, tuple(row)) for table, row in run))
        connection.exec_driver_sql(sql, {name: process(run[i][1][key]) for name, i, key, process in processors})


@event.listens_for(Session, "after_rollback")
def _drop_appends(session: Session) -> None:
    session.info.pop(_APPENDS, None)


def _runs_of_distinct_tables(rows: list[tuple[Table, dict[str, Any]]]) -> Iterator[list[tuple[Table, dict[str, Any]]]]:
    """The rows in order, cut where a table comes again. The parts of one statement run in no set order, and the ids
    of one table's rows must follow the order they were appended in (a timeline's events)."""
    run: list[tuple[Table, dict[str, Any]]] = []
    for table, row in rows:
        if any(table is seen for seen, _ in run):
            yield run
            run = []
        run.append((table, row))
    yield run


@lru_cache(maxsize=64)
def _insert(table: Table) -> Insert:
    """One INSERT statement per table, built once: building and keying a statement costs more than running it."""
    return insert(table)


_Processor = Callable[[Any], Any]


@lru_cache(maxsize=64)  # a few tables and column sets per engine
def _appended_insert(
    dialect: Dialect, shape: tuple[tuple[Table, tuple[str, ...]], ...]
) -> tuple[str, list[tuple[str, int, str, _Processor]]]:
    """One INSERT statement for rows of different tables (each given by its columns), as the driver takes it, and
    each value's parameter name, row, column and conversion as SQLAlchemy would make it."""
    processors: list[tuple[str, int, str, _Processor]] = []
    inserts = []
    for i, (table, keys) in enumerate(shape):
        names = {key: f"r{i}_{key}" for key in keys}
        inserts.append(
            insert(table).values({key: bindparam(name, type_=table.c[key].type) for key, name in names.items()})
        )
        for key, name in names.items():
            process = table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
            processors.append((name, i, key, process or _as_is))
    *first, last = inserts
    statement = last.add_cte(*(part.cte(f"appended_{i}") for i, part in enumerate(first)))
    return str(statement.compile(dialect=dialect)), processors


def _as_is(value: Any) -> Any:
    return value
