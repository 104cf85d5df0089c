"""Parse GeoJSON in Python rather than through GDAL, whose format sniffing would let a ".geojson" that is
really a VRT or GDALG pipeline read other files on the server or fetch URLs."""

from __future__ import annotations

import json
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

__all__ = ["ParsedGeoJSON", "parse_geojson"]

_GEOMETRY_TYPES = {
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
}

ParsedGeoJSON = tuple[list[BaseGeometry | None], list[dict[str, Any]], str | None]


def parse_geojson(data: bytes) -> ParsedGeoJSON:
    """Split a GeoJSON document into geometries, raw properties and its CRS name.

    Parameters
    ----------
    data : bytes
        The file's content (UTF-8, -16 or -32).

    Returns
    -------
    geometries : list of shapely geometry or None
        One per feature, 2D, in the document's coordinates; ``None`` for a null geometry. A bare geometry
        document counts as one feature.
    properties : list of dict
        Each feature's ``properties`` object as parsed (``{}`` when null).
    crs : str or None
        The legacy (2008 spec) ``crs`` name, e.g. ``"urn:ogc:def:crs:EPSG::3857"``; ``None`` means WGS 84.

    Raises
    ------
    ValueError
        With a message saying what is malformed.
    """
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"not valid JSON ({error})") from error
    if not isinstance(document, dict):
        raise ValueError("not a GeoJSON object (the document is not a JSON object)")
    kind = document.get("type")
    if kind == "FeatureCollection":
        raw_features = document.get("features")
        if not isinstance(raw_features, list):
            raise ValueError("the FeatureCollection has no 'features' list")
    elif kind == "Feature":
        raw_features = [document]
    elif kind in _GEOMETRY_TYPES:
        raw_features = [{"type": "Feature", "properties": {}, "geometry": document}]
    else:
        raise ValueError(f"not GeoJSON (top-level type is {kind!r})")
    geometries: list[BaseGeometry | None] = []
    properties: list[dict[str, Any]] = []
    for position, feature in enumerate(raw_features):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise ValueError(f"feature {position} is not a GeoJSON Feature object")
        raw_properties = feature.get("properties") or {}
        if not isinstance(raw_properties, dict):
            raise ValueError(f"feature {position} has properties that are not an object")
        geometries.append(_geometry(position, feature.get("geometry")))
        properties.append(raw_properties)
    return geometries, properties, _crs_name(document.get("crs"))


def _geometry(position: int, raw: Any) -> BaseGeometry | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or raw.get("type") not in _GEOMETRY_TYPES:
        raise ValueError(f"feature {position} has a geometry that is not a GeoJSON geometry object")
    try:
        geometry: BaseGeometry = shapely.force_2d(shape(raw))
    except (shapely.errors.ShapelyError, ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raise ValueError(f"feature {position} has a malformed {raw['type']} ({error})") from error
    return geometry


def _crs_name(raw: Any) -> str | None:
    if raw is None:
        return None
    details = raw.get("properties") if isinstance(raw, dict) and raw.get("type") == "name" else None
    name = details.get("name") if isinstance(details, dict) else None
    if not isinstance(name, str):
        raise ValueError(f"unsupported 'crs' member {json.dumps(raw)[:200]} (only named CRSs are read)")
    return name
