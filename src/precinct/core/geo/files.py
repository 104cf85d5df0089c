"""Read polygon layers (jurisdictions, beats, patrol areas) from GeoJSON, shapefiles and zipped shapefiles, in
any CRS, into WGS 84 lon/lat features with plain JSON-safe properties."""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pyogrio
import pyogrio.errors
import pyproj
import shapely
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from precinct.core.geo.geojson import parse_geojson

__all__ = ["GeoFileError", "PolygonFeature", "read_polygon_features"]

_GEOJSON_SUFFIXES = {".geojson", ".json"}
_POLYGON_TYPE_IDS = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
# Every .shp starts with the file code 9994, big-endian. Checking it before GDAL sees the file matters: GDAL
# picks a driver by sniffing content, and a text file named .shp could be a VRT that reads other files.
_SHAPEFILE_MAGIC = (9994).to_bytes(4, "big")


class GeoFileError(ValueError):
    """A file that cannot be read as a polygon layer; the message names the file and the problem."""


@dataclass(frozen=True)
class PolygonFeature:
    """One feature of a polygon layer.

    Attributes
    ----------
    index : int
        0-based position of the feature in the file (stable: problems and lookups refer to it).
    properties : dict
        Attribute values as plain ``str``/``int``/``float``/``bool``/``None``: dates and times become ISO
        strings, NaN becomes ``None``, nested GeoJSON objects and lists become JSON text.
    geometry : shapely geometry or None
        WGS 84 lon/lat (x = longitude, y = latitude), 2D. Usually a ``Polygon`` or ``MultiPolygon``, but
        features with a missing or non-polygon geometry are kept as they are so that
        :func:`~precinct.core.geo.validate_polygons` can report them by index instead of them vanishing.
    """

    index: int
    properties: dict[str, Any]
    geometry: BaseGeometry | None

    @property
    def is_polygonal(self) -> bool:
        """Whether the geometry is a non-empty ``Polygon`` or ``MultiPolygon``."""
        return (
            self.geometry is not None
            and shapely.get_type_id(self.geometry) in _POLYGON_TYPE_IDS
            and not self.geometry.is_empty
        )


def read_polygon_features(path: str | Path, *, layer: str | None = None) -> list[PolygonFeature]:
    """Read a polygon layer and reproject it to WGS 84 lon/lat.

    Parameters
    ----------
    path : str or Path
        A GeoJSON file (``.geojson``, ``.json``; a legacy ``crs`` member is honoured, without one it is WGS 84),
        a shapefile (``.shp``, with its ``.shx``/``.dbf``/``.prj`` beside it) or a zip holding a shapefile
        (``.zip``, in any folder of the archive). The zip is read in place through GDAL's ``/vsizip/``:
        nothing is extracted.
    layer : str, optional
        For a zip holding several shapefiles, which one: its name without ``.shp``, or its path in the zip.
        For a single file, its name without extension (anything else is an error).

    Returns
    -------
    list of PolygonFeature
        Every feature of the layer in file order, including those whose geometry is missing or is not a
        polygon (check them with :func:`~precinct.core.geo.validate_polygons`).

    Raises
    ------
    GeoFileError
        When the file is missing, not a supported format, unreadable, an empty zip or a zip without (or with
        several) shapefiles, a shapefile without ``.prj``, has no features, or has no polygon feature at all.
    """
    file_path = Path(path)
    if not file_path.is_file():
        what = "is a directory, not a file" if file_path.is_dir() else "does not exist"
        raise GeoFileError(f"{file_path}: {what}")
    # GDAL resolves relative paths against its own idea of the working directory; absolute is unambiguous.
    file_path = file_path.resolve()
    suffix = file_path.suffix.lower()
    if suffix == ".zip":
        gdal_path = _zipped_shapefile(file_path, layer)
        return _read_shapefile(file_path, gdal_path)
    if suffix not in _GEOJSON_SUFFIXES and suffix != ".shp":
        raise GeoFileError(
            f"{file_path}: unsupported file type {suffix or '(no extension)'!r}; "
            "expected .geojson, .json, .shp or a .zip holding a shapefile"
        )
    if layer is not None and layer != file_path.stem:
        raise GeoFileError(f"{file_path}: has one layer, {file_path.stem!r}, not {layer!r}")
    try:
        with file_path.open("rb") as file:
            data = file.read() if suffix in _GEOJSON_SUFFIXES else file.read(len(_SHAPEFILE_MAGIC))
    except OSError as error:
        raise GeoFileError(f"{file_path}: cannot be read ({error})") from error
    if suffix == ".shp":
        if data != _SHAPEFILE_MAGIC:
            raise GeoFileError(f"{file_path}: not a shapefile (its header is not a .shp header)")
        return _read_shapefile(file_path, str(file_path))
    try:
        geometries, properties, crs = parse_geojson(data)
    except ValueError as error:
        raise GeoFileError(f"{file_path}: cannot be read as GeoJSON: {error}") from error
    # RFC 7946: GeoJSON without a crs member is WGS 84 lon/lat.
    return _features(file_path, _as_array(geometries), properties, crs or "OGC:CRS84")


def _zipped_shapefile(zip_path: Path, layer: str | None) -> str:
    """Choose the shapefile inside a zip and return its GDAL ``/vsizip/`` path."""
    try:
        with zipfile.ZipFile(zip_path) as archive:
            names = [info.filename for info in archive.infolist() if not info.is_dir()]
            shapefiles = [name for name in names if name.lower().endswith(".shp") and not _is_junk(name)]
            if layer is not None:
                shapefiles = [name for name in shapefiles if layer in (name, PurePosixPath(name).stem)]
            # Only a header is read, into memory, to check it before GDAL sees the member.
            headers = [archive.open(name).read(len(_SHAPEFILE_MAGIC)) for name in shapefiles[:1]]
    except (zipfile.BadZipFile, OSError, RuntimeError, EOFError) as error:
        raise GeoFileError(f"{zip_path}: not a readable zip archive ({error})") from error
    if not names:
        raise GeoFileError(f"{zip_path}: the zip archive is empty")
    if not shapefiles:
        if layer is not None:
            raise GeoFileError(f"{zip_path}: no shapefile named {layer!r} in the zip archive")
        raise GeoFileError(f"{zip_path}: the zip archive holds no shapefile (.shp); it has {_listing(names)}")
    if len(shapefiles) > 1:
        raise GeoFileError(
            f"{zip_path}: the zip archive holds several shapefiles ({_listing(shapefiles)}); "
            "choose one with layer=<name without .shp>"
        )
    member = shapefiles[0]
    # Member names come from the archive and are untrusted: they only ever go after the /vsizip/ prefix, and
    # anything that could climb out of the archive or be read as another GDAL path is refused.
    parts = PurePosixPath(member).parts
    if member.startswith("/") or "\\" in member or ".." in parts or any(part.startswith("{") for part in parts):
        raise GeoFileError(f"{zip_path}: refusing the zip member {member!r}, its path is unsafe")
    if headers[0] != _SHAPEFILE_MAGIC:
        raise GeoFileError(f"{zip_path}: {member!r} is not a shapefile (its header is not a .shp header)")
    # Braces tell GDAL where the archive path ends, whatever the folder names in it contain.
    return f"/vsizip/{{{zip_path}}}/{member}"


def _is_junk(member: str) -> bool:
    # macOS zips carry AppleDouble shadows ("__MACOSX/x.shp", "._x.shp") that are not shapefiles.
    path = PurePosixPath(member)
    return path.parts[0] == "__MACOSX" or path.name.startswith("._")


def _listing(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown if len(names) <= limit else f"{shown} and {len(names) - limit} more"


def _read_shapefile(file_path: Path, gdal_path: str) -> list[PolygonFeature]:
    try:
        meta, _, wkb, field_data = pyogrio.raw.read(gdal_path, force_2d=True, datetime_as_string=True)
        geometries: NDArray[np.object_] = shapely.from_wkb(wkb)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, shapely.errors.GEOSException) as error:
        raise GeoFileError(f"{file_path}: cannot be read as a shapefile ({error})") from error
    crs = meta.get("crs")
    if crs is None and len(geometries):
        raise GeoFileError(
            f"{file_path}: the shapefile has no coordinate reference system (its .prj file is missing); "
            "add the .prj that came with the data"
        )
    names = [str(name) for name in meta["fields"]]
    properties = [dict(zip(names, values, strict=True)) for values in zip(*field_data, strict=True)]
    if not names:
        properties = [{} for _ in geometries]
    return _features(file_path, geometries, properties, crs)


def _as_array(geometries: Sequence[BaseGeometry | None]) -> NDArray[np.object_]:
    array = np.empty(len(geometries), dtype=object)
    array[:] = list(geometries)
    return array


def _features(
    file_path: Path, geometries: NDArray[np.object_], properties: list[dict[str, Any]], crs: str
) -> list[PolygonFeature]:
    if len(geometries) == 0:
        raise GeoFileError(f"{file_path}: the layer has no features")
    if not np.isin(shapely.get_type_id(geometries), _POLYGON_TYPE_IDS).any():
        kinds = sorted({geom.geom_type for geom in geometries if geom is not None}) or ["only missing geometries"]
        raise GeoFileError(f"{file_path}: the layer has no polygon features ({', '.join(kinds)})")
    geometries = _to_wgs84(file_path, geometries, crs)
    return [
        PolygonFeature(index=i, properties={str(k): _plain(v) for k, v in props.items()}, geometry=geometry)
        for i, (geometry, props) in enumerate(zip(geometries, properties, strict=True))
    ]


def _to_wgs84(file_path: Path, geometries: NDArray[np.object_], crs: str) -> NDArray[np.object_]:
    try:
        transformer = pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(crs), "EPSG:4326", always_xy=True)
    except pyproj.exceptions.CRSError as error:
        raise GeoFileError(f"{file_path}: unusable coordinate reference system {crs!r} ({error})") from error

    def on_coords(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.column_stack(transformer.transform(coords[:, 0], coords[:, 1]))

    result: NDArray[np.object_] = shapely.transform(geometries, on_coords)
    # PROJ signals points it cannot convert with inf; a polygon with such a vertex would silently be wrong.
    if not np.isfinite(shapely.get_coordinates(result)).all():
        raise GeoFileError(f"{file_path}: some coordinates cannot be converted from {crs} to WGS 84")
    return result


def _plain(value: Any) -> Any:
    """Turn a value GDAL, numpy or JSON gave into a plain JSON-safe scalar."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else str(np.datetime_as_string(value))
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, ensure_ascii=False, default=str, allow_nan=False)
    return str(value)
