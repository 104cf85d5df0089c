"""The API shapes of incidents, dispatch orders, feedback and the timeline. Personal data leaves masked."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from precinct.core.privacy import PERSONAL_FIELDS, mask
from precinct.platform.schemas import BigId, RequestModel, SmallId

Source = Literal["phone_110", "alarm_post", "public_portal", "walk_in", "officer_initiated", "transferred"]
TypeCode = Annotated[str, StringConstraints(pattern=r"^[0-9A-Z]{8}$")]
# Narratives are capped again by the configurable limit in the service; this is the hard ceiling of the API.
NARRATIVE_CEILING = 20_000


class IncidentCreate(RequestModel):
    source: Source = "phone_110"
    type_code: TypeCode = Field(description="8-character code from the incident-type catalogue")
    priority: int | None = Field(default=None, ge=1, le=4, description="Overrides the type's priority")
    called_at: datetime | None = Field(default=None, description="Time of call (报警时间); default: now")
    address: str | None = Field(default=None, max_length=500)
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)
    narrative: str = Field(default="", max_length=NARRATIVE_CEILING)
    caller_name: str | None = Field(default=None, max_length=100)
    caller_phone: str | None = Field(default=None, max_length=32, pattern=r"^\+?[0-9][0-9 \-]{1,30}$")

    @field_validator("lon", "lat")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("called_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must carry a time zone, e.g. 2026-11-23T09:30:00+08:00")
        return value

    @model_validator(mode="after")
    def _both_coordinates(self) -> IncidentCreate:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        if self.lon is None and not self.address:
            raise ValueError("give a location: coordinates (lon, lat) or an address")
        return self


class DuplicateOut(BaseModel):
    incident_id: int
    number: str
    status: str
    type_code: str
    distance_m: float
    seconds_apart: float


class DispatchOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    unit_id: int
    status: str
    ordered_at: datetime
    ordered_by: str
    acknowledged_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    cleared_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    note: str | None
    feedback_at: datetime | None
    outcome_code: str | None
    feedback_text: str | None
    people_helped: int | None
    casualties: int | None
    case_ref: str | None
    overdue_at: datetime | None = Field(description="When it was flagged as not acknowledged in time (签收超时)")
    allowed_actions: list[str] = Field(default_factory=list)


class IncidentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    number: str
    source: str
    status: str
    type_code: str
    category_code: str
    priority: int
    called_at: datetime
    taken_at: datetime
    address: str | None
    lon: float | None
    lat: float | None
    narrative: str
    caller_name: str | None = Field(description="Personal data: masked (张*)")
    caller_phone: str | None = Field(description="Personal data: masked (138****5678)")
    org_id: int | None
    grid_id: int | None
    unassigned: bool = Field(description="True when the point lies outside every jurisdiction")
    merged_into_id: int | None
    created_by: str
    closed_at: datetime | None
    allowed_actions: list[str] = Field(default_factory=list)

    @field_validator(*PERSONAL_FIELDS["incident"], mode="after")
    @classmethod
    def _mask_personal(cls, value: str | None, info: ValidationInfo) -> str | None:
        return mask("incident", str(info.field_name), value)


class IncidentCreated(IncidentOut):
    duplicates: list[DuplicateOut] = Field(description="Probable duplicates the call-taker may merge")


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    dispatch_id: int | None
    kind: str
    at: datetime
    actor: str
    data: dict[str, Any]


class IncidentHistory(BaseModel):
    incident: IncidentOut
    dispatches: list[DispatchOut]
    events: list[EventOut]


class DispatchCreate(RequestModel):
    unit_id: SmallId
    note: str | None = Field(default=None, max_length=500)


class DispatchStep(RequestModel):
    reason: str | None = Field(default=None, max_length=500, description="Why, for return and cancel")


class FeedbackCreate(RequestModel):
    outcome_code: str = Field(min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_\-]+$")
    text: str = Field(default="", max_length=NARRATIVE_CEILING)
    people_helped: int = Field(default=0, ge=0, le=100_000)
    casualties: int = Field(default=0, ge=0, le=100_000)
    case_ref: str | None = Field(default=None, max_length=64)


class MergeRequest(RequestModel):
    into_incident_id: BigId = Field(description="The incident that absorbs this one")


class CloseRequest(RequestModel):
    reason: str | None = Field(default=None, max_length=500)


class IncidentTypeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    parent_code: str | None
    level: int
    name_zh: str
    name_en: str
    priority: int | None
    response_target_s: int | None


PersonalField = Literal["caller_name", "caller_phone"]


class RevealRequest(RequestModel):
    fields: list[PersonalField] = Field(min_length=1, max_length=2, description="The personal fields to see")
    reason: str = Field(min_length=1, max_length=500, description="Why you need to see them (kept in the audit trail)")


class Revealed(BaseModel):
    incident_id: int
    values: dict[str, str | None] = Field(description="The fields asked for, unmasked")
