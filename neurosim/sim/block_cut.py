"""Every core's incoming weight blocks cut straight from the network's projections: one pass
that counts the synapses and the (source, core) rows of each core, one that writes the synapses
into one store sorted by target core (then source, then target, as a stable sort of the global
weights by target core gives), so that every core's block is a view of it. Compiled with numba
(the ``fast`` extra); the chip cuts the global matrices instead when numba is missing, the
network is small (:data:`CUT_ABOVE`) or two projections of a key leave one population
(:func:`cut_plan`). No global matrix and no temporary of synapse length: the store is the
synapses' only copy besides the network's own."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neurosim.describe.network import Network, Projection

CUT_ABOVE = 1_000_000
"""Synapses above which the blocks are cut from the projections by the compiled passes (below,
numba's import and cache load cost more than the cut of the global matrices saves)."""

_compiled: dict = {}


def _count(indptr, indices, off_s, off_t, core_of, last, syn_n, row_n):
    """Pass 1 over one projection: per core, its synapses and its rows (distinct sources)."""
    for r in range(indptr.size - 1):
        g = off_s + r
        for q in range(indptr[r], indptr[r + 1]):
            c = core_of[off_t + indices[q]]
            syn_n[c] += 1
            if last[c] != g:
                last[c] = g
                row_n[c] += 1


def _place_rows(
    indptr,
    indices,
    data,
    off_s,
    off_t,
    tb,
    ptr,
    core_of,
    local_of,
    last,
    first,
    syn_at,
    row_at,
    out_w,
    out_col,
    row_src,
    row_ptr,
):
    """Pass 2 over one projection: each synapse to its core's next place in the store, each new
    (source, core) row to its core's next row: its source, and in ``row_ptr`` its first synapse
    counted from the core's first (``first``); core ``c``'s entries of ``row_ptr`` are shifted
    by ``c``, one more a core for its end, so that each core's row pointer is a slice of it.

    Only the synapses into the targets before ``tb`` (local) not yet placed: each row read from
    ``ptr[r]`` on (then moved on); with sorted rows and rising cores, calls for rising ``tb``
    write a range of cores at a time (a few thousand places in cache instead of one a core). With
    ``tb`` past every target, one call places the whole projection, sorted or not."""
    for r in range(indptr.size - 1):
        q, end = ptr[r], indptr[r + 1]
        if q == end or indices[q] >= tb:
            continue
        g = off_s + r
        while q < end and indices[q] < tb:
            t = off_t + indices[q]
            c = core_of[t]
            s = syn_at[c]
            if last[c] != g:
                last[c] = g
                k = row_at[c]
                row_src[k] = g
                row_ptr[k + c] = s - first[c]
                row_at[c] = k + 1
            out_w[s] = data[q]
            out_col[s] = local_of[t]
            syn_at[c] = s + 1
            q += 1
        ptr[r] = q


CORES_AT_A_TIME = 512
"""Cores whose synapses :func:`cut_store` places in one pass over the rows (when each target
population's cores rise with its neurons and the rows are sorted)."""


def _kernels():
    """The compiled passes, or None when numba does not import."""
    if not _compiled:
        try:
            import numba  # noqa: PLC0415 - optional extra
        except ImportError:
            _compiled["count"] = _compiled["place_rows"] = None
        else:
            _compiled["count"] = numba.njit(cache=True)(_count)
            _compiled["place_rows"] = numba.njit(cache=True)(_place_rows)
    return _compiled["count"], _compiled["place_rows"]


def cut_plan(net: Network) -> dict[tuple[int, bool], list[Projection]] | None:
    """The projections of every key ``(delivery delay, through the delay ring)`` in source order,
    when the blocks can be cut from them (numba imports, the network is large and no two
    projections of one key leave the same population), else None."""
    if net.n_synapses <= CUT_ABOVE or not net.disjoint or _kernels()[0] is None:
        return None
    plan: dict[tuple[int, bool], list[Projection]] = {}
    for pr in net.projections:
        plan.setdefault((net.delay_of(pr), pr.delay >= 1), []).append(pr)
    for prs in plan.values():
        if len({pr.source for pr in prs}) < len(prs):
            return None
        prs.sort(key=lambda pr: net.index[pr.source])
    return dict(sorted(plan.items()))


def _rising(net: Network, prs: list[Projection], core_of: np.ndarray) -> bool:
    """Whether every target population's cores rise with its neurons (never fall) and every row is
    sorted: then a range of cores takes a range of each projection's targets."""
    for pr in prs:
        t = core_of[net.span(pr.target)]
        if not pr.weights.has_sorted_indices or (t.size > 1 and (t[1:] < t[:-1]).any()):
            return False
    return True


def cut_store(
    net: Network,
    prs: list[Projection],
    core_of: np.ndarray,
    local_of: np.ndarray,
    n_cores: int,
    counts: tuple[np.ndarray, np.ndarray] | None = None,
):
    """The store of one key: ``(weights, local columns, row sources, row pointers, synapse
    bounds, row bounds)``: the synapses sorted by target core, then source, then target (weights
    float32, columns numbered within the core), each (source, core) row's source, the rows'
    pointers (core ``c``'s, from 0 to its synapses, are ``row_ptr[row_bounds[c] + c :
    row_bounds[c + 1] + c + 1]``) and per core the range of its synapses and of its rows.
    ``counts``: per core its synapses and rows of this key when known (the key holds every
    projection: the mapping's loads), else counted here."""
    count, place_rows = _kernels()
    n = net.n_neurons
    nnz = sum(pr.n_synapses for pr in prs)
    last = np.full(n_cores, -1, np.int64)
    offs = [(int(net.offsets[net.index[pr.source]]), int(net.offsets[net.index[pr.target]])) for pr in prs]
    if counts is None:
        syn_n = np.zeros(n_cores, np.int64)
        row_n = np.zeros(n_cores, np.int64)
        for pr, (off_s, off_t) in zip(prs, offs):
            count(pr.weights.indptr, pr.weights.indices, off_s, off_t, core_of, last, syn_n, row_n)
    else:
        syn_n, row_n = (np.asarray(a, np.int64) for a in counts)
    syn_bounds = np.zeros(n_cores + 1, np.int64)
    np.cumsum(syn_n, out=syn_bounds[1:])
    row_bounds = np.zeros(n_cores + 1, np.int64)
    np.cumsum(row_n, out=row_bounds[1:])
    src_t = np.int32 if n < np.iinfo(np.int32).max else np.int64
    ptr_t = np.int32 if nnz < np.iinfo(np.int32).max else np.int64
    weights = np.empty(nnz, np.float32)
    cols = np.empty(nnz, local_of.dtype)
    row_src = np.empty(int(row_bounds[-1]), src_t)
    row_ptr = np.empty(int(row_bounds[-1]) + n_cores, ptr_t)
    row_ptr[row_bounds[1:] + np.arange(n_cores)] = syn_n  # each core's end
    last[:] = -1
    first = syn_bounds[:-1]
    syn_at, row_at = first.copy(), row_bounds[:-1].copy()
    ptrs = [pr.weights.indptr[:-1].astype(np.int64) for pr in prs]
    if not _rising(net, prs, core_of):  # each projection whole, in one pass
        everything = np.iinfo(np.int64).max
        for pr, (off_s, off_t), ptr in zip(prs, offs, ptrs):
            w = pr.weights
            place_rows(
                w.indptr, w.indices, w.data, off_s, off_t, everything, ptr, core_of, local_of, last, first, syn_at,
                row_at, weights, cols, row_src, row_ptr,
            )  # fmt: skip
        return weights, cols, row_src, row_ptr, syn_bounds, row_bounds
    done = [0] * len(prs)  # targets placed so far, per projection
    for c1 in range(CORES_AT_A_TIME, n_cores + CORES_AT_A_TIME, CORES_AT_A_TIME):
        for i, (pr, (off_s, off_t)) in enumerate(zip(prs, offs)):
            tb = int(np.searchsorted(core_of[net.span(pr.target)], c1))  # its targets on cores before c1
            if tb == done[i]:
                continue
            w, done[i] = pr.weights, tb
            place_rows(
                w.indptr, w.indices, w.data, off_s, off_t, tb, ptrs[i], core_of, local_of, last, first, syn_at,
                row_at, weights, cols, row_src, row_ptr,
            )  # fmt: skip
    return weights, cols, row_src, row_ptr, syn_bounds, row_bounds


_CSR_ATTRS = {"_shape", "maxprint", "data", "indices", "indptr"}


def store_blocks(store: tuple, counts: np.ndarray, cores):
    """Every core's block of ``store`` (:func:`cut_store`) among ``cores``: ``(core, its rows'
    sources, the block [row, neuron of the core])``, the block a CSR matrix whose arrays are
    views of the store. The first block is checked by scipy's constructor; the others are made
    like it with their own arrays (the constructor costs ~0.1 ms a block: seconds for the
    ~20,000 cores of a 1 M-neuron network), unless this scipy keeps other attributes."""
    weights, cols, row_src, row_ptrs, syn_bounds, row_bounds = store
    proto, fast = None, cols.dtype == row_ptrs.dtype
    for c in cores:
        a, b = int(syn_bounds[c]), int(syn_bounds[c + 1])
        if a == b:
            continue
        r0, r1 = int(row_bounds[c]), int(row_bounds[c + 1])
        w, col, ptr, shape = weights[a:b], cols[a:b], row_ptrs[r0 + c : r1 + c + 1], (r1 - r0, int(counts[c]))
        if proto is None or not fast:
            sub = sp.csr_array((w, col, ptr), shape=shape)
            sub.data, sub.indices = w, col  # scipy copies a small view of a large array (prune)
            proto = sub
            fast = fast and set(vars(sub)) == _CSR_ATTRS
        else:
            sub = object.__new__(type(proto))
            sub.__dict__.update(proto.__dict__, _shape=shape, data=w, indices=col, indptr=ptr)
        yield c, row_src[r0:r1], sub
