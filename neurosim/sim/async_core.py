"""Asynchronous execution with a scheduler per core: the hardware view.

Each core is an independent SimPy process with its own ready queue. It serves, in this order of
preference: the messages that have arrived (all those waiting in its queue form one batch - of
messages routed together, only the part that has arrived: the rest waits for its arrival -
integrated in arrival order; then it checks the thresholds of its neurons: crossings join its
ready queue; after its frame-start leak pass it checks those that a bias, a carried synaptic
current, a current due from a recurrent or delayed projection, or the lack of an immediate reset
may have taken over threshold), then its ready neurons (its scheduler picks at most
``issue_width`` of them by the policy and sends their messages: one pass through the core's
output port, whatever their populations). Messages are delivered at their arrival cycle (NoC
latency), so cores interleave as on the chip. A frame ends when every core is idle and no message
is in flight (quiescence); then the frame barrier. Per core and frame at most ``max_steps`` issues
are made (neurons still ready then are dropped).

Neuron semantics and their rounding order against sync mode: :mod:`neurosim.sim.async_global`.

With ``stop_on_output=K`` the inference ends K frames after the frame of the first output spike
(the global scope counts K in scheduler steps instead: per-core scopes have no global step).

asynctorch's options (docs/asynctorch.md): ``refrac_dropout`` (a sent value ``k`` is ``k`` spike
messages), ``momentum_noise`` and event-count input apply per core as in the global scope;
``stop_on_output_frame`` and queued input (``prioritize_input=False``) are global-scope options
(they count global send steps, and queue the input with the whole network's spikes), refused here
by :func:`neurosim.sim.engine.simulate`.

Where the options allow (:mod:`neurosim.sim.async_core_frames`: numba, fifo or momentum without
noise, no refractory dropout, unicast, a NoC the compiled passes time), each frame's processes run
as one compiled state machine that serves their events in SimPy's order, with the same results.
Otherwise unicast messages take the lean send and arrival path of :mod:`neurosim.sim.async_core_fast`
(the same messages, timing, counters and order of events; ``async_core_fast.ENABLED = False``
selects the general routing code below, which multicast always takes).
"""

from __future__ import annotations

import numpy as np

from neurosim.errors import SimulationError
from neurosim.sim import async_core_fast, async_core_frames
from neurosim.sim.async_global import (
    StepState,
    count_updates,
    dropout_rng,
    frame_start,
    input_messages,
    integrate_and_check,
)
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


def core_process(env, core, chip, ss: StepState, quiet: Quiescence, fast=None):
    o = chip.options
    width, policy, cap = chip.hw.core.issue_width, o["policy"], o["max_steps"]
    noise = float(o.get("momentum_noise", 0.0))
    rng = np.random.default_rng([o["seed"], chip.sample_index, core.cid])
    ctr = chip.counters
    own = core.neuron_ids
    sl = core.neurons if isinstance(core.neurons, slice) else None  # contiguous: cheap views
    none_ready = own[:0]
    maybe_ready = True  # False: none of the core's neurons is ready (only its own checks make them)
    issues = 0
    while True:
        if core.mail:  # a new frame: leak pass, then the stimulus
            _, inputs = core.take_mail()
            issues = 0
            busy = int(chip.leak_cycles[core.cid])
            ctr.busy_cycles[core.cid] += busy
            if busy:
                yield env.timeout(busy)
            # the frame-start update may cross thresholds: check the neurons that have a current
            # due (recurrent, delayed), a bias, a synaptic current or no immediate reset (a plain
            # LIF neuron without any of these waits for its first delivery, as it always has)
            due = own[core.start_check | (chip.state.acc[own] != 0)]
            if due.size and integrate_and_check(chip, ss, due, chip.net.params.take(due)).size:
                maybe_ready = True
            if inputs.size:
                yield from _send(env, core, chip, inputs, env.now, fast)
            continue
        if core.future and core.future[0][0] <= env.now:  # the messages that have arrived: one batch
            t0 = env.now
            if fast is not None:  # the lean path's heap holds single messages (async_core_fast)
                end, busy = async_core_fast.deliver(core, async_core_fast.arrived(core, t0), t0)
            else:
                end, busy = core.deliver(_merge(core.arrived(t0)), t0)
            ctr.busy_cycles[core.cid] += busy
            if end > t0:
                yield env.timeout(end - t0)
            if integrate_and_check(chip, ss, core.neurons, core.all_params).size:
                maybe_ready = True
            continue
        if maybe_ready:
            ready = own[ss.ready[own]] if sl is None else np.flatnonzero(ss.ready[sl]) + sl.start
        else:
            ready = none_ready
        if ready.size and (cap is None or issues < cap):  # issue: send up to `width` ready spikes
            issues += 1
            if cap is None and issues > 1000 * own.size:
                raise SimulationError(
                    f"core {core.cid}: still issuing after {issues - 1} rounds in a frame with refrac_dropout "
                    "(a recurrent loop?); set max_steps"
                )
            chip.step += 1  # a chip-wide count of issue rounds in the frame (paper metrics)
            chosen = select(ready, width, policy, priority=ss.priority, sequence=ss.sequence, rng=rng, noise=noise)
            messages = ss.emitted(chosen)  # a value k (refrac_dropout): k spike messages
            ss.sent(chosen)
            yield from _send(env, core, chip, messages, env.now, fast)
            continue
        ss.drop(ready)  # dropped at the step cap
        maybe_ready = False
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


def _send(env, core, chip, gids, t0, fast=None):
    """One pass through the core's output port (:mod:`neurosim.sim.core`): the frame's stimulus
    spikes, or one issue's spikes of any populations, in the order given; the soma fires the
    non-input ones one by one (``latency_spike_fired_cycles`` each), and the port sends the
    messages in groups of ``issue_width``."""
    if not gids.size:
        return t0
    ctr = chip.counters
    ready = np.full(gids.size, t0, np.int64)
    lat_fired = chip.hw.core.latency_spike_fired_cycles
    if lat_fired:
        fired = chip.net.population_of[gids] != chip.input_group
        if fired.any():
            ready += lat_fired * np.cumsum(fired, dtype=np.int64)
            ctr.busy_cycles[core.cid] += int(ready[-1]) - t0
    ctr.spikes[core.cid] += gids.size
    if fast is not None:  # the lean unicast send (async_core_fast): the same messages and order
        last, n = fast.send(chip, core.cid, gids, ready, core.lat_out)
    else:
        pops = chip.net.population_of[gids]
        one = bool((pops == pops[0]).all())
        last, n = chip.emit(core.cid, int(pops[0]) if one else pops, gids, ready, core.lat_out)
    ctr.busy_cycles[core.cid] += core.send_cycles(n)
    end = max(int(ready[-1]), last)
    if fast is None:
        route_now(env, chip)
    if end > env.now:
        yield env.timeout(end - env.now)
    return end


def async_core_controller(env, chip, stimulus):
    """SimPy process: one sample, asynchronous execution, one scheduler per core."""
    ss = StepState(chip.net.n_neurons, float(chip.options.get("refrac_dropout", 0.0)), dropout_rng(chip))
    quiet = Quiescence(env, chip)
    frames = async_core_frames.prepare(chip)  # whole frames compiled, where they apply
    fast = async_core_fast.route_of(chip) if frames is None and async_core_fast.applies(chip) else None
    for core in chip.cores.values():
        core.reset_queues()
        if frames is None:
            env.process(core_process(env, core, chip, ss, quiet, fast))
    barrier_cycles = chip.hw.barrier.latency(chip.tiles_in_use)
    stop_k, stop_frame = chip.options["stop_on_output"], None
    for frame in range(stimulus.shape[0]):
        chip.start_frame(frame)
        t_frame = env.now
        frame_start(chip, ss)
        quiet.new_frame()
        inputs = input_messages(stimulus[frame], chip.input_offset)  # a count k: k messages
        in_core = chip.mapping.core_of[inputs]
        if frames is not None:  # the same processes, one compiled call
            end = frames.run_frame(ss, t_frame, inputs, in_core)
            if end > env.now:
                yield env.timeout(end - env.now)
        else:
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
