"""Check a polygon layer before it becomes a jurisdiction map: missing, non-polygon, empty and invalid
geometries, and features that overlap each other by more than a tolerance in square metres."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from precinct.core.geo.distance import LocalProjection
from precinct.core.geo.files import PolygonFeature

__all__ = ["FeatureProblem", "ProblemKind", "repair_polygon", "validate_polygons"]

ProblemKind = Literal["missing_geometry", "not_polygon", "empty", "invalid", "overlap"]
_KIND_ORDER = {kind: rank for rank, kind in enumerate(get_args(ProblemKind))}

# GEOS reasons look like "Ring Self-intersection[7624581.64 690093.21]".
_REASON_AT = re.compile(r"^(?P<what>.*?)\s*\[(?P<x>\S+) (?P<y>\S+)\]$")


@dataclass(frozen=True)
class FeatureProblem:
    """Something wrong with one feature (or, for ``overlap``, with a pair of features).

    Attributes
    ----------
    index : int
        The feature's :attr:`PolygonFeature.index`; for an overlap, the lower of the two.
    kind : {"missing_geometry", "not_polygon", "empty", "invalid", "overlap"}
    message : str
        English sentence naming the feature(s) and what is wrong, with a lon/lat location when known.
    other_index : int or None
        For an overlap, the other feature's index.
    area_m2 : float or None
        For an overlap, the area both features cover, square metres.
    """

    index: int
    kind: ProblemKind
    message: str
    other_index: int | None = None
    area_m2: float | None = None


def validate_polygons(features: Sequence[PolygonFeature], *, overlap_tolerance_m2: float = 1.0) -> list[FeatureProblem]:
    """List what is wrong with a polygon layer, by feature index.

    Parameters
    ----------
    features : sequence of PolygonFeature
        Features in WGS 84 lon/lat, as :func:`~precinct.core.geo.read_polygon_features` returns them.
    overlap_tolerance_m2 : float, default 1.0
        Two features overlap when the area they share is larger than this; digitising slivers below it
        are ignored. Features that only touch along a border share no area and never overlap.

    Returns
    -------
    list of FeatureProblem
        Sorted by index, then kind; empty when the layer is clean. Invalid polygons (self-intersections,
        ring problems) are still checked for overlaps, after :func:`repair_polygon`.
    """
    problems: list[FeatureProblem] = []
    overlap_candidates: list[tuple[int, BaseGeometry]] = []
    for feature in features:
        geometry, index = feature.geometry, feature.index
        if geometry is None:
            problems.append(FeatureProblem(index, "missing_geometry", f"feature {index}: has no geometry"))
        elif geometry.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(
                FeatureProblem(index, "not_polygon", f"feature {index}: is a {geometry.geom_type}, not a polygon")
            )
        elif geometry.is_empty:
            problems.append(FeatureProblem(index, "empty", f"feature {index}: the polygon is empty"))
        elif not shapely.is_valid(geometry):
            reason = _describe_invalidity(geometry)
            problems.append(FeatureProblem(index, "invalid", f"feature {index}: {reason}"))
            overlap_candidates.append((index, repair_polygon(geometry)))
        else:
            overlap_candidates.append((index, geometry))
    problems.extend(_overlaps(overlap_candidates, overlap_tolerance_m2))
    return sorted(problems, key=lambda p: (p.index, _KIND_ORDER[p.kind], p.other_index or 0))


def repair_polygon(geometry: BaseGeometry) -> BaseGeometry:
    """Make an invalid polygon valid, keeping only its polygonal parts.

    Uses GEOS ``make_valid`` with the "structure" method: a bow-tie becomes two triangles, a ring that
    crosses itself keeps the area it encloses, collapsed slivers are dropped.

    Parameters
    ----------
    geometry : Polygon or MultiPolygon
        A possibly invalid polygon.

    Returns
    -------
    Polygon or MultiPolygon
        Valid (possibly empty) polygonal geometry; ``geometry`` itself when it was already valid.
    """
    if shapely.is_valid(geometry):
        return geometry
    repaired: BaseGeometry = shapely.make_valid(geometry, method="structure", keep_collapsed=False)
    return repaired


def _describe_invalidity(geometry: BaseGeometry) -> str:
    reason = str(shapely.is_valid_reason(geometry))
    match = _REASON_AT.match(reason)
    if match is None:
        return reason.lower()
    return f"{match['what'].lower()} at ({float(match['x']):.6f}, {float(match['y']):.6f})"


def _overlaps(candidates: list[tuple[int, BaseGeometry]], tolerance_m2: float) -> list[FeatureProblem]:
    if len(candidates) < 2:
        return []
    indices = np.array([index for index, _ in candidates], dtype=np.int64)
    geometries = np.array([geometry for _, geometry in candidates], dtype=object)
    projection = LocalProjection.around(geometries)
    planar: NDArray[np.object_] = projection.project(geometries)
    tree = shapely.STRtree(planar)
    left, right = tree.query(planar, predicate="intersects")
    keep = left < right  # each unordered pair once, and never a feature with itself
    left, right = left[keep], right[keep]
    shared = shapely.intersection(planar[left], planar[right])
    areas_m2 = shapely.area(shared)
    problems = []
    for k in np.flatnonzero(areas_m2 > tolerance_m2).tolist():
        first, second = sorted((int(indices[left[k]]), int(indices[right[k]])))
        x_m, y_m = shapely.get_coordinates(shapely.point_on_surface(shared[k]))[0]
        lon, lat = projection.to_lonlat(x_m, y_m)
        problems.append(
            FeatureProblem(
                first,
                "overlap",
                f"features {first} and {second} overlap by {areas_m2[k]:,.1f} m² around ({lon:.6f}, {lat:.6f})",
                other_index=second,
                area_m2=float(areas_m2[k]),
            )
        )
    return problems
