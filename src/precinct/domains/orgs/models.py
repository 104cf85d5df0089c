"""Tables of the organisation tree (city → county → station → community) and the grids under stations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from precinct.platform.db import Base, JSONType, UTCDateTime

ORG_LEVELS = ("city", "county", "station", "community")
GRID_KINDS = ("grid", "police_beat", "micro_grid")


class Org(Base):
    __tablename__ = "orgs"
    __table_args__ = (
        CheckConstraint("level IN ('city', 'county', 'station', 'community')", name="level"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"), index=True)
    division_code: Mapped[str | None] = mapped_column(String(12))
    # Deferred: boundaries are large, and most reads of an org do not need them.
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSONType, deferred=True)
    area_m2: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Grid(Base):
    __tablename__ = "grids"
    __table_args__ = (
        CheckConstraint("kind IN ('grid', 'police_beat', 'micro_grid')", name="kind"),
        CheckConstraint("area_m2 > 0", name="area_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="RESTRICT"))
    boundary: Mapped[dict[str, Any]] = mapped_column(JSONType, deferred=True)
    area_m2: Mapped[float] = mapped_column(Float)
    properties: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
