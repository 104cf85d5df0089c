"""reference revisions: one revision number per kind of reference data (catalogue, jurisdictions)

Revision ID: 37acef9f9a88
Revises: 3bfbcf9580bb
Create Date: 2026-11-23 13:25:36.276586
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "37acef9f9a88"
down_revision = "3bfbcf9580bb"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reference_revisions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.CheckConstraint("revision > 0", name=op.f("ck_reference_revisions_positive")),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reference_revisions")),
    )
    # Processes compare revisions for equality only, so carrying the old number over keeps their caches right.
    op.execute(
        "INSERT INTO reference_revisions (name, revision) SELECT 'jurisdictions', revision FROM jurisdiction_revision"
    )
    op.drop_table("jurisdiction_revision")


def downgrade() -> None:
    op.create_table(
        "jurisdiction_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_jurisdiction_revision_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jurisdiction_revision")),
    )
    op.execute(
        "INSERT INTO jurisdiction_revision (id, revision) "
        "SELECT 1, revision FROM reference_revisions WHERE name = 'jurisdictions'"
    )
    op.drop_table("reference_revisions")
