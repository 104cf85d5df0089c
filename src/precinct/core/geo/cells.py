"""Fixed cells of 0.01° latitude by 0.01° longitude (about 1.1 km by 0.8 km in Portland), numbered so that a point's
cell is one integer: an index on it finds what lies near a point without scanning a whole city."""

from __future__ import annotations

import math

__all__ = ["CELL_DEG", "MAX_CELLS", "cell_of", "cells_around"]

CELL_DEG = 0.01
MAX_CELLS = 64  # a search wider than this many cells does without them (a radius of several kilometres)
_LON_CELLS = round(360 / CELL_DEG) + 1  # columns from -180° to 180°


def _row_col(lon: float, lat: float) -> tuple[int, int]:
    return math.floor((lat + 90) / CELL_DEG), math.floor((lon + 180) / CELL_DEG)


def cell_of(lon: float, lat: float) -> int:
    """The number of the cell a point lies in (0 at the south-west corner of the world; under 2**31)."""
    row, col = _row_col(lon, lat)
    return row * _LON_CELLS + col


def cells_around(lon_min: float, lat_min: float, lon_max: float, lat_max: float) -> list[int] | None:
    """The cells a lon/lat box touches, or None when there are more than ``MAX_CELLS``."""
    row_min, col_min = _row_col(lon_min, lat_min)
    row_max, col_max = _row_col(lon_max, lat_max)
    if (row_max - row_min + 1) * (col_max - col_min + 1) > MAX_CELLS:
        return None
    return [row * _LON_CELLS + col for row in range(row_min, row_max + 1) for col in range(col_min, col_max + 1)]
