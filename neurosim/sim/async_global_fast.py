"""A batched send step of global async mode: the whole step for all its cores at once.

One step of :func:`neurosim.sim.async_global.async_global_controller` is a phase whose sources
are the chosen neurons: the per-core path builds one SimPy work item per (core, population),
runs the cores' :meth:`~neurosim.sim.core.Core.evaluate` and :meth:`~neurosim.sim.core.Core.deliver`
and routes the messages in between. This module computes the same phase with compiled loops
(:mod:`neurosim.sim.async_global_kernels`) over the chip's message table (``Chip.dest``) and its
synapses grouped by table entry: same spikes, spike log, counters (per core, per link),
cycles, phase records and energy (tests/sim/test_async_global_fast.py compares the two).

* each chosen core sends from the step's start ``t0``: its spikes ready at ``t0`` (one by one,
  ``latency_spike_fired_cycles`` apart, for neurons), its messages through its output port;
* the messages cross the NoC (a table look-up without contention, else :meth:`Mesh.deliver`
  with the messages in the order the cores emitted them: by core, then neuron, then entry);
* each receiving core serves its messages in (arrival, source) order from the later of ``t0``
  and the end of its own sends; the currents are summed per target in that order (float32, as
  the per-core path sums its block rows), then added to the accumulator or the ring slot;
* the step ends when the last core is done.

After the step only the neurons that received current (and, with ``refrac_dropout``, those
that crossed in the step before and stayed non-refractory: the only others whose threshold
check can change) integrate and check their thresholds, in index order: every other neuron's
check is a no-op (no current, a membrane below threshold or a refractory flag since its last
check). Step 0 of a frame checks every neuron.

A step where a core holds two work items (neurons of two of its populations chosen together)
runs on the per-core path, as does every step without numba (the ``fast`` extra).

Whole frames (:meth:`FastSteps.run_frame`): with fifo or momentum (no noise), no refractory
dropout, no early stop, the contention-free unicast NoC, one population per core and no phase
records, the controller's loop itself (the scheduler's choice, the step, the checks) runs in one
compiled call per frame; the other cases go step by step.

Float32 sums are those of the per-core path: per receiving core and delay class the weights of
its messages in service order, one after the other (:func:`neurosim.sim.core.row_sums`). The
spike log holds one entry per step and
run of work items of one population (the per-core path: one per item): the same spikes, steps
and cycles in the same order.
"""

from __future__ import annotations

import weakref

import numpy as np

from neurosim import neuron
from neurosim.sim import async_global_kernels as kernels
from neurosim.sim.core import delivery_delay

#: global async steps run batched where they can (tests set it False to run the per-core path)
ENABLED = True

_FAST: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def prepare(chip) -> FastSteps | None:
    """The batched steps of ``chip``, fresh for a sample; None when they are off (``ENABLED``) or
    numba is not installed."""
    if not ENABLED or not kernels.AVAILABLE:
        return None
    fast = tables_of(chip)
    fast.new_sample()
    return fast


def tables_of(chip) -> FastSteps:
    """The :class:`FastSteps` of ``chip`` (built once, kept while the chip lives; the per-core
    frames of :mod:`neurosim.sim.async_core_frames` read the same tables)."""
    fast = _FAST.get(chip)
    if fast is None:
        fast = _FAST[chip] = FastSteps(chip)
    return fast


class FastSteps:
    """Per chip: the tables and scratch arrays of the batched steps, and per sample the current
    count of each core's work (``tally``, added to the chip's counters at each frame's end)."""

    def __init__(self, chip):
        self.chip = chip
        net, hw, mesh = chip.net, chip.hw, chip.mesh
        n, nc, hc = net.n_neurons, hw.n_cores, hw.core
        i64 = lambda a: np.ascontiguousarray(a, np.int64)  # noqa: E731
        self.fns = kernels.compiled()
        self.core_of = i64(chip.mapping.core_of)
        self.pop_of = i64(net.population_of)
        self.n_pop = len(chip.phase_order)
        # the message table (chip.dest: per source neuron its destination cores), per entry
        d = chip.dest
        self.indptr, self.e_dst, self.e_syn = i64(d.indptr), i64(d.indices), i64(d.data)
        self.e_src = np.repeat(np.arange(n, dtype=np.int64), np.diff(self.indptr))
        st, dt = mesh.tile_of_core[self.core_of[self.e_src]], mesh.tile_of_core[self.e_dst]
        self.e_pair = st.astype(np.int64) * mesh.n_tiles + dt
        self.e_lat = i64(mesh.tile_latency(st, dt)) if chip.fast_noc else None  # contention-free unicast
        # per delay class (in the chip's key order): its delay and, per entry, its synapses
        # first..stop of (tgt, w), all classes in one pair of arrays
        classes = [(k, m) for k, m in net.weights_by_delay_and_ring().items() if m.nnz]
        n_e = self.indptr[-1]
        self.cls_delay = np.array([delivery_delay(k[0], k[1]) for k, _ in classes], np.int64)
        self.cls_first = np.zeros((len(classes), n_e), np.int64)
        self.cls_stop = np.zeros((len(classes), n_e), np.int64)
        self.cls_contig = np.zeros((len(classes), n_e), bool)
        tgts, ws, off = [], [], 0
        ring = np.zeros(n_e, np.int64)  # synapses through the delay ring buffer per entry
        for c, ((_, through_ring), m) in enumerate(classes):
            tgt, w = self._by_entry(m, c)
            self.cls_first[c] += off
            self.cls_stop[c] += off
            if through_ring:
                ring += self.cls_stop[c] - self.cls_first[c]
            tgts.append(tgt)
            ws.append(w)
            off += tgt.size
        # one class: the weights' own arrays where they are grouped already (no copy); the targets
        # keep the CSR's index type (int32 below 2**31 neurons)
        join = lambda parts, dt: parts[0] if len(parts) == 1 else np.concatenate(parts).astype(dt)  # noqa: E731
        self.tgt = np.ascontiguousarray(join(tgts, np.int64)) if tgts else np.zeros(0, np.int64)
        self.w = np.ascontiguousarray(join(ws, neuron.DTYPE), neuron.DTYPE) if ws else np.zeros(0, neuron.DTYPE)
        self.ring = ring if ring.any() else np.zeros(0, np.int64)  # empty: no delay-ring writes
        units = chip.synapse_units  # per-projection synop latencies (neurosim.sim.synapse_units)
        syn_cycles = hc.latency_synop_cycles * self.e_syn if units is None else units.cycles
        self.e_cost = i64(hc.latency_message_in_cycles + syn_cycles + hc.latency_delay_write_cycles * ring)
        self.single_item = all(len(c.groups) == 1 for c in chip.cores.values())  # one work item per core and step
        p = net.params
        self.params = tuple(
            np.ascontiguousarray(getattr(p, k))
            for k in (
                "threshold",
                "v_reset",
                "subtract",
                "resets",
                "spiking",
                "fire_equal",
                "delayed_reset",
                "cuba",
                "current_lag",
            )
        )
        self.resets_now = neuron.resets_now(p)
        self.base_of_core = np.full(chip.hw.n_cores, -1, np.int64)
        self.tally = np.zeros((kernels.N_TALLY, chip.hw.n_cores), np.int64)
        # every core's neurons, ascending (their currents are added core by core); whether each
        # core's are consecutive ids (then the receiving cores in order give sorted neurons)
        nc = chip.hw.n_cores
        self.core_nodes = i64(np.argsort(chip.mapping.core_of, kind="stable"))
        self.core_ptr = i64(np.concatenate(([0], np.cumsum(np.bincount(chip.mapping.core_of, minlength=nc)))))
        lo = self.core_nodes[np.minimum(self.core_ptr[:-1], max(n - 1, 0))]
        hi = self.core_nodes[np.maximum(self.core_ptr[1:] - 1, 0)]
        size = np.diff(self.core_ptr)
        self.core_lo = i64(np.where(size > 0, lo, 0))
        self.ranges = bool(np.all((size == 0) | (hi - lo + 1 == size)))
        self.tmp = np.zeros(n, neuron.DTYPE)
        self.mark = np.zeros(nc, bool)
        self.tmark = np.zeros(nc, bool)
        self.buf = np.zeros(nc, np.int64)
        self.touched = np.zeros(nc, np.int64)  # the cores whose neurons took current this step
        self.n_touched = 0
        self.carry = np.zeros(0, np.int64)

    def _by_entry(self, m, c: int) -> tuple[np.ndarray, np.ndarray]:
        """The synapses of delay class ``c`` (global weights ``m``, CSR by source) grouped by
        message-table entry: fills the class's ``first``/``stop``/``contig`` rows; returns the
        targets and weights in that order (the CSR's own where they are grouped already)."""
        fill = (self.cls_first[c], self.cls_stop[c], self.cls_contig[c])
        indptr = np.ascontiguousarray(m.indptr, np.int64)
        indices = m.indices if m.indices.dtype in (np.int32, np.int64) else m.indices.astype(np.int64)
        indices = np.ascontiguousarray(indices)
        if self.fns[7](indptr, indices, self.core_of, self.indptr, self.e_dst, *fill):
            return indices, np.asarray(m.data, neuron.DTYPE)
        # not grouped by core within a source: sort each source's synapses by core (stable)
        src = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(indptr))
        order = np.lexsort((self.core_of[indices], src))
        for a in fill:
            a[:] = 0
        if not self.fns[7](indptr, indices[order], self.core_of, self.indptr, self.e_dst, *fill):
            raise AssertionError("synapses sorted by (source, core) must group by entry")  # pragma: no cover
        return indices[order], np.asarray(m.data, neuron.DTYPE)[order]

    def new_sample(self) -> None:
        self.tally[:] = 0
        self.tmark[self.touched[: self.n_touched]] = False
        self.n_touched = 0
        self.carry = np.zeros(0, np.int64)

    # ---- one step ------------------------------------------------------------------------------
    def phase(self, gids: np.ndarray, t0: int) -> int | None:
        """The spikes ``gids`` (ascending) are sent at ``t0``: emitted, routed, served and their
        currents summed. Returns the cycle the step's work is done, or None (nothing done) when a
        core would hold two work items."""
        chip, tb = self.chip, self
        hc, mesh = chip.hw.core, chip.mesh
        step_free, emit, serve, currents = self.fns[:4]
        record = chip.phases is not None
        if record:
            links0 = {k: mesh.counters[k].copy() for k in ("busy_cycles", "stall_cycles")}
        gids = np.ascontiguousarray(gids, np.int64)
        args = (gids, self.core_of, self.pop_of, self.n_pop, chip.input_group, tb.indptr, hc.issue_width)
        lat = (hc.latency_spike_out_cycles, hc.latency_spike_fired_cycles)
        if self.e_lat is not None:
            ok, g, ready, icore, ipop, ifirst, iend, spos, dcores, dends, end = step_free(
                *args, *lat, t0, self.tally, self.e_lat, tb.e_dst, tb.e_src, tb.e_cost, tb.e_syn, self.ring,
                self.base_of_core,
            )  # fmt: skip
            if not ok:
                return None
        else:
            ok, g, ready, icore, ipop, ifirst, iend, pos, msg_item, sent, spike_ix = emit(
                *args, *lat, chip.multicast, t0, self.tally
            )
            if not ok:
                return None
            groups = None
            if chip.multicast and pos.size:  # one group per spike with a destination, in emission order
                groups = chip._next_groups(int(spike_ix[-1]) + 1)[spike_ix]
            dst = tb.e_dst[pos]
            arrival = mesh.deliver(icore[msg_item], dst, sent, groups, keep_state=chip.noc_keep_state)
            base = self.base_of_core
            base[icore] = iend
            spos, dcores, dends = serve(
                dst, arrival, tb.e_src[pos], pos, tb.e_cost, tb.e_syn, self.ring, base, t0, self.tally
            )
            base[icore] = -1
            end = max(int(iend.max()), int(dends.max()) if dends.size else t0)
        self._log(g, ready, ipop, ifirst)
        if spos.size:
            chip.copies_sent += spos.size
            chip._pairs.append(tb.e_pair[spos])
            if chip.synapse_units is not None:  # synop@<unit> per receiving core
                chip.synapse_units.book(chip.counters.ops, spos, tb.e_dst[spos])
            st = chip.state
            self.n_touched = currents(
                spos, self.cls_delay, self.cls_first, self.cls_stop, self.cls_contig, self.tgt, self.w, tb.e_dst,
                self.tmp, st.acc, st.ring, chip.frame, self.core_ptr, self.core_nodes, self.mark, self.buf,
                self.touched, self.tmark, self.n_touched,
            )  # fmt: skip
        if record:
            core_end = {int(c): int(e) for c, e in zip(icore.tolist(), iend.tolist())}
            for c, e in zip(dcores.tolist(), dends.tolist()):
                core_end[c] = max(e, core_end.get(c, e))
            chip.phases.append(
                {
                    "frame": chip.frame,
                    "phase": "step",
                    "start": t0,
                    "end": int(end),
                    "core_end": core_end,
                    "link_busy": mesh.counters["busy_cycles"] - links0["busy_cycles"],
                    "link_stall": mesh.counters["stall_cycles"] - links0["stall_cycles"],
                }
            )
        return int(end)

    def _log(self, g: np.ndarray, ready: np.ndarray, ipop: np.ndarray, ifirst: np.ndarray) -> None:
        """The step's spikes into the spike log: one entry per run of work items of one population
        (the per-core path writes one per item: the same spikes, frames, steps and cycles in the
        same order)."""
        chip = self.chip
        pops = ipop.tolist()
        bounds = ifirst.tolist()
        out = chip.output_group
        a = 0
        for k, pop in enumerate(pops):
            if k + 1 < len(pops) and pops[k + 1] == pop:
                continue
            b = bounds[k + 1]
            chip.spike_log.append((chip.frame, pop, g[a:b], ready[a:b]))
            chip.spike_steps.append(chip.step)
            if pop == out:
                t = int(ready[a:b].min())
                chip.first_output = t if chip.first_output is None else min(chip.first_output, t)
            a = b

    # ---- whole frames --------------------------------------------------------------------------
    def frame_applies(self) -> bool:
        """Whether the send steps of a frame run in one compiled loop (:meth:`run_frame`): fifo or
        momentum without noise, at most 64 per step, no refractory dropout, no early stop, the
        contention-free unicast NoC, one work item per core, no phase records."""
        o, chip = self.chip.options, self.chip
        return (
            self.e_lat is not None
            and self.single_item
            and chip.phases is None
            and o["policy"] in ("fifo", "momentum")
            and not o.get("momentum_noise", 0.0)
            and not o.get("refrac_dropout", 0.0)
            and o["stop_on_output"] is None
            and o.get("stop_on_output_frame") is None
            and o["max_steps"] is not None
            and 1 <= o["group_size"] <= 64
        )

    def run_frame(self, ss, t0: int, stimulus: np.ndarray) -> tuple[int, int]:
        """Every step of the current frame after its start, from cycle ``t0``: step 0 sends the
        ``stimulus`` messages (none with queued input) and checks every neuron, then the send
        steps (the controller's loop in one compiled call,
        :func:`neurosim.sim.async_global_kernels._frame`); returns the send steps and the cycle
        the last one's work is done."""
        chip, tb, o = self.chip, self, self.chip.options
        hc, st = chip.hw.core, chip.state
        steps, end, ss.counter, ids, ready, ent_step, ent_pop, ent_first, pos, first_out = self.fns[5](
            o["policy"] == "fifo", o["group_size"], o["max_steps"], ss.ready, ss.value, ss.fired, ss.spiked_frame,
            ss.priority, ss.sequence, ss.counter, ss.refractory, ss.frozen, ss.frame_active,
            st.acc, st.v, st.i, st.pending, st.ring, chip.frame, *self.params,
            self.core_of, self.pop_of, self.n_pop, chip.input_group, chip.output_group, tb.indptr, hc.issue_width,
            hc.latency_spike_out_cycles, hc.latency_spike_fired_cycles, t0, self.tally,
            self.e_lat, tb.e_dst, tb.e_src, tb.e_cost, tb.e_syn, self.ring, self.base_of_core,
            self.cls_delay, self.cls_first, self.cls_stop, self.cls_contig, self.tgt, self.w,
            self.tmp, self.core_ptr, self.core_nodes, self.core_lo, self.ranges, self.mark, self.buf, self.touched,
            self.tmark, np.ascontiguousarray(stimulus, np.int64),
        )  # fmt: skip
        self.apply_frame(ids, ready, ent_step, ent_pop, ent_first, pos, first_out, steps)
        self.carry = np.zeros(0, np.int64)
        return int(steps), int(end)

    def apply_frame(self, ids, ready, ent_step, ent_pop, ent_first, pos, first_out, steps) -> None:
        """A compiled frame's results into the chip: its spike log (spikes ``ids`` ready at
        ``ready``; per entry its step, population and first spike), first output spike (-1:
        none), forward steps, and its messages (their table entries ``pos``)."""
        chip = self.chip
        frame, log = chip.frame, chip.spike_log
        b = ent_first.tolist()
        for k, pop in enumerate(ent_pop.tolist()):
            log.append((frame, pop, ids[b[k] : b[k + 1]], ready[b[k] : b[k + 1]]))
        chip.spike_steps.extend(ent_step.tolist())
        if first_out >= 0:
            chip.first_output = int(first_out) if chip.first_output is None else min(chip.first_output, int(first_out))
        chip.step = int(steps)
        if pos.size:
            chip.copies_sent += pos.size
            chip._pairs.append(self.e_pair[pos])
            if chip.synapse_units is not None:  # synop@<unit> per receiving core
                chip.synapse_units.book(chip.counters.ops, pos, self.e_dst[pos])

    # ---- threshold checks ----------------------------------------------------------------------
    def check(self, ss) -> np.ndarray:
        """After a batched step: the neurons that received current (and last step's crossings
        that stayed non-refractory) integrate it and check their thresholds
        (:func:`neurosim.sim.async_global.integrate_and_check` of just those). Returns the
        crossing ids."""
        ids = self.fns[6](
            self.touched,
            self.n_touched,
            self.tmark,
            self.core_lo,
            self.core_ptr,
            self.core_nodes,
            self.ranges,
            self.carry,
        )
        self.n_touched = 0
        st = self.chip.state
        crossed, v = self.fns[4](ids, st.acc, st.v, st.i, ss.frozen, ss.refractory, ss.frame_active, *self.params)
        if crossed.size:
            ss.crossed(crossed, v, self.resets_now[crossed])
            st.pending[crossed] |= self.params[6][crossed]
        self.checked(ss, crossed)
        return crossed

    def checked(self, ss, crossed: np.ndarray) -> None:
        """Every neuron's threshold was just checked (``crossed``: those that crossed): forget the
        step's touched neurons; keep the crossings that stayed non-refractory."""
        if self.n_touched:
            self.tmark[self.touched[: self.n_touched]] = False
            self.n_touched = 0
        self.carry = crossed[~ss.refractory[crossed]] if crossed.size else np.zeros(0, np.int64)

    def flush(self) -> None:
        """Add the tally of the steps so far to the chip's counters."""
        ctr, t = self.chip.counters, self.tally
        ctr.spikes += t[kernels.T_SPIKES]
        ctr.busy_cycles += t[kernels.T_BUSY]
        for op, row in (
            ("spike_out", kernels.T_SPIKE_OUT),
            ("message_in", kernels.T_MESSAGE_IN),
            ("synop", kernels.T_SYNOP),
            ("delay_write", kernels.T_DELAY_WRITE),
        ):
            ctr.ops[op] += t[row]
        t[:] = 0
