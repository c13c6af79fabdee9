"""A mapping: the physical core of every neuron (:class:`Mapping`), the load it puts on each core
(neurons, synapses, distinct source axons) and the check that it fits the hardware's capacity.

Physical cores are numbered ``tile * cores_per_tile + slot`` with tiles row-major
(``tile = y * width + x``)."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.network import Network, count_values
from neurosim.describe.sparse_kernels import kernels
from neurosim.errors import MappingError


@dataclass(frozen=True, eq=False)
class Mapping:
    """``core_of[n]`` is the physical core of global neuron ``n``."""

    core_of: np.ndarray
    strategy: str = "sequential"
    placement: str = "row-major"
    meta: dict = field(default_factory=dict)

    @cached_property
    def used_cores(self) -> np.ndarray:
        return np.unique(self.core_of)


# ---- capacity ----------------------------------------------------------------------------------


def message_table(net: Network, core_of: np.ndarray, n_cores: int) -> sp.csr_array:
    """``[source neuron, core]``: the synapses a spike of the source reaches in the core, for every
    (source, core) pair with at least one (CSR, sorted, int32 counts: 4 bytes an entry less than
    64-bit ones; a count is at most a population's size): one message per entry. Built
    from the synapse pattern's column indices without a COO copy; from the projections, one
    source population at a time, when they are disjoint (:attr:`Network.disjoint`: the same
    table, without the global matrices)."""
    if net.disjoint:
        return _table_by_source(net, core_of, n_cores)
    indptr, indices = net.pattern_arrays()
    idx_t = np.int32 if max(n_cores, indices.size) < np.iinfo(np.int32).max else np.int64
    cores = core_of.astype(idx_t)[indices]
    table = sp.csr_array((np.ones(indices.size, np.int32), cores, indptr.copy()), shape=(net.n_neurons, n_cores))
    del cores
    table.sum_duplicates()  # sorts each row's cores and counts the synapses per (source, core)
    return table


def _table_by_source(net: Network, core_of: np.ndarray, n_cores: int) -> sp.csr_array:
    """:func:`message_table` of a network of disjoint projections: the rows of each source
    population from its projections (their target cores counted per row), written in place into
    arrays of the network's synapse count (an upper bound of the entries; views of the entries
    used, copied by scipy when they are under half of it)."""
    n, bound = net.n_neurons, net.n_synapses
    idx_t = np.int32 if max(n_cores, bound) < np.iinfo(np.int32).max else np.int64
    core_t = np.int32 if n_cores < np.iinfo(np.int32).max else np.int64
    cores = core_of.astype(core_t)
    ptr_t = np.int32 if max(n, bound) < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n + 1, ptr_t)
    indices = np.empty(bound, idx_t)
    data = np.empty(bound, np.int32)
    at = 0
    k = kernels(bound)
    buf = np.empty(max((int(np.diff(pr.weights.indptr).max(initial=0)) for pr in net.projections), default=0), core_t)
    for p in net.populations:  # population order: the rows, and their entries, in order
        out = [pr for pr in net.projections if pr.source == p.name]
        if k is not None and len(out) == 1:  # compiled: one pass over the rows, no temporary
            w, t, rows = out[0].weights, net.span(out[0].target), net.span(p.name)
            at = k["row_cores"](w.indptr, w.indices, cores[t], rows.start, indptr, indices, data, at, buf)
            continue
        part = None
        for pr in net.projections:
            if pr.source != p.name:
                continue
            w, t = pr.weights, net.span(pr.target)
            m = sp.csr_array((np.ones(w.nnz, np.int32), cores[t][w.indices], w.indptr.copy()), shape=(p.size, n_cores))
            m.sum_duplicates()  # each row's cores, sorted, with the synapses there
            part = m if part is None else part + m  # the target populations differ: counts add
        if part is None:
            continue
        rows = net.span(p.name)
        indptr[rows.start + 1 : rows.stop + 1] = part.indptr[1:] + at
        indices[at : at + part.nnz] = part.indices
        data[at : at + part.nnz] = part.data
        at += part.nnz
        del part, m
    del cores
    np.maximum.accumulate(indptr, out=indptr)  # rows of populations without projections: empty
    table = sp.csr_array((data[:at], indices[:at], indptr), shape=(n, n_cores))
    table.has_canonical_format = True
    return table


def table_row_sums(table: sp.csr_array, rows_at_a_time: int = 16384) -> np.ndarray:
    """The synapses every source reaches (its row sum of a :func:`message_table`) as int64, a
    block of rows at a time (scipy's sum, and ``reduceat`` with a dtype, copy the whole int32
    data as int64: 8 bytes an entry at the peak)."""
    n, ptr = table.shape[0], table.indptr
    out = np.zeros(n, np.int64)
    for a in range(0, n, rows_at_a_time):
        b = min(n, a + rows_at_a_time)
        lo, hi = int(ptr[a]), int(ptr[b])
        if hi > lo:
            run = np.zeros(hi - lo + 1, np.int64)
            np.cumsum(table.data[lo:hi], out=run[1:])
            out[a:b] = run[ptr[a + 1 : b + 1] - lo] - run[ptr[a:b] - lo]
    return out


_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def mapping_message_table(net: Network, m: Mapping, n_cores: int) -> sp.csr_array:
    """:func:`message_table` of a mapping, computed once per (mapping, network, core count) and
    shared (do not modify it)."""
    hit = _TABLES.get(m)
    if hit is not None and hit[0]() is net and hit[1] == n_cores:
        return hit[2]
    table = message_table(net, m.core_of, n_cores)
    _TABLES[m] = (weakref.ref(net), n_cores, table)
    return table


def core_loads(
    net: Network, core_of: np.ndarray, n_cores: int, table: sp.csr_array | None = None
) -> dict[str, np.ndarray]:
    """Per physical core: neurons, synapses stored (fan-in of its neurons), distinct source axons
    (the entries of the :func:`message_table`: of ``table`` when given, else counted from the
    projections' rows where they can be, :func:`axons_from_rows`, else of a table built here)."""
    neurons = np.bincount(core_of, minlength=n_cores)
    synapses = np.bincount(core_of, weights=net.fan_in, minlength=n_cores).astype(np.int64)
    axons = None if table is not None else axons_from_rows(net, core_of, n_cores)
    if axons is None:
        axons = count_values((message_table(net, core_of, n_cores) if table is None else table).indices, n_cores)
    return {"neurons": neurons, "synapses": synapses, "axons": axons}


def rows_countable(net: Network) -> dict | None:
    """The compiled loops (:func:`neurosim.describe.sparse_kernels.kernels`) when the message
    table's entries can be counted, or a row's messages listed, straight from the projections:
    a large network with numba, each source population with at most one outgoing projection
    (a row of the table is then a row of one projection); else None."""
    k = kernels(net.n_synapses)
    if k is None or not net.disjoint:
        return None
    sources = [pr.source for pr in net.projections]
    return k if len(set(sources)) == len(sources) else None


def axons_from_rows(net: Network, core_of: np.ndarray, n_cores: int) -> np.ndarray | None:
    """Per core its fan-in axons (the entries of the :func:`message_table` into it) counted
    from the projections' rows without the table (:func:`rows_countable`), or None."""
    k = rows_countable(net)
    if k is None:
        return None
    core_t = np.int32 if n_cores < np.iinfo(np.int32).max else np.int64
    cores = core_of.astype(core_t)
    axons = np.zeros(n_cores, np.int64)
    for pr in net.projections:
        w, t = pr.weights, net.span(pr.target)
        longest = int(np.diff(w.indptr).max(initial=0))
        buf, idx, cnt = np.empty(longest, core_t), np.empty(longest, core_t), np.empty(longest, np.int64)
        k["axons_per_core"](w.indptr, w.indices, cores[t], axons, idx, cnt, buf)
    return axons


_LOADS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def mapping_loads(net: Network, m: Mapping, n_cores: int) -> dict[str, np.ndarray]:
    """:func:`core_loads` of a mapping, computed once per (mapping, network, core count) and shared
    (do not modify the arrays): from its shared :func:`mapping_message_table` when that is built
    already or the rows cannot give the axons (so a large network's table is built only when a
    run needs it)."""
    hit = _LOADS.get(m)
    if hit is not None and hit[0]() is net and hit[1] == n_cores:
        return hit[2]
    hit = _TABLES.get(m)
    table = hit[2] if hit is not None and hit[0]() is net and hit[1] == n_cores else None
    if table is None and rows_countable(net) is None:  # the table is needed: build it once, shared
        table = mapping_message_table(net, m, n_cores)
    loads = core_loads(net, m.core_of, n_cores, table)
    _LOADS[m] = (weakref.ref(net), n_cores, loads)
    return loads


_CHECKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def check_mapping(net: Network, hw: HardwareSpec, m: Mapping) -> None:
    """Raise :class:`MappingError` with the numbers when the mapping does not fit the hardware.
    A mapping that passed for this network and hardware passes again at once (all three are
    frozen: :func:`~neurosim.mapping.registry.map_network` checks it, then :class:`Chip` does)."""
    hit = _CHECKED.get(m)
    if hit is not None and hit[0]() is net and hit[1] is hw:
        return
    _check_mapping(net, hw, m)
    _CHECKED[m] = (weakref.ref(net), hw)


def _check_mapping(net: Network, hw: HardwareSpec, m: Mapping) -> None:
    if m.core_of.shape != (net.n_neurons,):
        raise MappingError(f"mapping covers {m.core_of.size} neurons, network {net.name!r} has {net.n_neurons}")
    if m.core_of.size and (m.core_of.min() < 0 or m.core_of.max() >= hw.n_cores):
        bad = int(m.core_of.max() if m.core_of.max() >= hw.n_cores else m.core_of.min())
        raise MappingError(f"core {bad} does not exist: hardware {hw.name!r} has cores 0..{hw.n_cores - 1}")
    loads = mapping_loads(net, m, hw.n_cores)
    c = hw.core
    for key, cap in (("neurons", c.max_neurons), ("axons", c.max_fan_in), ("synapses", c.max_synapses)):
        if cap is None:
            continue
        over = np.flatnonzero(loads[key] > cap)
        if over.size:
            k = int(over[0])
            what = {"neurons": "neurons", "axons": "fan-in axons (distinct source neurons)", "synapses": "synapses"}[
                key
            ]
            raise MappingError(
                f"core {k} (tile {hw.tile_xy(k)}): {int(loads[key][k])} {what} needed, "
                f"capacity is {cap} ({over.size} core(s) over)"
            )
