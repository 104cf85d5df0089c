"""Cells of 0.01°: every point in exactly one, numbered within an int, and the cells a search box touches."""

from __future__ import annotations

import pytest

from precinct.core.geo.cells import CELL_DEG, MAX_CELLS, cell_of, cells_around


def test_points_a_metre_apart_across_a_cell_edge_are_in_neighbouring_cells() -> None:
    edge = -122.67  # a multiple of 0.01° west of Greenwich, where flooring and truncating differ
    west, east = cell_of(edge - 0.00001, 45.515), cell_of(edge + 0.00001, 45.515)
    assert east == west + 1
    assert cell_of(-122.67 + 0.004, 45.515) == east  # the same cell until the next edge


@pytest.mark.parametrize(("lon", "lat"), [(-180.0, -90.0), (180.0, 90.0), (0.0, 0.0), (-0.0001, -0.0001)])
def test_every_point_on_earth_has_a_cell_within_an_integer_column(lon: float, lat: float) -> None:
    assert 0 <= cell_of(lon, lat) < 2**31


def test_a_search_box_touches_the_cells_that_hold_its_corners_and_everything_between() -> None:
    box = (-122.6755, 45.5095, -122.6605, 45.5105)
    cells = cells_around(*box)
    assert cells is not None
    assert len(cells) == 2 * 2  # two columns, two rows
    for lon in (box[0], box[2], (box[0] + box[2]) / 2):
        for lat in (box[1], box[3], (box[1] + box[3]) / 2):
            assert cell_of(lon, lat) in cells


def test_a_box_wider_than_the_limit_gets_no_cells() -> None:
    side = CELL_DEG * (MAX_CELLS**0.5 + 1)
    assert cells_around(-122.6, 45.5, -122.6 + side, 45.5 + side) is None
