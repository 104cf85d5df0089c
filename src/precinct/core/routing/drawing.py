"""The road network as lines to draw: one polyline per stretch of road between intersections, each drawn once
whichever ways it can be driven."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from precinct.core.routing.graph import RoadGraph


def road_polylines(graph: RoadGraph) -> list[NDArray[np.float64]]:
    """Every stretch of road as an ``(n, 2)`` array of (lon, lat), two-way stretches once.

    The contracted search graph already joins the shape points between intersections into chains; a two-way
    stretch is two chains, one each way, and only the one with the lower id is kept.
    """
    search = graph.search_graph
    polylines: list[NDArray[np.float64]] = []
    for chain in range(search.chain_tail.shape[0]):
        edges = search.chain_slice(chain)
        back_edge = int(graph.reverse_edge[edges[-1]])
        if back_edge >= 0 and int(search.edge_chain[back_edge]) < chain:
            continue
        nodes = np.concatenate(([graph.edge_tail[edges[0]]], graph.indices[edges]))
        polylines.append(np.column_stack((graph.node_lon[nodes], graph.node_lat[nodes])))
    return polylines
