"""The reference engine's controllers, one per execution mode (docs/design.md, "Execution modes"),
each a SimPy process over one sample's :class:`World`:

* ``sync``: per frame the populations in order, one phase each (its cores evaluate it, the
  messages cross the NoC and are integrated), a barrier after each; the last is the frame's;
* ``timestep``: per frame one phase in which every core updates every population it holds
  (every delivery lands in a later step), then one barrier;
* ``async`` with the global scheduler: per frame a leak pass, step 0 (the stimulus), then steps
  of at most ``group_size`` ready neurons chosen by the policy, each a phase, until nothing is
  ready or the step cap; the membrane read-out, then the frame barrier.

The neuron semantics of the async modes (frame-start update, integrate-and-fire per step, the
per-frame update counts) are the shared pure helpers of :mod:`neurosim.sim.async_global`.
"""

from __future__ import annotations

import numpy as np

from neurosim.sim.async_global import StepState, count_updates, frame_start, integrate_and_check
from neurosim.sim.process.world import World
from neurosim.sim.scheduler import select


def _input_spikes(w: World, cid: int, frame_input: np.ndarray) -> np.ndarray:
    local = w.tables.groups[cid][w.input_group]
    return np.repeat(local, frame_input[local - w.input_offset].astype(np.int64))  # a count k: k messages


def frame_inputs(w: World, frame_input: np.ndarray) -> np.ndarray:
    """Every input spike of the frame, by global id (an event count ``k``: ``k`` spikes)."""
    ids = np.flatnonzero(frame_input)
    return np.repeat(ids + w.input_offset, frame_input[ids].astype(np.int64))


def sync_controller(w: World, stimulus: np.ndarray):
    for frame in range(stimulus.shape[0]):
        w.start_frame(frame)
        t_frame = int(w.env.now)
        for g in range(len(w.net.populations)):
            items = {}
            for cid in w.tables.cores:
                if g in w.tables.groups[cid]:
                    spikes = _input_spikes(w, cid, stimulus[frame]) if g == w.input_group else None
                    items[cid] = [(g, spikes)]
            yield from w.run_phase(items, w.net.populations[g].name)
            yield from w.barrier()
        w.frame_done()
        yield from w.end_of_frame(t_frame)


def timestep_controller(w: World, stimulus: np.ndarray):
    stop_k, stop_frame = w.options["stop_on_output"], None
    for frame in range(stimulus.shape[0]):
        w.start_frame(frame)
        t_frame = int(w.env.now)
        items = {
            cid: [(g, _input_spikes(w, cid, stimulus[frame]) if g == w.input_group else None) for g in sorted(groups)]
            for cid, groups in w.tables.groups.items()
        }
        yield from w.run_phase(items)
        yield from w.barrier()
        w.frame_done()
        yield from w.end_of_frame(t_frame)
        if stop_k is not None and stop_frame is None and w.first_output is not None:
            stop_frame = frame + stop_k
        if stop_frame is not None and frame >= stop_frame:
            break


def leak_pass(w: World):
    """SimPy process: every core leaks its neurons at the frame start (async modes)."""
    busy = leak_cycles(w)
    w.counters.busy_cycles += busy
    if busy.max() > 0:
        yield w.env.timeout(int(busy.max()))


def leak_cycles(w: World) -> np.ndarray:
    """Per core: its frame-start leak pass (idle update per LIF neuron, plus the cuba current
    updates and delay-slot reads)."""
    hc, n = w.hw.core, w.hw.n_cores
    lif = np.bincount(w.mapping.core_of[w.is_lif], minlength=n).astype(np.int64)
    x = w.extra_ops_per_core
    return (
        lif * hc.latency_neuron_update_idle_cycles
        + x["synaptic_current"] * hc.latency_synaptic_current_cycles
        + x["delay_read"] * hc.latency_delay_read_cycles
    )


def readout_pass(w: World):
    """SimPy process: the membrane read-out of non-spiking output neurons at the frame end."""
    busy = w.extra_ops_per_core["membrane_read"] * w.hw.core.latency_membrane_read_cycles
    if busy.max() > 0:
        w.counters.busy_cycles += busy
        yield w.env.timeout(int(busy.max()))


def emission(w: World, gids: np.ndarray):
    """SimPy process: the neurons ``gids`` send their spikes now, each from its core (one
    evaluation per core and population), as one phase."""
    if gids.size == 0:
        return
    items: dict[int, list] = {}
    core_of, pop_of = w.mapping.core_of, w.net.population_of
    for cid in sorted({int(c) for c in core_of[gids]}):
        mine = gids[core_of[gids] == cid]
        items[cid] = [(int(g), mine[pop_of[mine] == g]) for g in sorted({int(p) for p in pop_of[mine]})]
    yield from w.run_phase(items)


def async_global_controller(w: World, stimulus: np.ndarray):
    o = w.options
    F, policy, cap, stop_k = o["group_size"], o["policy"], o["max_steps"], o["stop_on_output"]
    rng = np.random.default_rng([o["seed"], w.sample_index])
    ss = StepState(w.net.n_neurons)
    stop_at, steps_total = None, 0
    for frame in range(stimulus.shape[0]):
        if stop_at is not None and steps_total >= stop_at:
            break
        w.start_frame(frame)
        t_frame = int(w.env.now)
        frame_start(w, ss)
        yield from leak_pass(w)
        yield from emission(w, frame_inputs(w, stimulus[frame]))
        integrate_and_check(w, ss)
        steps_total += 1
        step = 0
        while ss.ready.any() and step < cap:
            if stop_at is not None and steps_total >= stop_at:
                break
            step += 1
            w.step = step  # send step `step` (step 0: the stimulus)
            steps_total += 1
            chosen = select(np.flatnonzero(ss.ready), F, policy, priority=ss.priority, sequence=ss.sequence, rng=rng)
            ss.sent(chosen)
            yield from emission(w, chosen)
            integrate_and_check(w, ss)
            if stop_k is not None and stop_at is None and w.first_output is not None:
                stop_at = steps_total + stop_k
        ss.drop(slice(None))
        count_updates(w, ss)
        yield from readout_pass(w)
        w.frame_done()
        yield from w.barrier()
        yield from w.end_of_frame(t_frame)
        w.steps_per_frame.append(step)
