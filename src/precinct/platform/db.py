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

import psycopg
from sqlalchemy import JSON, BigInteger, DateTime, Engine, Integer, MetaData, Table, create_engine, event, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_, greenlet_spawn

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
            self._commit(session)
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _commit(self, session: Session) -> None:
        """Commit, with the rows the transaction appended. On PostgreSQL they go in one pipeline with the COMMIT: one
        round trip for all of them, and a row lock taken earlier in the transaction (the day's incident counter) is
        held for that trip alone."""
        rows = session.info.get(_APPENDS)
        if not rows or self.backend != "postgresql":
            session.commit()  # any rows are written by _write_appends, before the commit
            return
        session.flush()  # the unit of work first, outside the pipeline: it reads what its statements return
        del session.info[_APPENDS]
        connection = session.connection()
        driver = connection.connection.driver_connection
        assert driver is not None
        try:
            if isinstance(driver, psycopg.AsyncConnection):
                await_(_pipeline_async(connection, driver, rows))
            else:
                _pipeline(connection, driver, rows)
        except connection.dialect.loaded_dbapi.Error as error:  # as SQLAlchemy words it (IntegrityError, …)
            raise DBAPIError.instance(None, None, error, connection.dialect.loaded_dbapi.Error) from error
        session.commit()  # the session's bookkeeping and events; its COMMIT finds no transaction and sends nothing

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


def _pipeline(connection: Connection, driver: Any, rows: list[tuple[Table, dict[str, Any]]]) -> None:
    """The appended rows and the driver's COMMIT, in one pipeline (one round trip)."""
    with driver.pipeline(), driver.cursor() as cursor:
        for sql, params in _inserts(connection, cursor, rows):
            cursor.execute(sql, params)
        # The driver's COMMIT. Not the session's: that returns the connection to the pool, where another thread could
        # take it while it is still in pipeline mode.
        driver.commit()


async def _pipeline_async(connection: Connection, driver: Any, rows: list[tuple[Table, dict[str, Any]]]) -> None:
    """``_pipeline`` with psycopg's asyncio connection (a transaction ``Database.run`` serves)."""
    async with driver.pipeline(), driver.cursor() as cursor:
        for sql, params in _inserts(connection, cursor, rows):
            await cursor.execute(sql, params)
        await driver.commit()


def _inserts(
    connection: Connection, cursor: Any, rows: list[tuple[Table, dict[str, Any]]]
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each appended row's INSERT as the driver takes it, shown first to what watches the engine's statements (tests,
    tracing)."""
    listening = bool(connection.dispatch.before_cursor_execute)
    for table, row in rows:
        sql, processors = _pipelined_insert(connection.dialect, table, tuple(row))
        params = {key: process(row[key]) for key, process in processors}
        if listening:
            connection.dispatch.before_cursor_execute(connection, cursor, sql, params, None, False)
        yield sql, params


@event.listens_for(Session, "before_commit")
def _write_appends(session: Session) -> None:
    """Rows still queued at commit (SQLite, or a session committed outside ``Database.transaction``): one INSERT each,
    after the unit of work."""
    rows = session.info.pop(_APPENDS, None)
    if rows:
        session.flush()
        connection = session.connection()
        for table, row in rows:
            connection.execute(_insert(table), row)


@event.listens_for(Session, "after_rollback")
def _drop_appends(session: Session) -> None:
    session.info.pop(_APPENDS, None)


@lru_cache(maxsize=64)
def _insert(table: Table) -> Insert:
    """One INSERT statement per table, built once: building and keying a statement costs more than running it."""
    return insert(table)


_Processor = Callable[[Any], Any]


@lru_cache(maxsize=64)  # a few tables and column sets per engine
def _pipelined_insert(
    dialect: Dialect, table: Table, keys: tuple[str, ...]
) -> tuple[str, list[tuple[str, _Processor]]]:
    """An INSERT of these columns as the driver takes it, and each value's conversion as SQLAlchemy would make it."""
    sql = str(insert(table).inline().compile(dialect=dialect, column_keys=list(keys)))  # inline: no RETURNING
    processors: list[tuple[str, _Processor]] = []
    for key in keys:
        process = table.c[key].type.dialect_impl(dialect).bind_processor(dialect)
        processors.append((key, process or _as_is))
    return sql, processors


def _as_is(value: Any) -> Any:
    return value
