"""Jurisdiction lookup: which polygon (district, beat, station area) holds each lon/lat point, vectorised for
bulk imports and in a few microseconds for a single call on a request path."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry import MultiPolygon, Polygon

__all__ = ["PolygonIndex"]

_NO_POLYGON = -1
_NEEDS_TEST = -2  # grid cell where several polygons or a border meet: points in it need an exact test
# Cells are widened by this share of their size so that a point rounded into a neighbouring cell is still
# inside the box that was checked when the grid was built.
_CELL_MARGIN = 1e-6


class PolygonIndex:
    """Point-in-polygon lookup over a fixed list of lon/lat polygons.

    A point belongs to the lowest-index polygon that *covers* it (interior or boundary), so a point on a
    shared border or inside an overlap gets a deterministic answer, and a point on the outer edge of the area
    still belongs to it. Polygons are used as given: repair invalid ones first
    (:func:`~precinct.core.geo.repair_polygon`), otherwise a self-intersecting ring is read with the even-odd
    rule.

    A regular grid over the polygons' bounding box is built once: most cells lie inside a single polygon and
    answer directly; only points in cells crossed by a border are tested exactly against the few polygons
    touching that cell (prepared GEOS geometries).

    Parameters
    ----------
    polygons : sequence of Polygon or MultiPolygon
        WGS 84 lon/lat polygons; empty ones never match.
    max_cells : int, default 262144
        Upper bound on the grid size (about 256 cells per polygon are used below it).
    """

    def __init__(self, polygons: Sequence[Polygon | MultiPolygon], *, max_cells: int = 1 << 18) -> None:
        geometries = np.empty(len(polygons), dtype=object)
        geometries[:] = list(polygons)
        polygonal = (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)
        bad = np.flatnonzero(~np.isin(shapely.get_type_id(geometries), polygonal))
        if len(bad):
            raise TypeError(f"polygon {int(bad[0])} is not a Polygon or MultiPolygon: {geometries[bad[0]]!r}")
        shapely.prepare(geometries)
        # GEOS builds a prepared polygon's point locator on first use, which is not thread-safe: build them
        # now (a test at each bounding-box centre reaches it) so concurrent lookups only read.
        bounds = shapely.bounds(geometries)
        shapely.intersects_xy(geometries, (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2)
        self._geometries = geometries
        self._bounds = (math.nan, math.nan, math.nan, math.nan)
        self._shape = (0, 0)
        self._cell_size = (1.0, 1.0)
        self._cell_answer: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        self._candidate_start: NDArray[np.int64] = np.zeros(1, dtype=np.int64)
        self._candidates: NDArray[np.int64] = np.empty(0, dtype=np.int64)
        # Per-cell Python values keep the single-point path free of per-call numpy work; one GEOS call tests a
        # point against all of its cell's candidates at once.
        self._cell_answer_list: list[int] = []
        self._cell_candidates: dict[int, tuple[list[int], NDArray[np.object_]]] = {}
        if shapely.is_empty(geometries).all():
            return
        self._build_grid(min(max_cells, max(4096, 256 * len(geometries))))
        self._cell_answer_list = self._cell_answer.tolist()
        for cell in np.flatnonzero(self._cell_answer == _NEEDS_TEST).tolist():
            candidates = self._candidates[self._candidate_start[cell] : self._candidate_start[cell + 1]]
            self._cell_candidates[cell] = (candidates.tolist(), geometries[candidates])

    def __len__(self) -> int:
        return len(self._geometries)

    def _build_grid(self, target_cells: int) -> None:
        min_x, min_y, max_x, max_y = (float(v) for v in shapely.total_bounds(self._geometries))
        # A degenerate (zero-width) extent still needs a cell size above zero.
        width = max(max_x - min_x, 1e-12)
        height = max(max_y - min_y, 1e-12)
        n_x = max(1, min(target_cells, round(math.sqrt(target_cells * width / height))))
        n_y = max(1, target_cells // n_x)
        cell_w, cell_h = width / n_x, height / n_y
        iy, ix = np.divmod(np.arange(n_x * n_y, dtype=np.int64), n_x)
        margin_w, margin_h = cell_w * _CELL_MARGIN, cell_h * _CELL_MARGIN
        boxes = shapely.box(
            min_x + ix * cell_w - margin_w,
            min_y + iy * cell_h - margin_h,
            min_x + (ix + 1) * cell_w + margin_w,
            min_y + (iy + 1) * cell_h + margin_h,
        )
        cells, polygons = shapely.STRtree(self._geometries).query(boxes, predicate="intersects")
        order = np.lexsort((polygons, cells))
        cells, polygons = cells[order], polygons[order].astype(np.int64)
        counts = np.bincount(cells, minlength=len(boxes))
        start = np.zeros(len(boxes) + 1, dtype=np.int64)
        np.cumsum(counts, out=start[1:])
        answer = np.full(len(boxes), _NO_POLYGON, dtype=np.int64)
        occupied = np.flatnonzero(counts)
        lowest = polygons[start[occupied]]
        covered = shapely.covers(self._geometries[lowest], boxes[occupied])
        # The lowest-index candidate wins ties, so a cell it covers whole needs no test for any point in it.
        answer[occupied] = np.where(covered, lowest, _NEEDS_TEST)
        self._bounds = (min_x, min_y, max_x, max_y)
        self._shape = (n_x, n_y)
        self._cell_size = (cell_w, cell_h)
        self._cell_answer, self._candidate_start, self._candidates = answer, start, polygons

    def locate(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.int64]:
        """Index of the polygon holding each point.

        Parameters
        ----------
        lon, lat : array_like
            WGS 84 degrees, broadcast against each other.

        Returns
        -------
        ndarray of int64
            For each point the lowest index of a polygon that covers it, or -1 when none does or when a
            coordinate is NaN or infinite. Same shape as the broadcast inputs.
        """
        x, y = np.broadcast_arrays(np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64))
        shape = x.shape
        x, y = x.ravel(), y.ravel()
        result = np.full(x.shape, _NO_POLYGON, dtype=np.int64)
        if len(self._cell_answer) == 0:
            return result.reshape(shape)
        min_x, min_y, max_x, max_y = self._bounds
        # NaN fails every comparison, so non-finite points never get past this line.
        points = np.flatnonzero((x >= min_x) & (x <= max_x) & (y >= min_y) & (y <= max_y))
        cells = self._cells_of(x[points], y[points])
        answers = self._cell_answer[cells]
        result[points] = np.maximum(answers, _NO_POLYGON)
        pending = answers == _NEEDS_TEST
        self._test_exactly(points[pending], cells[pending], x, y, result)
        return result.reshape(shape)

    def _cells_of(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int64]:
        n_x, n_y = self._shape
        ix = np.minimum(((x - self._bounds[0]) / self._cell_size[0]).astype(np.int64), n_x - 1)
        iy = np.minimum(((y - self._bounds[1]) / self._cell_size[1]).astype(np.int64), n_y - 1)
        cells: NDArray[np.int64] = iy * n_x + ix
        return cells

    def _test_exactly(
        self,
        points: NDArray[np.intp],
        cells: NDArray[np.int64],
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        result: NDArray[np.int64],
    ) -> None:
        """Fill ``result[points]`` by testing each point against its cell's candidates, lowest index first."""
        counts = self._candidate_start[cells + 1] - self._candidate_start[cells]
        pair_point = np.repeat(points, counts)
        offset_in_cell = np.arange(len(pair_point)) - np.repeat(np.cumsum(counts) - counts, counts)
        pair_polygon = self._candidates[np.repeat(self._candidate_start[cells], counts) + offset_in_cell]
        hit = shapely.intersects_xy(self._geometries[pair_polygon], x[pair_point], y[pair_point])
        hit_point, hit_polygon = pair_point[hit], pair_polygon[hit]
        # Pairs are sorted by point, then by polygon index: the first hit of each point is its answer.
        first = np.ones(len(hit_point), dtype=bool)
        first[1:] = hit_point[1:] != hit_point[:-1]
        result[hit_point[first]] = hit_polygon[first]

    def locate_one(self, lon: float, lat: float) -> int | None:
        """Index of the polygon holding one point, or ``None``; same rule as :meth:`locate`."""
        min_x, min_y, max_x, max_y = self._bounds
        if not (min_x <= lon <= max_x and min_y <= lat <= max_y):
            return None
        n_x, n_y = self._shape
        cell = min(int((lat - min_y) / self._cell_size[1]), n_y - 1) * n_x + min(
            int((lon - min_x) / self._cell_size[0]), n_x - 1
        )
        answer = self._cell_answer_list[cell]
        if answer != _NEEDS_TEST:
            return None if answer == _NO_POLYGON else answer
        indices, candidates = self._cell_candidates[cell]
        for index, hit in zip(indices, shapely.intersects_xy(candidates, lon, lat).tolist(), strict=True):
            if hit:
                return index
        return None
