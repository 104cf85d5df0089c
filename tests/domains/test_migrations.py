"""The migrations build the schema the models describe, on both backends, and can be rolled back."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from precinct.domains.registry import metadata
from precinct.platform import migrate


def test_models_and_migrations_agree(empty_database_url: str) -> None:
    engine = sa.create_engine(empty_database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    engine.dispose()
    assert differences == [], f"models and migrations differ; write a migration: {differences}"


def test_the_schema_downgrades_and_upgrades_again(empty_database_url: str) -> None:
    from alembic import command

    config = migrate.alembic_config(empty_database_url)
    command.downgrade(config, "base")
    engine = sa.create_engine(empty_database_url)
    assert "incidents" not in sa.inspect(engine).get_table_names()
    engine.dispose()
    migrate.upgrade(empty_database_url)
    engine = sa.create_engine(empty_database_url)
    assert {"incidents", "dispatches", "incident_events", "units", "orgs", "grids"} <= set(
        sa.inspect(engine).get_table_names()
    )
    engine.dispose()


def test_the_database_keeps_its_own_invariants(empty_database_url: str) -> None:
    """Check constraints and unique numbers hold even for writes that bypass the application."""
    engine = sa.create_engine(empty_database_url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _fk(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

    bad_rows = [
        "INSERT INTO orgs (code, name, level, created_at) VALUES ('A', 'a', 'planet', CURRENT_TIMESTAMP)",
        "INSERT INTO incident_types (code, level, name_zh, name_en, priority) VALUES ('0100', 1, 'x', 'x', 1)",
        "INSERT INTO incident_types (code, level, name_zh, name_en, priority) VALUES ('01000000', 1, 'x', 'x', 9)",
        "INSERT INTO units (call_sign, kind, capabilities, home_org_id, on_duty, status, updated_at) "
        "VALUES ('U', 'patrol_car', '[]', 12345, true, 'available', CURRENT_TIMESTAMP)",
    ]
    for statement in bad_rows:
        with engine.connect() as conn:
            try:
                conn.execute(sa.text(statement))
                conn.commit()
            except sa.exc.IntegrityError:
                conn.rollback()
            else:
                raise AssertionError(f"the database accepted: {statement}")
    engine.dispose()


def test_a_migration_that_rebuilds_a_table_keeps_the_rows_that_point_at_it(empty_database_url: str) -> None:
    """SQLite rebuilds `incidents` to give it a key column, while events and keys point at it (this failed with
    'FOREIGN KEY constraint failed' until the migrations ran with SQLite's foreign keys off and checked after)."""
    from alembic import command

    config = migrate.alembic_config(empty_database_url)
    command.downgrade(config, "a44c24e6b9bb")  # before the incident named its idempotency key
    engine = sa.create_engine(empty_database_url)
    at = "2026-11-23 01:00:00"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO incident_types (code, level, name_zh, name_en, priority) "
                "VALUES ('01020100', 3, '打架斗殴', 'Fight', 2)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO incidents (id, number, source, status, type_code, category_code, priority, called_at, "
                "taken_at, narrative, created_by) VALUES (1, 'X-20261123-0001', 'phone_110', 'received', '01020100', "
                "'01000000', 2, :at, :at, '', 'test')"
            ),
            {"at": at},
        )
        conn.execute(
            sa.text(
                "INSERT INTO incident_events (incident_id, kind, at, actor, data) "
                "VALUES (1, 'received', :at, 't', '{}')"
            ),
            {"at": at},
        )
        conn.execute(
            sa.text(
                "INSERT INTO idempotency_keys (key, request_hash, incident_id, created_at) VALUES ('k-1', 'h', 1, :at)"
            ),
            {"at": at},
        )
    migrate.upgrade(empty_database_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT id, idempotency_key FROM incidents")).all() == [(1, "k-1")]
        assert conn.execute(sa.text("SELECT count(*) FROM incident_events")).scalar() == 1
    command.downgrade(config, "a44c24e6b9bb")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT key, incident_id FROM idempotency_keys")).all() == [("k-1", 1)]
    engine.dispose()
    migrate.upgrade(empty_database_url)


def test_the_cell_of_every_incident_with_a_point_is_filled_in(empty_database_url: str) -> None:
    """Incidents taken before cells existed get theirs, as core/geo/cells.py numbers them, and those without a point
    none; their probable duplicates are then found by cell like the new ones'."""
    from alembic import command

    from precinct.core.geo.cells import cell_of

    config = migrate.alembic_config(empty_database_url)
    command.downgrade(config, "5f6b8d3c0e21")  # before incidents had cells
    engine = sa.create_engine(empty_database_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO incident_types (code, level, name_zh, name_en, priority) "
                "VALUES ('01020100', 3, '打架斗殴', 'Fight', 2)"
            )
        )
        for n, (lon, lat) in enumerate([(-122.6765, 45.5231), (None, None), (-122.67, 45.5)], start=1):
            conn.execute(
                sa.text(
                    "INSERT INTO incidents (id, number, source, status, type_code, category_code, priority, "
                    "called_at, taken_at, lon, lat, narrative, created_by) VALUES (:n, :number, 'phone_110', "
                    "'received', '01020100', '01000000', 2, '2026-11-23 01:00:00', '2026-11-23 01:00:00', :lon, "
                    ":lat, '', 'test')"
                ),
                {"n": n, "number": f"X-20261123-{n:04d}", "lon": lon, "lat": lat},
            )
    migrate.upgrade(empty_database_url)
    with engine.connect() as conn:
        cells = conn.execute(sa.text("SELECT id, cell FROM incidents ORDER BY id")).all()
    engine.dispose()
    assert cells == [(1, cell_of(-122.6765, 45.5231)), (2, None), (3, cell_of(-122.67, 45.5))]
