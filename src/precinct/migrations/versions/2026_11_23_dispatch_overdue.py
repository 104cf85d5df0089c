"""dispatch overdue: when an order was flagged as not acknowledged in time

Revision ID: a44c24e6b9bb
Revises: 37acef9f9a88
Create Date: 2026-11-23 14:07:39.296407
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import precinct.platform.db

revision = "a44c24e6b9bb"
down_revision = "37acef9f9a88"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overdue_at", precinct.platform.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_column("overdue_at")
