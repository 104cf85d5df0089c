"""Polygon validation: missing, non-polygon, empty and invalid geometries, and overlaps measured in m²."""

from __future__ import annotations

import re

import shapely
from shapely.geometry import LineString, Point, Polygon

from precinct.core.geo import LocalProjection, PolygonFeature, repair_polygon, validate_polygons

# Shapes are drawn in metres on a plane centred in Portland, then turned into lon/lat like real files.
PLANE = LocalProjection(-122.65, 45.52)


def _feature(index: int, geometry_m: shapely.Geometry | None) -> PolygonFeature:
    geometry = None if geometry_m is None else PLANE.unproject(geometry_m)
    return PolygonFeature(index=index, properties={}, geometry=geometry)


def test_clean_layer_has_no_problems() -> None:
    features = [_feature(0, shapely.box(0, 0, 1000, 1000)), _feature(1, shapely.box(2000, 0, 3000, 1000))]
    assert validate_polygons(features) == []


def test_bow_tie_is_invalid_with_its_index_and_location() -> None:
    bow_tie = Polygon([(0, 0), (1000, 1000), (1000, 0), (0, 1000)])
    features = [_feature(0, shapely.box(5000, 5000, 6000, 6000)), _feature(1, bow_tie)]

    (problem,) = validate_polygons(features)

    assert (problem.index, problem.kind) == (1, "invalid")
    assert problem.message.startswith("feature 1: self-intersection at (")
    # The crossing is where the diagonals meet, 500 m east and north of the plane's centre (to ~1 m).
    found = re.search(r"at \((\S+), (\S+)\)$", problem.message)
    assert found is not None
    x_m, y_m = PLANE.to_xy(float(found[1]), float(found[2]))
    assert abs(x_m - 500.0) < 1.0
    assert abs(y_m - 500.0) < 1.0


def test_overlapping_squares_give_one_overlap_with_its_area() -> None:
    features = [
        _feature(0, shapely.box(0, 0, 1000, 1000)),
        _feature(1, shapely.box(3000, 0, 4000, 1000)),
        _feature(2, shapely.box(600, 0, 1600, 1000)),
    ]

    (problem,) = validate_polygons(features)

    assert (problem.index, problem.other_index, problem.kind) == (0, 2, "overlap")
    assert problem.area_m2 is not None
    assert abs(problem.area_m2 - 400_000.0) / 400_000.0 < 0.01
    assert problem.message.startswith("features 0 and 2 overlap by 400,0")


def test_squares_sharing_an_edge_do_not_overlap() -> None:
    features = [_feature(0, shapely.box(0, 0, 1000, 1000)), _feature(1, shapely.box(1000, 0, 2000, 1000))]
    assert validate_polygons(features) == []


def test_overlap_below_tolerance_is_ignored() -> None:
    features = [_feature(0, shapely.box(0, 0, 1000, 1000)), _feature(1, shapely.box(999.5, 0, 2000, 1000))]
    assert validate_polygons(features, overlap_tolerance_m2=1000.0) == []
    (problem,) = validate_polygons(features)
    assert problem.area_m2 is not None
    assert abs(problem.area_m2 - 500.0) < 5.0


def test_invalid_polygons_are_still_checked_for_overlaps() -> None:
    bow_tie = Polygon([(0, 0), (1000, 1000), (1000, 0), (0, 1000)])
    features = [_feature(0, bow_tie), _feature(1, shapely.box(0, 0, 1000, 1000))]

    kinds = [(p.index, p.kind, p.other_index) for p in validate_polygons(features)]

    assert kinds == [(0, "invalid", None), (0, "overlap", 1)]


def test_missing_non_polygon_and_empty_geometries() -> None:
    features = [
        _feature(0, None),
        _feature(1, Point(0, 0)),
        _feature(2, LineString([(0, 0), (10, 10)])),
        PolygonFeature(index=3, properties={}, geometry=Polygon()),
        _feature(4, shapely.box(0, 0, 10, 10)),
    ]

    problems = validate_polygons(features)

    assert [(p.index, p.kind) for p in problems] == [
        (0, "missing_geometry"),
        (1, "not_polygon"),
        (2, "not_polygon"),
        (3, "empty"),
    ]
    assert problems[1].message == "feature 1: is a Point, not a polygon"


def test_repair_polygon_keeps_the_area_of_a_bow_tie() -> None:
    bow_tie = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    repaired = repair_polygon(bow_tie)
    assert repaired.is_valid
    assert repaired.geom_type == "MultiPolygon"
    assert repaired.area == 2.0
    square = shapely.box(0, 0, 1, 1)
    assert repair_polygon(square) is square
