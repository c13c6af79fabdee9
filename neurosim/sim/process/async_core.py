"""The reference engine's ``async`` mode with one scheduler per core (the hardware view), as
:mod:`neurosim.sim.async_core` documents it, event by event.

Each core is a SimPy process that serves, in this order of preference: its frame-start mail (the
leak pass, then a threshold check of the neurons a bias, a carried synaptic current, a current
due from a recurrent or delayed projection or the lack of an immediate reset may have taken over
threshold, then the frame's stimulus spikes); the messages that have arrived (all those waiting
in its input queue, integrated one by one in arrival order, ties by source; then one threshold
check of its neurons: crossings join its ready queue); its ready neurons (its scheduler picks at
most ``issue_width`` by the policy and sends them; at most ``max_steps`` issues per frame, the
rest are dropped). A frame ends when every core waits with nothing queued and no message is in
flight; then the membrane read-out and the frame barrier.
"""

from __future__ import annotations

import heapq

import numpy as np

from neurosim import neuron
from neurosim.sim.async_global import StepState, count_updates, frame_start, integrate_and_check
from neurosim.sim.process.controller import frame_inputs, leak_cycles, readout_pass
from neurosim.sim.process.router import Late
from neurosim.sim.process.world import World
from neurosim.sim.scheduler import select


class Quiet:
    """The cores waiting with nothing to do; ``done`` fires when all wait and nothing is in flight."""

    def __init__(self, w: World):
        self.w = w
        self.waiting: set[int] = set()
        self.mail: dict[int, np.ndarray] = {}
        self.done = w.env.event()

    def check(self) -> None:
        w = self.w
        if (
            len(self.waiting) == len(w.cores)
            and w.in_flight == 0
            and not self.mail
            and not any(c.inbox for c in w.cores.values())
            and not self.done.triggered
        ):
            self.done.succeed()


def core_loop(w: World, cid: int, ss: StepState, quiet: Quiet):
    env, core, o = w.env, w.cores[cid], w.options
    width, policy, cap = int(w.hw.core.issue_width), o["policy"], o["max_steps"]
    rng = np.random.default_rng([o["seed"], w.sample_index, cid])
    own = w.tables.neurons[cid]
    params = w.net.params.take(own)
    start_check = params.cuba | ~neuron.resets_now(params) | (params.bias != 0)
    leak = int(leak_cycles(w)[cid])
    issues = 0
    while True:
        yield Late(env)
        if cid in quiet.mail:  # a new frame: leak pass, start check, the stimulus
            inputs = quiet.mail.pop(cid)
            issues = 0
            w.counters.busy_cycles[cid] += leak
            if leak:
                yield env.timeout(leak)
            due = own[start_check | (w.state.acc[own] != 0)]
            if due.size:
                integrate_and_check(w, ss, due, w.net.params.take(due))
            if inputs.size:
                yield from core.evaluate(w.input_group, inputs, None)
            continue
        if core.inbox and core.inbox[0][0] <= env.now:  # the arrived messages: one batch
            batch = []
            while core.inbox and core.inbox[0][0] <= env.now:
                batch.append(heapq.heappop(core.inbox)[3])
            for m in batch:
                cost = core.integrate(m)
                if cost:
                    yield env.timeout(cost)
            integrate_and_check(w, ss, own, params)
            continue
        ready = own[ss.ready[own]]
        if ready.size and issues < cap:  # issue: up to `issue_width` ready spikes, by the policy
            issues += 1
            w.step += 1  # a chip-wide count of issue rounds in the frame (paper metrics)
            chosen = select(ready, width, policy, priority=ss.priority, sequence=ss.sequence, rng=rng)
            ss.sent(chosen)
            yield from core.evaluate(None, chosen, None)  # one issue: one pass through the port
            continue
        ss.drop(ready)  # dropped at the step cap
        quiet.waiting.add(cid)
        quiet.check()
        yield core.signal
        core.signal = env.event()
        quiet.waiting.discard(cid)


def async_core_controller(w: World, stimulus: np.ndarray):
    ss = StepState(w.net.n_neurons)
    quiet = Quiet(w)
    for cid in w.cores:
        w.env.process(core_loop(w, cid, ss, quiet))
    stop_k, stop_frame = w.options["stop_on_output"], None
    core_of = w.mapping.core_of
    for frame in range(stimulus.shape[0]):
        w.start_frame(frame)
        t_frame = int(w.env.now)
        frame_start(w, ss)
        quiet.done = w.env.event()
        inputs = frame_inputs(w, stimulus[frame])
        for cid, core in w.cores.items():
            quiet.mail[cid] = inputs[core_of[inputs] == cid]
            core.poke()
        yield quiet.done
        count_updates(w, ss)
        yield from readout_pass(w)
        w.frame_done()
        yield from w.barrier()
        yield from w.end_of_frame(t_frame)
        if stop_k is not None and stop_frame is None and w.first_output is not None:
            stop_frame = frame + stop_k
        if stop_frame is not None and frame >= stop_frame:
            break
