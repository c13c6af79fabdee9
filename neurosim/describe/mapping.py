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
    (source, core) pair with at least one (CSR, sorted, int64 counts): one message per entry. Built
    from the synapse pattern's column indices without a COO copy."""
    indptr, indices = net.pattern_arrays()
    idx_t = np.int32 if max(n_cores, indices.size) < np.iinfo(np.int32).max else np.int64
    cores = core_of.astype(idx_t)[indices]
    table = sp.csr_array((np.ones(indices.size, np.int32), cores, indptr.copy()), shape=(net.n_neurons, n_cores))
    del cores
    table.sum_duplicates()  # sorts each row's cores and counts the synapses per (source, core)
    table.data = table.data.astype(np.int64)
    return table


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
    (the entries of the :func:`message_table`, ``table`` when given)."""
    neurons = np.bincount(core_of, minlength=n_cores)
    synapses = np.bincount(core_of, weights=net.fan_in, minlength=n_cores).astype(np.int64)
    if table is None:
        table = message_table(net, core_of, n_cores)
    axons = count_values(table.indices, n_cores)
    return {"neurons": neurons, "synapses": synapses, "axons": axons}


def check_mapping(net: Network, hw: HardwareSpec, m: Mapping) -> None:
    """Raise :class:`MappingError` with the numbers when the mapping does not fit the hardware."""
    if m.core_of.shape != (net.n_neurons,):
        raise MappingError(f"mapping covers {m.core_of.size} neurons, network {net.name!r} has {net.n_neurons}")
    if m.core_of.size and (m.core_of.min() < 0 or m.core_of.max() >= hw.n_cores):
        bad = int(m.core_of.max() if m.core_of.max() >= hw.n_cores else m.core_of.min())
        raise MappingError(f"core {bad} does not exist: hardware {hw.name!r} has cores 0..{hw.n_cores - 1}")
    loads = core_loads(net, m.core_of, hw.n_cores, mapping_message_table(net, m, hw.n_cores))
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
