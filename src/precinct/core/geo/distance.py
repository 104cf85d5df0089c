"""Distances on the Earth and a local metric projection: haversine metres between lon/lat points, and an
azimuthal equidistant plane around a reference point for areas and buffers measured in metres."""

from __future__ import annotations

from collections.abc import Callable
from typing import overload

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

__all__ = ["EARTH_RADIUS_M", "LocalProjection", "distance_m"]

#: Mean Earth radius (IUGG R1); haversine stays within 0.6 % of the ellipsoidal distance.
EARTH_RADIUS_M = 6_371_008.8


@overload
def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float: ...


@overload
def distance_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> NDArray[np.float64]: ...


def distance_m(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike) -> float | NDArray[np.float64]:
    """Great-circle (haversine) distance between WGS 84 points, in metres.

    Parameters
    ----------
    lon1, lat1 : float or array_like
        First point(s), degrees.
    lon2, lat2 : float or array_like
        Second point(s), degrees; broadcast against the first.

    Returns
    -------
    float or ndarray of float64
        Distance in metres on a sphere of radius :data:`EARTH_RADIUS_M`: a ``float`` when all four inputs are
        scalars, otherwise an array of the broadcast shape. NaN in, NaN out.
    """
    lon1_rad, lat1_rad, lon2_rad, lat2_rad = (
        np.radians(np.asarray(v, dtype=np.float64)) for v in (lon1, lat1, lon2, lat2)
    )
    half_dlat = (lat2_rad - lat1_rad) / 2.0
    half_dlon = (lon2_rad - lon1_rad) / 2.0
    h = np.sin(half_dlat) ** 2 + np.cos(lat1_rad) * np.cos(lat2_rad) * np.sin(half_dlon) ** 2
    # Clipping guards arcsin against h creeping just above 1 for antipodal points.
    result: NDArray[np.float64] = 2.0 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    if result.ndim == 0:
        return float(result)
    return result


class LocalProjection:
    """Azimuthal equidistant plane (metres) centred on a reference point, for local areas and buffers.

    Distances from the centre are exact; other distances and areas are off by less than 0.01 % within
    100 km of it, which covers a city or a county. Instances are immutable and safe to share between threads.

    Parameters
    ----------
    lon0, lat0 : float
        Centre of the projection, WGS 84 degrees.
    """

    def __init__(self, lon0: float, lat0: float) -> None:
        if not (np.isfinite(lon0) and np.isfinite(lat0) and -90.0 <= lat0 <= 90.0):
            raise ValueError(f"projection centre must be a finite lon/lat, got ({lon0}, {lat0})")
        self.lon0 = float(lon0)
        self.lat0 = float(lat0)
        crs = pyproj.CRS.from_proj4(
            f"+proj=aeqd +lat_0={self.lat0!r} +lon_0={self.lon0!r} +datum=WGS84 +units=m +no_defs"
        )
        self._forward = pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)
        self._inverse = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)

    @classmethod
    def around(cls, geometries: BaseGeometry | ArrayLike) -> LocalProjection:
        """Projection centred on the middle of the bounding box of lon/lat geometries.

        Parameters
        ----------
        geometries : shapely geometry or array_like of them
            WGS 84 geometries; missing and empty ones are ignored.

        Returns
        -------
        LocalProjection
        """
        min_lon, min_lat, max_lon, max_lat = shapely.total_bounds(geometries)
        if not np.isfinite([min_lon, min_lat, max_lon, max_lat]).all():
            raise ValueError("cannot centre a projection on geometries that are all empty or missing")
        return cls((min_lon + max_lon) / 2.0, (min_lat + max_lat) / 2.0)

    def __repr__(self) -> str:
        return f"LocalProjection(lon0={self.lon0!r}, lat0={self.lat0!r})"

    def to_xy(self, lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Convert WGS 84 lon/lat degrees to plane ``(x_m, y_m)`` (east, north of the centre)."""
        x_m, y_m = self._forward.transform(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        return np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64)

    def to_lonlat(self, x_m: ArrayLike, y_m: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Convert plane metres back to WGS 84 ``(lon, lat)`` degrees."""
        lon, lat = self._inverse.transform(np.asarray(x_m, dtype=np.float64), np.asarray(y_m, dtype=np.float64))
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)

    @overload
    def project(self, geometries: NDArray[np.object_]) -> NDArray[np.object_]: ...

    @overload
    def project(self, geometries: BaseGeometry) -> BaseGeometry: ...

    def project(self, geometries: BaseGeometry | NDArray[np.object_]) -> BaseGeometry | NDArray[np.object_]:
        """Project a lon/lat shapely geometry, or an array of them, to the plane (Z is dropped)."""
        return _transform(geometries, self.to_xy)

    @overload
    def unproject(self, geometries: NDArray[np.object_]) -> NDArray[np.object_]: ...

    @overload
    def unproject(self, geometries: BaseGeometry) -> BaseGeometry: ...

    def unproject(self, geometries: BaseGeometry | NDArray[np.object_]) -> BaseGeometry | NDArray[np.object_]:
        """Bring a plane geometry, or an array of them, back to lon/lat (Z is dropped)."""
        return _transform(geometries, self.to_lonlat)


def _transform(
    geometries: BaseGeometry | NDArray[np.object_],
    convert: Callable[[ArrayLike, ArrayLike], tuple[NDArray[np.float64], NDArray[np.float64]]],
) -> BaseGeometry | NDArray[np.object_]:
    def on_coords(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack(convert(coords[:, 0], coords[:, 1]))

    result: BaseGeometry | NDArray[np.object_] = shapely.transform(geometries, on_coords)
    return result
