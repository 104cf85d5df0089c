"""the incident names its idempotency key (one statement fewer per call than binding the key to the incident)

Revision ID: 88b84d8ce68d
Revises: a44c24e6b9bb
Create Date: 2026-11-23 14:28:01.185665
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "88b84d8ce68d"
down_revision = "a44c24e6b9bb"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=128), nullable=True))
    op.execute(
        "UPDATE incidents SET idempotency_key = "
        "(SELECT k.key FROM idempotency_keys k WHERE k.incident_id = incidents.id)"
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f("uq_incidents_idempotency_key"), ["idempotency_key"])
        batch_op.create_foreign_key(
            batch_op.f("fk_incidents_idempotency_key_idempotency_keys"),
            "idempotency_keys",
            ["idempotency_key"],
            ["key"],
            ondelete="RESTRICT",
        )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_idempotency_keys_incident_id_incidents"), type_="foreignkey")
        batch_op.drop_column("incident_id")


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
    op.execute(
        "UPDATE idempotency_keys SET incident_id = "
        "(SELECT i.id FROM incidents i WHERE i.idempotency_key = idempotency_keys.key)"
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_foreign_key(
            batch_op.f("fk_idempotency_keys_incident_id_incidents"),
            "incidents",
            ["incident_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_incidents_idempotency_key_idempotency_keys"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_incidents_idempotency_key"), type_="unique")
        batch_op.drop_column("idempotency_key")
