"""the 110 incident loop

Revision ID: 73fd47325102
Revises:
Create Date: 2026-11-23 09:33:01.307979
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import precinct.platform.db

revision = "73fd47325102"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "incident_counters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        sa.CheckConstraint("last_value > 0", name=op.f("ck_incident_counters_positive")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_counters")),
        sa.UniqueConstraint("prefix", "day", name=op.f("uq_incident_counters_prefix_day")),
    )
    op.create_table(
        "incident_types",
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("parent_code", sa.String(length=8), nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("name_zh", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("response_target_s", sa.Integer(), nullable=True),
        sa.CheckConstraint("length(code) = 8", name=op.f("ck_incident_types_code_length")),
        sa.CheckConstraint("level BETWEEN 1 AND 4", name=op.f("ck_incident_types_level_range")),
        sa.CheckConstraint(
            "priority IS NULL OR priority BETWEEN 1 AND 4", name=op.f("ck_incident_types_priority_range")
        ),
        sa.CheckConstraint(
            "response_target_s IS NULL OR response_target_s > 0",
            name=op.f("ck_incident_types_target_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_code"],
            ["incident_types.code"],
            name=op.f("fk_incident_types_parent_code_incident_types"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_incident_types")),
    )
    op.create_table(
        "jurisdiction_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_jurisdiction_revision_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jurisdiction_revision")),
    )
    op.create_table(
        "orgs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("division_code", sa.String(length=12), nullable=True),
        sa.Column(
            "boundary",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("area_m2", sa.Float(), nullable=True),
        sa.Column("created_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("level IN ('city', 'county', 'station', 'community')", name=op.f("ck_orgs_level")),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name=op.f("ck_orgs_not_own_parent")),
        sa.ForeignKeyConstraint(["parent_id"], ["orgs.id"], name=op.f("fk_orgs_parent_id_orgs"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orgs")),
        sa.UniqueConstraint("code", name=op.f("uq_orgs_code")),
    )
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orgs_parent_id"), ["parent_id"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_unpublished", ["published_at", "id"], unique=False)

    op.create_table(
        "grids",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "boundary",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column(
            "properties",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('grid', 'police_beat', 'micro_grid')", name=op.f("ck_grids_kind")),
        sa.CheckConstraint("area_m2 > 0", name=op.f("ck_grids_area_positive")),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_grids_org_id_orgs"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["grids.id"], name=op.f("fk_grids_parent_id_grids"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grids")),
        sa.UniqueConstraint("code", name=op.f("uq_grids_code")),
    )
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grids_org_id"), ["org_id"], unique=False)

    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_sign", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column(
            "capabilities",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("home_org_id", sa.Integer(), nullable=False),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("position_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('patrol_car', 'foot_patrol', 'motorcycle', 'rapid_response', 'traffic', 'community', 'special')",
            name=op.f("ck_units_kind"),
        ),
        sa.CheckConstraint("on_duty OR status = 'off_duty'", name=op.f("ck_units_off_duty_status")),
        sa.CheckConstraint(
            "status IN ('available', 'assigned', 'en_route', 'on_scene', 'returning', 'off_duty')",
            name=op.f("ck_units_status"),
        ),
        sa.CheckConstraint("(lon IS NULL) = (lat IS NULL)", name=op.f("ck_units_both_coordinates")),
        sa.CheckConstraint("(lon IS NULL) = (position_at IS NULL)", name=op.f("ck_units_position_has_time")),
        sa.CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name=op.f("ck_units_lat_range")),
        sa.CheckConstraint("lon IS NULL OR (lon BETWEEN -180 AND 180)", name=op.f("ck_units_lon_range")),
        sa.ForeignKeyConstraint(
            ["home_org_id"], ["orgs.id"], name=op.f("fk_units_home_org_id_orgs"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("call_sign", name=op.f("uq_units_call_sign")),
    )
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_units_home_org_id"), ["home_org_id"], unique=False)

    op.create_table(
        "incidents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.String(length=48), nullable=False),
        sa.Column("source", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("type_code", sa.String(length=8), nullable=False),
        sa.Column("category_code", sa.String(length=8), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("called_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("taken_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("narrative", sa.Text(), nullable=False),
        sa.Column("caller_name", sa.String(length=100), nullable=True),
        sa.Column("caller_phone", sa.String(length=32), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("grid_id", sa.Integer(), nullable=True),
        sa.Column("merged_into_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("external_ref", sa.String(length=100), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("closed_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "(status = 'merged') = (merged_into_id IS NOT NULL)", name=op.f("ck_incidents_merged_has_target")
        ),
        sa.CheckConstraint(
            "source IN ('phone_110', 'alarm_post', 'public_portal', 'walk_in', 'officer_initiated', 'transferred')",
            name=op.f("ck_incidents_source"),
        ),
        sa.CheckConstraint(
            "status IN ('received', 'dispatched', 'en_route', 'on_scene', 'cleared', 'closed', 'merged')",
            name=op.f("ck_incidents_status"),
        ),
        sa.CheckConstraint("(lon IS NULL) = (lat IS NULL)", name=op.f("ck_incidents_both_coordinates")),
        sa.CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name=op.f("ck_incidents_lat_range")),
        sa.CheckConstraint("lon IS NULL OR (lon BETWEEN -180 AND 180)", name=op.f("ck_incidents_lon_range")),
        sa.CheckConstraint("priority BETWEEN 1 AND 4", name=op.f("ck_incidents_priority_range")),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_incidents_grid_id_grids"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["incidents.id"],
            name=op.f("fk_incidents_merged_into_id_incidents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_incidents_org_id_orgs"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(
            ["type_code"],
            ["incident_types.code"],
            name=op.f("fk_incidents_type_code_incident_types"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint("external_ref", name=op.f("uq_incidents_external_ref")),
        sa.UniqueConstraint("number", name=op.f("uq_incidents_number")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index("ix_incidents_category_called", ["category_code", "called_at"], unique=False)
        batch_op.create_index("ix_incidents_org_called", ["org_id", "called_at"], unique=False)
        batch_op.create_index("ix_incidents_status", ["status"], unique=False)

    op.create_table(
        "dispatches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ordered_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ordered_by", sa.String(length=100), nullable=False),
        sa.Column("acknowledged_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("en_route_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("on_scene_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=500), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("feedback_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome_code", sa.String(length=32), nullable=True),
        sa.Column("feedback_text", sa.Text(), nullable=True),
        sa.Column("people_helped", sa.Integer(), nullable=True),
        sa.Column("casualties", sa.Integer(), nullable=True),
        sa.Column("case_ref", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "status IN ('ordered', 'acknowledged', 'en_route', 'on_scene', 'cleared', 'returned', 'cancelled')",
            name=op.f("ck_dispatches_status"),
        ),
        sa.CheckConstraint("casualties IS NULL OR casualties >= 0", name=op.f("ck_dispatches_casualties")),
        sa.CheckConstraint("people_helped IS NULL OR people_helped >= 0", name=op.f("ck_dispatches_people_helped")),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_dispatches_incident_id_incidents"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_dispatches_unit_id_units"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatches")),
    )
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dispatches_incident_id"), ["incident_id"], unique=False)
        batch_op.create_index("ix_dispatches_status_ordered", ["status", "ordered_at"], unique=False)
        batch_op.create_index("ix_dispatches_unit_status", ["unit_id", "status"], unique=False)

    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_idempotency_keys_incident_id_incidents"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dispatch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["dispatch_id"],
            ["dispatches.id"],
            name=op.f("fk_incident_events_dispatch_id_dispatches"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name=op.f("fk_incident_events_incident_id_incidents"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
    )
    with op.batch_alter_table("incident_events", schema=None) as batch_op:
        batch_op.create_index("ix_incident_events_incident", ["incident_id", "id"], unique=False)

    _append_only("incident_events")


def _append_only(table: str) -> None:
    """Refuse every UPDATE and DELETE of a history table, whoever connects and however."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE OR REPLACE FUNCTION precinct_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
                    USING ERRCODE = 'insufficient_privilege';
            END $$
            """
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION precinct_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION precinct_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {action} is not allowed'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS incident_events_append_only ON incident_events")
        op.execute("DROP TRIGGER IF EXISTS incident_events_no_truncate ON incident_events")
        op.execute("DROP FUNCTION IF EXISTS precinct_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS incident_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS incident_events_no_delete")

    with op.batch_alter_table("incident_events", schema=None) as batch_op:
        batch_op.drop_index("ix_incident_events_incident")

    op.drop_table("incident_events")
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatches_unit_status")
        batch_op.drop_index("ix_dispatches_status_ordered")
        batch_op.drop_index(batch_op.f("ix_dispatches_incident_id"))

    op.drop_table("dispatches")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_status")
        batch_op.drop_index("ix_incidents_org_called")
        batch_op.drop_index("ix_incidents_category_called")

    op.drop_table("incidents")
    with op.batch_alter_table("units", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_units_home_org_id"))

    op.drop_table("units")
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_grids_org_id"))

    op.drop_table("grids")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unpublished")

    op.drop_table("outbox")
    with op.batch_alter_table("orgs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orgs_parent_id"))

    op.drop_table("orgs")
    op.drop_table("jurisdiction_revision")
    op.drop_table("incident_types")
    op.drop_table("incident_counters")
