"""The graph cache: a built graph stored as one uncompressed ``.npz`` named after the SHA-256 of the source
extract, the speed table and the format version, so a restart loads in a fraction of a second and any
change to the inputs rebuilds."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from precinct.core.routing.build import build_graph
from precinct.core.routing.chains import SEARCH_GRAPH_DTYPES, SearchGraph
from precinct.core.routing.chains import consistent as search_consistent
from precinct.core.routing.errors import RoutingError
from precinct.core.routing.graph import ARRAY_DTYPES, ARRAY_FIELDS, BuildReport, RoadGraph
from precinct.core.routing.speeds import SpeedTable

# Bump when the arrays' meaning or layout changes, so old cache files are ignored.
FORMAT_VERSION = 2
_SEARCH_PREFIX = "search_"
_CHUNK_BYTES = 1 << 20


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's content, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(pbf_path: str | Path, speeds: SpeedTable) -> str:
    """The cache key of a graph: hash of the extract, the speed table and :data:`FORMAT_VERSION`."""
    path = Path(pbf_path)
    if not path.is_file():
        raise RoutingError(f"OSM extract not found: {path}")
    combined = f"{file_sha256(path)}:{speeds.digest}:v{FORMAT_VERSION}"
    return hashlib.sha256(combined.encode()).hexdigest()


def save_graph(graph: RoadGraph, file: Path, *, key: str) -> None:
    """Write ``graph`` to ``file`` atomically (a temporary file renamed into place)."""
    file.parent.mkdir(parents=True, exist_ok=True)
    meta = {"key": key, "format": FORMAT_VERSION, "build_report": graph.build_report.to_dict()}
    arrays: dict[str, NDArray[Any]] = dict(graph.arrays())
    # The contracted search graph is stored too, so a restart needs no compiled code before the first query.
    arrays.update({_SEARCH_PREFIX + name: value for name, value in graph.search_graph.arrays.items()})
    arrays["meta_json"] = np.array(json.dumps(meta))
    fd, tmp_name = tempfile.mkstemp(prefix=file.stem, suffix=".tmp", dir=file.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, allow_pickle=False, **arrays)
        # mkstemp creates the file private to its owner; a cache is meant to be read by other processes too.
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, file)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def load_graph(file: Path, *, key: str | None = None) -> RoadGraph | None:
    """Read a cached graph, or ``None`` if the file is absent, corrupt, stale or inconsistent.

    A cache file is never trusted blindly: the key, every array's dtype and the CSR invariants are checked,
    because a truncated or tampered file must lead to a rebuild, not to wrong travel times.
    """
    try:
        with np.load(file, allow_pickle=False) as data:
            meta = json.loads(str(data["meta_json"]))
            if meta.get("format") != FORMAT_VERSION or (key is not None and meta.get("key") != key):
                return None
            arrays = {name: data[name] for name in ARRAY_FIELDS}
            search = {name: data[_SEARCH_PREFIX + name] for name in SEARCH_GRAPH_DTYPES}
        report = BuildReport(**meta["build_report"])
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, json.JSONDecodeError):
        return None
    if not _consistent(arrays):
        return None
    if not search_consistent(search, arrays["node_lon"].shape[0], arrays["indices"].shape[0]):
        return None
    graph = RoadGraph(**arrays, build_report=report)
    graph.__dict__["search_graph"] = SearchGraph(search)  # fills the cached property
    return graph


def _consistent(arrays: dict[str, NDArray[Any]]) -> bool:
    """Check dtypes, lengths and index ranges of the arrays (cheap: linear scans)."""
    if any(arrays[name].dtype != ARRAY_DTYPES[name] or arrays[name].ndim != 1 for name in ARRAY_FIELDS):
        return False
    n = arrays["node_lon"].shape[0]
    m = arrays["indices"].shape[0]
    node_sized = ("node_lon", "node_lat", "node_osm_id")
    edge_sized = ("indices", "travel_time_s", "length_m", "edge_tail", "reverse_edge", "edge_way_id")
    reverse_sized = ("rev_indices", "rev_edge", "rev_travel_time_s", "rev_length_m")
    if n == 0 or any(arrays[name].shape[0] != n for name in node_sized):
        return False
    if any(arrays[name].shape[0] != m for name in edge_sized + reverse_sized):
        return False
    for indptr_name, targets_name in (("indptr", "indices"), ("rev_indptr", "rev_indices")):
        indptr = arrays[indptr_name]
        if indptr.shape[0] != n + 1 or indptr[0] != 0 or indptr[-1] != m or np.any(np.diff(indptr) < 0):
            return False
        targets = arrays[targets_name]
        if m and (targets.min() < 0 or targets.max() >= n):
            return False
    if m and not (
        np.all(np.isfinite(arrays["travel_time_s"]))
        and arrays["travel_time_s"].min() >= 0
        and arrays["rev_edge"].min() >= 0
        and arrays["rev_edge"].max() < m
        and arrays["reverse_edge"].max() < m
    ):
        return False
    return bool(np.all(np.isfinite(arrays["node_lon"])) and np.all(np.isfinite(arrays["node_lat"])))


def load_or_build(
    pbf_path: str | Path,
    cache_dir: str | Path,
    *,
    speeds: SpeedTable | None = None,
    progress: bool = False,
) -> RoadGraph:
    """Load the graph of ``pbf_path`` from ``cache_dir``, building and storing it when needed.

    Parameters
    ----------
    pbf_path : str or Path
        The ``.osm.pbf`` extract.
    cache_dir : str or Path
        Folder for the cache files (created if missing).
    speeds : SpeedTable, optional
        Speed table; part of the cache key, so changing it rebuilds.
    progress : bool
        Show a progress display while building.

    Returns
    -------
    RoadGraph

    Raises
    ------
    RoutingError
        As :func:`build_graph`.
    """
    table = speeds if speeds is not None else SpeedTable.default()
    key = cache_key(pbf_path, table)
    file = Path(cache_dir) / f"road-graph-{key[:32]}.npz"
    graph = load_graph(file, key=key) if file.exists() else None
    if graph is None:
        graph = build_graph(pbf_path, speeds=table, progress=progress)
        save_graph(graph, file, key=key)
    return graph
