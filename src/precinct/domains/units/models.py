"""Police units (警力): patrol cars, foot teams, rapid-response and traffic units, with status and position."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from precinct.platform.db import Base, JSONType, UTCDateTime

UNIT_KINDS = ("patrol_car", "foot_patrol", "motorcycle", "rapid_response", "traffic", "community", "special")
UNIT_STATUSES = ("available", "assigned", "en_route", "on_scene", "returning", "off_duty")


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (
        CheckConstraint(f"kind IN ({', '.join(repr(k) for k in UNIT_KINDS)})", name="kind"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in UNIT_STATUSES)})", name="status"),
        CheckConstraint("lon IS NULL OR (lon BETWEEN -180 AND 180)", name="lon_range"),
        CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name="lat_range"),
        CheckConstraint("(lon IS NULL) = (lat IS NULL)", name="both_coordinates"),
        CheckConstraint("(lon IS NULL) = (position_at IS NULL)", name="position_has_time"),
        CheckConstraint("on_duty OR status = 'off_duty'", name="off_duty_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_sign: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    capabilities: Mapped[list[str]] = mapped_column(JSONType, default=list)
    home_org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="RESTRICT"), index=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    position_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
