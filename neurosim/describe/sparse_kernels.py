"""Compiled loops over a projection's CSR arrays for the set-up of large networks: the sources
of every neuron (a transpose written straight into the global arrays) and the target cores of
every row with their synapse counts (the message table). Compiled with numba when the ``fast``
extra is installed; :func:`kernels` returns None without it and the callers take their numpy
and scipy paths (the same arrays, tests/describe/test_sparse_kernels.py)."""

from __future__ import annotations

COMPILE_ABOVE = 1_000_000
"""Synapses above which the compiled loops are used (numba's import and cache load take ~1-2 s)."""

_compiled: dict = {}


def transpose_into(indptr, indices, off_s, at, out):
    """Write the source ``off_s + r`` of every synapse of row ``r`` at ``out[at[target]]`` (then
    the target's next place): the sources of each target in row order."""
    for r in range(indptr.size - 1):
        g = off_s + r
        for q in range(indptr[r], indptr[r + 1]):
            j = indices[q]
            out[at[j]] = g
            at[j] += 1


def row_cores(indptr, indices, cores, row0, out_ptr, out_idx, out_cnt, at, buf):
    """For every row ``r``, the distinct cores ``cores[target]`` of its synapses (sorted) and how
    many synapses each takes, written from ``out_idx[at]`` / ``out_cnt[at]`` on, and the row's
    end at ``out_ptr[row0 + r + 1]``; ``buf`` holds the longest row. Returns the next ``at``."""
    for r in range(indptr.size - 1):
        lo, hi = indptr[r], indptr[r + 1]
        k = hi - lo
        ordered = True
        for q in range(k):
            buf[q] = cores[indices[lo + q]]
            if q and buf[q] < buf[q - 1]:
                ordered = False
        if not ordered:
            buf[:k].sort()
        q = 0
        while q < k:
            c, e = buf[q], q + 1
            while e < k and buf[e] == c:
                e += 1
            out_idx[at] = c
            out_cnt[at] = e - q
            at += 1
            q = e
        out_ptr[row0 + r + 1] = at
    return at


def kernels(n_synapses: int) -> dict | None:
    """The compiled loops for a network of ``n_synapses``, or None (small network, or no numba)."""
    if n_synapses <= COMPILE_ABOVE:
        return None
    if not _compiled:
        try:
            import numba  # noqa: PLC0415 - optional extra
        except ImportError:
            _compiled["none"] = True
        else:
            _compiled["transpose_into"] = numba.njit(cache=True)(transpose_into)
            _compiled["row_cores"] = numba.njit(cache=True)(row_cores)
    return None if "none" in _compiled else _compiled
