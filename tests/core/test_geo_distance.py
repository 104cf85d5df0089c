"""Haversine distances and the local azimuthal equidistant projection."""

from __future__ import annotations

import math

import numpy as np
import pyproj
import pytest
import shapely

from precinct.core.geo import EARTH_RADIUS_M, LocalProjection, distance_m


def test_one_degree_of_latitude() -> None:
    assert distance_m(-122.6, 45.0, -122.6, 46.0) == pytest.approx(111_195.0, abs=1.0)
    assert isinstance(distance_m(0.0, 0.0, 0.0, 1.0), float)


def test_vectorised_and_broadcast() -> None:
    lon2 = np.array([0.0, 1.0, 180.0])
    found = distance_m(0.0, 0.0, lon2, 0.0)
    np.testing.assert_allclose(found, [0.0, EARTH_RADIUS_M * math.pi / 180, EARTH_RADIUS_M * math.pi])
    assert np.isnan(distance_m(np.array([math.nan]), 0.0, 0.0, 0.0)).all()


def test_agrees_with_the_ellipsoid_within_0_6_percent() -> None:
    rng = np.random.default_rng(3)
    lon1, lon2 = rng.uniform(-180, 180, (2, 500))
    lat1, lat2 = rng.uniform(-80, 80, (2, 500))
    _, _, ellipsoid_m = pyproj.Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)
    np.testing.assert_allclose(distance_m(lon1, lat1, lon2, lat2), ellipsoid_m, rtol=0.006)
    # Portland City Hall to the airport, about 10.5 km.
    assert distance_m(-122.6793, 45.5148, -122.5975, 45.5898) == pytest.approx(10_480, rel=0.005)


def test_local_projection_round_trip() -> None:
    plane = LocalProjection(-122.65, 45.52)
    rng = np.random.default_rng(7)
    x_m, y_m = rng.uniform(-30_000, 30_000, (2, 1000))

    lon, lat = plane.to_lonlat(x_m, y_m)
    back_x_m, back_y_m = plane.to_xy(lon, lat)

    assert np.abs(back_x_m - x_m).max() < 1e-6
    assert np.abs(back_y_m - y_m).max() < 1e-6
    np.testing.assert_allclose(plane.to_xy(-122.65, 45.52), (0.0, 0.0), atol=1e-9)


def test_local_projection_measures_metres() -> None:
    plane = LocalProjection.around(shapely.box(-122.7, 45.5, -122.6, 45.6))
    assert (plane.lon0, plane.lat0) == pytest.approx((-122.65, 45.55))
    square = plane.unproject(shapely.box(-500, -500, 500, 500))
    assert plane.project(square).area == pytest.approx(1e6, rel=1e-9)
    lon, lat = plane.to_lonlat(0.0, 1000.0)
    assert distance_m(plane.lon0, plane.lat0, float(lon), float(lat)) == pytest.approx(1000.0, rel=0.005)


def test_local_projection_refuses_bad_centre() -> None:
    with pytest.raises(ValueError, match="finite lon/lat"):
        LocalProjection(math.nan, 45.0)
