"""Compiled loops over a projection's CSR arrays for large networks: the sources of every neuron (a
transpose written straight into the global arrays), the target cores of every row with their
synapse counts (the message table; the fan-in axons of every core; the messages of some rows,
without the table). Compiled with numba when the ``fast``
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


def row_entries(lo, hi, indices, cores, out_idx, out_cnt, at, buf):
    """The distinct cores ``cores[target]`` of the synapses ``lo .. hi - 1`` (sorted) and how many
    synapses each takes, written from ``out_idx[at]`` / ``out_cnt[at]`` on (``buf`` holds them
    first). Returns the next ``at``."""
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
    return at


def row_cores(indptr, indices, cores, row0, out_ptr, out_idx, out_cnt, at, buf):
    """For every row ``r``, :func:`row_entries` of its synapses, and the row's end at
    ``out_ptr[row0 + r + 1]``; ``buf`` holds the longest row. Returns the next ``at``."""
    for r in range(indptr.size - 1):
        at = row_entries(indptr[r], indptr[r + 1], indices, cores, out_idx, out_cnt, at, buf)
        out_ptr[row0 + r + 1] = at
    return at


def rows_messages(rows, indptr, indices, cores, out_idx, out_cnt, counts, buf):
    """:func:`row_entries` of the rows ``rows`` (any order, repeats too), one after the other;
    ``counts[k]``: the entries of ``rows[k]``. Returns the entries written."""
    at = 0
    for k in range(rows.size):
        r = rows[k]
        e = row_entries(indptr[r], indptr[r + 1], indices, cores, out_idx, out_cnt, at, buf)
        counts[k] = e - at
        at = e
    return at


def axons_per_core(indptr, indices, cores, axons, out_idx, out_cnt, buf):
    """Adds one to ``axons[c]`` for every row with a synapse into core ``c`` (each row's entries,
    :func:`row_entries`)."""
    for r in range(indptr.size - 1):
        n = row_entries(indptr[r], indptr[r + 1], indices, cores, out_idx, out_cnt, 0, buf)
        for q in range(n):
            axons[out_idx[q]] += 1


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
            global row_entries  # the loops that call it call the compiled one
            row_entries = numba.njit(cache=True)(row_entries)
            for name in ("transpose_into", "row_cores", "rows_messages", "axons_per_core"):
                _compiled[name] = numba.njit(cache=True)(globals()[name])
    return None if "none" in _compiled else _compiled
