"""Geodesy helpers: great-circle lengths and the graph's local metric projection (equirectangular about the
graph's centre, accurate to well under 1 % across a metropolitan area), used for snapping and polygons."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

EARTH_RADIUS_M = 6_371_008.8
FloatArray = NDArray[np.float64]


def haversine_m(lon1: FloatArray, lat1: FloatArray, lon2: FloatArray, lat2: FloatArray) -> FloatArray:
    """Great-circle distance in metres between points given in degrees (vectorised)."""
    phi1 = np.radians(lat1)
    phi2 = np.radians(lat2)
    dphi = phi2 - phi1
    dlmb = np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dphi / 2.0) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2.0) ** 2
    return np.asarray(2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0))), dtype=np.float64)


@dataclass(frozen=True)
class LocalProjection:
    """Equirectangular projection in metres about (``lon0``, ``lat0``).

    Straight lines in lon/lat stay straight, so a road segment projects to a segment and the fraction along
    it is the same in both systems; that keeps snapped positions consistent with the edge geometry.
    """

    lon0: float
    lat0: float

    @property
    def kx_m_per_deg(self) -> float:
        """Metres per degree of longitude at the centre."""
        return math.radians(1.0) * EARTH_RADIUS_M * math.cos(math.radians(self.lat0))

    @property
    def ky_m_per_deg(self) -> float:
        """Metres per degree of latitude."""
        return math.radians(1.0) * EARTH_RADIUS_M

    def to_xy(self, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Project degrees to metres east and north of the centre."""
        x = (np.asarray(lon, dtype=np.float64) - self.lon0) * self.kx_m_per_deg
        y = (np.asarray(lat, dtype=np.float64) - self.lat0) * self.ky_m_per_deg
        return x, y

    def to_lonlat(self, x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Inverse of :meth:`to_xy`."""
        lon = np.asarray(x, dtype=np.float64) / self.kx_m_per_deg + self.lon0
        lat = np.asarray(y, dtype=np.float64) / self.ky_m_per_deg + self.lat0
        return lon, lat
