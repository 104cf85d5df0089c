"""Geography for jurisdictions: read polygon files in any CRS, validate them, find which polygon holds a
point, and measure distances and areas in metres."""

from precinct.core.geo.distance import EARTH_RADIUS_M, LocalProjection, distance_m
from precinct.core.geo.files import GeoFileError, PolygonFeature, read_polygon_features
from precinct.core.geo.index import PolygonIndex
from precinct.core.geo.validate import FeatureProblem, ProblemKind, repair_polygon, validate_polygons

__all__ = [
    "EARTH_RADIUS_M",
    "FeatureProblem",
    "GeoFileError",
    "LocalProjection",
    "PolygonFeature",
    "PolygonIndex",
    "ProblemKind",
    "distance_m",
    "read_polygon_features",
    "repair_polygon",
    "validate_polygons",
]
