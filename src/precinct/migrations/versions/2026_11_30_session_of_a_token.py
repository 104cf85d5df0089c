"""a terminal's session remembers the bearer token it was traded for, and ends with it

Revision ID: 5f6b8d3c0e21
Revises: 5e4a7c2b9d10
Create Date: 2026-11-30 22:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "5f6b8d3c0e21"
down_revision = "5e4a7c2b9d10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A session traded before this revision names no token: it ends by its own clock (12 h at most).
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api_token_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_user_sessions_api_token_id"), ["api_token_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_user_sessions_api_token_id_api_tokens"),
            "api_tokens",
            ["api_token_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("user_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_user_sessions_api_token_id_api_tokens"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_user_sessions_api_token_id"))
        batch_op.drop_column("api_token_id")
