"""a system may act in a role (a dispatch bridge, the simulator), still scoped to its org

Revision ID: 5b0f3c1d7a21
Revises: 9e29e6e9cae3
Create Date: 2026-11-30 21:40:00
"""

from __future__ import annotations

from alembic import op

revision = "5b0f3c1d7a21"
down_revision = "9e29e6e9cae3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_users_system_has_org"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_users_system_has_org"), "kind <> 'system' OR (org_id IS NOT NULL AND unit_id IS NULL)"
        )


def downgrade() -> None:
    op.execute("UPDATE users SET role = NULL WHERE kind = 'system'")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_users_system_has_org"), type_="check")
        batch_op.create_check_constraint(
            batch_op.f("ck_users_system_has_org"),
            "kind <> 'system' OR (org_id IS NOT NULL AND unit_id IS NULL AND role IS NULL)",
        )
