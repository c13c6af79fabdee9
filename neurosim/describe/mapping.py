"""A mapping: the physical core of every neuron (:class:`Mapping`), the load it puts on each core
(neurons, synapses, distinct source axons) and the check that it fits the hardware's capacity.

Physical cores are numbered ``tile * cores_per_tile + slot`` with tiles row-major
(``tile = y * width + x``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.network import Network
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


def core_loads(net: Network, core_of: np.ndarray, n_cores: int) -> dict[str, np.ndarray]:
    """Per physical core: neurons, synapses stored (fan-in of its neurons), distinct source axons."""
    neurons = np.bincount(core_of, minlength=n_cores)
    synapses = np.bincount(core_of, weights=net.fan_in, minlength=n_cores).astype(np.int64)
    # distinct (source neuron, core) pairs: the pattern matrix times a one-hot of the cores
    both = net.synapse_pattern()
    onehot = sp.csr_array((np.ones(core_of.size), (np.arange(core_of.size), core_of)), shape=(core_of.size, n_cores))
    axons = np.bincount((both @ onehot).indices, minlength=n_cores)
    return {"neurons": neurons, "synapses": synapses, "axons": axons}


def check_mapping(net: Network, hw: HardwareSpec, m: Mapping) -> None:
    """Raise :class:`MappingError` with the numbers when the mapping does not fit the hardware."""
    if m.core_of.shape != (net.n_neurons,):
        raise MappingError(f"mapping covers {m.core_of.size} neurons, network {net.name!r} has {net.n_neurons}")
    if m.core_of.size and (m.core_of.min() < 0 or m.core_of.max() >= hw.n_cores):
        bad = int(m.core_of.max() if m.core_of.max() >= hw.n_cores else m.core_of.min())
        raise MappingError(f"core {bad} does not exist: hardware {hw.name!r} has cores 0..{hw.n_cores - 1}")
    loads = core_loads(net, m.core_of, hw.n_cores)
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
