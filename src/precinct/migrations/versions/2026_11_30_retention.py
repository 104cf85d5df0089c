"""retention: an index of the closed incidents that still hold a caller's details, by closing time

Revision ID: 5c1d0e7a9b32
Revises: 5b0f3c1d7a21
Create Date: 2026-11-30 21:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5c1d0e7a9b32"
down_revision = "5b0f3c1d7a21"
branch_labels = None
depends_on = None

# As the model writes it (from core/privacy.py's registry of personal fields at the time of this migration).
_CLOSED_WITH_PERSONAL_DATA = sa.text("closed_at IS NOT NULL AND (caller_name IS NOT NULL OR caller_phone IS NOT NULL)")


def upgrade() -> None:
    op.create_index(
        "ix_incidents_closed_personal",
        "incidents",
        ["closed_at"],
        unique=False,
        sqlite_where=_CLOSED_WITH_PERSONAL_DATA,
        postgresql_where=_CLOSED_WITH_PERSONAL_DATA,
    )


def downgrade() -> None:
    op.drop_index("ix_incidents_closed_personal", table_name="incidents")
