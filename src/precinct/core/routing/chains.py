"""The search graph: chains of shape points (nodes with exactly two neighbours that a car can only pass
through) are contracted into single edges between real intersections, so a search settles about a fifth of
the nodes; every original edge keeps its chain id and its time offset along the chain."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from precinct.core.routing._jit import jit

I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


@jit
def _pass_through(indptr: I32, indices: I32, rev_indptr: I32, rev_indices: I32) -> NDArray[np.bool_]:
    """Nodes a driver can only pass through: one way in and out (a→x→b), or both ways between two nodes."""
    n = indptr.shape[0] - 1
    result = np.zeros(n, dtype=np.bool_)
    for x in range(n):
        out_deg = indptr[x + 1] - indptr[x]
        in_deg = rev_indptr[x + 1] - rev_indptr[x]
        if out_deg == 1 and in_deg == 1:
            result[x] = indices[indptr[x]] != rev_indices[rev_indptr[x]] and indices[indptr[x]] != x
        elif out_deg == 2 and in_deg == 2:
            a, b = indices[indptr[x]], indices[indptr[x] + 1]
            c, d = rev_indices[rev_indptr[x]], rev_indices[rev_indptr[x] + 1]
            result[x] = a != b and a != x and b != x and ((a == c and b == d) or (a == d and b == c))
    return result


@jit
def _walk(
    indptr: I32, indices: I32, edge_tail: I32, travel_time_s: F32, length_m: F32, core: NDArray[np.bool_]
) -> tuple[I64, I64, I64, I64, F64, F64, F64, F64, I64]:
    """Follow every edge leaving a core node through pass-through nodes to the next core node.

    Returns per chain its tail, head, time and length, the chains' edges in driving order (CSR), and per
    edge its chain and the time and length from the chain's start to the edge's tail.
    """
    m = indices.shape[0]
    edge_chain = np.full(m, -1, dtype=np.int64)
    offset_time = np.zeros(m)
    offset_length = np.zeros(m)
    chain_edges = np.empty(m, dtype=np.int64)
    chain_indptr = [0]
    chain_tail: list[int] = []
    chain_head: list[int] = []
    chain_time: list[float] = []
    chain_length: list[float] = []
    used = 0
    for a in range(indptr.shape[0] - 1):
        if not core[a]:
            continue
        for first in range(indptr[a], indptr[a + 1]):
            c = len(chain_tail)
            e = first
            time_s = 0.0
            length = 0.0
            while True:
                edge_chain[e] = c
                offset_time[e] = time_s
                offset_length[e] = length
                chain_edges[used] = e
                used += 1
                time_s += travel_time_s[e]
                length += length_m[e]
                x = indices[e]
                if core[x]:
                    break
                # Continue on the edge leaving x that does not turn back.
                nxt = indptr[x]
                if indptr[x + 1] - indptr[x] == 2 and indices[nxt] == edge_tail[e]:
                    nxt += 1
                e = nxt
            chain_tail.append(a)
            chain_head.append(indices[e])
            chain_time.append(time_s)
            chain_length.append(length)
            chain_indptr.append(used)
    return (
        np.array(chain_tail, dtype=np.int64),
        np.array(chain_head, dtype=np.int64),
        np.array(chain_indptr, dtype=np.int64),
        chain_edges[:used],
        np.array(chain_time),
        np.array(chain_length),
        offset_time,
        offset_length,
        edge_chain,
    )


def build_chains(
    indptr: I32, indices: I32, edge_tail: I32, travel_time_s: F32, length_m: F32, rev_indptr: I32, rev_indices: I32
) -> dict[str, NDArray[np.generic]]:
    """The contracted search graph and the edge-to-chain mapping, as arrays named like RoadGraph fields."""
    n = indptr.shape[0] - 1
    core = ~_pass_through(indptr, indices, rev_indptr, rev_indices)
    if not core.any():
        core[0] = True  # a graph that is one big loop still needs a place to start
    while True:
        tails, heads, chain_indptr, chain_edges, chain_time, chain_len, off_t, off_l, edge_chain = _walk(
            indptr, indices, edge_tail, travel_time_s, length_m, core
        )
        missing = edge_chain < 0
        if not missing.any():
            break
        # Loops made only of pass-through nodes are unreachable from core nodes: cut them open.
        core[edge_tail[np.flatnonzero(missing)[0]]] = True
    order = np.lexsort((heads, tails))
    rev_order = np.lexsort((tails, heads))
    core_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(tails, minlength=n), out=core_indptr[1:])
    core_rev_indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(heads, minlength=n), out=core_rev_indptr[1:])
    return {
        "chain_tail": tails.astype(np.int32),
        "chain_head": heads.astype(np.int32),
        "chain_time_s": chain_time,
        "chain_length_m": chain_len,
        "chain_indptr": chain_indptr,
        "chain_edges": chain_edges.astype(np.int32),
        "edge_chain": edge_chain.astype(np.int32),
        "edge_offset_time_s": off_t,
        "edge_offset_length_m": off_l,
        "core_indptr": core_indptr.astype(np.int32),
        "core_indices": heads[order].astype(np.int32),
        "core_chain": order.astype(np.int32),
        "core_time_s": chain_time[order],
        "core_length_m": chain_len[order],
        "core_rev_indptr": core_rev_indptr.astype(np.int32),
        "core_rev_indices": tails[rev_order].astype(np.int32),
        "core_rev_chain": rev_order.astype(np.int32),
        "core_rev_time_s": chain_time[rev_order],
        "core_rev_length_m": chain_len[rev_order],
    }


SEARCH_GRAPH_DTYPES: dict[str, type[np.generic]] = {
    "chain_tail": np.int32,
    "chain_head": np.int32,
    "chain_time_s": np.float64,
    "chain_length_m": np.float64,
    "chain_indptr": np.int64,
    "chain_edges": np.int32,
    "edge_chain": np.int32,
    "edge_offset_time_s": np.float64,
    "edge_offset_length_m": np.float64,
    "core_indptr": np.int32,
    "core_indices": np.int32,
    "core_chain": np.int32,
    "core_time_s": np.float64,
    "core_length_m": np.float64,
    "core_rev_indptr": np.int32,
    "core_rev_indices": np.int32,
    "core_rev_chain": np.int32,
    "core_rev_time_s": np.float64,
    "core_rev_length_m": np.float64,
}


def consistent(arrays: dict[str, NDArray[np.generic]], node_count: int, edge_count: int) -> bool:
    """Cheap checks that stored search-graph arrays fit a graph of this size (for the cache)."""
    if set(arrays) != set(SEARCH_GRAPH_DTYPES):
        return False
    if any(arrays[name].dtype != dtype or arrays[name].ndim != 1 for name, dtype in SEARCH_GRAPH_DTYPES.items()):
        return False
    chains = arrays["chain_tail"].shape[0]
    per_chain = ("chain_head", "chain_time_s", "chain_length_m", "core_indices", "core_chain", "core_rev_chain")
    per_edge = ("chain_edges", "edge_chain", "edge_offset_time_s", "edge_offset_length_m")
    if chains == 0 or any(arrays[name].shape[0] != chains for name in per_chain):
        return False
    if any(arrays[name].shape[0] != edge_count for name in per_edge):
        return False
    if arrays["chain_indptr"].shape[0] != chains + 1:
        return False
    if any(arrays[name].shape[0] != node_count + 1 for name in ("core_indptr", "core_rev_indptr")):
        return False
    ranges = (("chain_tail", node_count), ("chain_head", node_count), ("core_indices", node_count),
              ("core_rev_indices", node_count), ("chain_edges", edge_count), ("edge_chain", chains),
              ("core_chain", chains), ("core_rev_chain", chains))  # fmt: skip
    return all(arrays[name].min() >= 0 and arrays[name].max() < bound for name, bound in ranges) and bool(
        arrays["chain_indptr"][-1] == edge_count
        and arrays["core_indptr"][-1] == chains
        and arrays["core_rev_indptr"][-1] == chains
    )


class SearchGraph:
    """The contracted graph the searches run on, with the maps back to the original edges.

    Attributes are the arrays returned by :func:`build_chains` (``core_*`` CSR over all node ids, empty
    rows for shape points; ``chain_*`` per chain; ``edge_*`` per original edge) and ``is_core`` per node.
    """

    def __init__(self, arrays: dict[str, NDArray[np.generic]]) -> None:
        self.arrays = arrays
        self.chain_tail: I32 = arrays["chain_tail"]  # type: ignore[assignment]
        self.chain_head: I32 = arrays["chain_head"]  # type: ignore[assignment]
        self.chain_time_s: F64 = arrays["chain_time_s"]  # type: ignore[assignment]
        self.chain_length_m: F64 = arrays["chain_length_m"]  # type: ignore[assignment]
        self.chain_indptr: I64 = arrays["chain_indptr"]  # type: ignore[assignment]
        self.chain_edges: I32 = arrays["chain_edges"]  # type: ignore[assignment]
        self.edge_chain: I32 = arrays["edge_chain"]  # type: ignore[assignment]
        self.edge_offset_time_s: F64 = arrays["edge_offset_time_s"]  # type: ignore[assignment]
        self.edge_offset_length_m: F64 = arrays["edge_offset_length_m"]  # type: ignore[assignment]
        self.core_indptr: I32 = arrays["core_indptr"]  # type: ignore[assignment]
        self.core_indices: I32 = arrays["core_indices"]  # type: ignore[assignment]
        self.core_chain: I32 = arrays["core_chain"]  # type: ignore[assignment]
        self.core_time_s: F64 = arrays["core_time_s"]  # type: ignore[assignment]
        self.core_length_m: F64 = arrays["core_length_m"]  # type: ignore[assignment]
        self.core_rev_indptr: I32 = arrays["core_rev_indptr"]  # type: ignore[assignment]
        self.core_rev_indices: I32 = arrays["core_rev_indices"]  # type: ignore[assignment]
        self.core_rev_chain: I32 = arrays["core_rev_chain"]  # type: ignore[assignment]
        self.core_rev_time_s: F64 = arrays["core_rev_time_s"]  # type: ignore[assignment]
        self.core_rev_length_m: F64 = arrays["core_rev_length_m"]  # type: ignore[assignment]
        self.is_core = (np.diff(self.core_indptr) > 0) | (np.diff(self.core_rev_indptr) > 0)

    @property
    def core_node_count(self) -> int:
        """Nodes the searches settle (intersections, dead ends, ends of one-way changes)."""
        return int(self.is_core.sum())

    def chain_slice(self, chain: int) -> I32:
        """The original edges of ``chain`` in driving order."""
        return self.chain_edges[self.chain_indptr[chain] : self.chain_indptr[chain + 1]]
