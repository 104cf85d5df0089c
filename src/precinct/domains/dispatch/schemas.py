"""The API shapes of unit recommendations and routes."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from precinct.platform.schemas import RequestModel


class ReasonOut(BaseModel):
    code: str = Field(description="eta, lacks_capability, fills_run_card, returning or workload")
    values: dict[str, float | int | str] = Field(description="What the reason says, for a page to phrase it")


class RankedUnitOut(BaseModel):
    unit_id: int
    call_sign: str
    kind: str
    status: str
    eta_s: float = Field(description="Travel time by road to the incident")
    distance_m: float = Field(description="Road distance to the incident")
    score_s: float = Field(description="ETA plus the penalties that rank it; lower is better")
    fills: str | None = Field(description="The run-card capability this unit covers")
    proposed: bool = Field(description="Part of the proposed set of units to send")
    reasons: list[str] = Field(description="Why it stands where it does, in English")
    explanations: list[ReasonOut] = Field(description="The same reasons as codes and values")


class SkippedUnitOut(BaseModel):
    unit_id: int
    call_sign: str
    reason: str


class RequirementOut(BaseModel):
    capability: str
    count: int


class RecommendationOut(BaseModel):
    incident_id: int
    network: str
    run_card: list[RequirementOut] = Field(description="What the run card (预案) for this type and area asks for")
    units: list[RankedUnitOut]
    skipped: list[SkippedUnitOut] = Field(description="Units that could not be ranked, and why")
    incident_snap_distance_m: float


class DispatchRecommended(RequestModel):
    all_proposed: bool = Field(default=False, description="Send every proposed unit, not only the best one")
    k: int = Field(default=5, ge=1, le=50)


class RouteOut(BaseModel):
    type: str = "Feature"
    geometry: dict[str, Any]
    properties: dict[str, Any]


class Post(RequestModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)


class CoverageRequest(RequestModel):
    posts: list[Post] | None = Field(
        default=None, max_length=5000, description="Patrol posts; when absent, the on-duty units where they stand"
    )
    thresholds_s: list[int] = Field(default=[60, 180, 300], min_length=1, max_length=6)
    org_id: int | None = Field(default=None, ge=1, le=2**31 - 1, description="Only the stations under this org")


class StationCoverageOut(BaseModel):
    org_id: int
    code: str
    name: str
    threshold_s: float
    road_length_m: float
    road_covered_share: float | None
    area_covered_share: float | None
    incidents: int
    incidents_covered_share: float | None = Field(description="Share of the station's past incidents inside the area")


class CoverageOut(BaseModel):
    """A GeoJSON FeatureCollection of the reach areas, one per threshold, with the figures per station."""

    type: str = "FeatureCollection"
    features: list[dict[str, Any]]
    network: str
    sources: int
    skipped: list[str]
    stations: list[StationCoverageOut]
