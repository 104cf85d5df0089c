"""Test fixtures: every database test runs on SQLite and on PostgreSQL, each test on a fresh copy of a template
database built once by the migrations (and holding the default catalogue and the Portland districts)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from precinct.domains.identity import accounts
from precinct.domains.incidents import catalogue
from precinct.domains.orgs import service as orgs
from precinct.platform import migrate
from precinct.platform.config import Settings
from precinct.platform.context import Ctx
from precinct.platform.db import Database
from precinct.web.app import create_app

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT.parent / "shared" / "data"
DISTRICTS = DATA / "portland" / "portland-police-districts.zip"
CALLS = DATA / "portland" / "080116_083116_Data.zip"
PORTLAND_ROADS = DATA / "osm" / "portland-central-filtered.osm.pbf"
PG_ADMIN_URL = os.environ.get("PRECINCT_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgresql")


def need_data(*paths: Path) -> None:
    for path in paths:
        if not path.exists():
            message = f"shared data not found at {path}; it lives beside the repository in ../shared/data"
            if os.environ.get("CI"):
                pytest.fail(message)  # CI runs every test on the real data, never skips them
            pytest.skip(message)


@dataclass
class Clock:
    """The server's clock, injected so that tests can let time pass."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _pg_available() -> str | None:
    try:
        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # any failure to connect means the same thing here
        return str(error).splitlines()[0]


class Templates:
    """Builds each backend's template database once per session and hands out fresh copies of it."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.tag = uuid.uuid4().hex[:8]
        self.built: dict[tuple[str, bool], str] = {}
        self.made_pg: list[str] = []
        self.pg_error: str | None = None
        self.pg_checked = False

    def _require_pg(self) -> None:
        if not self.pg_checked:
            self.pg_error, self.pg_checked = _pg_available(), True
        if self.pg_error is not None:
            message = f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {self.pg_error}"
            if os.environ.get("CI"):
                pytest.fail(message)  # CI must test PostgreSQL, never skip it
            pytest.skip(message)

    def fresh(self, backend: str, seeded: bool) -> str:
        if backend == "postgresql":
            self._require_pg()
        key = (backend, seeded)
        if key not in self.built:
            self.built[key] = self._build(backend, seeded)
        template = self.built[key]
        if backend == "sqlite":
            copy = self.tmp / f"{uuid.uuid4().hex}.sqlite3"
            shutil.copyfile(template, copy)
            return f"sqlite:///{copy}"
        name = f"precinct_t_{self.tag}_{uuid.uuid4().hex[:10]}"
        self._pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.made_pg.append(name)
        return _pg_url(name)

    def _build(self, backend: str, seeded: bool) -> str:
        suffix = "seeded" if seeded else "empty"
        if backend == "sqlite":
            path = self.tmp / f"template-{suffix}.sqlite3"
            url = f"sqlite:///{path}"
            target = str(path)
        else:
            target = f"precinct_tpl_{self.tag}_{suffix}"
            self._pg_admin(f'CREATE DATABASE "{target}"')
            self.made_pg.append(target)
            url = _pg_url(target)
        try:
            migrate.upgrade(url)
            if seeded:
                need_data(DISTRICTS)
                seed(url)
        except BaseException:  # a skip too: the next test must not find a half-built template in its way
            if backend == "postgresql":
                self.drop(target)
                self.made_pg.remove(target)
            raise
        if backend == "sqlite":
            # Fold the WAL into the main file so that a plain copy carries everything.
            engine = sa.create_engine(url)
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.dispose()
        return target

    def _pg_admin(self, statement: str) -> None:
        engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
        engine.dispose()

    def drop(self, name: str) -> None:
        self._pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def cleanup(self) -> None:
        for name in reversed(self.made_pg):
            self.drop(name)


def _pg_url(name: str) -> str:
    return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def seed(url: str) -> None:
    """The reference data most tests share: the default catalogue and the Portland police districts."""
    db = Database(url)
    with db.transaction() as session:
        ctx = Ctx(session=session, settings=Settings(database_url=url), actor="test")
        catalogue.load_catalogue(ctx)
        orgs.import_grids(
            ctx,
            DISTRICTS,
            orgs.GridImportOptions(
                code_field="DISTRICT", group_field="PRECINCT", root_code="PDX", root_name="Portland", repair=True
            ),
        )
    db.dispose()


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    made = Templates(tmp_path_factory.mktemp("databases"))
    yield made
    made.cleanup()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(templates: Templates, backend: str) -> Iterator[str]:
    """A fresh database with the schema, the catalogue and the Portland districts."""
    url = templates.fresh(backend, seeded=True)
    yield url
    if backend == "postgresql":
        templates.drop(sa.engine.make_url(url).database or "")


@pytest.fixture
def empty_database_url(templates: Templates, backend: str) -> Iterator[str]:
    """A fresh database with the schema only."""
    url = templates.fresh(backend, seeded=False)
    yield url
    if backend == "postgresql":
        templates.drop(sa.engine.make_url(url).database or "")


@pytest.fixture(scope="session")
def graph_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One road-graph cache for the whole session: each network is built once, then loaded from it."""
    return tmp_path_factory.mktemp("graphs")


@pytest.fixture
def settings(database_url: str, graph_cache: Path) -> Settings:
    # The background jobs run where a test asks for them (tests/api/test_overdue_orders.py), not beside every test.
    return Settings(database_url=database_url, cache_dir=graph_cache, run_jobs=False, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.database_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))


def bearer_token(
    db: Database, settings: Settings, *, system: str = "tests", role: str | None = "duty_commander", org: str = "PDX"
) -> str:
    """A token of a system acting in ``role`` for the subtree of ``org`` (the city by default)."""
    with db.transaction() as session:
        ctx = Ctx(session=session, settings=settings, actor="test")
        _, token = accounts.add_token(ctx, system_name=system, org_code=org, role=role)
    return token


def auth_headers(db: Database, settings: Settings) -> dict[str, str]:
    """Headers of the city's duty commander (``bearer_token``'s default identity)."""
    return {"Authorization": f"Bearer {bearer_token(db, settings)}"}


@pytest.fixture
def client(settings: Settings, db: Database, clock: Clock) -> Iterator[TestClient]:
    """The API as the city's duty commander sees it (a bearer token, so no CSRF header is needed)."""
    app = create_app(settings, db=db, clock=clock)
    with TestClient(app, raise_server_exceptions=False, headers=auth_headers(db, settings)) as test_client:
        yield test_client


@pytest.fixture
def ctx_factory(db: Database, settings: Settings, clock: Clock) -> Callable[[], Iterator[Ctx]]:
    """Run service code in a transaction of its own, as a job would."""
    from contextlib import contextmanager

    @contextmanager
    def make() -> Iterator[Ctx]:
        with db.transaction() as session:
            yield Ctx(session=session, settings=settings, actor="test", clock=clock)

    return make
