"""Road-network routing: build a driving graph from OpenStreetMap, snap points to roads, and answer exact
travel-time questions (which units reach an incident first, isochrones of patrol posts) in process."""

from precinct.core.routing.build import build_graph
from precinct.core.routing.cache import load_or_build
from precinct.core.routing.errors import RoutingError, SnapError
from precinct.core.routing.graph import BuildReport, RoadGraph
from precinct.core.routing.isochrones import IsochroneLevel, Isochrones, isochrones
from precinct.core.routing.queries import (
    EtaMatch,
    Route,
    SearchWorkspace,
    TravelTimes,
    nearest_by_eta,
    route,
    travel_time_matrix,
    travel_times_from,
    travel_times_to,
)
from precinct.core.routing.snapping import Snap, Snaps
from precinct.core.routing.speeds import SpeedTable, parse_maxspeed_kmh

__all__ = [
    "BuildReport",
    "EtaMatch",
    "IsochroneLevel",
    "Isochrones",
    "RoadGraph",
    "Route",
    "RoutingError",
    "SearchWorkspace",
    "Snap",
    "SnapError",
    "Snaps",
    "SpeedTable",
    "TravelTimes",
    "build_graph",
    "isochrones",
    "load_or_build",
    "nearest_by_eta",
    "parse_maxspeed_kmh",
    "route",
    "travel_time_matrix",
    "travel_times_from",
    "travel_times_to",
]
