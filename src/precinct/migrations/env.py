"""Alembic's entry point: migrate the database named by the config (or PRECINCT_DATABASE_URL)."""

from __future__ import annotations

from alembic import context

from precinct.domains.registry import metadata
from precinct.platform.config import Settings
from precinct.platform.db import make_engine

config = context.config
url = config.attributes.get("url") or Settings().database_url
connection = config.attributes.get("connection")


def run(connection_to_use: object) -> None:
    context.configure(
        connection=connection_to_use,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    run(connection)
else:
    engine = make_engine(url)
    with engine.connect() as conn:
        run(conn)
    engine.dispose()
