"""The sequential fill as one loop over arrays: neurons in order, each core taking neurons until
the next one would exceed its neuron, fan-in axon or synapse capacity, a new core at each
population start. Compiled with numba for large networks when the ``fast`` extra is installed
(the per-neuron Python loop dominated the set-up of a 1 M-neuron network), else plain Python;
both give the same cores (tests/mapping/test_fill.py)."""

from __future__ import annotations

import numpy as np

_compiled = None

COMPILE_ABOVE = 1_000_000
"""Synapses above which the loop is compiled (numba's import and cache load take ~1-2 s, which
the Python loop needs for about a million synapses)."""


def fill_loop(indptr, indices, starts, n_neurons, cap_n, cap_ax, cap_syn, core_of, seen, touched):
    """Fill ``core_of`` (logical core of each target neuron, CSC ``indptr``/``indices`` of its
    sources); ``starts`` flags the first neuron of each population. Returns -1 when done, else the
    first neuron whose own fan-in exceeds a core (the caller names it)."""
    core, n_in, n_ax, n_syn, n_touched = -1, cap_n, 0, 0, 0
    for j in range(n_neurons):
        lo, hi = indptr[j], indptr[j + 1]
        size = hi - lo
        if size > cap_ax or size > cap_syn:
            return j
        new = 0
        for q in range(lo, hi):
            if not seen[indices[q]]:
                new += 1
        if starts[j] or n_in >= cap_n or n_ax + new > cap_ax or n_syn + size > cap_syn:
            for t in range(n_touched):
                seen[touched[t]] = False
            core, n_in, n_ax, n_syn, n_touched = core + 1, 0, 0, 0, 0
            new = size
        for q in range(lo, hi):
            s = indices[q]
            if not seen[s]:
                seen[s] = True
                touched[n_touched] = s
                n_touched += 1
        core_of[j] = core
        n_in, n_ax, n_syn = n_in + 1, n_ax + new, n_syn + size
    return -1


def _loop():
    """The compiled loop when numba imports, else the Python one."""
    global _compiled
    if _compiled is None:
        try:
            import numba  # noqa: PLC0415 - optional extra
        except ImportError:
            _compiled = fill_loop
        else:
            _compiled = numba.njit(cache=True)(fill_loop)
    return _compiled


def _index_array(a) -> np.ndarray:
    """``a`` as it is when it holds 32- or 64-bit integers (no copy: a 64-bit copy of the
    synapse indices was 8 bytes per synapse at the peak of the set-up), else as 64-bit."""
    a = np.ascontiguousarray(a)
    return a if a.dtype in (np.int32, np.int64) else a.astype(np.int64)


def sequential_fill(indptr, indices, starts, cap_n: int, cap_ax: int, cap_syn: int, compiled: bool | None = None):
    """``(core_of, bad)``: the logical core of every neuron, and -1 or the first neuron whose
    fan-in no core takes. ``compiled``: numba (when installed) or Python; None picks numba above
    :data:`COMPILE_ABOVE` synapses."""
    n = indptr.size - 1
    core_of = np.empty(n, np.int64)
    seen = np.zeros(n, np.bool_)
    touched = np.empty(n, np.int64)
    if compiled is None:
        compiled = indices.size > COMPILE_ABOVE
    loop = _loop() if compiled else fill_loop
    args = (_index_array(indptr), _index_array(indices), starts, n, cap_n, cap_ax, cap_syn)
    bad = loop(*args, core_of, seen, touched)
    return core_of, int(bad)


# ---- straight from the projections' rows (large networks) ----------------------------------------
#
# A source of target ``j`` is new to the core ``[a, j)`` being filled unless it also reaches a
# target in ``[a, j)``, that is unless the target before ``j`` in its (sorted) row, ``prev``, is at
# least ``a``. A core holds fewer than ``cap_n`` neurons, so only the synapses whose ``prev`` lies
# within a window of ``j`` (``j - prev < W``) need their ``prev`` kept: every other one is new to
# any core ``j`` can join while it holds fewer than ``W`` neurons. One sequential pass over the
# rows counts the others per target; the fill reads the counts and the few kept ``prev``s, and
# starts again with a wider window in the rare case a core grew past ``W`` neurons (with sources).

WINDOW = 64
"""The first window (target neurons) of :func:`fill_from_rows`; widened four-fold as needed, up
to the neurons a core holds (where it is always exact)."""

_compiled_rows: dict = {}


def count_window(indptr, indices, off_t, w, far, near_n):
    """One projection's rows: per target (global ``off_t + j``), its synapses whose row's previous
    target is ``w`` or more before it (or none: ``far``) and the others (``near_n``)."""
    for r in range(indptr.size - 1):
        lo, hi = indptr[r], indptr[r + 1]
        for q in range(lo, hi):
            j = indices[q]
            if q == lo or j - indices[q - 1] >= w:
                far[off_t + j] += 1
            else:
                near_n[off_t + j] += 1


def place_window(indptr, indices, off_t, w, at, near_prev):
    """The previous targets (global) of the synapses :func:`count_window` counted as near, at
    ``near_prev[at[target]]`` (then the target's next place)."""
    for r in range(indptr.size - 1):
        lo, hi = indptr[r], indptr[r + 1]
        for q in range(lo + 1, hi):
            j = indices[q]
            if j - indices[q - 1] < w:
                t = off_t + j
                near_prev[at[t]] = off_t + indices[q - 1]
                at[t] += 1


def fill_window(far, near_ptr, near_prev, starts, w, cap_n, cap_ax, cap_syn, core_of):
    """:func:`fill_loop` from the counts of :func:`count_window`: returns -1 when done, the first
    neuron whose fan-in exceeds a core, or -2 when a core grew to ``w`` neurons before a neuron
    with far sources (the window is too narrow to tell which are new)."""
    core, n_in, n_ax, n_syn, a = -1, cap_n, 0, 0, 0
    for j in range(far.size):
        lo, hi = near_ptr[j], near_ptr[j + 1]
        size = far[j] + hi - lo
        if size > cap_ax or size > cap_syn:
            return j
        if starts[j] or n_in >= cap_n:
            new = size
            reset = True
        else:
            if j - a >= w and far[j] > 0:
                return -2
            new = far[j]
            for q in range(lo, hi):
                if near_prev[q] < a:
                    new += 1
            reset = n_ax + new > cap_ax or n_syn + size > cap_syn
        if reset:
            core, n_in, n_ax, n_syn, a = core + 1, 0, 0, 0, j
            new = size
        core_of[j] = core
        n_in, n_ax, n_syn = n_in + 1, n_ax + new, n_syn + size
    return -1


def _row_kernels() -> dict | None:
    """The compiled window passes and fill, or None without numba."""
    if not _compiled_rows:
        try:
            import numba  # noqa: PLC0415 - optional extra
        except ImportError:
            _compiled_rows["none"] = True
        else:
            for f in (count_window, place_window, fill_window):
                _compiled_rows[f.__name__] = numba.njit(cache=True)(f)
    return None if "none" in _compiled_rows else _compiled_rows


def rows_apply(net) -> bool:
    """Whether :func:`fill_from_rows` takes ``net``: numba imports, the network is large, its
    projections are disjoint (their synapses the network's, one for one) and every row sorted
    without repeats."""
    if net.n_synapses <= COMPILE_ABOVE or not net.disjoint or _row_kernels() is None:
        return False
    return all(pr.weights.has_canonical_format for pr in net.projections)


def fill_from_rows(net, cap_n: int, cap_ax: int, cap_syn: int, window: int = WINDOW) -> tuple[np.ndarray, int]:
    """:func:`sequential_fill` of ``net`` (when :func:`rows_apply`) read straight from its
    projections' sorted rows (see above): no transposed pattern of every synapse; the same cores
    (tests/mapping/test_fill.py)."""
    k = _row_kernels()
    assert k is not None
    n = net.n_neurons
    starts = np.zeros(n, np.bool_)
    starts[net.offsets[:-1][np.diff(net.offsets) > 0]] = True
    offs = [int(net.offsets[net.index[pr.target]]) for pr in net.projections]
    w = max(1, min(window, cap_n))
    count_t = np.int32 if n < np.iinfo(np.int32).max else np.int64  # a fan-in is under n: no repeats
    while True:
        far = np.zeros(n, count_t)
        near_n = np.zeros(n, count_t)
        for pr, off in zip(net.projections, offs):
            k["count_window"](pr.weights.indptr, pr.weights.indices, off, w, far, near_n)
        near_ptr = np.zeros(n + 1, np.int64)
        np.cumsum(near_n, out=near_ptr[1:])
        del near_n
        near_prev = np.empty(int(near_ptr[-1]), np.int64)
        if near_prev.size:
            at = near_ptr[:-1].copy()
            for pr, off in zip(net.projections, offs):
                k["place_window"](pr.weights.indptr, pr.weights.indices, off, w, at, near_prev)
            del at
        core_of = np.empty(n, np.int64)
        bad = int(k["fill_window"](far, near_ptr, near_prev, starts, w, cap_n, cap_ax, cap_syn, core_of))
        if bad != -2:
            return core_of, bad
        w = min(4 * w, cap_n)
