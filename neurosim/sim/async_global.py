"""Asynchronous execution with one global scheduler: the trainer's unlayered forward exactly.

Per frame (docs/design.md, "Execution modes"; the same steps as ``neurosim.train`` in ``unlayered`` mode):

1. every neuron leaks (``frame_start``), refractory flags clear, last frame's recurrent current
   is added to this frame's input;
2. step 0: the input spikes of the frame are delivered at once;
3. after each step's deliveries every non-refractory neuron integrates the step's summed current
   (one add) and checks its threshold; a neuron that crosses becomes *ready*, records its
   membrane as priority, resets at once and is refractory for the rest of the frame;
4. each following step the scheduler sends at most ``F`` ready neurons (``fifo``, ``random``,
   ``momentum``, see :mod:`neurosim.sim.scheduler`); their messages cross the NoC and are
   integrated by the receiving cores;
5. the frame ends when nothing is ready, or at the step cap (ready neurons then are dropped);
   a frame barrier follows. With ``stop_on_output=K`` the inference ends K steps after the first
   output spike.

Timing: a step starts when the previous one's deliveries are all integrated; the chosen neurons'
cores send at the step's start; each core's leak pass (idle-update latency per neuron) runs at the
frame start. Neuron updates are counted once per neuron per frame, active when it received a
non-zero current or spiked (as in sync mode), so the modes' energies compare like for like.
"""

from __future__ import annotations

import numpy as np

from neurosim import neuron
from neurosim.sim.scheduler import select


class StepState:
    """Per-sample async state beyond the membrane: refractory, ready, priority, crossing order."""

    def __init__(self, n: int):
        self.refractory = np.zeros(n, bool)
        self.ready = np.zeros(n, bool)
        self.priority = np.zeros(n, neuron.DTYPE)
        self.sequence = np.zeros(n, np.int64)
        self.counter = 0
        self.frame_active = np.zeros(n, bool)  # received a non-zero current this frame
        self.spiked_frame = np.zeros(n, bool)  # sent a spike this frame

    def crossed(self, ids: np.ndarray, v: np.ndarray) -> None:
        """Neurons ``ids`` crossed threshold with membrane ``v``: ready (in crossing order) and
        refractory."""
        self.priority[ids] = v
        self.sequence[ids] = self.counter + np.arange(ids.size)
        self.counter += ids.size
        self.refractory[ids] = True
        self.ready[ids] = True

    def sent(self, ids: np.ndarray) -> None:
        """Neurons ``ids`` were chosen by the scheduler: no longer ready, spiked this frame."""
        self.ready[ids] = False
        self.spiked_frame[ids] = True

    def drop(self, ids: np.ndarray | slice) -> None:
        """Neurons ``ids`` are no longer ready (dropped at a step cap or a stop)."""
        self.ready[ids] = False

    def new_frame(self) -> None:
        """Clear the per-frame flags."""
        for flags in (self.refractory, self.ready, self.frame_active, self.spiked_frame):
            flags[:] = False


def integrate_and_check(chip, ss: StepState, idx=None, pp=None) -> np.ndarray:
    """Integrate the accumulated current of neurons ``idx`` (all when None; ``pp`` their
    parameters), check thresholds; returns the global ids that crossed (now ready, reset and
    refractory)."""
    st = chip.state
    if idx is None:
        idx, pp = slice(None), chip.net.params
    cur = st.acc[idx].copy()
    st.acc[idx] = 0
    refr = ss.refractory[idx]
    v = neuron.integrate(st.v[idx], cur, refr)
    s = neuron.fire(v, pp, refr)
    st.v[idx] = neuron.reset(v, s, pp)
    ss.frame_active[idx] |= cur != 0
    local = np.flatnonzero(s)
    ids = local + (idx.start or 0) if isinstance(idx, slice) else idx[local]
    if ids.size:
        ss.crossed(ids, v[local])
    return ids


def frame_start(chip, ss: StepState) -> None:
    """Leak every neuron and clear the per-frame flags (``Chip.start_frame`` has already moved
    last frame's recurrent current into this frame's)."""
    st = chip.state
    st.v[:] = neuron.frame_start(st.v, chip.net.params)
    ss.new_frame()


def count_updates(chip, ss: StepState) -> None:
    """One neuron update per neuron per frame on its core: active or idle."""
    ctr, lif, n = chip.counters, chip.is_lif, chip.counters.busy_cycles.size
    active = (ss.frame_active | ss.spiked_frame) & lif
    ctr.ops["neuron_update_active"] += np.bincount(chip.mapping.core_of[active], minlength=n)
    ctr.ops["neuron_update_idle"] += np.bincount(chip.mapping.core_of[~active & lif], minlength=n)


def async_global_controller(env, chip, stimulus):
    """SimPy process: one sample, asynchronous execution, global scheduler."""
    o = chip.options
    F, policy, cap, stop_k = o["group_size"], o["policy"], o["max_steps"], o["stop_on_output"]
    rng = np.random.default_rng([o["seed"], chip.sample_index])
    ss = StepState(chip.net.n_neurons)
    barrier_cycles = chip.hw.barrier.latency(chip.tiles_in_use)
    stop_at, steps_total = None, 0  # steps count as in the trainer: step 0 of each frame too
    for frame in range(stimulus.shape[0]):
        if stop_at is not None and steps_total >= stop_at:
            break
        chip.start_frame(frame)
        t_frame = env.now
        frame_start(chip, ss)
        yield from chip.leak_pass(env)
        # step 0: the stimulus
        inputs = np.flatnonzero(stimulus[frame]) + chip.input_offset
        yield from chip.run_emission(env, inputs)
        integrate_and_check(chip, ss)
        steps_total += 1
        step = 0
        while ss.ready.any() and step < cap:
            if stop_at is not None and steps_total >= stop_at:
                break
            step += 1
            steps_total += 1
            chosen = select(np.flatnonzero(ss.ready), F, policy, priority=ss.priority, sequence=ss.sequence, rng=rng)
            ss.sent(chosen)
            yield from chip.run_emission(env, chosen)
            integrate_and_check(chip, ss)
            if stop_k is not None and stop_at is None and chip.first_output is not None:
                stop_at = steps_total + stop_k
        ss.drop(slice(None))  # dropped at the cap (or at the stop)
        count_updates(chip, ss)
        chip.count_barrier()
        if barrier_cycles:
            yield env.timeout(barrier_cycles)
        yield from chip.end_of_frame(env, t_frame)
        chip.steps_per_frame.append(step)
