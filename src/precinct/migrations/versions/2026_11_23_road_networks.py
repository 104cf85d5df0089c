"""road networks

Revision ID: 3bfbcf9580bb
Revises: 73fd47325102
Create Date: 2026-11-23 10:13:39.875406
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import precinct.platform.db

revision = "3bfbcf9580bb"
down_revision = "73fd47325102"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "road_networks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source_path", sa.String(length=1000), nullable=False),
        sa.Column("source_sha256", sa.String(length=64), nullable=False),
        sa.Column("nodes", sa.Integer(), nullable=False),
        sa.Column("edges", sa.Integer(), nullable=False),
        sa.Column(
            "report", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("imported_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_networks")),
    )


def downgrade() -> None:

    op.drop_table("road_networks")
