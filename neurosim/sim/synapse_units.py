"""Synapse units (``core.synapse_units``, ``Projection.synapse_unit``): the synaptic operations of a
projection that names a unit cost that unit's ``energy_synop_pj`` / ``latency_synop_cycles``
instead of the core's synop figures (SANA-FE's per-connection synapse units).

Counts: ``synop`` stays the total; ``synop@<unit>`` counts the part of it done by each named unit
(:func:`unit_op`), so :func:`neurosim.describe.cost.energy_breakdown` books the rest at the core's
figure and each unit's part at its own. Latency: a message pays, per synapse it reaches in the
destination core, the latency of the synapse's unit. Everything is per entry of the message table
(one entry per source neuron and destination core), aligned with ``Chip.dest``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from neurosim.describe.cost import UNIT_PREFIX
from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.network import Network
from neurosim.errors import ConfigError


def unit_op(unit: str) -> str:
    """The operation name counting the synaptic operations of ``unit``: ``synop@<unit>``."""
    return f"{UNIT_PREFIX}{unit}"


def check_units(net: Network, hw: HardwareSpec) -> None:
    """A one-line ConfigError when a projection names a unit the hardware does not define."""
    units = hw.core.synapse_units
    for pr in net.projections:
        u = pr.synapse_unit
        if u is not None and u not in units:
            known = ", ".join(sorted(units)) or "none"
            raise ConfigError(
                f"projection {pr.source}->{pr.target}: synapse_unit {u!r} is not among hardware "
                f"{hw.name!r} core.synapse_units (defined: {known}); add it there or drop the projection's unit"
            )


class SynapseUnits:
    """Per entry of the message table ``dest`` (source neuron x destination core, canonical
    CSR): the synapses of each named unit (``count[unit]``) and the synop cycles of the entry
    (``cycles``: every synapse at its unit's latency, the rest at the core's)."""

    def __init__(self, net: Network, hw: HardwareSpec, core_of: np.ndarray, dest: sp.csr_array):
        n_cores = hw.n_cores
        rows = np.repeat(np.arange(dest.shape[0], dtype=np.int64), np.diff(dest.indptr))
        self.key = rows * n_cores + dest.indices.astype(np.int64)  # sorted: dest is canonical
        self.n_cores = n_cores
        default = hw.core.latency_synop_cycles
        syn = np.asarray(dest.data, np.int64)
        self.cycles = default * syn
        self.count: dict[str, np.ndarray] = {}
        for unit in sorted({pr.synapse_unit for pr in net.projections if pr.synapse_unit is not None}):
            k = np.zeros(self.key.size, np.int64)
            for pr in net.projections:
                if pr.synapse_unit != unit or not pr.n_synapses:
                    continue
                w, s0, t = pr.weights, net.span(pr.source).start, net.span(pr.target)
                src = np.repeat(np.arange(w.shape[0], dtype=np.int64), np.diff(w.indptr)) + s0
                key = src * n_cores + core_of[t][w.indices].astype(np.int64)
                uk, c = np.unique(key, return_counts=True)
                k[np.searchsorted(self.key, uk)] += c
            self.count[unit] = k
            self.cycles += (hw.core.synapse_units[unit].latency_synop_cycles - default) * k
        self.ops = [unit_op(u) for u in self.count]

    def add_counters(self, ops: dict[str, np.ndarray]) -> None:
        """Add the per-unit counters (``synop@<unit>``, per core) to a counter dict."""
        for op in self.ops:
            ops.setdefault(op, np.zeros(self.n_cores, np.int64))

    def entries(self, src: np.ndarray, cid: int) -> np.ndarray:
        """The message-table entries of messages from sources ``src`` to core ``cid``."""
        return np.searchsorted(self.key, np.asarray(src, np.int64) * self.n_cores + cid)

    def book(self, ops: dict[str, np.ndarray], pos: np.ndarray, cores) -> None:
        """Count the unit synops of the delivered entries ``pos`` on their cores ``cores`` (one
        core id for all, or one per entry)."""
        for unit, op in zip(self.count, self.ops):
            k = self.count[unit][pos]
            if np.ndim(cores) == 0:
                ops[op][int(cores)] += int(k.sum())
            else:
                np.add.at(ops[op], cores, k)

    def deliver(self, ops: dict[str, np.ndarray], src: np.ndarray, cid: int) -> np.ndarray:
        """Core ``cid`` serves messages from ``src``: books their unit synops and returns each
        message's synop cycles."""
        pos = self.entries(src, cid)
        self.book(ops, pos, cid)
        return self.cycles[pos]


def synapse_units(
    net: Network, hw: HardwareSpec, core_of: np.ndarray, dest: Callable[[], sp.csr_array]
) -> SynapseUnits | None:
    """The synapse units of a chip, or None when no projection names one (the core's figures);
    ``dest`` gives the chip's message table (built only here, where units are named)."""
    check_units(net, hw)
    if all(pr.synapse_unit is None for pr in net.projections):
        return None
    return SynapseUnits(net, hw, core_of, dest())
