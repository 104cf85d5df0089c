"""PolygonIndex against a brute-force loop: real Portland districts, border points, overlaps, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from numpy.typing import NDArray

from precinct.core.geo import PolygonIndex, read_polygon_features

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DISTRICTS_ZIP = DATA / "portland" / "portland-police-districts.zip"


def _brute_force(polygons: list[shapely.Geometry], lon: NDArray[np.float64], lat: NDArray[np.float64]):
    """Lowest index of a polygon covering each point; -1 for none.

    ``intersects_xy`` rather than ``contains_xy``: a point on a polygon's boundary is not *contained*, but the
    index assigns it (a call on the city limit still belongs to the district), which is "covers".
    """
    result = np.full(len(lon), -1, dtype=np.int64)
    for index in range(len(polygons) - 1, -1, -1):
        result[shapely.intersects_xy(polygons[index], lon, lat)] = index
    return result


def _assert_locate_one_agrees(index: PolygonIndex, lon: NDArray[np.float64], lat: NDArray[np.float64]) -> None:
    expected = index.locate(lon, lat)
    one = [index.locate_one(x, y) for x, y in zip(lon.tolist(), lat.tolist(), strict=True)]
    assert [-1 if found is None else found for found in one] == expected.tolist()


@pytest.fixture(scope="module")
def districts() -> list[shapely.Geometry]:
    if not DISTRICTS_ZIP.is_file():
        pytest.skip(f"shared data not found at {DATA}")
    return [feature.geometry for feature in read_polygon_features(DISTRICTS_ZIP)]


def test_portland_districts_match_brute_force(districts: list[shapely.Geometry]) -> None:
    rng = np.random.default_rng(20160801)
    min_lon, min_lat, max_lon, max_lat = shapely.total_bounds(districts)
    random_lon = rng.uniform(min_lon, max_lon, 20_000)
    random_lat = rng.uniform(min_lat, max_lat, 20_000)
    # Every vertex lies exactly on a border (shared or outer), where "lowest index wins" is decided.
    vertices = shapely.get_coordinates(districts)
    lon = np.concatenate([random_lon, vertices[:, 0]])
    lat = np.concatenate([random_lat, vertices[:, 1]])
    index = PolygonIndex(districts)

    found = index.locate(lon, lat)

    np.testing.assert_array_equal(found, _brute_force(districts, lon, lat))
    assert (found[20_000:] >= 0).all()
    # Random points are (almost surely) off every border, where containment gives the same answer.
    contained = np.array([shapely.contains_xy(district, random_lon, random_lat) for district in districts])
    expected = np.where(contained.any(axis=0), contained.argmax(axis=0), -1)
    np.testing.assert_array_equal(found[:20_000], expected)
    _assert_locate_one_agrees(index, lon[::10], lat[::10])


def test_shared_border_and_overlap_go_to_the_lowest_index() -> None:
    polygons = [shapely.box(1, 0, 2, 1), shapely.box(0, 0, 1, 1), shapely.box(1.5, 0, 3, 1)]
    index = PolygonIndex(polygons)

    lon = np.array([1.0, 0.5, 1.75, 2.5, 0.0, 3.0, 3.5, 1.0])
    lat = np.array([0.5, 0.5, 0.5, 0.5, 1.0, 0.0, 0.5, 1.0])

    assert index.locate(lon, lat).tolist() == [0, 1, 0, 2, 1, 2, -1, 0]
    _assert_locate_one_agrees(index, lon, lat)


def test_points_on_grid_lines_of_a_checkerboard() -> None:
    # Unit squares make borders fall exactly on the index's grid lines, where rounding could pick a cell
    # that does not hold the point.
    polygons = [shapely.box(i, j, i + 1, j + 1) for i in range(10) for j in range(10) if (i + j) % 2 == 0]
    polygons.append(shapely.Polygon([(0, 0), (10, 0), (10, 10), (0, 10)], [[(3, 3), (7, 3), (7, 7), (3, 7)]]))
    lon, lat = (a.ravel() for a in np.meshgrid(np.arange(-8, 89) / 8, np.arange(-8, 89) / 8))
    index = PolygonIndex(polygons, max_cells=64)

    np.testing.assert_array_equal(index.locate(lon, lat), _brute_force(polygons, lon, lat))
    _assert_locate_one_agrees(index, lon, lat)


def test_multipolygons_and_holes() -> None:
    ring = shapely.box(0, 0, 10, 10).difference(shapely.box(4, 4, 6, 6))
    islands = shapely.MultiPolygon([shapely.box(20, 0, 21, 1), shapely.box(30, 0, 31, 1)])
    index = PolygonIndex([ring, islands])

    assert index.locate([5, 1, 20.5, 30.5, 25], [5, 1, 0.5, 0.5, 0.5]).tolist() == [-1, 0, 1, 1, -1]


def test_non_finite_points_are_outside() -> None:
    index = PolygonIndex([shapely.box(-180, -90, 180, 90)])
    lon = np.array([math.nan, 0.0, math.inf, -math.inf, 10.0])
    lat = np.array([0.0, math.nan, 0.0, 0.0, 10.0])

    assert index.locate(lon, lat).tolist() == [-1, -1, -1, -1, 0]
    assert index.locate_one(math.nan, 0.0) is None
    assert index.locate_one(0.0, math.inf) is None


def test_shapes_broadcast_and_scalars() -> None:
    index = PolygonIndex([shapely.box(0, 0, 1, 1)])

    assert index.locate([[0.5, 2.0], [0.1, 0.9]], 0.5).tolist() == [[0, -1], [0, 0]]
    assert index.locate(0.5, 0.5).shape == ()
    assert index.locate(np.empty(0), np.empty(0)).shape == (0,)


def test_empty_index_finds_nothing() -> None:
    for index in (PolygonIndex([]), PolygonIndex([shapely.Polygon()])):
        assert index.locate([0.0, 1.0], [0.0, 1.0]).tolist() == [-1, -1]
        assert index.locate_one(0.0, 0.0) is None


def test_refuses_non_polygons() -> None:
    with pytest.raises(TypeError, match="polygon 1 is not a Polygon"):
        PolygonIndex([shapely.box(0, 0, 1, 1), shapely.Point(0, 0)])  # type: ignore[list-item]
