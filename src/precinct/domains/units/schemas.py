"""The API shapes of units."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from precinct.platform.schemas import RequestModel, SmallId

UnitKind = Literal["patrol_car", "foot_patrol", "motorcycle", "rapid_response", "traffic", "community", "special"]


class UnitCreate(RequestModel):
    call_sign: str = Field(min_length=1, max_length=32, pattern=r"^[\w\-]+$")
    kind: UnitKind
    home_org_id: SmallId
    capabilities: list[str] = Field(default_factory=list, max_length=20)
    on_duty: bool = True
    lon: float | None = Field(default=None, ge=-180, le=180)
    lat: float | None = Field(default=None, ge=-90, le=90)

    @field_validator("capabilities")
    @classmethod
    def _capabilities(cls, values: list[str]) -> list[str]:
        for value in values:
            if not (1 <= len(value) <= 32 and value.replace("_", "").isalnum() and value.islower()):
                raise ValueError(f"capability {value!r} must be a lower-case word such as 'traffic' or 'k9'")
        return values

    @model_validator(mode="after")
    def _both(self) -> UnitCreate:
        if (self.lon is None) != (self.lat is None):
            raise ValueError("give both lon and lat, or neither")
        return self


class UnitDuty(RequestModel):
    on_duty: bool


class Position(RequestModel):
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)

    @field_validator("lon", "lat")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class UnitOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    call_sign: str
    kind: str
    capabilities: list[str]
    home_org_id: int
    on_duty: bool
    status: str
    lon: float | None
    lat: float | None
    position_at: datetime | None
