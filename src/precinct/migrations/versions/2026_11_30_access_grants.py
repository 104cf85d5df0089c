"""access grants: explicit, time-limited cross-org grants that widen a principal's scope (decision 0011)

Revision ID: 5e4a7c2b9d10
Revises: 5c1d0e7a9b32
Create Date: 2026-11-30 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import precinct.platform.db

revision = "5e4a7c2b9d10"
down_revision = "5c1d0e7a9b32"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("grantee_user_id", sa.Integer(), nullable=True),
        sa.Column("grantee_org_id", sa.Integer(), nullable=True),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("granted_by", sa.String(length=100), nullable=False),
        sa.Column("granted_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "(grantee_user_id IS NULL) <> (grantee_org_id IS NULL)", name=op.f("ck_access_grants_one_grantee")
        ),
        sa.CheckConstraint("org_id IS NOT NULL OR incident_id IS NOT NULL", name=op.f("ck_access_grants_has_a_target")),
        sa.CheckConstraint("expires_at > granted_at", name=op.f("ck_access_grants_ends_after_it_starts")),
        sa.CheckConstraint("length(reason) > 0", name=op.f("ck_access_grants_has_a_reason")),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoked_by IS NULL)", name=op.f("ck_access_grants_revoked_by_someone")
        ),
        sa.ForeignKeyConstraint(
            ["grantee_user_id"], ["users.id"], name=op.f("fk_access_grants_grantee_user_id_users"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["grantee_org_id"], ["orgs.id"], name=op.f("fk_access_grants_grantee_org_id_orgs"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["orgs.id"], name=op.f("fk_access_grants_org_id_orgs"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_access_grants_incident_id_incidents"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_grants")),
    )
    with op.batch_alter_table("access_grants", schema=None) as batch_op:
        batch_op.create_index("ix_access_grants_expires_at", ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_grants_grantee_user_id"), ["grantee_user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_grants_grantee_org_id"), ["grantee_org_id"], unique=False)


def downgrade() -> None:
    op.drop_table("access_grants")
