"""Alembic's entry point: migrate the database named by the config (or PRECINCT_DATABASE_URL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from precinct.domains.registry import metadata
from precinct.platform.config import Settings
from precinct.platform.db import make_engine

config = context.config
url = config.attributes.get("url") or Settings().database_url
connection = config.attributes.get("connection")


def run(connection_to_use: Connection) -> None:
    # SQLite alters a table by copying it and dropping the original, which its foreign keys would refuse while
    # other tables point at it: they are switched off for the migration and checked before it commits.
    sqlite = connection_to_use.dialect.name == "sqlite"
    if sqlite:  # on the driver's connection: SQLite ignores this pragma inside a transaction
        _pragma(connection_to_use, "foreign_keys=OFF")
    context.configure(
        connection=connection_to_use,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    try:
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection_to_use.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration left rows whose foreign keys point nowhere: {broken[:10]}")
    finally:
        if sqlite:
            _pragma(connection_to_use, "foreign_keys=ON")


def _pragma(connection_to_use: Connection, setting: str) -> None:
    driver = connection_to_use.connection.dbapi_connection
    assert driver is not None
    driver.execute(f"PRAGMA {setting}")


if connection is not None:
    run(connection)
else:
    engine = make_engine(url)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
