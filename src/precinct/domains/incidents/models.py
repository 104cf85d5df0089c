"""Tables of the 110 loop: the incident-type catalogue, the intake record (接警单), its dispatch orders (派警单) with
their feedback (反馈单), the append-only timeline, idempotency keys and the per-station daily number counters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from precinct.core.privacy import PERSONAL_FIELDS
from precinct.platform.db import Base, IdType, JSONType, UTCDateTime

INCIDENT_SOURCES = ("phone_110", "alarm_post", "public_portal", "walk_in", "officer_initiated", "transferred")
INCIDENT_STATUSES = ("received", "dispatched", "en_route", "on_scene", "cleared", "closed", "merged")
DISPATCH_STATUSES = ("ordered", "acknowledged", "en_route", "on_scene", "cleared", "returned", "cancelled")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


# A closed (or merged) incident that still holds a caller's details: what the retention job looks for (decision 0009).
_CLOSED_WITH_PERSONAL_DATA = text(
    f"closed_at IS NOT NULL AND ({' OR '.join(f'{name} IS NOT NULL' for name in PERSONAL_FIELDS['incident'])})"
)


class IncidentType(Base):
    """One entry of the 4-level catalogue: category → type → subtype → detail, each an 8-character code."""

    __tablename__ = "incident_types"
    __table_args__ = (
        CheckConstraint("length(code) = 8", name="code_length"),
        CheckConstraint("level BETWEEN 1 AND 4", name="level_range"),
        CheckConstraint("priority IS NULL OR priority BETWEEN 1 AND 4", name="priority_range"),
        CheckConstraint("response_target_s IS NULL OR response_target_s > 0", name="target_positive"),
    )

    code: Mapped[str] = mapped_column(String(8), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("incident_types.code", ondelete="RESTRICT"))
    level: Mapped[int] = mapped_column(Integer)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int | None] = mapped_column(Integer)
    response_target_s: Mapped[int | None] = mapped_column(Integer)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        CheckConstraint(_in("source", INCIDENT_SOURCES), name="source"),
        CheckConstraint(_in("status", INCIDENT_STATUSES), name="status"),
        CheckConstraint("priority BETWEEN 1 AND 4", name="priority_range"),
        CheckConstraint("lon IS NULL OR (lon BETWEEN -180 AND 180)", name="lon_range"),
        CheckConstraint("lat IS NULL OR (lat BETWEEN -90 AND 90)", name="lat_range"),
        CheckConstraint("(lon IS NULL) = (lat IS NULL)", name="both_coordinates"),
        CheckConstraint("(lon IS NULL) = (cell IS NULL)", name="cell_of_point"),
        CheckConstraint("(status = 'merged') = (merged_into_id IS NOT NULL)", name="merged_has_target"),
        # Probable duplicates: the same category, in the cells around a point, in a window of time; the point in
        # the index too, so that only the incidents in the search box are read from the table.
        Index("ix_incidents_category_cell_called", "category_code", "cell", "called_at", "lon", "lat"),
        Index("ix_incidents_org_called", "org_id", "called_at"),
        Index("ix_incidents_status", "status"),
        # Only the rows the retention job may still have to anonymise, by closing time: each leaves the index as it
        # is anonymised, so the job's look every few seconds stays small however many incidents were ever closed.
        Index(
            "ix_incidents_closed_personal",
            "closed_at",
            sqlite_where=_CLOSED_WITH_PERSONAL_DATA,
            postgresql_where=_CLOSED_WITH_PERSONAL_DATA,
        ),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    number: Mapped[str] = mapped_column(String(48), unique=True)
    source: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(16))
    type_code: Mapped[str] = mapped_column(ForeignKey("incident_types.code", ondelete="RESTRICT"))
    category_code: Mapped[str] = mapped_column(String(8))
    priority: Mapped[int] = mapped_column(Integer)
    called_at: Mapped[datetime] = mapped_column(UTCDateTime())
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    address: Mapped[str | None] = mapped_column(String(500))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    cell: Mapped[int | None] = mapped_column(Integer)  # core.geo.cells.cell_of(lon, lat): what lies near a point
    narrative: Mapped[str] = mapped_column(Text, default="")
    caller_name: Mapped[str | None] = mapped_column(String(100))
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    # Typed here, not only by the key: statements built when the repository is imported need the type, and the orgs
    # models may not be imported yet.
    org_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("orgs.id", ondelete="RESTRICT"))
    grid_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("grids.id", ondelete="RESTRICT"))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id", ondelete="RESTRICT"))
    external_ref: Mapped[str | None] = mapped_column(String(100), unique=True)
    idempotency_key: Mapped[str | None] = mapped_column(
        ForeignKey("idempotency_keys.key", ondelete="RESTRICT"), unique=True
    )
    created_by: Mapped[str] = mapped_column(String(100))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def unassigned(self) -> bool:
        return self.org_id is None


class Dispatch(Base):
    """A dispatch order (派警单) to one unit, with the feedback record (反馈单) the unit files."""

    __tablename__ = "dispatches"
    __table_args__ = (
        CheckConstraint(_in("status", DISPATCH_STATUSES), name="status"),
        CheckConstraint("people_helped IS NULL OR people_helped >= 0", name="people_helped"),
        CheckConstraint("casualties IS NULL OR casualties >= 0", name="casualties"),
        Index("ix_dispatches_unit_status", "unit_id", "status"),
        Index("ix_dispatches_status_ordered", "status", "ordered_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="RESTRICT"), index=True)
    unit_id: Mapped[int] = mapped_column(Integer, ForeignKey("units.id", ondelete="RESTRICT"))  # typed: see org_id
    status: Mapped[str] = mapped_column(String(16))
    ordered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ordered_by: Mapped[str] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    en_route_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    end_reason: Mapped[str | None] = mapped_column(String(500))
    note: Mapped[str | None] = mapped_column(String(500))
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome_code: Mapped[str | None] = mapped_column(String(32))
    feedback_text: Mapped[str | None] = mapped_column(Text)
    people_helped: Mapped[int | None] = mapped_column(Integer)
    casualties: Mapped[int | None] = mapped_column(Integer)
    case_ref: Mapped[str | None] = mapped_column(String(64))
    # When the job found the order still unacknowledged past the deadline, and alerted the dispatcher.
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class IncidentEvent(Base):
    """One step of an incident's history. Rows are only ever inserted: triggers refuse updates and deletes."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(IdType, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="RESTRICT"))
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatches.id", ondelete="RESTRICT"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class IdempotencyKey(Base):
    """A key claimed by the request that creates an incident; the incident names it (``Incident.idempotency_key``)."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class IncidentCounter(Base):
    """The last sequence number given out per numbering prefix (a station's code, or 'X' unassigned) and day."""

    __tablename__ = "incident_counters"
    __table_args__ = (UniqueConstraint("prefix", "day"), CheckConstraint("last_value > 0", name="positive"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    prefix: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    last_value: Mapped[int] = mapped_column(Integer)
