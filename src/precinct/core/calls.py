"""Reading historical calls for service from a point file (a shapefile, zipped or not, or GeoJSON, in any CRS)
into plain arrays: WGS 84 coordinates and the attribute columns."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio
import shapely
from numpy.typing import NDArray
from pyproj import CRS, Transformer


class CallFileError(ValueError):
    """A call file that cannot be read; the message names the file and the problem."""


@dataclass(frozen=True)
class CallRecords:
    lon: NDArray[np.float64]  # NaN where a record has no usable point
    lat: NDArray[np.float64]
    fields: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(self.lon)


def read_call_points(path: str | Path) -> CallRecords:
    path = Path(path)
    if not path.is_file():
        raise CallFileError(f"{path}: no such file")
    source = f"/vsizip/{path}" if path.suffix.lower() == ".zip" else str(path)
    try:
        meta, _fids, geometry, field_data = pyogrio.raw.read(source)
    except Exception as error:  # GDAL's errors carry no common base class worth naming
        raise CallFileError(f"{path.name}: not a readable point file ({error})") from error
    if geometry is None or len(geometry) == 0:
        raise CallFileError(f"{path.name}: the file holds no records")
    if meta.get("geometry_type") not in ("Point", "Point Z", "MultiPoint", "Unknown"):
        raise CallFileError(f"{path.name}: expected points, found {meta.get('geometry_type')}")
    crs = meta.get("crs")
    if crs is None and path.suffix.lower() not in (".geojson", ".json"):
        raise CallFileError(f"{path.name}: the file has no coordinate reference system (.prj)")
    points = shapely.from_wkb(geometry)
    x = np.full(len(points), np.nan)
    y = np.full(len(points), np.nan)
    usable = ~(shapely.is_missing(points) | shapely.is_empty(points))
    x[usable] = shapely.get_x(shapely.centroid(points[usable]))
    y[usable] = shapely.get_y(shapely.centroid(points[usable]))
    if crs is not None and not CRS.from_user_input(crs).equals(CRS.from_epsg(4326)):
        transformer = Transformer.from_crs(CRS.from_user_input(crs), CRS.from_epsg(4326), always_xy=True)
        x, y = transformer.transform(x, y)
    lon, lat = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    outside = ~((np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    lon[outside], lat[outside] = np.nan, np.nan
    fields = {name: _plain(values) for name, values in zip(meta["fields"], field_data, strict=True)}
    return CallRecords(lon=lon, lat=lat, fields=fields)


def _plain(values: NDArray[Any]) -> list[Any]:
    if np.issubdtype(values.dtype, np.datetime64):
        return [None if np.isnat(v) else str(v)[:10] for v in values]
    return [v.item() if isinstance(v, np.generic) else v for v in values.tolist()]
