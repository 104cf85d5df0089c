"""incidents: the cell of each point (core/geo/cells.py), and probable duplicates looked up by category, cell and time

Revision ID: 6a2c4e8f1b37
Revises: 5f6b8d3c0e21
Create Date: 2026-12-01 02:00:00
"""

from __future__ import annotations

import math

import sqlalchemy as sa
from alembic import op

revision = "6a2c4e8f1b37"
down_revision = "5f6b8d3c0e21"
branch_labels = None
depends_on = None

BATCH = 10_000
# As core/geo/cells.py numbers cells at the time of this migration.
_CELL_DEG = 0.01
_LON_CELLS = round(360 / _CELL_DEG) + 1


def _cell_of(lon: float, lat: float) -> int:
    return math.floor((lat + 90) / _CELL_DEG) * _LON_CELLS + math.floor((lon + 180) / _CELL_DEG)


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cell", sa.Integer(), nullable=True))
    incidents = sa.table("incidents", sa.column("id"), sa.column("lon"), sa.column("lat"), sa.column("cell"))
    connection = op.get_bind()
    last_id = 0
    while True:  # in batches, in id order: the history of a city is millions of rows
        rows = connection.execute(
            sa.select(incidents.c.id, incidents.c.lon, incidents.c.lat)
            .where(incidents.c.id > last_id, incidents.c.lon.is_not(None))
            .order_by(incidents.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            sa.update(incidents).where(incidents.c.id == sa.bindparam("row_id")).values(cell=sa.bindparam("row_cell")),
            [{"row_id": r.id, "row_cell": _cell_of(r.lon, r.lat)} for r in rows],
        )
        last_id = rows[-1].id
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_incidents_cell_of_point"), "(lon IS NULL) = (cell IS NULL)")
        batch_op.drop_index("ix_incidents_category_called")
        batch_op.create_index(
            "ix_incidents_category_cell_called", ["category_code", "cell", "called_at", "lon", "lat"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index("ix_incidents_category_cell_called")
        batch_op.create_index("ix_incidents_category_called", ["category_code", "called_at"], unique=False)
        batch_op.drop_constraint(op.f("ck_incidents_cell_of_point"), type_="check")
        batch_op.drop_column("cell")
