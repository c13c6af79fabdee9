"""The reference engine's world for one sample: the SimPy environment, the neuron state, the
counters, the network-on-chip and the cores, and what the sample records (spikes in emission
order, output membranes and cycle at each frame end, barriers, steps)."""

from __future__ import annotations

import numpy as np
import simpy

from neurosim.sim.core import State
from neurosim.sim.counters import CoreCounters
from neurosim.sim.process.core_process import CoreProcess
from neurosim.sim.process.phase import Phase
from neurosim.sim.process.router import Message, Noc
from neurosim.sim.process.tables import Tables


class World:
    """One sample's processes and state (``options``: the run's execution options)."""

    def __init__(self, tables: Tables, counters: CoreCounters, options: dict, sample_index: int):
        self.tables, self.counters, self.options = tables, counters, options
        self.hw, self.net, self.mapping = tables.hw, tables.net, tables.mapping
        self.sample_index = sample_index
        self.env = simpy.Environment()
        self.state = State(self.net.n_neurons, tables.depth)
        self.noc = Noc(self.env, self.hw, self._arrived, self._injected)
        serve = (options["mode"], options["scope"]) != ("async", "core")
        self.cores = {c: CoreProcess(self, c, serve) for c in tables.cores}
        self.in_flight = 0  # messages injected, not yet at their core
        self.frame = 0
        self.items = 0
        self.spike_log: list[tuple[int, int, np.ndarray, np.ndarray]] = []
        self.first_output: int | None = None
        self.copies_sent = 0
        self.barriers = 0
        self.readout_v: list[np.ndarray] = []
        self.frame_end: list[int] = []
        self.steps_per_frame: list[int] = []
        self.step = 0  # the forward step now (async modes; docs/paper-metrics.md)
        self.spike_steps: list[int] = []  # the forward step of each spike_log entry
        self.phase_order = list(range(len(self.net.populations)))
        self.phases: list[dict] | None = None  # per-phase timing, kept for the recorded sample
        self.core_end: dict[int, int] = {}
        # the names the async neuron helpers and the spike log read (neurosim.sim.async_global)
        self.is_lif = tables.is_lif
        self.extra_ops_per_core = tables.extra_ops_per_core
        self.synops_of = tables.synops_of
        self.input_group, self.output_group = tables.input_group, tables.output_group
        self.out_span = self.net.span(self.net.output)
        self.input_offset = int(self.net.offsets[self.input_group])
        self.tiles_in_use = int(np.unique(self.noc.routes.tile_of_core[self.mapping.used_cores]).size)
        self.barrier_cycles = int(self.hw.barrier.latency(self.tiles_in_use))

    def _arrived(self, m: Message) -> None:
        self.in_flight -= 1
        self.cores[m.dst_core].receive(m)

    def _injected(self, n: int) -> None:
        self.in_flight += n

    def next_item(self) -> int:
        """A fresh evaluation number (orders messages of equal request cycle on a link)."""
        self.items += 1
        return self.items

    def start_frame(self, frame: int) -> None:
        """Frame ``frame`` begins: the currents due now leave the ring for this frame's."""
        self.frame = frame
        self.step = 0
        self.state.release(frame)

    def frame_done(self) -> None:
        self.readout_v.append(self.state.v[self.out_span].copy())
        self.frame_end.append(int(self.env.now))

    def barrier(self):
        """SimPy process: one barrier over the tiles in use."""
        self.barriers += 1
        if self.barrier_cycles:
            yield self.env.timeout(self.barrier_cycles)

    def end_of_frame(self, t_frame: int):
        """SimPy process: the rest of a fixed frame period, if any."""
        rest = self.hw.chip.frame_period_cycles - (int(self.env.now) - t_frame)
        if rest > 0:
            yield self.env.timeout(rest)

    def note_end(self, cid: int) -> None:
        """Core ``cid`` finished a piece of the phase's work now (for the recorded phase timing)."""
        if self.phases is not None:
            self.core_end[cid] = max(int(self.env.now), self.core_end.get(cid, 0))

    def run_phase(self, items: dict[int, list], label: str = "step"):
        """SimPy process: one phase, ``items`` per core (``(group, spikes or None)`` each);
        returns when every evaluation is done and every message it emitted is integrated."""
        n = sum(len(v) for v in items.values())
        if n == 0:
            return
        phase = Phase(self.env, n)
        start = int(self.env.now)
        self.core_end = {}
        links0 = {k: self.noc.stats[k].copy() for k in ("busy_cycles", "stall_cycles")}
        for cid, core in self.cores.items():
            core.gate_open = False
            self.env.process(core.run_phase(phase, items.get(cid, [])))
        yield phase.done
        for core in self.cores.values():
            core.gate_open = False
            core.phase = None
        if self.phases is not None:
            self.phases.append(
                {
                    "frame": self.frame,
                    "phase": label,
                    "start": start,
                    "end": int(self.env.now),
                    "core_end": dict(self.core_end),
                    "link_busy": self.noc.stats["busy_cycles"] - links0["busy_cycles"],
                    "link_stall": self.noc.stats["stall_cycles"] - links0["stall_cycles"],
                }
            )
