"""The API shapes of the org tree and grids (boundaries as GeoJSON)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class OrgOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    level: Literal["city", "county", "station", "community"]
    parent_id: int | None
    division_code: str | None
    area_m2: float | None


class GridOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    kind: str
    org_id: int
    parent_id: int | None
    area_m2: float


class FeatureCollection(BaseModel):
    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[dict[str, Any]]


class JurisdictionOut(BaseModel):
    lon: float
    lat: float
    org_id: int | None
    org_code: str | None
    grid_id: int | None
    unassigned: bool = Field(description="True when no jurisdiction covers the point")
