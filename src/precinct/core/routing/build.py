"""Build a :class:`RoadGraph` from an OpenStreetMap ``.osm.pbf`` extract: driving roads read with pyrosm,
one-way rules applied, travel times from speeds, and only the largest strongly connected component kept."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components, reverse_cuthill_mckee

from precinct.core.routing.errors import RoutingError
from precinct.core.routing.geo import haversine_m
from precinct.core.routing.graph import BuildReport, RoadGraph
from precinct.core.routing.speeds import SpeedTable, parse_maxspeed_kmh

_FORWARD_ONLY = {"yes", "true", "1"}
_BACKWARD_ONLY = {"-1", "reverse"}
# Where oneway is untagged, OSM implies it for roundabouts and motorways (as OSRM's car profile does).
_IMPLIED_ONEWAY_JUNCTIONS = {"roundabout", "circular"}
_IMPLIED_ONEWAY_HIGHWAYS = {"motorway"}


@contextmanager
def _step(progress: Any, description: str) -> Iterator[None]:
    """Show one build step as a spinner line with its elapsed time (no-op without a progress bar)."""
    if progress is None:
        yield
        return
    task = progress.add_task(description, total=1)
    yield
    progress.update(task, completed=1)


def _strings(column: Any) -> NDArray[np.str_]:
    """A pandas column of tag values as lower-case strings, missing values as ''."""
    values = [value.strip().lower() if isinstance(value, str) else "" for value in column.tolist()]
    return np.asarray(values, dtype=np.str_)


def _read_network(path: Path) -> tuple[Any, Any]:
    """Nodes and node-to-node edges of the driving network, with clear errors for unusable files."""
    if not path.is_file():
        raise RoutingError(f"OSM extract not found: {path}")
    if path.stat().st_size == 0:
        raise RoutingError(f"OSM extract {path} is empty (0 bytes); expected an .osm.pbf file")
    from pyrosm import OSM  # imported here: pyrosm is slow to import and only the build needs it

    try:
        with warnings.catch_warnings():
            # pyrosm warns "Could not find any edges" and returns None; the error below says it better.
            warnings.simplefilter("ignore", UserWarning)
            result = OSM(str(path)).get_network(network_type="driving", nodes=True)
    except Exception as exc:  # pyrosm raises many types for corrupt input; all mean the same to the caller
        raise RoutingError(
            f"OSM extract {path} could not be read as an .osm.pbf file ({type(exc).__name__}); "
            "check that it is a complete OpenStreetMap PBF extract"
        ) from exc
    if result is None or result[1] is None or len(result[1]) == 0:
        raise RoutingError(f"OSM extract {path} contains no drivable roads")
    return result[0], result[1]


def _speeds_kmh(edges: Any, highway: NDArray[np.str_], speeds: SpeedTable) -> tuple[NDArray[np.float64], int]:
    """Speed per way row: its parsed ``maxspeed`` where usable, else the road class default."""
    maxspeed = _strings(edges["maxspeed"]) if "maxspeed" in edges.columns else np.full(len(edges), "")
    unique_raw, inverse = np.unique(maxspeed, return_inverse=True)
    parsed = np.array([parse_maxspeed_kmh(raw) or np.nan for raw in unique_raw.tolist()], dtype=np.float64)
    speed_kmh = parsed[inverse]
    has_maxspeed = np.isfinite(speed_kmh)
    unique_class, class_inverse = np.unique(highway, return_inverse=True)
    class_kmh = np.array([speeds.speed_for_class_kmh(c) for c in unique_class.tolist()], dtype=np.float64)
    speed_kmh[~has_maxspeed] = class_kmh[class_inverse][~has_maxspeed]
    return speed_kmh, int(has_maxspeed.sum())


def _directions(edges: Any, highway: NDArray[np.str_]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Whether each way row may be driven along (u→v) and against (v→u) its drawing direction."""
    oneway = _strings(edges["oneway"]) if "oneway" in edges.columns else np.full(len(edges), "")
    junction = _strings(edges["junction"]) if "junction" in edges.columns else np.full(len(edges), "")
    implied = (oneway == "") & (
        np.isin(junction, list(_IMPLIED_ONEWAY_JUNCTIONS)) | np.isin(highway, list(_IMPLIED_ONEWAY_HIGHWAYS))
    )
    forward_only = np.isin(oneway, list(_FORWARD_ONLY)) | implied
    backward_only = np.isin(oneway, list(_BACKWARD_ONLY))
    return ~backward_only, ~forward_only


def build_graph(pbf_path: str | Path, *, speeds: SpeedTable | None = None, progress: bool = False) -> RoadGraph:
    """Build the driving graph of an OpenStreetMap extract.

    Parameters
    ----------
    pbf_path : str or Path
        An ``.osm.pbf`` extract.
    speeds : SpeedTable, optional
        Default speeds per road class, used where ``maxspeed`` is missing or unusable; the table shipped
        with precinct by default.
    progress : bool
        Show a progress display (rich) of the build steps.

    Returns
    -------
    RoadGraph
        The largest strongly connected component; :attr:`RoadGraph.build_report` says what was dropped.

    Raises
    ------
    RoutingError
        If the file is missing, empty, not a readable PBF, or has no drivable roads.
    """
    started = time.perf_counter()
    path = Path(pbf_path)
    table = speeds if speeds is not None else SpeedTable.default()
    display = None
    if progress:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        display = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        display.start()
    try:
        with _step(display, f"reading driving roads from {path.name}"):
            nodes, edges = _read_network(path)
        with _step(display, "computing lengths, speeds and directions"):
            graph = _assemble(path, nodes, edges, table, started)
    finally:
        if display is not None:
            display.stop()
    return graph


def _assemble(path: Path, nodes: Any, edges: Any, table: SpeedTable, started: float) -> RoadGraph:
    """Turn pyrosm's node and edge tables into the CSR graph (see :func:`build_graph`)."""
    node_osm = nodes["id"].to_numpy(dtype=np.int64)
    node_lon_all = nodes["lon"].to_numpy(dtype=np.float64)
    node_lat_all = nodes["lat"].to_numpy(dtype=np.float64)
    sorter = np.argsort(node_osm, kind="stable")
    u_osm = edges["u"].to_numpy(dtype=np.int64)
    v_osm = edges["v"].to_numpy(dtype=np.int64)
    u_pos = np.clip(np.searchsorted(node_osm, u_osm, sorter=sorter), 0, len(node_osm) - 1)
    v_pos = np.clip(np.searchsorted(node_osm, v_osm, sorter=sorter), 0, len(node_osm) - 1)
    u = sorter[u_pos]
    v = sorter[v_pos]
    # An edge whose end node is absent from the node table (cut by the extract boundary) cannot be placed.
    placed = (node_osm[u] == u_osm) & (node_osm[v] == v_osm) & (u != v)

    highway = _strings(edges["highway"])
    speed_kmh, with_maxspeed = _speeds_kmh(edges, highway, table)
    forward, backward = _directions(edges, highway)
    length = haversine_m(node_lon_all[u], node_lat_all[u], node_lon_all[v], node_lat_all[v])
    way_id = edges["id"].to_numpy(dtype=np.int64)
    time_s = length / (speed_kmh / 3.6)

    fwd = placed & forward
    bwd = placed & backward
    row = np.arange(len(edges))
    tails = np.concatenate([u[fwd], v[bwd]])
    heads = np.concatenate([v[fwd], u[bwd]])
    segment = np.concatenate([row[fwd], row[bwd]])
    edges_read = int(tails.shape[0])
    if edges_read == 0:
        raise RoutingError(f"OSM extract {path} contains no drivable roads")

    n_all = len(node_osm)
    adjacency = coo_matrix((np.ones(edges_read, dtype=np.int8), (tails, heads)), shape=(n_all, n_all)).tocsr()
    components, labels = connected_components(adjacency, directed=True, connection="strong")
    used = np.zeros(n_all, dtype=bool)
    used[tails] = True
    used[heads] = True
    sizes = np.bincount(labels[used], minlength=components)
    keep_node = (labels == int(np.argmax(sizes))) & used
    keep_edge = keep_node[tails] & keep_node[heads]
    tails, heads, segment = tails[keep_edge], heads[keep_edge], segment[keep_edge]

    # Number nodes by reverse Cuthill-McKee so that neighbours sit close in memory during searches.
    kept = np.flatnonzero(keep_node)
    local = np.full(n_all, -1, dtype=np.int64)
    local[kept] = np.arange(kept.shape[0])
    t_local, h_local = local[tails], local[heads]
    n = int(kept.shape[0])
    sym = coo_matrix((np.ones(t_local.shape[0], dtype=np.int8), (t_local, h_local)), shape=(n, n)).tocsr()
    order = reverse_cuthill_mckee((sym + sym.T).tocsr(), symmetric_mode=True)
    new_id = np.empty(n, dtype=np.int64)
    new_id[order] = np.arange(n)
    tail_new = new_id[t_local]
    head_new = new_id[h_local]
    old_of_new = kept[order]

    edge_order = np.lexsort((head_new, tail_new))
    tail_new, head_new, segment = tail_new[edge_order], head_new[edge_order], segment[edge_order]
    m = int(tail_new.shape[0])
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tail_new, minlength=n), out=indptr[1:])

    # Pair the two directions of each two-way segment.
    by_segment = np.argsort(segment, kind="stable")
    seg_sorted = segment[by_segment]
    pair = np.flatnonzero(seg_sorted[1:] == seg_sorted[:-1])
    reverse_edge = np.full(m, -1, dtype=np.int64)
    reverse_edge[by_segment[pair]] = by_segment[pair + 1]
    reverse_edge[by_segment[pair + 1]] = by_segment[pair]

    travel_time_s = time_s[segment].astype(np.float32)
    length_m = length[segment].astype(np.float32)
    rev_order = np.lexsort((tail_new, head_new))
    rev_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(head_new, minlength=n), out=rev_indptr[1:])

    undirected = np.unique(np.sort(np.stack([tail_new, head_new], axis=1), axis=1), axis=0)
    degree = np.bincount(undirected.ravel(), minlength=n)
    report = BuildReport(
        source=path.name,
        nodes_read=int(used.sum()),
        nodes_kept=n,
        nodes_dropped=int(used.sum()) - n,
        edges_read=edges_read,
        edges_kept=m,
        edges_dropped=edges_read - m,
        segments_kept=int(np.unique(segment).shape[0]),
        intersections=int((degree != 2).sum()),
        components=int(np.unique(labels[used]).shape[0]),
        one_way_segments=int((reverse_edge < 0).sum()),
        edges_with_maxspeed=with_maxspeed,
        build_time_s=time.perf_counter() - started,
    )
    return RoadGraph(
        node_lon=node_lon_all[old_of_new],
        node_lat=node_lat_all[old_of_new],
        node_osm_id=node_osm[old_of_new],
        indptr=indptr.astype(np.int32),
        indices=head_new.astype(np.int32),
        travel_time_s=travel_time_s,
        length_m=length_m,
        edge_tail=tail_new.astype(np.int32),
        reverse_edge=reverse_edge.astype(np.int32),
        edge_way_id=way_id[segment],
        rev_indptr=rev_indptr.astype(np.int32),
        rev_indices=tail_new[rev_order].astype(np.int32),
        rev_edge=rev_order.astype(np.int32),
        rev_travel_time_s=travel_time_s[rev_order],
        rev_length_m=length_m[rev_order],
        build_report=report,
    )
