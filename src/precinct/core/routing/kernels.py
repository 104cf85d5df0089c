"""Compiled search kernels: a Dijkstra over a CSR graph (forward or reverse) from points on edges, that also
settles "attached" points (units, targets) lying on edges, and stops after k of them or at a time limit."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from precinct.core.routing._jit import jit

I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


@jit
def _push(heap_key: F64, heap_id: I32, size: int, key: float, ident: int) -> int:
    """Insert into the binary min-heap held in (heap_key, heap_id); returns the new size."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if heap_key[parent] <= key:
            break
        heap_key[i] = heap_key[parent]
        heap_id[i] = heap_id[parent]
        i = parent
    heap_key[i] = key
    heap_id[i] = ident
    return size + 1


@jit
def _pop(heap_key: F64, heap_id: I32, size: int) -> int:
    """Remove the heap's minimum (read it from index 0 first); returns the new size."""
    size -= 1
    if size == 0:
        return 0
    last_key = heap_key[size]
    last_id = heap_id[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and heap_key[child + 1] < heap_key[child]:
            child += 1
        if heap_key[child] >= last_key:
            break
        heap_key[i] = heap_key[child]
        heap_id[i] = heap_id[child]
        i = child
    heap_key[i] = last_key
    heap_id[i] = last_id
    return size


@jit
def search(
    indptr: I32,
    adj: I32,
    adj_edge: I32,
    w_time: F64,
    w_len: F64,
    src_node: I64,
    src_time: F64,
    src_len: F64,
    att_node: I64,
    att_cand: I64,
    att_time: F64,
    att_len: F64,
    cand_time: F64,
    cand_len: F64,
    cand_via: I64,
    k_stop: int,
    limit_s: float,
    dist: F64,
    dist_len: F64,
    pred: I32,
    att_first: I32,
    touched: I32,
    heap_key: F64,
    heap_id: I32,
    settled_order: I64,
) -> tuple[int, int]:
    """Dijkstra from several start nodes with initial times, settling attached candidates on the way.

    Candidates are virtual nodes ``n + c`` in the heap: candidate ``c`` is reached from node
    ``att_node[j]`` at an extra ``att_time[j]`` (the partial edge between the node and the candidate's
    position), or directly at its initial ``cand_time[c]`` (same edge as the start). Popping a candidate
    settles it exactly. The search stops when ``k_stop`` candidates are settled or the next key exceeds
    ``limit_s``. ``att_node`` must be sorted. ``dist`` and ``att_first`` must be all inf / -1 on entry;
    the caller resets them afterwards with :func:`reset` using the returned touched count.

    Returns
    -------
    (int, int)
        Number of touched nodes (listed in ``touched``) and of settled candidates (in ``settled_order``).
    """
    n = dist.shape[0]
    n_touched = 0
    size = 0
    for j in range(att_node.shape[0]):
        if att_first[att_node[j]] < 0:
            att_first[att_node[j]] = j
    for i in range(src_node.shape[0]):
        x = src_node[i]
        if src_time[i] < dist[x]:
            if dist[x] == np.inf:
                touched[n_touched] = x
                n_touched += 1
            dist[x] = src_time[i]
            dist_len[x] = src_len[i]
            pred[x] = -1 - i
            size = _push(heap_key, heap_id, size, src_time[i], x)
    for c in range(cand_time.shape[0]):
        if cand_time[c] < np.inf:
            size = _push(heap_key, heap_id, size, cand_time[c], n + c)
    done = 0
    n_att = att_node.shape[0]
    while size > 0:
        key = heap_key[0]
        ident = heap_id[0]
        size = _pop(heap_key, heap_id, size)
        if key > limit_s:
            break
        if ident >= n:
            c = ident - n
            # A candidate has one live heap entry per improvement; only the one matching its time counts.
            if key == cand_time[c]:
                settled_order[done] = c
                done += 1
                if done >= k_stop:
                    break
            continue
        u = ident
        if key > dist[u]:
            continue
        j = att_first[u]
        if j >= 0:
            while j < n_att and att_node[j] == u:
                c = att_cand[j]
                t = key + att_time[j]
                if t < cand_time[c]:
                    cand_time[c] = t
                    cand_len[c] = dist_len[u] + att_len[j]
                    cand_via[c] = u
                    size = _push(heap_key, heap_id, size, t, n + c)
                j += 1
        for p in range(indptr[u], indptr[u + 1]):
            v = adj[p]
            t = key + w_time[p]
            if t < dist[v]:
                if dist[v] == np.inf:
                    touched[n_touched] = v
                    n_touched += 1
                dist[v] = t
                dist_len[v] = dist_len[u] + w_len[p]
                pred[v] = adj_edge[p]
                size = _push(heap_key, heap_id, size, t, v)
    return n_touched, done


@jit
def reset(dist: F64, att_first: I32, touched: I32, n_touched: int, att_node: I64) -> None:
    """Restore ``dist`` to inf and ``att_first`` to -1 where a search changed them (O(touched))."""
    for i in range(n_touched):
        dist[touched[i]] = np.inf
    for j in range(att_node.shape[0]):
        att_first[att_node[j]] = -1


@jit
def bounded_per_source(
    indptr: I32,
    adj: I32,
    adj_edge: I32,
    w_time: F64,
    w_len: F64,
    src_indptr: I64,
    src_node: I64,
    src_time: F64,
    limit_s: float,
    first_source: int,
    dist: F64,
    dist_len: F64,
    pred: I32,
    att_first: I32,
    touched: I32,
    heap_key: F64,
    heap_id: I32,
    out_indptr: I64,
    out_node: I32,
    out_time: F64,
) -> int:
    """One bounded search per source (source ``s`` enters the graph at ``src_node[src_indptr[s]:...]``).

    Reached nodes and their times are appended to ``out_node``/``out_time`` with ``out_indptr`` as CSR.
    Returns the first source not processed because the output arrays were full (the number of sources
    when all are done), so the caller can grow them and continue.
    """
    empty_i = np.empty(0, dtype=np.int64)
    empty_f = np.empty(0, dtype=np.float64)
    no_cand_time = np.empty(0, dtype=np.float64)
    no_cand_len = np.empty(0, dtype=np.float64)
    no_cand_via = np.empty(0, dtype=np.int64)
    no_order = np.empty(0, dtype=np.int64)
    sources: int = src_indptr.shape[0] - 1
    for s in range(first_source, sources):
        lo = src_indptr[s]
        hi = src_indptr[s + 1]
        n_touched, _ = search(
            indptr, adj, adj_edge, w_time, w_len,
            src_node[lo:hi], src_time[lo:hi], np.zeros(hi - lo),
            empty_i, empty_i, empty_f, empty_f,
            no_cand_time, no_cand_len, no_cand_via, 1, limit_s,
            dist, dist_len, pred, att_first, touched, heap_key, heap_id, no_order,
        )  # fmt: skip
        start = out_indptr[s]
        if start + n_touched > out_node.shape[0]:
            reset(dist, att_first, touched, n_touched, empty_i)
            return s
        count = 0
        for i in range(n_touched):
            x = touched[i]
            if dist[x] <= limit_s:
                out_node[start + count] = x
                out_time[start + count] = dist[x]
                count += 1
        out_indptr[s + 1] = start + count
        reset(dist, att_first, touched, n_touched, empty_i)
    return sources


@jit
def trace_rings(out_dir: NDArray[np.int8], width: int) -> tuple[I64, I64, I64]:
    """Follow raster outline edges into closed rings, keeping only the corners.

    ``out_dir[v]`` is the direction (0 east, 1 north, 2 west, 3 south; -1 none) of the single outline edge
    leaving grid vertex ``v = row * width + col``. Returns the rings' vertex rows and columns and the CSR
    offsets of the rings.
    """
    step_row = np.array([0, 1, 0, -1])
    step_col = np.array([1, 0, -1, 0])
    rows = np.empty(out_dir.shape[0] // 2 + 16, dtype=np.int64)
    cols = np.empty(out_dir.shape[0] // 2 + 16, dtype=np.int64)
    offsets = [0]
    used = 0
    seen = np.zeros(out_dir.shape[0], dtype=np.bool_)
    for start in range(out_dir.shape[0]):
        if out_dir[start] < 0 or seen[start]:
            continue
        v = start
        previous = -1
        while not seen[v]:
            seen[v] = True
            direction = out_dir[v]
            if direction != previous:
                if used == rows.shape[0]:
                    rows = np.concatenate((rows, np.empty(rows.shape[0], dtype=np.int64)))
                    cols = np.concatenate((cols, np.empty(cols.shape[0], dtype=np.int64)))
                rows[used] = v // width
                cols[used] = v % width
                used += 1
            previous = direction
            v = (v // width + step_row[direction]) * width + (v % width + step_col[direction])
        offsets.append(used)
    return rows[:used], cols[:used], np.array(offsets, dtype=np.int64)


@jit
def rasterize_segments(
    x0: F64, y0: F64, x1: F64, y1: F64, label: NDArray[np.uint8], cell: float, grid: NDArray[np.uint8]
) -> None:
    """Write ``label[i]`` into every cell of ``grid`` (row = y / cell, col = x / cell) that segment ``i``
    passes through, keeping the smallest label per cell.

    Steps of a third of a cell along each segment: a segment may clip a cell corner by less than that,
    which is immaterial once the grid is dilated by the buffer.
    """
    for i in range(x0.shape[0]):
        dx = x1[i] - x0[i]
        dy = y1[i] - y0[i]
        steps = int(3.0 * max(abs(dx), abs(dy)) / cell) + 1
        for s in range(steps + 1):
            t = s / steps
            r = int((y0[i] + t * dy) / cell)
            c = int((x0[i] + t * dx) / cell)
            if label[i] < grid[r, c]:
                grid[r, c] = label[i]


@jit
def outline_directions(padded: NDArray[np.bool_]) -> NDArray[np.int8]:
    """Direction of the outline edge leaving each grid vertex (0 east, 1 north, 2 west, 3 south; -1 none).

    Edges run with the filled cell on their left, so shells go counter-clockwise and holes clockwise
    (x = column, y = row). ``padded`` must have an empty border and no cells touching only by a corner.
    """
    height, width = padded.shape
    out_dir = np.full((height + 1, width + 1), -1, dtype=np.int8)
    for r in range(1, height):
        for c in range(width):
            above = padded[r, c]
            below = padded[r - 1, c]
            if above and not below:
                out_dir[r, c] = 0
            elif below and not above:
                out_dir[r, c + 1] = 2
    for r in range(height):
        for c in range(1, width):
            right = padded[r, c]
            left = padded[r, c - 1]
            if left and not right:
                out_dir[r, c] = 1
            elif right and not left:
                out_dir[r + 1, c] = 3
    return out_dir


@jit
def nearest_segment(
    px: float, py: float, candidates: I64, ax: F64, ay: F64, bx: F64, by: F64
) -> tuple[int, float, float]:
    """Among candidate segments, the one nearest to (px, py): its index, the foot fraction and the distance."""
    best = -1
    best_t = 0.0
    best_d = np.inf
    for i in range(candidates.shape[0]):
        s = candidates[i]
        dx = bx[s] - ax[s]
        dy = by[s] - ay[s]
        length_sq = dx * dx + dy * dy
        t = 0.0
        if length_sq > 0:
            t = min(1.0, max(0.0, ((px - ax[s]) * dx + (py - ay[s]) * dy) / length_sq))
        d = np.hypot(ax[s] + t * dx - px, ay[s] + t * dy - py)
        if d < best_d:
            best, best_t, best_d = s, t, d
    return best, best_t, best_d
