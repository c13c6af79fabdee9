"""A neuromorphic core as a SimPy process.

The core owns a set of neurons (their state lives in the shared :class:`State` arrays; the core
touches only its own entries), the synaptic weights of every source neuron that reaches them, and
an event queue (a SimPy ``Store``). It serves two kinds of work items, in order:

* :class:`Evaluate` - the neuron update pass over one population's neurons on this core (leak,
  integration of the frame's accumulated current, threshold, reset), then spike generation: one
  message per (spiking neuron, destination core), serialised on the core's output port
  (``latency_spike_out_cycles`` per group of ``issue_width`` messages: the port's lanes). Input
  populations only generate spikes.
* :class:`Deliver` - a batch of spike messages for this core, already sorted by arrival time.
  Each message costs ``latency_message_in_cycles`` plus ``latency_synop_cycles`` per synapse it
  reaches in this core (plus ``latency_delay_write_cycles`` per synapse of a delayed projection,
  whose current goes into the core's ring buffer of future frames, ``State.ring``); messages are
  served in arrival order (a FIFO single server). The synaptic work is one vectorised
  accumulation over the fan-out rows (docs/design.md, "Performance approach").

Neuron updates (:func:`neurosim.neuron.step`): a neuron's update is *active* when it received a
non-zero net current this frame, has a non-zero synaptic current or spiked, *idle* otherwise; a
cuba neuron's update adds ``latency_synaptic_current_cycles``, a neuron with delayed inputs
``latency_delay_read_cycles`` (it takes its ring slot) and a non-spiking output neuron
``latency_membrane_read_cycles`` (its membrane is read out); the update pass visits the core's
neurons of the population in index order, and a neuron's messages become ready when its update
completes.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import simpy

from neurosim import neuron
from neurosim.errors import SimulationError
from neurosim.neuron import DTYPE
from neurosim.sim.barrier import Phase
from neurosim.sim.maxplus import finish_times
from neurosim.sim.row_blocks import RowBlock


@dataclass
class Evaluate:
    group: int  # population index
    spikes: np.ndarray | None = None  # global ids of input spikes (input populations only)


@dataclass
class Deliver:
    src: np.ndarray  # global source neuron of each message
    synops: np.ndarray  # synapses reached in this core by each message
    arrival: np.ndarray  # arrival cycle of each message (sorted)


class State:
    """Neuron state of the whole network, shared by the cores: membrane ``v``, synaptic current
    ``i`` (cuba neurons), ``pending`` delayed resets, the current ``acc`` of this frame and a
    ring of ``depth`` future frames' currents (``ring[f % depth]`` is due in frame ``f``: the
    deliveries of recurrent and delayed projections; on hardware each core's delay ring buffer)."""

    def __init__(self, n: int, depth: int = 0):
        self.depth = int(depth)
        self.v = np.zeros(n, DTYPE)
        self.i = np.zeros(n, DTYPE)
        self.pending = np.zeros(n, bool)
        self.acc = np.zeros(n, DTYPE)  # current integrated this frame
        self.ring = np.zeros((max(self.depth, 1), n), DTYPE)

    def clear(self) -> None:
        """Every value back to zero (a fresh sample)."""
        for a in (self.v, self.i, self.pending, self.acc, self.ring):
            a[...] = 0

    def release(self, frame: int) -> None:
        """Frame ``frame`` begins: the currents due now leave the ring for the accumulator."""
        if self.depth:
            due = self.ring[frame % self.depth]
            self.acc += due
            due[:] = 0

    def slot(self, frame: int, delay: int) -> np.ndarray:
        """The ring's row of currents due ``delay`` frames after ``frame`` (``delay >= 1``)."""
        return self.ring[(frame + delay) % self.depth]


def _block(b: sp.csr_array):
    """Weights from the source rows into this core's neurons: dense when dense enough."""
    if b.shape[0] * b.shape[1] and b.nnz / (b.shape[0] * b.shape[1]) >= 0.2:
        return np.ascontiguousarray(b.toarray(), dtype=DTYPE)
    return b if isinstance(b, sp.csr_array) and b.dtype == DTYPE else sp.csr_array(b, dtype=DTYPE)


def row_sums(block, rows: np.ndarray) -> np.ndarray:
    """The column sums of ``block``'s ``rows`` (dense or CSR) in float32, each column summed row
    after row: the order a core integrates its messages in. numpy sums the rows of a wider dense
    block that way, but a one-column block pairwise (a contiguous reduction), so that one is
    summed by ``cumsum``, which adds one value after the other."""
    sub = block[rows]
    if isinstance(sub, np.ndarray) and sub.shape[1] == 1:
        return np.cumsum(sub[:, 0], dtype=DTYPE)[-1:] if sub.shape[0] else np.zeros(1, DTYPE)
    return np.asarray(sub.sum(axis=0), DTYPE).ravel()


def update_rule_state(rule: str, v: np.ndarray, i: np.ndarray, p: neuron.NeuronParams) -> np.ndarray | None:
    """What the update rule needs from the state at the frame start (before the leak): for
    ``nonzero_state``, the neurons with a non-zero membrane, synaptic current or bias; else None."""
    if rule != "nonzero_state":
        return None
    return (v != 0) | (i != 0) | (p.bias != 0)


def pays_active_update(
    rule: str, got_input: np.ndarray, spiked: np.ndarray, i_after: np.ndarray, start: np.ndarray | None
) -> np.ndarray:
    """The neurons that pay the active update this frame (the hardware's ``core.update_rule``):
    ``input_or_spike`` a non-zero net input, a spike or a non-zero synaptic current after the
    update; ``nonzero_state`` also those of ``start`` (:func:`update_rule_state`); ``all`` every one."""
    if rule == "all":
        return np.ones(spiked.shape, bool)
    active = got_input | spiked | (i_after != 0)
    return active if start is None else active | start


def delivery_delay(block_delay: int, through_ring: bool, timestep: bool = False) -> int:
    """Frames from a spike to its integration for a block of synapses whose ``sync`` delivery
    delay is ``block_delay`` and that goes through the delay ring buffer (``through_ring``: the
    projection declares a delay) or not: ``block_delay`` in ``sync`` mode; in ``timestep`` mode
    (every spike integrated in a later step) the declared delay plus one, so a block without a
    declared delay (feed-forward or recurrent) takes one step."""
    if not timestep:
        return int(block_delay)
    return (int(block_delay) if through_ring else 0) + 1


def _as_index(idx: np.ndarray):
    """A slice when the indices are contiguous (cheap views), else the index array."""
    if idx.size and idx[-1] - idx[0] + 1 == idx.size:
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def _take(p: neuron.NeuronParams, ix) -> neuron.NeuronParams:
    """``p.take(ix)`` without checking the fields' lengths again (those of ``p`` agree, so do
    their slices): the check cost ~0.1 ms a core, seconds for the ~20,000 cores of 1 M neurons."""
    q = object.__new__(neuron.NeuronParams)
    for k in neuron.NeuronParams.field_names():
        object.__setattr__(q, k, getattr(p, k)[ix])
    return q


class Core:
    def __init__(self, cid: int, neurons: np.ndarray, chip):
        self.cid, self.chip = cid, chip
        net, hw = chip.net, chip.hw
        self.neurons = _as_index(neurons)
        self.neuron_ids = neurons
        self.all_params = _take(net.params, self.neurons)
        pops = net.population_of[neurons]
        if pops.size and pops[0] == pops[-1]:  # one population (population_of is sorted): no split
            self.groups = {int(pops[0]): self.neurons}
            self.params = {int(pops[0]): self.all_params}
        else:
            self.groups = {int(g): _as_index(neurons[pops == g]) for g in np.unique(pops)}
            self.params = {g: _take(net.params, ix) for g, ix in self.groups.items()}
        # incoming synapses (cut by the chip, :meth:`Chip._cut_blocks`): the sorted global ids of
        # the sources that reach the core (row r of the block is source ``sources[r]``: a
        # look-up of O(the core's rows), by binary search), the block, its delivery delay in
        # frames (0: this frame's accumulator) and, per row, the synapses that go through the
        # delay ring buffer (projections that declare a delay)
        self.blocks = [
            blk if isinstance(blk, RowBlock) else (blk[0], _block(blk[1]), blk[2], blk[3])
            for blk in chip.incoming.get(cid, ())
        ]
        # per population on the core: cuba neurons (synaptic-current update), neurons reading a
        # delay ring slot each frame, non-spiking output neurons (membrane read-out)
        p_all = self.all_params
        # async core scope: neurons whose threshold is checked after the frame-start update
        self.start_check = p_all.cuba | ~neuron.resets_now(p_all) | (p_all.bias != 0)
        ring_targets = chip.ring_target[neurons]
        self.extra_lat = {}
        self.extra_ops = {}
        for g in self.groups:
            p = self.params[g]
            nonspiking_out = ~p.spiking if g == net.index[net.output] else np.zeros(p.size, bool)
            ops = {
                "synaptic_current": p.cuba,
                "delay_read": ring_targets if len(self.groups) == 1 else ring_targets[pops == g],
                "membrane_read": nonspiking_out,
            }
            self.extra_ops[g] = {k: int(m.sum()) for k, m in ops.items() if m.any()}
            self.extra_lat[g] = (
                ops["synaptic_current"] * hw.core.latency_synaptic_current_cycles
                + ops["delay_read"] * hw.core.latency_delay_read_cycles
                + ops["membrane_read"] * hw.core.latency_membrane_read_cycles
            ).astype(np.int64)
        c = hw.core
        self.lat_active, self.lat_idle = c.latency_neuron_update_active_cycles, c.latency_neuron_update_idle_cycles
        self.lat_out = c.latency_spike_out_cycles
        self.lat_in, self.lat_synop = c.latency_message_in_cycles, c.latency_synop_cycles
        self.lat_ring_write = c.latency_delay_write_cycles
        self.inbox: simpy.Store | None = None
        # per-core scheduling (async, core scope): frame-start mail, arrival heap, wake-up event
        self.mail: list[tuple[str, np.ndarray]] = []
        self.future: list[tuple[int, int, Deliver]] = []
        self.wakeup: simpy.Event | None = None

    def send_cycles(self, n_msgs: int) -> int:
        """Busy cycles of the output port for ``n_msgs`` messages (``issue_width`` lanes)."""
        return -(-n_msgs // self.chip.hw.core.issue_width) * self.lat_out

    # ---- per-core scheduling (async, core scope) ---------------------------------------------
    def reset_queues(self) -> None:
        """Empty mail and arrival heap, no wake-up pending (a fresh sample)."""
        self.mail, self.future, self.wakeup = [], [], None

    def post(self, kind: str, payload: np.ndarray) -> None:
        """Mail for the core (a new frame and its stimulus spikes); wakes it."""
        self.mail.append((kind, payload))
        self.wake()

    def take_mail(self) -> tuple[str, np.ndarray]:
        """The oldest mail, removed."""
        item, self.mail = self.mail[0], self.mail[1:]
        return item

    def schedule(self, arrival: int, seq: int, batch: Deliver) -> None:
        """A batch of messages joins the arrival heap (first arrival ``arrival``); wakes the core."""
        heapq.heappush(self.future, (arrival, seq, batch))
        self.wake()

    def arrived(self, now: int) -> list[Deliver]:
        """The messages that have arrived by ``now``, removed from the heap in order: a batch
        still partly in flight is split, its rest stays in the heap (keyed by its next arrival)."""
        batches = []
        while self.future and self.future[0][0] <= now:
            _, seq, b = heapq.heappop(self.future)
            if b.arrival[-1] > now:  # sorted: the last one still in flight
                k = int(b.arrival.searchsorted(now, side="right"))
                rest = Deliver(b.src[k:], b.synops[k:], b.arrival[k:])
                heapq.heappush(self.future, (int(rest.arrival[0]), seq, rest))
                b = Deliver(b.src[:k], b.synops[:k], b.arrival[:k])
            batches.append(b)
        return batches

    def arm_wakeup(self, env: simpy.Environment) -> simpy.Event:
        """A fresh wake-up event for the core to wait on."""
        self.wakeup = env.event()
        return self.wakeup

    def clear_wakeup(self) -> None:
        self.wakeup = None

    def wake(self) -> None:
        """Trigger the pending wake-up event, if any."""
        if self.wakeup is not None and not self.wakeup.triggered:
            self.wakeup.succeed()

    # ---- SimPy process ---------------------------------------------------------------------
    def start(self, env: simpy.Environment, serve: bool = True):
        """A fresh event queue; ``serve`` starts the work-item loop (sync and global async)."""
        self.inbox = simpy.Store(env)
        if serve:
            env.process(self.run(env, self.inbox))

    def enqueue(self, item: Evaluate | Deliver, phase: Phase) -> None:
        """A work item for the core's loop (an evaluation, or a batch of messages), registered
        with ``phase``, the phase it belongs to and reports to."""
        if self.inbox is None:
            raise SimulationError(f"core {self.cid}: work item before start()")
        self.inbox.put((item, phase))

    def run(self, env, inbox: simpy.Store):
        ctr = self.chip.counters
        while True:
            item, phase = yield inbox.get()
            t0 = env.now
            if isinstance(item, Evaluate):
                end, busy = self.evaluate(item, t0)
                phase.evaluated()
            else:
                end, busy = self.deliver(item, t0)
            ctr.busy_cycles[self.cid] += busy
            self.chip.record_core_end(self.cid, end)  # only a recorded sample keeps phase timing
            if end > t0:
                yield env.timeout(end - t0)
            phase.item_done()

    # ---- work ------------------------------------------------------------------------------
    def evaluate(self, item: Evaluate, t0: int) -> tuple[int, int]:
        """Returns the cycle the core is done and the cycles it was busy (updates + sends)."""
        chip, ctr = self.chip, self.chip.counters
        g = item.group
        if item.spikes is not None:  # input spikes (stimulus), or spikes an async scheduler chose
            gids = item.spikes
            ready = np.full(gids.size, t0, np.int64)
            end = t0
            lat_fired = chip.hw.core.latency_spike_fired_cycles
            if lat_fired and g != chip.input_group and gids.size:  # the soma fires them one by one
                ready = ready + lat_fired * np.arange(1, gids.size + 1, dtype=np.int64)
                end = int(ready[-1])
        else:
            ix, p, st, hc = self.groups[g], self.params[g], chip.state, chip.hw.core
            current = st.acc[ix].copy()
            start = update_rule_state(hc.update_rule, st.v[ix], st.i[ix], p)
            s, st.v[ix], i, st.pending[ix] = neuron.step(
                st.v[ix], st.i[ix], st.pending[ix], current, p, hc.membrane_grid
            )
            st.i[ix] = i
            st.acc[ix] = 0
            active = pays_active_update(hc.update_rule, current != 0, s, i, start)
            n_act = int(active.sum())
            ctr.ops["neuron_update_active"][self.cid] += n_act
            ctr.ops["neuron_update_idle"][self.cid] += active.size - n_act
            for op, k in self.extra_ops[g].items():
                ctr.ops[op][self.cid] += k
            lat = np.where(active, self.lat_active, self.lat_idle) + self.extra_lat[g]
            if hc.latency_spike_fired_cycles:
                lat = lat + s * hc.latency_spike_fired_cycles
            done = t0 + np.cumsum(lat)
            end = int(done[-1]) if done.size else t0
            local = np.flatnonzero(s)
            base = ix.start if isinstance(ix, slice) else None
            gids = local + base if base is not None else ix[local]
            ready = done[local]
        busy = end - t0
        if gids.size:
            ctr.spikes[self.cid] += gids.size
            if item.spikes is None:  # sync mode; the async modes count them in count_updates
                ctr.ops["spike_fired"][self.cid] += gids.size
            last, n_msgs = chip.emit(self.cid, g, gids, ready, self.lat_out)
            end, busy = max(end, last), busy + self.send_cycles(n_msgs)
        return end, busy

    def integrate_messages(self, src: np.ndarray) -> np.ndarray | None:
        """The synaptic currents of messages from the sources ``src`` (in their order): per
        incoming block, its column sums added to this frame's accumulator or the ring slot of its
        delay. Returns per message the synapses written into the delay ring (None: no block
        through the ring was reached)."""
        chip = self.chip
        st = chip.state
        ring_writes = None
        timestep = chip.timestepped  # the mode's delivery delay (one step more in timestep mode)
        for blk in self.blocks:
            hits: np.ndarray | None = None  # per message, its synapses written into the ring
            if isinstance(blk, RowBlock):  # the network's own rows, read in place
                counts = np.zeros(src.size, np.int64)
                add = blk.sums(src, counts)
                if not counts.any():
                    continue
                delay = blk.delay
                if blk.ring:
                    hits = counts
            else:
                sources, block, delay, ring_syn = blk
                q = src.astype(sources.dtype, copy=False)
                rows = np.minimum(np.searchsorted(sources, q), sources.size - 1)
                hit = sources[rows] == q
                rows = rows[hit]
                if not rows.size:
                    continue
                if ring_syn is not None:
                    hits = np.zeros(src.size, np.int64)
                    hits[hit] = ring_syn[rows]
                add = row_sums(block, rows)
            if hits is not None:
                ring_writes = hits if ring_writes is None else ring_writes + hits
            d = delivery_delay(delay, hits is not None, timestep)
            target = st.acc if d == 0 else st.slot(chip.frame, d)
            target[self.neurons] += add
        return ring_writes

    def deliver(self, item: Deliver, t0: int) -> tuple[int, int]:
        """Integrate a batch of messages: each costs ``latency_message_in_cycles``, plus
        ``latency_synop_cycles`` per synapse reached (a synapse of a projection naming a synapse
        unit: that unit's latency, :mod:`neurosim.sim.synapse_units`) and
        ``latency_delay_write_cycles`` per synapse whose current is written into the delay ring buffer."""
        chip = self.chip
        ctr = chip.counters
        ring_writes = self.integrate_messages(item.src)
        if ring_writes is None:
            ring_writes = np.zeros(item.src.size, np.int64)
        units = chip.synapse_units  # per-projection synop figures: books synop@<unit>, each message's cycles
        syn_cycles = self.lat_synop * item.synops if units is None else units.deliver(ctr.ops, item.src, self.cid)
        cost = self.lat_in + syn_cycles + self.lat_ring_write * ring_writes
        end = int(finish_times(item.arrival, cost, start=t0)[-1])
        busy = int(item.src.size * self.lat_in + syn_cycles.sum() + self.lat_ring_write * ring_writes.sum())
        ctr.ops["message_in"][self.cid] += item.src.size
        ctr.ops["synop"][self.cid] += int(item.synops.sum())
        ctr.ops["delay_write"][self.cid] += int(ring_writes.sum())
        return end, busy
