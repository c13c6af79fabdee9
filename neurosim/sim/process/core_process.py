"""A core of the reference engine: SimPy processes that update its neurons one by one, send
their spikes through its output port and integrate arriving messages one by one.

* An *evaluation* is an update pass over one population's neurons on the core (in index order,
  each neuron one event of its own latency: active or idle update plus the extended model's
  synaptic-current, delay-slot and membrane read-out work, plus ``latency_spike_fired_cycles``
  when it spikes), or the sending of given spikes (stimulus spikes, or spikes an async
  scheduler chose; non-input spikes are fired one by one, ``latency_spike_fired_cycles`` each).
  A spiking neuron's messages (unicast: one per destination core; multicast: one per spike)
  join the output port's queue when its update is done.
* The output port sends messages in groups of ``issue_width`` (by position in the pass): a group
  starts when its last message is ready and the port is free, takes ``latency_spike_out_cycles``,
  and its messages enter the network-on-chip together.
* The input port (the core's event queue) integrates arrived messages one at a time, in arrival
  order (ties by source neuron), each taking ``latency_message_in_cycles`` plus
  ``latency_synop_cycles`` per synapse reached and ``latency_delay_write_cycles`` per synapse
  written into the delay ring; the synapses add to their targets' current of this frame or of
  the frame they are due in. In ``sync``, ``timestep`` and global ``async`` mode the port opens,
  in each phase, when the core has finished its own evaluations and every evaluation of the
  phase has started (the fast engine's rule: :mod:`neurosim.sim.chip`, ``Chip.flush``).
"""

from __future__ import annotations

import heapq

import numpy as np
import simpy

from neurosim import neuron
from neurosim.sim.core import pays_active_update, update_rule_state
from neurosim.sim.process.phase import Phase
from neurosim.sim.process.router import Late, Message
from neurosim.sim.synapse_units import unit_op


class CoreProcess:
    """One core of the reference engine in one sample (``world``: the sample's shared state)."""

    def __init__(self, world, cid: int, serve: bool = True):
        self.world, self.cid, self.env = world, cid, world.env
        hc = world.hw.core
        self.lanes = int(hc.issue_width)
        self.lat_out, self.lat_fired = int(hc.latency_spike_out_cycles), int(hc.latency_spike_fired_cycles)
        self.lat_in, self.lat_synop = int(hc.latency_message_in_cycles), int(hc.latency_synop_cycles)
        self.lat_write = int(hc.latency_delay_write_cycles)
        self.units = hc.synapse_units
        self.inbox: list = []  # arrived messages: (arrival, source, order, message)
        self.signal = self.env.event()
        self.gate_open = False
        self.phase: Phase | None = None
        if serve:  # the phase-gated input port (the async core scope runs its own loop)
            self.env.process(self.receiver())

    # ---- input port --------------------------------------------------------------------------
    def receive(self, m: Message) -> None:
        """Message ``m`` arrived now at this core."""
        heapq.heappush(self.inbox, (m.arrival, m.src, m.order, m))
        self.poke()

    def poke(self) -> None:
        if not self.signal.triggered:
            self.signal.succeed()

    def open_gate(self) -> None:
        self.gate_open = True
        self.poke()

    def receiver(self):
        env = self.env
        while True:
            yield self.signal
            self.signal = env.event()
            yield Late(env)
            while self.gate_open and self.inbox and self.inbox[0][0] <= env.now:
                m = heapq.heappop(self.inbox)[3]
                cost = self.integrate(m)
                if cost:
                    yield env.timeout(cost)
                if self.phase is not None:
                    self.world.note_end(self.cid)
                    self.phase.message_integrated()
                yield Late(env)

    def integrate(self, m: Message) -> int:
        """Add message ``m``'s synapses to their targets' currents; returns its cycles."""
        w = self.world
        ring_writes = 0
        for syn in w.tables.synapses.get((m.src, self.cid), ()):
            target = w.state.acc if syn.delay == 0 else w.state.slot(w.frame, syn.delay)
            np.add.at(target, syn.targets, syn.weights)
            if syn.ring:
                ring_writes += syn.targets.size
        ops = w.counters.ops
        ops["message_in"][self.cid] += 1
        ops["synop"][self.cid] += m.synops
        ops["delay_write"][self.cid] += ring_writes
        synop_cycles = self.lat_synop * m.synops
        for unit, k in w.tables.unit_synops.get((m.src, self.cid), {}).items():  # each at its unit's latency
            ops[unit_op(unit)][self.cid] += k
            synop_cycles += (self.units[unit].latency_synop_cycles - self.lat_synop) * k
        cost = self.lat_in + synop_cycles + self.lat_write * ring_writes
        w.counters.busy_cycles[self.cid] += cost
        return cost

    # ---- evaluations -----------------------------------------------------------------------
    def run_phase(self, phase: Phase, items: list):
        """SimPy process: this core's evaluations of ``phase`` in order, then its input port
        opens once every evaluation of the phase has started."""
        self.phase = phase
        for group, spikes in items:
            phase.eval_started()
            yield from self.evaluate(group, spikes, phase)
            self.world.note_end(self.cid)
            phase.eval_finished()
        yield phase.all_started
        self.open_gate()

    def evaluate(self, group: int | None, spikes: np.ndarray | None, phase: Phase | None):
        """SimPy process: one evaluation: the update pass of ``group`` (``spikes`` None), or the
        sending of ``spikes`` (``group`` None: spikes of any populations, one issue of a per-core
        scheduler; non-input spikes are fired one by one)."""
        w, env, ctr = self.world, self.env, self.world.counters
        t0 = int(env.now)
        if spikes is not None:
            gids = np.asarray(spikes, np.int64)
            pops = w.net.population_of[gids] if group is None else np.full(gids.size, group)
            lat = np.where(pops != w.tables.input_group, self.lat_fired, 0).astype(np.int64)
            fires = np.ones(gids.size, bool)
            ids = gids
        else:
            assert group is not None
            ids = w.tables.groups[self.cid][group]
            lat, fires = self._update(group, ids)
            gids = ids[fires]
            pops = np.full(gids.size, group)
        ready = t0 + np.cumsum(lat)
        ready_spikes = ready[fires].astype(np.int64)
        for g in np.unique(pops) if group is None else [group]:
            mine = pops == g
            w.spike_log.append((w.frame, int(g), gids[mine], ready_spikes[mine]))
            w.spike_steps.append(w.step)
            if g == w.tables.output_group and mine.any():
                t = int(ready_spikes[mine].min())
                w.first_output = t if w.first_output is None else min(w.first_output, t)
        ctr.spikes[self.cid] += gids.size
        if spikes is None:  # the async modes count fired neurons per frame (count_updates)
            ctr.ops["spike_fired"][self.cid] += gids.size
        # the port's jobs: unicast one message per (spike, destination core), multicast one per spike
        seq = w.next_item()
        jobs: list[list[Message]] = []
        pos = 0
        for g in gids.tolist():
            msgs = []
            for dst, syn in w.tables.dest[g]:
                msgs.append(Message(g, self.cid, dst, syn, (seq, pos)))
                pos += 1
            if not msgs:
                continue
            if w.noc.multicast:
                jobs.append(msgs)
            else:
                jobs.extend([m] for m in msgs)
        ctr.ops["spike_out"][self.cid] += len(jobs)
        w.copies_sent += pos
        if phase is not None:
            phase.message_emitted(pos)
        queue = simpy.Store(env)
        port = env.process(self.port(queue, len(jobs)))
        # the neurons, one by one: a spiking neuron's messages join the port's queue when it is done
        job_of = iter(jobs)
        for k, g in enumerate(ids.tolist()):
            if lat[k]:
                yield env.timeout(int(lat[k]))
            if fires[k] and w.tables.dest[g]:
                if w.noc.multicast:
                    queue.put(next(job_of))
                else:
                    for _ in w.tables.dest[g]:
                        queue.put(next(job_of))
        ctr.busy_cycles[self.cid] += int(env.now) - t0 + -(-len(jobs) // self.lanes) * self.lat_out
        yield port

    def port(self, queue: simpy.Store, n_jobs: int):
        """SimPy process: the output port sends ``n_jobs`` jobs in groups of ``issue_width``."""
        left = n_jobs
        while left:
            group = []
            for _ in range(min(self.lanes, left)):
                group.append((yield queue.get()))
            left -= len(group)
            if self.lat_out:
                yield self.env.timeout(self.lat_out)
            for msgs in group:
                self.world.noc.inject(msgs)

    def _update(self, group: int, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The update pass's maths (:func:`neurosim.neuron.step`) and counters; returns the
        latency and whether it spiked, per neuron."""
        w = self.world
        st, hc, ctr = w.state, w.hw.core, w.counters
        p = w.net.params.take(ids)
        current = st.acc[ids].copy()
        start = update_rule_state(hc.update_rule, st.v[ids], st.i[ids], p)
        s, v, i, pending = neuron.step(st.v[ids], st.i[ids], st.pending[ids], current, p, hc.membrane_grid)
        st.v[ids], st.i[ids], st.pending[ids] = v, i, pending
        st.acc[ids] = 0
        active = pays_active_update(hc.update_rule, current != 0, s, i, start)
        ctr.ops["neuron_update_active"][self.cid] += int(active.sum())
        ctr.ops["neuron_update_idle"][self.cid] += int((~active).sum())
        for op, mask in w.tables.extra.items():
            ctr.ops[op][self.cid] += int(mask[ids].sum())
        lat = np.where(active, hc.latency_neuron_update_active_cycles, hc.latency_neuron_update_idle_cycles)
        lat = lat + w.tables.extra_latency[ids] + s * hc.latency_spike_fired_cycles
        return lat.astype(np.int64), s.astype(bool)
