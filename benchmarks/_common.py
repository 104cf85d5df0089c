"""What the incident benchmarks share: where the shared data lives, fresh seeded databases on SQLite or PostgreSQL
(made from one template per backend, dropped at the end even on error), latency figures and the machine's name."""

from __future__ import annotations

import os
import platform
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa
from rich.console import Console

if TYPE_CHECKING:
    from precinct.platform.config import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA = REPO_ROOT.parent / "shared" / "data"
DISTRICTS_ZIP = DATA / "portland" / "portland-police-districts.zip"
CALLS_ZIP = DATA / "portland" / "080116_083116_Data.zip"
CALL_MAPPING = REPO_ROOT / "src" / "precinct" / "data" / "portland_call_mapping.csv"
CALLS_DATE_FIELD = "occ_date"
CALLS_TIMEZONE = "America/Los_Angeles"
PG_ADMIN_URL = os.environ.get("PRECINCT_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgresql")


def console() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160)


def data_present(out: Console) -> bool:
    """Whether the shared data the benchmarks read is there; if not, say which files are missing."""
    missing = [p for p in (DISTRICTS_ZIP, CALLS_ZIP, CALL_MAPPING) if not p.is_file()]
    if missing:
        out.print(f"[red]shared data not found: {', '.join(map(str, missing))}[/red]")
    return not missing


def parse_backends(text: str) -> list[str]:
    backends = [b.strip() for b in text.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        raise SystemExit(f"unknown backend(s) {', '.join(unknown)}; choose from {', '.join(BACKENDS)}")
    return backends


def settings_for(url: str) -> Settings:
    from precinct.platform.config import Settings

    return Settings(database_url=url, _env_file=None)  # type: ignore[call-arg]


TOKEN_ENV = "PRECINCT_BENCH_TOKEN"  # how a load generator in its own process gets the token it sends


def bench_token(url: str, role: str) -> str:
    """A bearer token of ``system:bench`` acting in ``role`` for the whole city: every request is authorized, as
    in production (one indexed lookup each)."""
    from precinct.domains.identity import accounts
    from precinct.domains.orgs import service as orgs
    from precinct.platform.context import Ctx
    from precinct.platform.db import Database

    db = Database(url)
    try:
        with db.transaction() as session:
            ctx = Ctx(session=session, settings=settings_for(url), actor="bench")
            city = next(o.code for o in orgs.list_orgs(ctx) if o.parent_id is None)
            return accounts.add_token(ctx, system_name=f"bench-{role.replace('_', '-')}", org_code=city, role=role)[1]
    finally:
        db.dispose()


def bearer_from_env() -> dict[str, str]:
    return {"Authorization": f"Bearer {os.environ[TOKEN_ENV]}"} if os.environ.get(TOKEN_ENV) else {}


def seed(url: str) -> None:
    """The schema, the default catalogue and the Portland police districts, as ``precinct db upgrade``,
    ``catalogue load`` and ``import grids … --repair`` would leave them."""
    # Imported here, so that the load generator, which shares this module, starts without the application.
    from precinct.domains.incidents import catalogue
    from precinct.domains.orgs import service as orgs
    from precinct.platform import migrate
    from precinct.platform.context import Ctx
    from precinct.platform.db import Database

    migrate.upgrade(url)
    db = Database(url)
    try:
        with db.transaction() as session:
            ctx = Ctx(session=session, settings=settings_for(url), actor="bench")
            catalogue.load_catalogue(ctx)
            orgs.import_grids(
                ctx,
                DISTRICTS_ZIP,
                orgs.GridImportOptions(
                    code_field="DISTRICT", group_field="PRECINCT", root_code="PDX", root_name="Portland", repair=True
                ),
            )
    finally:
        db.dispose()


def _pg_admin(statement: str) -> None:
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(statement)
    finally:
        engine.dispose()


def _pg_url(name: str) -> str:
    return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


class FreshDatabases:
    """Hands out fresh seeded databases: each backend is migrated and seeded once into a template, and every
    database after that is a copy of it (a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on PostgreSQL)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.tag = uuid.uuid4().hex[:8]
        self.templates: dict[str, str] = {}
        self.pg_made: list[str] = []

    def fresh(self, backend: str) -> str:
        if backend not in self.templates:
            self.templates[backend] = self._template(backend)
        template = self.templates[backend]
        if backend == "sqlite":
            copy = self.directory / f"{uuid.uuid4().hex[:10]}.sqlite3"
            shutil.copyfile(template, copy)
            return f"sqlite:///{copy}"
        name = f"precinct_bench_{self.tag}_{uuid.uuid4().hex[:8]}"
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        self.pg_made.append(name)
        return _pg_url(name)

    def _template(self, backend: str) -> str:
        if backend == "sqlite":
            path = self.directory / "template.sqlite3"
            seed(f"sqlite:///{path}")
            # Fold the WAL into the main file so that a plain copy carries everything.
            engine = sa.create_engine(f"sqlite:///{path}")
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.dispose()
            return str(path)
        name = f"precinct_bench_{self.tag}_template"
        _pg_admin(f'CREATE DATABASE "{name}"')
        self.pg_made.append(name)
        seed(_pg_url(name))
        return name

    def drop(self, url: str) -> None:
        """Drop one database handed out by ``fresh`` (delete the file, on SQLite) once it is no longer needed."""
        parsed = sa.engine.make_url(url)
        name = parsed.database or ""
        if parsed.get_backend_name() == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(name + suffix).unlink(missing_ok=True)
        elif name in self.pg_made:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self.pg_made.remove(name)

    def drop_all(self) -> list[str]:
        """Drop every PostgreSQL database made here; returns the ones that could not be dropped."""
        failed = []
        for name in reversed(self.pg_made):
            try:
                _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except sa.exc.SQLAlchemyError:
                failed.append(name)
        self.pg_made = failed
        return failed


@contextmanager
def fresh_databases() -> Iterator[FreshDatabases]:
    """A ``FreshDatabases`` whose PostgreSQL databases are dropped and SQLite files deleted when the block ends."""
    directory = Path(tempfile.mkdtemp(prefix="precinct-bench-"))
    made = FreshDatabases(directory)
    try:
        yield made
    finally:
        failed = made.drop_all()
        shutil.rmtree(directory, ignore_errors=True)
        if failed:
            print(f"could not drop PostgreSQL databases: {', '.join(failed)}", file=sys.stderr)


def latency_ms(latencies_s: Sequence[float]) -> dict[str, float | None]:
    """p50, p90, p99 and max of latencies given in seconds, in milliseconds (None when there are none)."""
    if not latencies_s:
        return {"p50_ms": None, "p90_ms": None, "p99_ms": None, "max_ms": None}
    values = np.asarray(latencies_s) * 1000.0
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {"p50_ms": float(p50), "p90_ms": float(p90), "p99_ms": float(p99), "max_ms": float(values.max())}


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def describe_url(url: str) -> str:
    return sa.engine.make_url(url).render_as_string(hide_password=True)
