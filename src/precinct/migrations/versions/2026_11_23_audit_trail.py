"""audit trail: an append-only log of every write and reveal, sealed into a hash chain afterwards (decision 0007)

Revision ID: e34bc31c9df1
Revises: 88b84d8ce68d
Create Date: 2026-11-23 15:43:38.382865
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import precinct.platform.db
from precinct.platform.config import Settings

revision = "e34bc31c9df1"
down_revision = "88b84d8ce68d"
branch_labels = None
depends_on = None

TABLES = ("audit_log", "audit_seals")
log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=True),
        sa.Column(
            "path_params",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("result_id", sa.BigInteger(), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("field", sa.String(length=100), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "kind <> 'reveal' OR (subject IS NOT NULL AND field IS NOT NULL AND reason IS NOT NULL "
            "AND length(trim(reason)) > 0)",
            name=op.f("ck_audit_log_reveal_names_field_and_reason"),
        ),
        sa.CheckConstraint("kind IN ('write', 'reveal')", name=op.f("ck_audit_log_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "audit_seals",
        sa.Column(
            "entry_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False, nullable=False
        ),
        sa.Column("previous_entry_id", sa.BigInteger(), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("length(hash) = 64", name=op.f("ck_audit_seals_sha256_hex")),
        sa.CheckConstraint("previous_entry_id < entry_id", name=op.f("ck_audit_seals_links_backward")),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_seals")),
        sa.UniqueConstraint("previous_entry_id", name=op.f("uq_audit_seals_previous_entry_id")),
    )
    for table in TABLES:
        _append_only(table)
    if op.get_bind().dialect.name == "postgresql":
        _restrict_app_role(Settings().db_app_role)


def _append_only(table: str) -> None:
    """Refuse every UPDATE, DELETE (and TRUNCATE) whoever connects, as incident_events does (the function
    precinct_append_only() comes from the first migration)."""
    if op.get_bind().dialect.name == "postgresql":
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


def _restrict_app_role(role: str | None) -> None:
    """The role the application runs as may add to the trail and read it, never change it: a trigger can be dropped
    by the tables' owner, a privilege the role lacks cannot be used by it. (``precinct audit restrict-role`` does the
    same for a role made later.)"""
    if role is None:
        return
    if op.get_bind().execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}).first() is None:
        log.warning("PRECINCT_DB_APP_ROLE names %s, which this database server does not have: not restricted", role)
        return
    op.execute(f'GRANT SELECT, INSERT ON audit_log, audit_seals TO "{role}"')
    op.execute(f'GRANT USAGE ON SEQUENCE audit_log_id_seq TO "{role}"')
    op.execute(f'REVOKE UPDATE, DELETE, TRUNCATE ON audit_log, audit_seals FROM "{role}"')


def downgrade() -> None:
    for table in TABLES:
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
    op.drop_table("audit_seals")
    op.drop_table("audit_log")
