"""The API shapes of road networks."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class RoadNetworkOut(BaseModel):
    name: str
    nodes: int
    edges: int
    imported_at: datetime
    bounds: tuple[float, float, float, float]
    """(west, south, east, north) in degrees"""
