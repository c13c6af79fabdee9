"""Asynchronous execution with a scheduler per core: the hardware view.

Each core is an independent SimPy process with its own ready queue. It serves, in this order of
preference: the messages that have arrived (all those waiting in its queue form one batch,
integrated in arrival order; then it checks the thresholds of its neurons: crossings join its
ready queue; after its frame-start leak pass it checks those that a bias, a carried synaptic
current, a current due from a recurrent or delayed projection, or the lack of an immediate reset
may have taken over threshold), then its ready
neurons (its scheduler picks at most ``issue_width`` of them by the policy and sends their
messages). Messages are delivered at their arrival cycle (NoC latency), so cores interleave as
on the chip. A frame ends when every core is idle and no message is in flight (quiescence); then
the frame barrier. Per core and frame at most ``max_steps`` issues are made (neurons still ready
then are dropped).

Neuron semantics and their rounding order against sync mode: :mod:`neurosim.sim.async_global`.

With ``stop_on_output=K`` the inference ends K frames after the frame of the first output spike
(the global scope counts K in scheduler steps instead: per-core scopes have no global step).
"""

from __future__ import annotations

import numpy as np

from neurosim.sim.async_global import StepState, count_updates, frame_start, integrate_and_check
from neurosim.sim.core import Deliver
from neurosim.sim.scheduler import select

_FRAME_START = "frame-start"


class Quiescence:
    """Counts busy cores; fires ``done`` when every core is idle with nothing queued or in flight."""

    def __init__(self, env, chip):
        self.env, self.chip = env, chip
        self.busy = len(chip.cores)  # every core starts busy: it has not reached its first wait
        self.done = env.event()

    def new_frame(self):
        self.done = self.env.event()

    def went_idle(self):
        self.busy -= 1
        if self.busy == 0 and not any(c.mail or c.future for c in self.chip.cores.values()):
            if not self.done.triggered:
                self.done.succeed()

    def went_busy(self):
        self.busy += 1


def route_now(env, chip):
    """Send the messages just emitted: each destination core's batch joins its arrival heap
    (no SimPy event per message: a core looks at its heap whenever it is free)."""
    if not chip.has_outbox:
        return
    for dst, src, syn, arrival in chip.route_outbox():
        chip.cores[dst].schedule(int(arrival[0]), chip.next_seq(), Deliver(src, syn, arrival))


def core_process(env, core, chip, ss: StepState, quiet: Quiescence):
    o = chip.options
    width, policy, cap = chip.hw.core.issue_width, o["policy"], o["max_steps"]
    rng = np.random.default_rng([o["seed"], chip.sample_index, core.cid])
    ctr = chip.counters
    own = core.neuron_ids
    issues = 0
    while True:
        if core.mail:  # a new frame: leak pass, then the stimulus
            _, inputs = core.take_mail()
            issues = 0
            busy = int(chip.lif_per_core[core.cid]) * chip.hw.core.latency_neuron_update_idle_cycles
            busy += int(chip.leak_extra_cycles[core.cid])
            ctr.busy_cycles[core.cid] += busy
            if busy:
                yield env.timeout(busy)
            # the frame-start update may cross thresholds: check the neurons that have a current
            # due (recurrent, delayed), a bias, a synaptic current or no immediate reset (a plain
            # LIF neuron without any of these waits for its first delivery, as it always has)
            due = own[core.start_check | (chip.state.acc[own] != 0)]
            if due.size:
                integrate_and_check(chip, ss, due, chip.net.params.take(due))
            if inputs.size:
                yield from _send(env, core, chip, inputs, env.now)
            continue
        if core.future and core.future[0][0] <= env.now:  # everything arrived: one batch
            t0 = env.now
            end, busy = core.deliver(_merge(core.arrived(t0)), t0)
            ctr.busy_cycles[core.cid] += busy
            if end > t0:
                yield env.timeout(end - t0)
            integrate_and_check(chip, ss, core.neurons, core.all_params)
            continue
        ready = own[ss.ready[own]]
        if ready.size and issues < cap:  # issue: send up to `width` ready spikes
            issues += 1
            chosen = select(ready, width, policy, priority=ss.priority, sequence=ss.sequence, rng=rng)
            ss.sent(chosen)
            yield from _send(env, core, chip, chosen, env.now)
            continue
        ss.drop(ready)  # dropped at the step cap
        wakeup = core.arm_wakeup(env)
        if core.future:  # wait for the next arrival (or an earlier one)
            yield env.any_of([wakeup, env.timeout(core.future[0][0] - env.now)])
            core.clear_wakeup()
            continue
        quiet.went_idle()
        yield wakeup
        core.clear_wakeup()
        quiet.went_busy()


def _merge(batches: list[Deliver]) -> Deliver:
    """One batch of several, in arrival order."""
    if len(batches) == 1:
        return batches[0]
    arrival = np.concatenate([p.arrival for p in batches])
    src = np.concatenate([p.src for p in batches])
    order = np.lexsort((src, arrival))
    return Deliver(src[order], np.concatenate([p.synops for p in batches])[order], arrival[order])


def _send(env, core, chip, gids, t0):
    groups = chip.net.population_of[gids]
    end = t0
    for g in np.unique(groups):
        part = gids[groups == g]
        chip.counters.spikes[core.cid] += part.size
        ready = np.full(part.size, t0, np.int64)
        lat_fired = chip.hw.core.latency_spike_fired_cycles  # the soma fires them one by one
        if lat_fired and g != chip.input_group:
            ready += lat_fired * np.arange(1, part.size + 1, dtype=np.int64)
            chip.counters.busy_cycles[core.cid] += lat_fired * part.size
        last, n = chip.emit(core.cid, int(g), part, ready, core.lat_out)
        chip.counters.busy_cycles[core.cid] += core.send_cycles(n)
        end = max(end, last)
    route_now(env, chip)
    if end > env.now:
        yield env.timeout(end - env.now)
    return end


def async_core_controller(env, chip, stimulus):
    """SimPy process: one sample, asynchronous execution, one scheduler per core."""
    ss = StepState(chip.net.n_neurons)
    quiet = Quiescence(env, chip)
    for core in chip.cores.values():
        core.reset_queues()
        env.process(core_process(env, core, chip, ss, quiet))
    barrier_cycles = chip.hw.barrier.latency(chip.tiles_in_use)
    stop_k, stop_frame = chip.options["stop_on_output"], None
    for frame in range(stimulus.shape[0]):
        chip.start_frame(frame)
        t_frame = env.now
        frame_start(chip, ss)
        quiet.new_frame()
        inputs = np.flatnonzero(stimulus[frame]) + chip.input_offset
        in_core = chip.mapping.core_of[inputs]
        for cid, core in chip.cores.items():
            core.post(_FRAME_START, inputs[in_core == cid])
        yield quiet.done
        count_updates(chip, ss)
        yield from chip.readout_pass(env)
        chip.frame_done(env.now)
        chip.count_barrier()
        if barrier_cycles:
            yield env.timeout(barrier_cycles)
        yield from chip.end_of_frame(env, t_frame)
        if stop_k is not None and stop_frame is None and chip.first_output is not None:
            stop_frame = frame + stop_k
        if stop_frame is not None and frame >= stop_frame:
            break
