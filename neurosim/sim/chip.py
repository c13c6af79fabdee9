"""The simulated chip for one (hardware, network, mapping): its cores, mesh, message tables and
per-sample state; it emits and routes messages and runs one sample under a mode's controller."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp
import simpy

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import (
    Mapping,
    check_mapping,
    mapping_loads,
    mapping_message_table,
    rows_countable,
    table_row_sums,
)
from neurosim.describe.network import Network, count_values
from neurosim.errors import SimulationError
from neurosim.sim import batched
from neurosim.sim.barrier import Phase
from neurosim.sim.block_cut import cut_plan, cut_store, store_blocks
from neurosim.sim.core import Core, Deliver, Evaluate, State
from neurosim.sim.counters import CoreCounters
from neurosim.sim.maxplus import lane_finish_times
from neurosim.sim.modes import ASYNCTORCH_DEFAULTS, CONTROLLERS
from neurosim.sim.noc.mesh import Mesh
from neurosim.sim.row_blocks import core_blocks, row_plan
from neurosim.sim.synapse_units import synapse_units

ROW_BLOCKS = True
"""Large networks whose cores each hold consecutive neurons of one population: the cores read the
projections' rows in place (:mod:`neurosim.sim.row_blocks`) instead of a store of their own
(tests set it False to compare the two)."""


class Chip:
    """The simulated chip for one (hardware, network, mapping)."""

    def __init__(self, hw: HardwareSpec, net: Network, mapping: Mapping):
        check_mapping(net, hw, mapping)
        self.hw, self.net, self.mapping = hw, net, mapping
        self.mesh = Mesh(hw)
        core_of = mapping.core_of
        self.counters = CoreCounters(hw.n_cores)
        self.state = State(net.n_neurons, net.max_delay)
        # weights by (delivery delay in frames, through the delay ring buffer): the ring holds the
        # synapses of projections that declare a delay (recurrent ones of delay 0 take the next
        # frame's accumulator, free as ever); every core's incoming blocks cut from them at once
        self.ring_target = net.ring_targets()  # neurons reading a ring slot
        order = np.argsort(core_of, kind="stable")  # neurons core by core, in index order
        per_core = np.bincount(core_of, minlength=hw.n_cores)
        ends = np.cumsum(per_core)
        local_of = np.empty(net.n_neurons, np.int32)  # each neuron's position among its core's
        first_of_core = np.repeat(ends - per_core, per_core).astype(np.int32)
        local_of[order] = np.arange(net.n_neurons, dtype=np.int32) - first_of_core
        self.incoming: dict[int, list] = {int(c): [] for c in mapping.used_cores}
        plan = cut_plan(net)  # large networks: straight from the projections, no global matrix
        rows = row_plan(net, plan, core_of, order, per_core) if ROW_BLOCKS else None
        if rows is not None:  # every core reads the projections' rows in place: no copy
            for cid in self.incoming:
                self.incoming[cid] = core_blocks(net, rows, int(order[ends[cid] - per_core[cid]]), int(per_core[cid]))
        elif plan is None:
            for key, w in net.weights_by_delay_and_ring().items():
                if w.nnz:
                    self._cut_blocks(key, w, core_of, per_core, local_of)
        else:
            store_counts = None  # one key holds every projection: the mapping's loads count its synapses and rows
            if len(plan) == 1:
                loads = mapping_loads(net, mapping, hw.n_cores)
                store_counts = loads["synapses"], loads["axons"]
            for key, prs in plan.items():
                if any(pr.n_synapses for pr in prs):
                    store = cut_store(net, prs, core_of, local_of, hw.n_cores, store_counts)
                    self._cut_store(key, store, per_core)
                    del store
        self.cores = {int(c): Core(int(c), order[ends[c] - per_core[c] : ends[c]], self) for c in mapping.used_cores}
        del self.incoming
        # per core and frame: the extended model's extra operations (counted once per frame in
        # async modes; sync mode counts them in each population's update pass)
        c = hw.core
        self.extra_ops_per_core = {
            op: np.zeros(hw.n_cores, np.int64) for op in ("synaptic_current", "delay_read", "membrane_read")
        }
        for cid, core in self.cores.items():
            for counts in core.extra_ops.values():
                for op, k in counts.items():
                    self.extra_ops_per_core[op][cid] += k
        x = self.extra_ops_per_core
        self.leak_extra_cycles = (
            x["synaptic_current"] * c.latency_synaptic_current_cycles + x["delay_read"] * c.latency_delay_read_cycles
        )
        self.readout_cycles = x["membrane_read"] * c.latency_membrane_read_cycles
        self.tiles_in_use = int(np.unique(self.mesh.tile_of_core[mapping.used_cores]).size)
        # messages: one per (spiking neuron, destination core), with the synapses reached there;
        # large networks on row blocks: every message from the projections' rows, no table
        self._rows = rows_countable(net) if rows is not None else None
        self._row_cores: dict[int, tuple | None] = {}  # source population -> its projection's rows and target cores
        if self._rows is None:
            self.synops_of = table_row_sums(self.dest)  # per spiking neuron
        else:  # disjoint projections, one a source population: the table's row sums
            self.synops_of = np.zeros(net.n_neurons, np.int64)
            for pr in net.projections:
                self.synops_of[net.span(pr.source)] += np.diff(pr.weights.indptr)
        self.synapse_units = synapse_units(net, hw, core_of, lambda: self.dest)  # per-projection synop figures
        if self.synapse_units is not None:
            self.synapse_units.add_counters(self.counters.ops)
        self.phase_order = [net.index[p.name] for p in net.populations]
        self.cores_of_group = {g: [c for c in self.cores.values() if g in c.groups] for g in self.phase_order}
        self.input_group = net.index[net.input]
        self.output_group = net.index[net.output]
        self.input_offset = int(net.offsets[self.input_group])
        self.out_span = net.span(net.output)
        self.phase: Phase | None = None
        self._outbox: list = []
        self.is_lif = np.ones(net.n_neurons, bool)
        self.is_lif[net.span(net.input)] = False
        self.lif_per_core = np.bincount(core_of[self.is_lif], minlength=hw.n_cores)
        # async modes: each core's leak pass at a frame's start (idle updates of its LIF neurons,
        # synaptic-current updates and delay-slot reads)
        self.leak_cycles = (
            self.lif_per_core * hw.core.latency_neuron_update_idle_cycles + self.leak_extra_cycles
        ).astype(np.int64)
        self.options: dict = {}
        self.sample_index = 0
        self.phases: list[dict] | None = None  # per-phase timing of a recorded sample
        self.core_end: dict[int, int] = {}
        self.multicast = hw.router.delivery == "multicast"
        self.fast_noc = not hw.router.contention and not self.multicast
        self.noc_keep_state = False

    @cached_property
    def dest(self) -> sp.csr_array:
        """The message table (:func:`neurosim.describe.mapping.message_table`: per source neuron its
        destination cores and the synapses there), built on first use: a large network whose
        messages come from its rows needs none."""
        return mapping_message_table(self.net, self.mapping, self.hw.n_cores)

    def _cut_blocks(self, key: tuple[int, bool], w: sp.csr_array, core_of, counts, local_of) -> None:
        """Cut the global weights ``w`` (CSR by source) into every core's incoming block, all cores
        at once: the synapses sorted by target core (stable, so by source then target within a
        core); per core its distinct sources (sorted, the block's rows), the block ``[row, neuron
        of the core]`` (views of the sorted arrays), the delivery delay and, for ring projections,
        the synapses per row."""
        delay, ring = key
        n, n_cores = self.net.n_neurons, self.hw.n_cores
        core_key = core_of.astype(np.uint16 if n_cores <= 1 << 16 else np.int32)[w.indices]
        bounds = np.concatenate(([0], np.cumsum(count_values(core_key, n_cores))))
        perm = np.argsort(core_key, kind="stable")  # a radix sort for 16-bit keys
        del core_key
        src_t = np.int32 if n < np.iinfo(np.int32).max else np.int64
        data = w.data[perm]
        cols = w.indices[perm]
        src = np.repeat(np.arange(n, dtype=src_t), np.diff(w.indptr))[perm]  # source of each sorted synapse
        del perm
        cols = local_of[cols]  # each synapse's target neuron, numbered within its core
        # a row starts where the source changes or a core starts
        starts = np.ones(src.size, bool)
        np.not_equal(src[1:], src[:-1], out=starts[1:])
        starts[bounds[:-1][bounds[:-1] < src.size]] = True
        row_at = np.flatnonzero(starts)  # position of every row's first synapse
        del starts
        sources = src[row_at]
        del src
        first_row = np.searchsorted(row_at, bounds)  # each core's first row
        ptr_t = np.int32 if w.nnz < np.iinfo(np.int32).max else np.int64
        for c, blocks in self.incoming.items():
            a, b = int(bounds[c]), int(bounds[c + 1])
            if a == b:
                continue
            r0, r1 = int(first_row[c]), int(first_row[c + 1])
            row_ptr = np.empty(r1 - r0 + 1, ptr_t)
            row_ptr[:-1] = row_at[r0:r1] - a
            row_ptr[-1] = b - a
            sub = sp.csr_array((data[a:b], cols[a:b], row_ptr), shape=(r1 - r0, int(counts[c])))
            ring_syn = np.diff(row_ptr).astype(np.int64) if ring else None
            blocks.append((sources[r0:r1], sub, delay, ring_syn))

    def _cut_store(self, key: tuple[int, bool], store: tuple, counts) -> None:
        """Every core's incoming block of one key as views of its store (:func:`cut_store`: the
        same blocks :meth:`_cut_blocks` cuts from the global weights)."""
        delay, ring = key
        for c, sources, sub in store_blocks(store, counts, self.incoming):
            ring_syn = np.diff(sub.indptr).astype(np.int64) if ring else None
            self.incoming[c].append((sources, sub, delay, ring_syn))

    def configure(
        self,
        *,
        mode: str = "sync",
        scope: str = "global",
        policy: str = "fifo",
        group_size: int = 8,
        max_steps: int | None = None,
        stop_on_output: int | None = None,
        seed: int = 0,
        refrac_dropout: float = 0.0,
        stop_on_output_frame: int | None = None,
        prioritize_input: bool = True,
        momentum_noise: float = 0.0,
    ) -> None:
        """The execution options of the following samples (see :func:`neurosim.sim.engine.simulate`);
        ``max_steps`` defaults to the number of LIF neurons (plus the input channels with queued
        input), which never truncates a global-scope frame; with ``refrac_dropout`` to none."""
        n_in = self.net.by_name[self.net.input].size
        default_cap = None if refrac_dropout > 0 else int(self.is_lif.sum()) + (0 if prioritize_input else n_in)
        self.options = {
            "mode": mode,
            "scope": scope,
            "policy": policy,
            "group_size": int(group_size),
            "max_steps": default_cap if max_steps is None else int(max_steps),
            "stop_on_output": stop_on_output,
            "seed": int(seed),
        }
        asynctorch = {  # recorded only when set (docs/asynctorch.md)
            "refrac_dropout": float(refrac_dropout),
            "stop_on_output_frame": stop_on_output_frame,
            "prioritize_input": bool(prioritize_input),
            "momentum_noise": float(momentum_noise),
        }
        self.options.update({k: v for k, v in asynctorch.items() if v != ASYNCTORCH_DEFAULTS[k]})

    # ---- per sample ---------------------------------------------------------------------------
    def reset(self) -> None:
        self.state.clear()
        self.readout_v: list[np.ndarray] = []  # output membranes after each frame
        self.frame_end: list[int] = []  # cycle at which each frame's work was done
        self._pairs: list[np.ndarray] = []  # tile-pair ids of every message (counted per sample)
        self.seq = 0
        self._group_counter = 0
        self.copies_sent = 0
        self.mesh.reset_counters()
        self.mesh.reset_state()
        self.counters_barrier = 0
        self.frame = 0
        self.spike_log: list[tuple[int, int, np.ndarray, np.ndarray]] = []  # frame, group, ids, cycle
        self.first_output: int | None = None
        self.steps_per_frame: list[int] = []
        self.timestepped = False  # deliveries take timestep mode's delays (set by its controller)
        self.step = 0  # the forward step now (set by the async controllers; docs/paper-metrics.md)
        self.spike_steps: list[int] = []  # the forward step of each spike_log entry

    def start_frame(self, frame: int):
        """Frame ``frame`` begins: the currents due now leave the ring for this frame's accumulator."""
        self.frame = frame
        self.step = 0
        self.state.release(frame)

    def frame_done(self, now: int) -> None:
        """The frame's work is done at cycle ``now``: keep the output membranes (the read-out of a
        non-spiking output) and the cycle."""
        self.readout_v.append(self.state.v[self.out_span].copy())
        self.frame_end.append(int(now))

    # ---- messages ----------------------------------------------------------------------------
    def emit(
        self, cid: int, group: int | np.ndarray, gids: np.ndarray, ready: np.ndarray, lat_out: int
    ) -> tuple[int, int]:
        """Messages of spiking neurons ``gids`` (ready at ``ready``) leave core ``cid`` through its
        output port: unicast, one message per destination core, each taking a lane of the port;
        multicast, one message per spike (copied in the routers). ``group`` is the spikes'
        population, or each spike's (one issue of a per-core scheduler: one pass through the port
        all the same). Returns the cycle the last one left and the number of port operations
        (``spike_out``)."""
        if not isinstance(group, np.ndarray):
            self._log_spikes(int(group), gids, ready)
        else:
            for g in np.unique(group):
                self._log_spikes(int(g), gids[group == g], ready[group == g])
        if self._rows is None:
            d = self.dest
            starts, stops = d.indptr[gids], d.indptr[gids + 1]
            counts = stops - starts
            n = int(counts.sum())
            if n == 0:
                return int(ready.max()), 0
            pos = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(n)
            dst, syn = d.indices[pos], d.data[pos].astype(np.int64)  # the table's counts are int32
        else:
            counts, dst, syn = self._messages_from_rows(gids)
            n = int(dst.size)
            if n == 0:
                return int(ready.max()), 0
        src = np.repeat(gids, counts)
        lanes = self.hw.core.issue_width
        if self.multicast:
            has = counts > 0
            sent_spike = lane_finish_times(ready[has], lat_out, lanes)
            sent = np.repeat(sent_spike, counts[has])
            ops = int(has.sum())
            groups = np.repeat(self._next_groups(ops), counts[has])
        else:
            sent = lane_finish_times(np.repeat(ready, counts), lat_out, lanes)
            ops, groups = n, None
        self.counters.ops["spike_out"][cid] += ops
        self.copies_sent += n
        self._outbox.append((np.full(n, cid, np.int64), src, dst, syn, sent, groups))
        return int(sent.max()), ops

    def _messages_from_rows(self, gids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The message table's rows of ``gids`` (in their order) from the projections' rows: per
        spike its entries, and per entry its destination core (ascending within a spike) and
        synapses there."""
        kernels, pop = self._rows, self.net.population_of
        assert kernels is not None
        if not gids.size:
            return np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64)
        cuts = np.flatnonzero(np.diff(pop[gids])) + 1
        parts = []
        for part in np.split(gids, cuts) if cuts.size else (gids,):
            g = int(pop[part[0]])
            if g not in self._row_cores:
                self._row_cores[g] = self._rows_of(g)
            hit = self._row_cores[g]
            if hit is None:  # no outgoing projection
                parts.append((np.zeros(part.size, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64)))
                continue
            w, cores, off = hit
            rows = part.astype(np.int64) - off
            room = int((w.indptr[rows + 1] - w.indptr[rows]).sum())
            idx, cnt = np.empty(room, cores.dtype), np.empty(room, np.int64)
            counts = np.empty(part.size, np.int64)
            buf = np.empty(room, cores.dtype)
            at = kernels["rows_messages"](rows, w.indptr, w.indices, cores, idx, cnt, counts, buf)
            parts.append((counts, idx[:at], cnt[:at]))
        if len(parts) == 1:
            return parts[0]
        return tuple(np.concatenate(a) for a in zip(*parts))  # type: ignore[return-value]

    def _rows_of(self, g: int) -> tuple | None:
        """Population ``g``'s outgoing projection's weights, the cores of its targets and the
        population's first id, or None without one."""
        name = self.net.populations[g].name
        for pr in self.net.projections:
            if pr.source == name:
                n_cores = self.hw.n_cores
                core_t = np.int32 if n_cores < np.iinfo(np.int32).max else np.int64
                cores = self.mapping.core_of[self.net.span(pr.target)].astype(core_t)
                return pr.weights, cores, int(self.net.offsets[g])
        return None

    def _log_spikes(self, group: int, gids: np.ndarray, ready: np.ndarray) -> None:
        self.spike_log.append((self.frame, group, gids, ready))
        self.spike_steps.append(self.step)
        if group == self.output_group and ready.size:
            t = int(ready.min())
            self.first_output = t if self.first_output is None else min(self.first_output, t)

    @property
    def has_outbox(self) -> bool:
        """Whether messages were emitted since the last :meth:`route_outbox`."""
        return bool(self._outbox)

    def next_seq(self) -> int:
        """A fresh sequence number (orders arrivals of equal cycle)."""
        self.seq += 1
        return self.seq

    def count_barrier(self) -> None:
        """One more barrier in the current sample."""
        self.counters_barrier += 1

    def record_core_end(self, cid: int, end: int) -> None:
        """Core ``cid`` is busy until ``end`` in the current phase (kept only for a recorded sample)."""
        if self.phases is not None:
            self.core_end[cid] = max(end, self.core_end.get(cid, end))

    def _next_groups(self, k: int) -> np.ndarray:
        self._group_counter += k
        return np.arange(self._group_counter - k, self._group_counter, dtype=np.int64)

    def route_outbox(self):
        """Route the messages emitted since the last call; yields one batch per destination
        core: ``(core, sources, synops, arrivals)`` sorted by arrival."""
        if not self._outbox:
            return
        parts = list(zip(*self._outbox))
        self._outbox.clear()
        src_core, src, dst, syn, sent = (np.concatenate(a) for a in parts[:5])
        mesh = self.mesh
        st, dt = mesh.tile_of_core[src_core], mesh.tile_of_core[dst]
        self._pairs.append(st * mesh.n_tiles + dt)
        if self.fast_noc:  # no contention modelled, unicast: a table look-up
            arrival = sent + mesh.tile_latency(st, dt)
        else:
            groups = np.concatenate(parts[5]) if self.multicast else None
            arrival = mesh.deliver(src_core, dst, sent, groups, keep_state=self.noc_keep_state)
        order = np.lexsort((src, arrival, dst))
        dst, src, syn, arrival = dst[order], src[order], syn[order], arrival[order]
        bounds = np.flatnonzero(np.diff(dst)) + 1
        starts = np.concatenate(([0], bounds)).tolist()
        stops = np.concatenate((bounds, [dst.size])).tolist()
        for a, b in zip(starts, stops):
            yield int(dst[a]), src[a:b], syn[a:b], arrival[a:b]

    def flush(self):
        """Route the phase's messages and hand each destination core its batch."""
        if self.phase is None:
            raise SimulationError("messages flushed outside a phase")
        batches = list(self.route_outbox())
        self.phase.add_items(len(batches))
        for dst, src, syn, arrival in batches:
            self.cores[dst].enqueue(Deliver(src, syn, arrival), self.phase)

    def run_phase(self, env: simpy.Environment, group: int, frame_input: np.ndarray):
        """Sync mode: every core holding ``group`` evaluates it (an input group emits the frame's
        stimulus spikes), then the messages are delivered; returns when all work is done."""
        items = []
        for core in self.cores_of_group[group]:
            if group == self.input_group:  # the stimulus spikes of this core's input neurons
                ix = core.groups[group]
                local = ix if isinstance(ix, np.ndarray) else np.arange(ix.start, ix.stop)
                k = frame_input[local - self.input_offset].astype(np.int64)  # event counts: k messages
                items.append((core, Evaluate(group, np.repeat(local, k))))
            else:
                items.append((core, Evaluate(group)))
        yield from self._run_items(env, items, self.net.populations[group].name)

    def run_emission(self, env: simpy.Environment, gids: np.ndarray):
        """Async mode: the neurons ``gids`` send their spikes now (each from its own core)."""
        if gids.size == 0:
            return
        key = self.mapping.core_of[gids] * len(self.phase_order) + self.net.population_of[gids]
        order = np.argsort(key, kind="stable")
        gids, key = gids[order], key[order]
        cuts = np.flatnonzero(np.diff(key)) + 1
        items = [
            (self.cores[int(k // len(self.phase_order))], Evaluate(int(k % len(self.phase_order)), part))
            for part, k in zip(np.split(gids, cuts), key[np.concatenate(([0], cuts))])
        ]
        yield from self._run_items(env, items)

    def run_items(self, env: simpy.Environment, items: list, label: str = "step"):
        """Timestep mode: one phase of the work items ``(core, Evaluate)`` given (every core's
        whole update pass), their messages routed and delivered; returns when all work is done."""
        yield from self._run_items(env, items, label)

    def _run_items(self, env, items, label: str = "step"):
        """One phase: the evaluations ``items`` run, then their messages are routed and
        delivered; returns when the sealed phase has no work left (see :class:`Phase`)."""
        phase = self.phase = Phase(env, len(items))
        start = env.now
        if self.phases is not None:
            self.core_end = {}
            links0 = {k: self.mesh.counters[k].copy() for k in ("busy_cycles", "stall_cycles")}
        for core, item in items:
            core.enqueue(item, phase)
        yield phase.all_evaluated
        self.flush()
        phase.seal()  # every delivery of the phase is registered: now it may end
        yield phase.done
        if self.phases is not None:  # for the critical path of the recorded sample
            self.phases.append(
                {
                    "frame": self.frame,
                    "phase": label,
                    "start": start,
                    "end": env.now,
                    "core_end": dict(self.core_end),
                    "link_busy": self.mesh.counters["busy_cycles"] - links0["busy_cycles"],
                    "link_stall": self.mesh.counters["stall_cycles"] - links0["stall_cycles"],
                }
            )

    def end_of_frame(self, env: simpy.Environment, start: int):
        """Wait out the rest of a fixed frame period (``chip.frame_period_cycles``), if any."""
        rest = self.hw.chip.frame_period_cycles - (env.now - start)
        if rest > 0:
            yield env.timeout(rest)

    def leak_pass(self, env: simpy.Environment):
        """Async mode: at a frame's start each core leaks all its neurons (idle-update latency;
        plus the synaptic-current updates of cuba neurons and the delay-slot reads)."""
        busy = self.leak_cycles
        self.counters.busy_cycles += busy
        if busy.max() > 0:
            yield env.timeout(int(busy.max()))

    def readout_pass(self, env: simpy.Environment):
        """Async mode: at a frame's end the cores holding non-spiking output neurons read their
        membranes (``latency_membrane_read_cycles`` each)."""
        busy = self.readout_cycles
        if busy.max() > 0:
            self.counters.busy_cycles += busy
            yield env.timeout(int(busy.max()))

    # ---- one sample ----------------------------------------------------------------------------
    def run_sample(self, stimulus: np.ndarray, index: int = 0, record_phases: bool = False) -> simpy.Environment:
        self.reset()
        self.phases = [] if record_phases else None
        self.sample_index = index
        key = self.options.get("mode", "sync"), self.options.get("scope", "global")
        self.noc_keep_state = key == ("async", "core")  # links stay busy across a core's issues
        if batched.applies(self, key[0]):  # every phase for all its cores at once, same results
            env = simpy.Environment(initial_time=batched.run_sample(self, stimulus, key[0]))
        else:
            env = simpy.Environment()
            for core in self.cores.values():
                core.start(env, serve=key != ("async", "core"))
            env.run(env.process(CONTROLLERS[key](env, self, stimulus)))
        self.tile_pairs = self._tile_pairs()
        return env

    def _tile_pairs(self) -> sp.csr_array:
        """Messages per (source tile, destination tile) of the sample, as a sparse matrix."""
        n = self.mesh.n_tiles
        pairs = np.concatenate(self._pairs) if self._pairs else np.zeros(0, np.int64)
        if n * n <= max(1 << 16, 4 * pairs.size):  # a count per pair: cheaper than sorting
            counts = np.bincount(pairs, minlength=n * n)
            ids = np.flatnonzero(counts)
            counts = counts[ids]
        else:
            ids, counts = np.unique(pairs, return_counts=True)
        return sp.coo_array((counts, (ids // n, ids % n)), shape=(n, n)).tocsr()

    def noc_ops(self) -> dict[str, int]:
        """Hops by kind and local deliveries of the current sample."""
        if self.fast_noc:
            return self.mesh.hop_counts(self.tile_pairs)
        return self.mesh.op_counts()
