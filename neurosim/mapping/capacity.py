"""Capacity-aware packing shared by the strategies: each core's neuron, fan-in and synapse
capacity, the packer that fills cores without exceeding them, and renumbering of logical cores."""

from __future__ import annotations

import numpy as np

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.network import Network
from neurosim.errors import MappingError

_BIG = np.iinfo(np.int64).max


def capacities(hw: HardwareSpec, neurons_per_core: int | None = None) -> tuple[int, int, int]:
    """(neurons, fan-in axons, synapses) one core takes."""
    if neurons_per_core is not None and neurons_per_core < 1:
        raise MappingError(f"neurons_per_core must be positive, got {neurons_per_core}")
    cap_n = min(neurons_per_core or hw.core.max_neurons, hw.core.max_neurons)
    return cap_n, hw.core.max_fan_in, hw.core.max_synapses or _BIG


def compact(core_of: np.ndarray) -> np.ndarray:
    """Renumber logical cores 0..k-1 (no gaps), in the order of their lowest neuron index."""
    if core_of.size == 0:
        return core_of.astype(np.int64)
    _, first, inv = np.unique(core_of, return_index=True, return_inverse=True)
    rank = np.empty(first.size, np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    return rank[inv.ravel()]


def check_fan_in(net: Network, hw: HardwareSpec, cap_ax: int, cap_syn: int) -> None:
    """Refuse a network with a neuron whose fan-in no core can take."""
    over = np.flatnonzero((net.fan_in > cap_syn) | (np.diff(net.synapse_pattern().tocsc().indptr) > cap_ax))
    if over.size:
        j = int(over[0])
        pop = net.populations[net.population_of[j]].name
        raise MappingError(
            f"neuron {j - net.span(pop).start} of population {pop!r} has fan-in "
            f"{int(net.fan_in[j])}; a core of {hw.name!r} takes at most {min(cap_ax, cap_syn)}"
        )


def n_cores_option(n_cores, default: int, hw: HardwareSpec) -> int:
    """The ``n_cores`` option of a strategy: ``None`` (``default``, at most the chip's), ``"all"``
    (every core of the chip) or a positive number no larger than the chip's core count."""
    if n_cores is None:
        return min(default, hw.n_cores)
    if n_cores == "all":
        return hw.n_cores
    if isinstance(n_cores, bool) or not isinstance(n_cores, (int, np.integer)) or n_cores < 1:
        raise MappingError(f"n_cores must be a positive integer or 'all', got {n_cores!r}")
    if n_cores > hw.n_cores:
        raise MappingError(f"n_cores={n_cores} but hardware {hw.name!r} has {hw.n_cores} cores")
    return int(n_cores)


class Packer:
    """Capacity bookkeeping for strategies that deal neurons to cores one at a time."""

    def __init__(self, net: Network, hw: HardwareSpec, neurons_per_core: int | None = None):
        self.cap_n, self.cap_ax, self.cap_syn = capacities(hw, neurons_per_core)
        check_fan_in(net, hw, self.cap_ax, self.cap_syn)
        self.max_cores = hw.n_cores
        self.hw_name = hw.name
        self.csc = net.synapse_pattern().tocsc()
        self.fan_in = net.fan_in
        k = hw.n_cores
        self.n = np.zeros(k, np.int64)
        self.syn = np.zeros(k, np.int64)
        self.ax = np.zeros(k, np.int64)
        self.has_src = np.zeros((k, net.n_neurons), bool)

    def sources(self, j: int) -> np.ndarray:
        return self.csc.indices[self.csc.indptr[j] : self.csc.indptr[j + 1]]

    def fits(self, j: int, k: int) -> np.ndarray:
        """Which of the first ``k`` cores can take neuron ``j``."""
        src = self.sources(j)
        new_axons = (~self.has_src[:k, src]).sum(axis=1)
        return (
            (self.n[:k] < self.cap_n)
            & (self.syn[:k] + self.fan_in[j] <= self.cap_syn)
            & (self.ax[:k] + new_axons <= self.cap_ax)
        )

    def add(self, j: int, c: int) -> None:
        src = self.sources(j)
        self.ax[c] += int((~self.has_src[c, src]).sum())
        self.has_src[c, src] = True
        self.n[c] += 1
        self.syn[c] += int(self.fan_in[j])

    def fits_or_grow(self, j: int, k: int, what: str) -> tuple[np.ndarray, int]:
        """Feasible cores among the first ``k``; opens more cores (up to the chip's) when none is."""
        ok = self.fits(j, k)
        while not ok.any():
            if k >= self.max_cores:
                raise MappingError(
                    f"{what}: no core of {self.hw_name!r} has room for neuron {j} (all {self.max_cores} cores full)"
                )
            k += 1
            ok = self.fits(j, k)
        return ok, k
