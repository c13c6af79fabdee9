"""What the reference engine's cores hold, built once per run, plainly (dictionaries of small
arrays, no batching): per core its neurons by population; per (core, source neuron) the synapses
the source reaches on the core, by delivery delay; per source neuron its destination cores (the
mapping's message table, one message per destination core, in its order); per neuron the extra
update latency of the extended model; per (source neuron, core) the synapses of each synapse unit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import Mapping, mapping_message_table
from neurosim.describe.network import Network
from neurosim.sim.synapse_units import check_units, unit_op


@dataclass
class Synapses:
    """The synapses of one source neuron into one core for one delivery delay: global target
    ids, weights, the delay in frames (0: this frame) and whether they go through the delay ring
    buffer (the projection declares a delay: one ``delay_write`` per synapse)."""

    targets: np.ndarray
    weights: np.ndarray
    delay: int
    ring: bool


class Tables:
    """The static tables of one (hardware, network, mapping); ``step_delays``: the time-stepped
    delivery delays (``timestep`` mode: every delivery one frame later, plus a declared delay)."""

    def __init__(self, hw: HardwareSpec, net: Network, mapping: Mapping, step_delays: bool = False):
        self.hw, self.net, self.mapping = hw, net, mapping
        core_of = mapping.core_of
        self.cores = [int(c) for c in mapping.used_cores]
        self.neurons = {c: np.flatnonzero(core_of == c) for c in self.cores}
        pops = net.population_of
        self.groups = {
            c: {int(g): ids[pops[ids] == g] for g in np.unique(pops[ids])} for c, ids in self.neurons.items()
        }
        self.synapses: dict[tuple[int, int], list[Synapses]] = {}
        depth = 0
        for (delay, ring), w in net.weights_by_delay_and_ring().items():
            d = ((delay if ring else 0) + 1) if step_delays else delay
            depth = max(depth, d)
            for src in range(net.n_neurons):
                a, b = int(w.indptr[src]), int(w.indptr[src + 1])
                if a == b:
                    continue
                tg, wt = w.indices[a:b], w.data[a:b]
                for c in np.unique(core_of[tg]):
                    on = core_of[tg] == c
                    self.synapses.setdefault((src, int(c)), []).append(
                        Synapses(tg[on].astype(np.int64), wt[on].astype(np.float32), d, bool(ring))
                    )
        self.depth = max(depth, net.max_delay)
        table = mapping_message_table(net, mapping, hw.n_cores)
        self.dest = {
            src: list(
                zip(
                    table.indices[table.indptr[src] : table.indptr[src + 1]].tolist(),
                    table.data[table.indptr[src] : table.indptr[src + 1]].tolist(),
                )
            )
            for src in range(net.n_neurons)
        }
        # the extended model's per-neuron work in an update pass
        p, c = net.params, hw.core
        self.input_group = net.index[net.input]
        self.output_group = net.index[net.output]
        decl = net.declared_delay_weights
        ring_target = np.zeros(net.n_neurons, bool)
        ring_target[np.unique(decl.indices)] = True
        is_out = pops == self.output_group
        self.is_lif = pops != self.input_group
        self.extra = {
            "synaptic_current": p.cuba & self.is_lif,
            "delay_read": ring_target & self.is_lif,
            "membrane_read": ~p.spiking & is_out,
        }
        self.extra_latency = (
            self.extra["synaptic_current"] * c.latency_synaptic_current_cycles
            + self.extra["delay_read"] * c.latency_delay_read_cycles
            + self.extra["membrane_read"] * c.latency_membrane_read_cycles
        ).astype(np.int64)
        self.extra_ops_per_core = {
            op: np.bincount(core_of[mask], minlength=hw.n_cores).astype(np.int64) for op, mask in self.extra.items()
        }
        self.synops_of = np.array([sum(s for _, s in self.dest[n]) for n in range(net.n_neurons)], np.int64)
        # synapse units: per (source, core) the synapses of each named unit, projection by projection
        check_units(net, hw)
        self.unit_synops: dict[tuple[int, int], dict[str, int]] = {}
        for pr in net.projections:
            if pr.synapse_unit is None:
                continue
            w, s0, t0 = pr.weights, net.span(pr.source).start, net.span(pr.target).start
            for r in range(w.shape[0]):
                for t in w.indices[w.indptr[r] : w.indptr[r + 1]]:
                    units = self.unit_synops.setdefault((s0 + r, int(core_of[t0 + t])), {})
                    units[pr.synapse_unit] = units.get(pr.synapse_unit, 0) + 1
        self.unit_ops = sorted({unit_op(u) for pr in net.projections if (u := pr.synapse_unit) is not None})
