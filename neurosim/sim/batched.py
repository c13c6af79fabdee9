"""Batched ``sync`` and ``timestep`` phases: one phase's work for all its cores at once.

The same model as the per-core SimPy path (:class:`neurosim.sim.core.Core` work items run by
:func:`neurosim.sim.barrier.sync_controller` and :func:`neurosim.sim.timestep.timestep_controller`),
computed with whole-population numpy operations instead of one work item per core: same spikes,
counters (per core, per link), cycles and energy (tests/sim/test_batched_sync.py compares the two
on random networks in every NoC model).

Timing of a phase that opens at cycle ``t0`` (every core is idle then):

* every evaluating core runs its update pass from ``t0`` (neuron updates one after the other: a
  cumulative sum of latencies restarted per core), its spikes leave through its output port (a
  FIFO of ``issue_width`` lanes per core: :func:`lane_fifo`);
* the messages cross the NoC (the contention-free table look-up, or :meth:`Mesh.deliver` with the
  messages in the order the cores emitted them: by core, then neuron, then destination) and each
  receiving core serves its messages in (arrival, source) order from the later of ``t0`` and
  the end of its own evaluation (one FIFO per core: :func:`neurosim.sim.noc.timing.segmented_fifo`);
* the phase ends when the last core is done.

Currents: when every float32 partial sum of the weights into a neuron is exact (all weights on
a ``2**-q`` grid and each neuron's summed absolute fan-in below ``2**(24 - q)``: :func:`exact_sums`)
the sum does not depend on the order of the messages, and each phase adds the weight rows of the
spiking sources population by population (one product per source population and delay class).
Otherwise every target's current is summed in the order its core serves the messages, as the
per-core path does (``np.add.at``, sequential).

``timestep`` mode batches a step when every core holds one population (then every update pass
starts with the step); cores holding several populations run on the per-core path.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
import scipy.sparse as sp

from neurosim import neuron
from neurosim.errors import SimulationError
from neurosim.neuron import DTYPE
from neurosim.sim import batched_kernels as kernels
from neurosim.sim.batched_kernels import expand
from neurosim.sim.core import delivery_delay, pays_active_update, update_rule_state
from neurosim.sim.timestep import prepare_state

#: the batched path is used where it applies (tests set it False to run the per-core path)
ENABLED = True

_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def applies(chip, mode: str) -> bool:
    """Whether a sample of ``mode`` runs batched on ``chip``."""
    if not ENABLED or mode not in ("sync", "timestep"):
        return False
    return mode == "sync" or all(len(c.groups) == 1 for c in chip.cores.values())


def _grid_exponent(data: np.ndarray) -> int | None:
    """The least ``q`` with every value a multiple of ``2**-q`` (None: none up to 24): from each
    float32's exponent and lowest mantissa bit."""
    bits = np.asarray(data, DTYPE).view(np.int32)
    bits = bits[(bits & 0x7FFFFFFF) != 0]
    expo = (bits >> 23) & 0xFF
    if np.any(expo == 0xFF) or np.any(expo == 0):  # inf, nan or subnormal: no useful grid
        return None
    mant = (bits & 0x7FFFFF) | 0x800000
    q = int((150 - expo - (np.frexp((mant & -mant).astype(np.float64))[1] - 1)).max(initial=0))
    return q if q <= 24 else None


def exact_sums(net, multiplicity: int = 1) -> bool:
    """Whether every float32 sum of any subset of a neuron's incoming weights, each taken up to
    ``multiplicity`` times (spikes per source and frame), is exact: the weights are multiples of
    ``2**-q`` (some ``q <= 24``) and every neuron's summed absolute fan-in times ``multiplicity``
    is below ``2**(24 - q)``; then currents do not depend on the order of addition."""
    mats = [m for m in net.weights_by_delay_and_ring().values() if m.nnz]
    if not mats:
        return True
    q = max((_grid_exponent(m.data[:4096]) or 0) for m in mats)  # a guess from a few, checked on all
    scale = DTYPE(2.0**q)
    if not all(np.array_equal(t, np.trunc(t)) for t in (np.asarray(m.data, DTYPE) * scale for m in mats)):
        found = [_grid_exponent(m.data) for m in mats]
        qs = [x for x in found if x is not None]
        if len(qs) < len(found):
            return False
        q = max(qs)
    limit = 2.0 ** (24 - q) / max(int(multiplicity), 1)
    biggest = max(float(np.abs(m.data).max()) for m in mats)
    if biggest * float(net.fan_in.max()) < limit:  # a bound that needs no sum per neuron
        return True
    fan = np.zeros(net.n_neurons)
    for m in mats:
        fan += np.bincount(m.indices, weights=np.abs(m.data.astype(np.float64)), minlength=net.n_neurons)
    return bool(fan.max() < limit)


class Items:
    """One phase's evaluations: ``(core, population)`` pairs, each core at most once, in the
    order they are enqueued; their neurons concatenated item by item."""

    def __init__(self, chip, pairs: list[tuple[int, int]]):
        net = chip.net
        self.cores = np.array([c for c, _ in pairs], np.int64)
        self.group = np.array([g for _, g in pairs], np.int64)
        self.one_group = int(self.group[0]) if self.group.size and (self.group == self.group[0]).all() else None
        self.item_of_core = np.full(chip.hw.n_cores, -1, np.int64)
        self.item_of_core[self.cores] = np.arange(self.cores.size)
        lif, lif_items, inp, inp_items, extra = [], [], [], [], []
        self.extra_ops: dict[str, list] = {}
        for k, (cid, g) in enumerate(pairs):
            core = chip.cores[cid]
            ix = core.groups[g]
            ids: np.ndarray = np.arange(ix.start, ix.stop) if isinstance(ix, slice) else np.asarray(ix, np.int64)
            if g == chip.input_group:
                inp.append(ids)
                inp_items.append(np.full(ids.size, k, np.int64))
                continue
            lif.append(ids)
            lif_items.append(k)
            extra.append(core.extra_lat[g])
            for op, n in core.extra_ops[g].items():
                self.extra_ops.setdefault(op, []).append((cid, n))
        cat = lambda a, dt: np.concatenate(a).astype(dt) if a else np.zeros(0, dt)  # noqa: E731
        self.lif_ids = cat(lif, np.int64)
        self.lif_items = np.array(lif_items, np.int64)
        self.lif_sizes = np.array([a.size for a in lif], np.int64)
        self.lif_first: np.ndarray = np.concatenate(([0], np.cumsum(self.lif_sizes)[:-1])).astype(np.int64)
        self.lif_item_of = np.repeat(self.lif_items, self.lif_sizes)
        ids = self.lif_ids
        contiguous = ids.size and ids[-1] - ids[0] + 1 == ids.size and np.all(np.diff(ids) == 1)
        self.lif_index: slice | np.ndarray = slice(int(ids[0]), int(ids[-1]) + 1) if contiguous else ids
        self.params: Any = net.params.take(ids) if ids.size else None
        self.extra_lat = cat(extra, np.int64)
        self.extra_ops_at = {
            op: (np.array([c for c, _ in v]), np.array([n for _, n in v])) for op, v in self.extra_ops.items()
        }
        self.inp_ids = cat(inp, np.int64)
        self.inp_item_of = cat(inp_items, np.int64)
        self.inp_local = self.inp_ids - chip.input_offset


class Tables:
    """Per chip: the phases' items, the delay-ring writes per message-table entry, and the
    weights the currents are summed from."""

    def __init__(self, chip):
        net, nc = chip.net, chip.hw.n_cores
        self.sync_items = {g: Items(chip, [(c.cid, g) for c in chip.cores_of_group[g]]) for g in chip.phase_order}
        pairs = [(cid, g) for cid, core in chip.cores.items() for g in chip.phase_order if g in core.groups]
        self.step_items = Items(chip, pairs) if all(len(c.groups) == 1 for c in chip.cores.values()) else None
        d = chip.dest
        self.entry_key = np.repeat(np.arange(net.n_neurons, dtype=np.int64), np.diff(d.indptr)) * nc + d.indices
        ring = self._per_entry_counts(chip, net.declared_delay_weights)
        self.ring_of_entry = None if ring is None else np.ascontiguousarray(ring, np.int64)
        # per entry: the message's service cost at its core, its tile pair, its NoC latency
        hc, mesh = chip.hw.core, chip.mesh
        units = chip.synapse_units  # per-projection synop latencies (neurosim.sim.synapse_units)
        syn_cycles = hc.latency_synop_cycles * np.asarray(d.data, np.int64) if units is None else units.cycles
        cost = hc.latency_message_in_cycles + syn_cycles
        if self.ring_of_entry is not None:
            cost = cost + hc.latency_delay_write_cycles * self.ring_of_entry
        self.e_cost = np.ascontiguousarray(cost, np.int64)
        self.e_syn = np.ascontiguousarray(d.data, np.int64)
        self.e_dst = np.ascontiguousarray(d.indices, np.int64)
        self.e_src = np.repeat(np.arange(net.n_neurons, dtype=np.int64), np.diff(d.indptr))
        self.indptr = np.ascontiguousarray(d.indptr, np.int64)
        self.free_of_core = np.full(nc, -1, np.int64)  # per phase: the evaluating cores' ends
        st = mesh.tile_of_core[chip.mapping.core_of[np.repeat(np.arange(net.n_neurons), np.diff(d.indptr))]]
        dt = mesh.tile_of_core[d.indices]
        self.e_pair = st.astype(np.int64) * mesh.n_tiles + dt
        self.e_lat = np.asarray(mesh.tile_latency(st, dt), np.int64) if chip.fast_noc else None
        self.keys = [k for k, w in net.weights_by_delay_and_ring().items() if w.nnz]
        self.exact_by_count = {1: exact_sums(net)}  # by the most spikes of a source in a frame
        self.exact = self.exact_by_count[1]
        self.blocks: dict = {}  # (source population, key) -> (rows offset, weights, target columns)
        self.seq: dict = {}  # key -> (first, stop, targets, weights) per message-table entry
        self.tmp = np.zeros(net.n_neurons, DTYPE)

    def _per_entry_counts(self, chip, w: sp.csr_array) -> np.ndarray | None:
        """Synapses of ``w`` per message-table entry (source, destination core); None if none."""
        if w.nnz == 0:
            return None
        nc = chip.hw.n_cores
        key = np.repeat(np.arange(w.shape[0], dtype=np.int64), np.diff(w.indptr)) * nc + chip.mapping.core_of[w.indices]
        key.sort()
        return np.searchsorted(key, self.entry_key, "right") - np.searchsorted(key, self.entry_key, "left")

    def block(self, net, g: int, key):
        """The weights from population ``g`` of delay class ``key``: (first source, dense or CSR
        rows x target columns, target columns), or None when there are none."""
        hit = self.blocks.get((g, key), False)
        if hit is False:
            sl = net.span(net.populations[g].name)
            w = net.weights_by_delay_and_ring()[key][sl]
            used = np.zeros(net.n_neurons, bool)
            used[w.indices] = True
            cols = np.flatnonzero(used)  # the target columns, sorted
            hit = None
            if cols.size:
                lo, hi = int(cols[0]), int(cols[-1]) + 1
                if w.nnz >= 0.2 * w.shape[0] * cols.size:  # dense: the column span, then its used columns
                    dense = np.asarray(w[:, lo:hi].toarray(), DTYPE)
                    if cols.size < hi - lo:
                        dense = dense[:, cols - lo]
                    hit = (sl.start, np.ascontiguousarray(dense), slice(lo, hi) if cols.size == hi - lo else cols)
                else:
                    at = (np.cumsum(used) - 1)[w.indices]  # each synapse's column in the block
                    hit = (
                        sl.start,
                        sp.csr_array((np.asarray(w.data, DTYPE), at, w.indptr), (w.shape[0], cols.size)),
                        cols,
                    )
            self.blocks[(g, key)] = hit
        return hit

    def sequential(self, chip, key):
        """The synapses of delay class ``key`` grouped by message-table entry: per entry its
        range in (targets, weights)."""
        hit = self.seq.get(key)
        if hit is None:
            net, nc = chip.net, chip.hw.n_cores
            w = net.weights_by_delay_and_ring()[key]
            src = np.repeat(np.arange(net.n_neurons, dtype=np.int64), np.diff(w.indptr))
            k = src * nc + chip.mapping.core_of[w.indices]
            order = np.argsort(k, kind="stable")
            k = k[order]
            hit = (
                np.searchsorted(k, self.entry_key, "left"),
                np.searchsorted(k, self.entry_key, "right"),
                w.indices[order].astype(np.int64),
                np.asarray(w.data[order], DTYPE),
            )
            self.seq[key] = hit
        return hit


def tables(chip) -> Tables:
    t = _TABLES.get(chip)
    if t is None:
        t = _TABLES[chip] = Tables(chip)
    return t


def run_phase(chip, items: Items, t0: int, frame_input: np.ndarray, label: str, timestep: bool) -> int:
    """One phase opening at ``t0``: ``items`` evaluate, their messages are routed and delivered;
    returns the cycle its last work is done."""
    st, hc, ctr, mesh = chip.state, chip.hw.core, chip.counters, chip.mesh
    record = chip.phases is not None
    if record:
        links0 = {k: mesh.counters[k].copy() for k in ("busy_cycles", "stall_cycles")}
    n_items = items.cores.size
    end = np.full(n_items, t0, np.int64)
    busy = np.zeros(n_items, np.int64)
    parts = []
    if items.lif_ids.size:
        ix, p = items.lif_index, items.params
        current = st.acc[ix].copy()
        start = update_rule_state(hc.update_rule, st.v[ix], st.i[ix], p)
        s, st.v[ix], i, st.pending[ix] = neuron.step(st.v[ix], st.i[ix], st.pending[ix], current, p, hc.membrane_grid)
        st.i[ix] = i
        st.acc[ix] = 0
        active = pays_active_update(hc.update_rule, current != 0, s, i, start)
        cores = items.cores[items.lif_items]
        for op, (at, n) in items.extra_ops_at.items():
            ctr.ops[op][at] += n
        n_act, seg_sum, local, done = kernels.update_pass(
            active,
            s,
            items.extra_lat,
            (hc.latency_neuron_update_active_cycles, hc.latency_neuron_update_idle_cycles),
            hc.latency_spike_fired_cycles,
            items.lif_first,
            items.lif_sizes,
            t0,
        )
        ctr.ops["neuron_update_active"][cores] += n_act
        ctr.ops["neuron_update_idle"][cores] += items.lif_sizes - n_act
        end[items.lif_items] = t0 + seg_sum
        busy[items.lif_items] = seg_sum
        if local.size:
            parts.append((items.lif_ids[local], done, items.lif_item_of[local]))
    if items.inp_ids.size:
        fi = frame_input[items.inp_local]
        hit = np.flatnonzero(fi)
        if hit.size and fi.dtype != np.bool_:  # an event count k: k spike messages
            hit = np.repeat(hit, fi[hit].astype(np.int64))
        if hit.size:
            parts.append((items.inp_ids[hit], np.full(hit.size, t0, np.int64), items.inp_item_of[hit]))
    if len(parts) == 2:
        gids, ready, item = (np.concatenate(a) for a in zip(*parts))
        o = np.argsort(item, kind="stable")
        gids, ready, item = gids[o], ready[o], item[o]
    elif parts:
        gids, ready, item = parts[0]
    else:
        gids = np.zeros(0, np.int64)
    phase_end, delivered = t0, None
    if gids.size:
        phase_end, delivered = _emit_and_deliver(chip, items, gids, ready, item, end, busy, t0, timestep)
    ctr.busy_cycles[items.cores] += busy
    if record:
        _record(chip, items, end, delivered, t0, label, links0)
    return max(phase_end, int(end.max()) if n_items else t0)


def _emit_and_deliver(chip, items, gids, ready, item, end, busy, t0, timestep):
    """The spikes ``gids`` (ready at ``ready``, of item ``item``) leave their cores, cross the NoC
    and are integrated; updates ``end`` and ``busy`` of the items. Returns the last delivery's
    end and the receiving cores with the end of their deliveries (None without messages)."""
    ctr, mesh = chip.counters, chip.mesh
    lanes, lat_out = chip.hw.core.issue_width, chip.hw.core.latency_spike_out_cycles
    counts_item = np.bincount(item, minlength=items.cores.size)
    ctr.spikes[items.cores] += counts_item
    if items.one_group is not None:  # a sync phase: one population
        g = items.one_group
        if g != chip.input_group:  # the async modes count them in count_updates
            ctr.ops["spike_fired"][items.cores] += counts_item
        chip.spike_log.append((chip.frame, g, gids, ready))
        if g == chip.output_group:
            t = int(ready.min())
            chip.first_output = t if chip.first_output is None else min(chip.first_output, t)
    else:
        fired = counts_item.copy()
        fired[items.group == chip.input_group] = 0
        ctr.ops["spike_fired"][items.cores] += fired
        grp = items.group[item]
        cut = np.flatnonzero(grp[1:] != grp[:-1]) + 1
        for a, b in zip(np.concatenate(([0], cut)).tolist(), np.concatenate((cut, [gids.size])).tolist()):
            chip.spike_log.append((chip.frame, int(grp[a]), gids[a:b], ready[a:b]))
        is_out = grp == chip.output_group
        if is_out.any():
            t = int(ready[is_out].min())
            chip.first_output = t if chip.first_output is None else min(chip.first_output, t)
    tb = tables(chip)
    pos, msg_item, sent, ops, last = kernels.emit(
        gids, ready, item, tb.indptr, items.cores.size, lanes, lat_out, chip.multicast
    )
    n = pos.size
    if n == 0:
        return t0, None
    ctr.ops["spike_out"][items.cores] += ops
    chip.copies_sent += n
    np.maximum(end, last, out=end)
    busy += -(-ops // lanes) * lat_out
    # ---- the NoC
    dst = tb.e_dst[pos]
    chip._pairs.append(tb.e_pair[pos])
    if tb.e_lat is not None:  # contention-free unicast: a table look-up
        arrival = sent + tb.e_lat[pos]
    else:
        groups = None
        if chip.multicast:  # one group per spike with a destination, numbered in emission order
            first = np.ones(n, bool)
            first[1:] = tb.e_src[pos[1:]] != tb.e_src[pos[:-1]]
            groups = chip._next_groups(int(first.sum()))[np.cumsum(first) - 1]
        arrival = mesh.deliver(items.cores[msg_item], dst, sent, groups, keep_state=chip.noc_keep_state)
    # ---- deliveries: per core in (arrival, source) order, from the end of its evaluation
    free = tb.free_of_core
    free[items.cores] = end
    pos, dcores, n_msgs, syn, ring, dbusy, dend = kernels.deliver(
        dst, arrival, tb.e_src[pos], pos, tb.e_cost, tb.e_syn, tb.ring_of_entry, free, t0, chip.net.n_neurons
    )
    free[items.cores] = -1
    ctr.ops["message_in"][dcores] += n_msgs
    ctr.ops["synop"][dcores] += syn
    if chip.synapse_units is not None:  # synop@<unit> per receiving core
        chip.synapse_units.book(ctr.ops, pos, tb.e_dst[pos])
    if tb.ring_of_entry is not None:
        ctr.ops["delay_write"][dcores] += ring
    ctr.busy_cycles[dcores] += dbusy
    _currents(chip, tb, gids, pos, timestep, items.one_group)
    return int(dend.max()), (dcores, dend)


def _currents(chip, tb: Tables, gids, pos, timestep: bool, one_group: int | None) -> None:
    """Add the phase's synaptic currents to this frame's accumulator or the ring slots."""
    st, net = chip.state, chip.net
    targets = {}
    for key in tb.keys:
        delay = delivery_delay(key[0], key[1], timestep)
        targets[key] = st.acc if delay == 0 else st.slot(chip.frame, delay)
    if tb.exact:  # any order gives the same sums: population by population
        if one_group is not None:
            runs = [(one_group, 0, gids.size)]
        else:
            pop = net.population_of[gids]
            if np.any(pop[1:] < pop[:-1]):
                o = np.argsort(pop, kind="stable")
                gids, pop = gids[o], pop[o]
            cut = (np.flatnonzero(pop[1:] != pop[:-1]) + 1).tolist()
            runs = [(int(pop[a]), a, b) for a, b in zip([0, *cut], [*cut, gids.size])]
        for g, a, b in runs:
            for key in tb.keys:
                blk = tb.block(net, g, key)
                if blk is None:
                    continue
                first, w, cols = blk
                rows = gids[a:b] - first
                add = (
                    w[rows].sum(axis=0, dtype=DTYPE)
                    if isinstance(w, np.ndarray)
                    else np.asarray(w[rows].sum(axis=0), DTYPE).ravel()
                )
                targets[key][cols] += add
        return
    tmp = tb.tmp  # sequential: each target's current summed in its core's service order
    for key in tb.keys:
        first, stop, tgt, w = tb.sequential(chip, key)
        idx = expand(first[pos], stop[pos])
        if not idx.size:
            continue
        t, x = tgt[idx], w[idx]
        np.add.at(tmp, t, x)
        target = targets[key]
        target[t] += tmp[t]
        tmp[t] = 0


def _record(chip, items, end, delivered, t0, label, links0) -> None:
    """The phase's timing for the critical path of a recorded sample, as the per-core path keeps
    it: each core's last end, the evaluating cores first (in order), then the receiving ones."""
    core_end = {int(c): int(e) for c, e in zip(items.cores.tolist(), end.tolist())}
    if delivered is not None:
        for c, e in zip(delivered[0].tolist(), delivered[1].tolist()):
            core_end[c] = max(e, core_end.get(c, e))
    mesh = chip.mesh
    chip.phases.append(
        {
            "frame": chip.frame,
            "phase": label,
            "start": t0,
            "end": None,
            "core_end": core_end,
            "link_busy": mesh.counters["busy_cycles"] - links0["busy_cycles"],
            "link_stall": mesh.counters["stall_cycles"] - links0["stall_cycles"],
        }
    )


def run_sample(chip, stimulus: np.ndarray, mode: str) -> int:
    """One sample in ``sync`` or ``timestep`` mode, batched; returns its last cycle."""
    tb = tables(chip)
    timestep = mode == "timestep"
    if timestep:
        prepare_state(chip)
    k = int(stimulus.max()) if stimulus.dtype != np.bool_ and stimulus.size else 1  # input event counts
    if k not in tb.exact_by_count:
        tb.exact_by_count[k] = exact_sums(chip.net, k)
    tb.exact = tb.exact_by_count[max(k, 1)] if k > 1 else tb.exact_by_count[1]
    barrier = chip.hw.barrier.latency(chip.tiles_in_use)
    period = chip.hw.chip.frame_period_cycles
    stop_k, stop_frame = chip.options.get("stop_on_output") if timestep else None, None
    t = 0
    for frame in range(stimulus.shape[0]):
        chip.start_frame(frame)
        t_frame = t
        if timestep:
            if tb.step_items is None:
                raise SimulationError("timestep mode batches only chips whose cores hold one population each")
            phases = [(tb.step_items, "step")]
        else:
            phases = [(tb.sync_items[g], chip.net.populations[g].name) for g in chip.phase_order]
        for items, label in phases:
            t_end = run_phase(chip, items, t, stimulus[frame], label, timestep)
            if chip.phases is not None:
                chip.phases[-1]["end"] = t_end
            t = t_end
            chip.count_barrier()
            t += barrier
        chip.frame_done(t)
        t = max(t, t_frame + period)
        if timestep:
            if stop_k is not None and stop_frame is None and chip.first_output is not None:
                stop_frame = frame + stop_k
            if stop_frame is not None and frame >= stop_frame:
                break
    return t
