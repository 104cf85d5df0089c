"""Benchmark the jurisdiction lookup: which of Portland's 60 police districts holds each call location.

Compares ``PolygonIndex.locate`` (vectorised), ``PolygonIndex.locate_one`` in a Python loop, and two naive
alternatives, checks they all give the same districts, and prints a table (optionally JSON).

    uv run python benchmarks/jurisdiction.py [--points N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyogrio.raw
import pyproj
import shapely
from numpy.typing import NDArray
from rich.console import Console
from rich.table import Table

from precinct.core.geo import PolygonIndex, read_polygon_features

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DISTRICTS_ZIP = DATA / "portland" / "portland-police-districts.zip"
CALLS_ZIP = DATA / "portland" / "080116_083116_Data.zip"
TARGET_POINTS_PER_S = 100_000
SEED = 20160801


@dataclass
class Timing:
    method: str
    points: int
    seconds: float
    extrapolated_from: int | None = None
    ratio_vs_naive: float | None = None

    @property
    def points_per_s(self) -> float:
        return self.points / self.seconds


def load_call_locations() -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Lon/lat of the August 2016 calls for service (EPSG:2913 feet in the file)."""
    meta, _, wkb, _ = pyogrio.raw.read(f"/vsizip/{{{CALLS_ZIP}}}", columns=[])
    xy = shapely.get_coordinates(shapely.from_wkb(wkb))
    to_wgs84 = pyproj.Transformer.from_crs(meta["crs"], "EPSG:4326", always_xy=True)
    lon, lat = to_wgs84.transform(xy[:, 0], xy[:, 1])
    return np.asarray(lon), np.asarray(lat)


def make_points(
    n_points: int, calls_lon: NDArray[np.float64], calls_lat: NDArray[np.float64], bounds: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The real call locations, then uniform random points over the districts' bounding box up to ``n_points``."""
    rng = np.random.default_rng(SEED)
    n_calls = min(n_points, len(calls_lon))
    n_random = n_points - n_calls
    min_lon, min_lat, max_lon, max_lat = bounds
    lon = np.concatenate([calls_lon[:n_calls], rng.uniform(min_lon, max_lon, n_random)])
    lat = np.concatenate([calls_lat[:n_calls], rng.uniform(min_lat, max_lat, n_random)])
    return lon, lat


def best_of(repeats: int, run: Callable[[], NDArray[np.int64]]) -> tuple[float, NDArray[np.int64]]:
    best_s, result = float("inf"), np.empty(0, dtype=np.int64)
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best_s = min(best_s, time.perf_counter() - start)
    return best_s, result


def naive_per_polygon(polygons: list[shapely.Geometry], lon: NDArray[np.float64], lat: NDArray[np.float64]):
    """One vectorised ``intersects_xy`` per polygon over all points; lowest index wins."""
    result = np.full(len(lon), -1, dtype=np.int64)
    for index in range(len(polygons) - 1, -1, -1):
        result[shapely.intersects_xy(polygons[index], lon, lat)] = index
    return result


def naive_per_point(polygons: list[shapely.Geometry], lon: NDArray[np.float64], lat: NDArray[np.float64]):
    """A Python loop over points and polygons with ``polygon.covers(Point)``: what one writes first."""
    result = np.full(len(lon), -1, dtype=np.int64)
    for k, (x, y) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
        point = shapely.Point(x, y)
        for index, polygon in enumerate(polygons):
            if polygon.covers(point):
                result[k] = index
                break
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=200_000, help="number of points (default 200,000)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 120)
    if not DISTRICTS_ZIP.is_file() or not CALLS_ZIP.is_file():
        console.print(f"[red]shared data not found at {DATA}[/red]")
        return 2

    polygons = [feature.geometry for feature in read_polygon_features(DISTRICTS_ZIP)]
    # The naive methods get their own unprepared copies: PolygonIndex prepares the geometries it is given.
    naive_polygons = list(shapely.from_wkb(shapely.to_wkb(polygons)))
    calls_lon, calls_lat = load_call_locations()
    lon, lat = make_points(args.points, calls_lon, calls_lat, shapely.total_bounds(polygons))
    n_points = len(lon)

    start = time.perf_counter()
    index = PolygonIndex(polygons)
    build_s = time.perf_counter() - start

    locate_s, located = best_of(3, lambda: index.locate(lon, lat))
    n_one = min(n_points, 20_000)
    one_s, one = best_of(
        1,
        lambda: np.array(
            [
                -1 if (d := index.locate_one(x, y)) is None else d
                for x, y in zip(lon[:n_one].tolist(), lat[:n_one].tolist(), strict=True)
            ],
            dtype=np.int64,
        ),
    )
    naive_s, naive = best_of(1, lambda: naive_per_polygon(naive_polygons, lon, lat))
    n_slow = min(n_points, 1_000)
    # Calls and random points alternate in the subset so it is as hard as the whole set.
    slow_pick = np.linspace(0, n_points - 1, n_slow).astype(np.int64)
    slow_s, slow = best_of(1, lambda: naive_per_point(naive_polygons, lon[slow_pick], lat[slow_pick]))

    timings = [
        Timing("PolygonIndex.locate (vectorised)", n_points, locate_s),
        Timing("PolygonIndex.locate_one (Python loop)", n_one, one_s),
        Timing("naive: intersects_xy per polygon", n_points, naive_s),
        Timing("naive: per point, polygon.covers(Point)", n_points, slow_s * n_points / n_slow, n_slow),
    ]
    naive_rate = timings[2].points_per_s
    for timing in timings:
        timing.ratio_vs_naive = timing.points_per_s / naive_rate

    agree = {
        "locate_one": bool(np.array_equal(one, located[:n_one])),
        "naive_per_polygon": bool(np.array_equal(naive, located)),
        "naive_per_point": bool(np.array_equal(slow, located[slow_pick])),
    }
    n_calls = min(n_points, len(calls_lon))
    calls_outside = int((located[:n_calls] < 0).sum())

    table = Table(title=f"Jurisdiction lookup: {len(polygons)} Portland police districts, {n_points:,} points")
    for column in ("method", "points", "seconds", "points/s", "vs naive"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for timing in timings:
        note = f" [dim](extrapolated from {timing.extrapolated_from:,})[/dim]" if timing.extrapolated_from else ""
        table.add_row(
            timing.method + note,
            f"{timing.points:,}",
            f"{timing.seconds:.4f}",
            f"{timing.points_per_s:,.0f}",
            f"{timing.ratio_vs_naive:.2f}x",
        )
    console.print(table)
    console.print(f"index build: {build_s * 1000:.1f} ms; locate_one: {one_s / n_one * 1e6:.2f} µs per point")
    console.print(
        f"{n_calls:,} real calls, {n_points - n_calls:,} random points; "
        f"{calls_outside:,} calls fall in no district; every method agrees: {all(agree.values())} {agree}"
    )
    met = timings[0].points_per_s >= TARGET_POINTS_PER_S
    console.print(f"target {TARGET_POINTS_PER_S:,} points/s for locate: {'met' if met else '[red]MISSED[/red]'}")

    if args.json:
        report = {
            "points": n_points,
            "real_calls": n_calls,
            "calls_in_no_district": calls_outside,
            "districts": len(polygons),
            "index_build_s": build_s,
            "methods": [asdict(t) | {"points_per_s": t.points_per_s} for t in timings],
            "agree": agree,
            "target_points_per_s": TARGET_POINTS_PER_S,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(agree.values()) and met else 1


if __name__ == "__main__":
    sys.exit(main())
