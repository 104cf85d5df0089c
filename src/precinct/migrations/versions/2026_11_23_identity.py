"""identity: users (staff, unit terminals, systems, the public), browser sessions, bearer tokens and sign-in
attempts per client address; secrets only as hashes (decision 0008)

Revision ID: 9e29e6e9cae3
Revises: e34bc31c9df1
Create Date: 2026-11-23 16:11:51.730205
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import precinct.platform.db

revision = "9e29e6e9cae3"
down_revision = "e34bc31c9df1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttle",
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("window_start", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_sign_in_throttle_attempts_not_negative")),
        sa.PrimaryKeyConstraint("client_address", name=op.f("pk_sign_in_throttle")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=24), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_sign_ins", sa.Integer(), nullable=False),
        sa.Column("failed_since", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_until", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind <> 'device' OR (unit_id IS NOT NULL AND org_id IS NOT NULL AND role IS NULL)",
            name=op.f("ck_users_device_has_unit"),
        ),
        sa.CheckConstraint(
            "kind <> 'public' OR (org_id IS NULL AND unit_id IS NULL AND role IS NULL)",
            name=op.f("ck_users_public_has_no_org"),
        ),
        sa.CheckConstraint(
            "kind <> 'staff' OR (role IS NOT NULL AND org_id IS NOT NULL AND unit_id IS NULL)",
            name=op.f("ck_users_staff_has_role_and_org"),
        ),
        sa.CheckConstraint(
            "kind <> 'system' OR (org_id IS NOT NULL AND unit_id IS NULL AND role IS NULL)",
            name=op.f("ck_users_system_has_org"),
        ),
        sa.CheckConstraint("kind IN ('staff', 'device', 'system', 'public')", name=op.f("ck_users_kind")),
        sa.CheckConstraint(
            "password_hash IS NULL OR kind IN ('staff', 'public')", name=op.f("ck_users_only_people_have_passwords")
        ),
        sa.CheckConstraint(
            "role IS NULL OR role IN ('call_taker', 'dispatcher', 'duty_commander', 'station_chief', 'community_officer', 'grid_worker', 'mediator', 'case_officer', 'legal_reviewer', 'analyst', 'administrator')",
            name=op.f("ck_users_role"),
        ),
        sa.CheckConstraint("failed_sign_ins >= 0", name=op.f("ck_users_failures_not_negative")),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], name=op.f("fk_users_org_id_orgs"), ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name=op.f("fk_users_unit_id_units"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("login", name=op.f("uq_users_login")),
        sa.UniqueConstraint("unit_id", name=op.f("uq_users_unit_id")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_org_id"), ["org_id"], unique=False)

    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("length(token_hash) = 64", name=op.f("ck_api_tokens_sha256_hex")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_tokens_prefix")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_user_id"), ["user_id"], unique=False)

    op.create_table(
        "user_sessions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.CheckConstraint("length(token_hash) = 64", name=op.f("ck_user_sessions_sha256_hex")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
    )
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_sessions_user_id"))

    op.drop_table("user_sessions")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_user_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_org_id"))

    op.drop_table("users")
    op.drop_table("sign_in_throttle")
