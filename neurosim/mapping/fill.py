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
