"""Asynchronous execution with one global scheduler: the trainer's unlayered forward exactly.

Per frame (docs/design.md, "Execution modes"; the same steps as ``neurosim.train`` in ``unlayered`` mode):

1. every neuron leaks (``frame_start``; truncated to ``core.membrane_grid`` when set), refractory
   flags clear, last frame's recurrent current
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

asynctorch's options (docs/asynctorch.md; the trainer's ``forward_unlayered`` has the same):

* ``refrac_dropout=p``: at each crossing, with probability ``p`` (a draw from a generator seeded
  by the run seed and the sample), the neuron is not made refractory nor frozen: it resets and may
  integrate and cross again in the frame. While it waits in the ready queue its queued value adds
  up (``k`` crossings before it is sent); when sent it emits ``k`` binary spike messages, each
  paying the message, routing and synaptic costs and counted as a spike. Its momentum priority is
  the membrane at its latest crossing; a fifo neuron keeps its place in the queue.
* ``stop_on_output_frame=K``: per frame, the frame ends ``K`` send steps after the step that sent
  its first output spike (neurons still ready, and queued input, are dropped, as at the step cap).
* ``prioritize_input=False``: the frame's input events join the ready queue at the frame start
  (value = the event count, momentum priority 0, fifo in channel order before any crossing) and
  are sent at most ``F`` at a time together with the neurons; step 0 delivers nothing.
* ``momentum_noise=lambda``: momentum keys ``priority + U[0, 1) * lambda``.
* event counts: a stimulus entry ``k`` is ``k`` input spike messages.

The step cap defaults to the number of LIF neurons (plus the input channels with queued input),
which never truncates a frame; with ``refrac_dropout`` there is none by default, and a frame
still running after 1000 steps per neuron and input channel is an error (set ``max_steps``).

The extended neuron model (:mod:`neurosim.neuron`), event by event:

* frame start: ``v <- decay v + bias``; a cuba neuron decays its current, ``i <- syn_decay i``,
  and its membrane takes it, ``v <- v + i`` (the current before the decay where ``current_lag``);
  then the delayed reset of last frame's crossings: ``v - threshold``, or ``v_reset`` with the
  membrane *frozen* for the frame (sync mode's hard delayed reset discards the frame's input too);
* a delivery adds to the current ``i`` of cuba neurons and to the membrane of every neuron that is
  not frozen, except cuba neurons with ``current_lag`` (their membrane saw last frame's current
  at the frame start); the currents due this frame from recurrent and delayed projections
  (:meth:`Chip.start_frame`) are integrated at step 0 with the stimulus;
* a crossing makes the neuron ready and refractory (one spike per frame); neurons that reset at
  once are reset and frozen; ``resets=False`` and ``delayed_reset`` neurons keep integrating
  (the latter reset at the next frame start: the reset is due from the crossing, as an immediate
  reset is, even when the spike is dropped at the step cap); ``spiking=False`` neurons never
  cross.

Rounding order against sync mode: sync adds the frame's whole input to the leaked membrane at
once, ``(decay v + bias) + x`` with ``x = syn_decay i + I`` for a cuba neuron, then applies a
delayed subtractive reset; async adds ``syn_decay i`` first, the input step by step after it,
and subtracts a delayed reset's threshold before the input. The sums are the same and exact with
weights, biases and decays on a power-of-two grid; otherwise the last bit may differ. Beyond
rounding, async fires a neuron as soon as it crosses, so it equals sync (with ``F`` >= every
neuron) when no neuron crosses early on a partial input that later input would undo, e.g. with
excitatory weights and hard resets (tests/sim/test_neuron_model.py).

Timing: a step starts when the previous one's deliveries are all integrated; the chosen neurons'
cores send at the step's start; each core's leak pass (idle-update latency per neuron, plus the
synaptic-current updates and delay-slot reads) runs at the frame start, the membrane read-out of
a non-spiking output at the frame end. Neuron updates are counted once per neuron per frame, active when it received a
non-zero current or spiked (as in sync mode), so the modes' energies compare like for like.

Speed: with numba installed each step runs batched (:mod:`neurosim.sim.async_global_fast`: the
same spikes, counters, cycles and phase records as the per-core SimPy items; a module switch
``ENABLED``), and in the common case (fifo or momentum, no asynctorch option but queued input,
contention-free unicast, one population per core) every step of a frame in one compiled call.
"""

from __future__ import annotations

import numpy as np

from neurosim import neuron
from neurosim.errors import SimulationError
from neurosim.sim import async_global_fast
from neurosim.sim.core import pays_active_update, update_rule_state
from neurosim.sim.scheduler import select


class StepState:
    """Per-sample async state beyond the membrane: refractory (crossed this frame: no second
    spike), frozen (the membrane takes no more input this frame: reset at its crossing, or hard
    reset by a delayed reset at the frame start), ready, priority, crossing order."""

    def __init__(self, n: int, refrac_dropout: float = 0.0, rng: np.random.Generator | None = None):
        self.refrac_dropout, self.rng = refrac_dropout, rng
        self.value = np.zeros(n, np.int64)  # queued spikes (or input events) of each ready entry
        self.fired = np.zeros(n, np.int64)  # spikes sent this frame
        self.refractory = np.zeros(n, bool)
        self.frozen = np.zeros(n, bool)
        self.ready = np.zeros(n, bool)
        self.priority = np.zeros(n, neuron.DTYPE)
        self.sequence = np.zeros(n, np.int64)
        self.counter = 0
        self.frame_active = np.zeros(n, bool)  # received a non-zero current this frame
        self.spiked_frame = np.zeros(n, bool)  # sent a spike this frame
        self.start_state: np.ndarray | None = None  # for core.update_rule nonzero_state (frame start)

    def crossed(self, ids: np.ndarray, v: np.ndarray, resets_now: np.ndarray) -> None:
        """Neurons ``ids`` crossed threshold with membrane ``v``: ready (in crossing order; one
        more queued spike) and refractory; frozen where ``resets_now`` (they were reset at the
        crossing). With ``refrac_dropout`` each is, with that probability, neither."""
        self.priority[ids] = v
        newly = ids[~self.ready[ids]]
        self.sequence[newly] = self.counter + np.arange(newly.size)
        self.counter += newly.size
        self.value[ids] += 1
        if self.refrac_dropout > 0 and self.rng is not None:
            stay = self.rng.random(ids.size) >= self.refrac_dropout
            ids, resets_now = ids[stay], resets_now[stay]
        self.refractory[ids] = True
        self.frozen[ids[resets_now]] = True
        self.ready[newly] = True

    def queue_inputs(self, ids: np.ndarray, counts: np.ndarray) -> None:
        """Queued input: the input entries ``ids`` (``counts`` events each) are ready at the
        frame start, momentum priority 0, fifo in this order before any crossing."""
        self.priority[ids] = 0
        self.sequence[ids] = self.counter + np.arange(ids.size)
        self.counter += ids.size
        self.value[ids] = counts
        self.ready[ids] = True

    def emitted(self, ids: np.ndarray) -> np.ndarray:
        """The spike messages of the chosen entries ``ids``: each id as many times as its value."""
        k = self.value[ids]
        return ids if bool((k == 1).all()) else np.repeat(ids, k)

    def sent(self, ids: np.ndarray) -> None:
        """Neurons ``ids`` were chosen by the scheduler: no longer ready, spiked this frame."""
        self.ready[ids] = False
        self.spiked_frame[ids] = True
        self.fired[ids] += self.value[ids]
        self.value[ids] = 0

    def drop(self, ids: np.ndarray | slice) -> None:
        """Neurons ``ids`` are no longer ready (dropped at a step cap or a stop)."""
        self.ready[ids] = False
        self.value[ids] = 0

    def new_frame(self) -> None:
        """Clear the per-frame flags."""
        for flags in (self.refractory, self.frozen, self.ready, self.frame_active, self.spiked_frame):
            flags[:] = False
        self.value[:] = 0
        self.fired[:] = 0


def integrate_and_check(chip, ss: StepState, idx=None, pp=None) -> np.ndarray:
    """Integrate the accumulated current of neurons ``idx`` (all when None; ``pp`` their
    parameters), check thresholds; returns the global ids that crossed (now ready and refractory;
    reset and frozen where they reset at once, pending a reset where ``delayed_reset``).

    The current joins the synaptic current ``i`` of cuba neurons and the membrane of every neuron
    that is not frozen, except cuba neurons with ``current_lag`` (their membrane took last
    frame's current at the frame start)."""
    st = chip.state
    if idx is None:
        idx, pp = slice(None), chip.net.params
    cur = st.acc[idx].copy()
    st.acc[idx] = 0
    if pp.cuba.any():
        st.i[idx] = np.where(pp.cuba, st.i[idx] + cur, st.i[idx]).astype(neuron.DTYPE, copy=False)
        to_v = np.where(pp.cuba & pp.current_lag, neuron.DTYPE(0), cur).astype(neuron.DTYPE, copy=False)
    else:
        to_v = cur
    v = neuron.integrate(st.v[idx], to_v, ss.frozen[idx])
    s = neuron.fire(v, pp, ss.refractory[idx])
    st.v[idx] = neuron.reset(v, s, pp)
    ss.frame_active[idx] |= cur != 0
    local = np.flatnonzero(s)
    ids = local + (idx.start or 0) if isinstance(idx, slice) else idx[local]
    if ids.size:
        ss.crossed(ids, v[local], neuron.resets_now(pp)[local])
        st.pending[ids] |= pp.delayed_reset[local]
    return ids


def frame_start(chip, ss: StepState) -> None:
    """The frame-start update of every neuron, and the per-frame flags cleared (``Chip.start_frame``
    has already moved the currents due this frame, recurrent and delayed, into the accumulator):

    ``v <- decay v + bias``; cuba neurons: ``i <- syn_decay i`` and ``v <- v + i`` (the decayed
    current; the old ``i`` where ``current_lag``); then the delayed reset of last frame's spikes
    (``v - threshold``, or ``v_reset`` and frozen for the frame: sync mode's hard delayed reset
    discards the frame's input too)."""
    st, p, hc = chip.state, chip.net.params, chip.hw.core
    ss.new_frame()
    ss.start_state = update_rule_state(hc.update_rule, st.v, st.i, p)  # before the leak
    v = neuron.frame_start(st.v, p, hc.membrane_grid)
    if p.cuba.any():
        x, st.i[:] = neuron.synaptic_input(st.i, np.zeros_like(st.i), p)
        v = v + x
    if st.pending.any():
        v = neuron.pending_reset(v, st.pending, p)
        ss.frozen |= st.pending & p.delayed_reset & p.resets & ~p.subtract
        st.pending[:] = False
    st.v[:] = v


def count_updates(chip, ss: StepState) -> None:
    """One neuron update per neuron per frame on its core: active or idle by ``core.update_rule``
    (:func:`neurosim.sim.core.pays_active_update`, as sync mode decides it); and the frame's
    synaptic-current updates, delay-slot reads, membrane read-outs and fired neurons
    (``spike_fired``), as sync mode counts them."""
    ctr, lif, n = chip.counters, chip.is_lif, chip.counters.busy_cycles.size
    core_of = chip.mapping.core_of
    active = pays_active_update(
        chip.hw.core.update_rule, ss.frame_active, ss.spiked_frame, chip.state.i, ss.start_state
    )
    active &= lif
    ctr.ops["spike_fired"] += np.bincount(core_of[lif], weights=ss.fired[lif], minlength=n).astype(np.int64)
    ctr.ops["neuron_update_active"] += np.bincount(core_of[active], minlength=n)
    ctr.ops["neuron_update_idle"] += np.bincount(core_of[~active & lif], minlength=n)
    for op, per_core in chip.extra_ops_per_core.items():
        ctr.ops[op] += per_core


def input_events(frame_stimulus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(channels, counts)`` of a frame's stimulus (bool spikes or integer event counts): the
    channels with events and their counts."""
    ch = np.flatnonzero(frame_stimulus)
    return ch, frame_stimulus[ch].astype(np.int64)


def input_messages(frame_stimulus: np.ndarray, offset: int) -> np.ndarray:
    """The global ids of a frame's input spike messages: a channel with ``k`` events ``k`` times."""
    ch, k = input_events(frame_stimulus)
    return (ch if bool((k == 1).all()) else np.repeat(ch, k)) + offset


def dropout_rng(chip) -> np.random.Generator:
    """The generator of ``refrac_dropout``'s draws: the run seed and the sample (its own stream,
    apart from the schedulers')."""
    return np.random.default_rng([chip.options["seed"], chip.sample_index, 0, 0x5EED])


def _send(env, chip, fast, gids: np.ndarray):
    """The spikes ``gids`` are sent now: one phase, batched where it can
    (:mod:`neurosim.sim.async_global_fast`), else on the per-core path. Returns whether it ran
    batched."""
    if gids.size == 0:
        return False
    end = fast.phase(gids, int(env.now)) if fast is not None else None
    if end is None:
        yield from chip.run_emission(env, gids)
        return False
    if end > env.now:
        yield env.timeout(end - env.now)
    return True


def _check(chip, ss: StepState, fast, batched_step: bool) -> None:
    """The threshold checks after a step: of the neurons that can cross after a batched one, of
    every neuron otherwise (the same crossings)."""
    if batched_step:
        fast.check(ss)
        return
    ids = integrate_and_check(chip, ss)
    if fast is not None:
        fast.checked(ss, ids)


def async_global_controller(env, chip, stimulus):
    """SimPy process: one sample, asynchronous execution, global scheduler."""
    o = chip.options
    F, policy, cap, stop_k = o["group_size"], o["policy"], o["max_steps"], o["stop_on_output"]
    stop_f, noise = o.get("stop_on_output_frame"), float(o.get("momentum_noise", 0.0))
    queued = not o.get("prioritize_input", True)
    rng = np.random.default_rng([o["seed"], chip.sample_index])
    ss = StepState(chip.net.n_neurons, float(o.get("refrac_dropout", 0.0)), dropout_rng(chip))
    guard = 1000 * (int(chip.is_lif.sum()) + stimulus.shape[1])  # with no cap (refrac_dropout)
    barrier_cycles = chip.hw.barrier.latency(chip.tiles_in_use)
    out_group, groups = chip.output_group, chip.net.population_of
    fast = async_global_fast.prepare(chip)  # None: every step on the per-core path
    stop_at, steps_total = None, 0  # steps count as in the trainer: step 0 of each frame too
    for frame in range(stimulus.shape[0]):
        if stop_at is not None and steps_total >= stop_at:
            break
        chip.start_frame(frame)
        t_frame = env.now
        frame_start(chip, ss)
        yield from chip.leak_pass(env)
        # step 0: the stimulus (queued input: it joins the ready queue instead)
        stim = np.zeros(0, np.int64)
        if queued:
            ch, counts = input_events(stimulus[frame])
            ss.queue_inputs(ch + chip.input_offset, counts)
        else:
            stim = input_messages(stimulus[frame], chip.input_offset)
        step, first_out = 0, None
        if fast is not None and fast.frame_applies():  # every step of the frame in one call
            step, end = fast.run_frame(ss, int(env.now), stim)
            steps_total += 1 + step
            if end > env.now:
                yield env.timeout(end - env.now)
        else:
            yield from _send(env, chip, fast, stim)
            _check(chip, ss, fast, False)  # every neuron: the frame start may have moved any membrane
            steps_total += 1
        while ss.ready.any() and (cap is None or step < cap):  # (none left after run_frame)
            if stop_at is not None and steps_total >= stop_at:
                break
            if cap is None and step >= guard:
                raise SimulationError(
                    f"sample {chip.sample_index} frame {frame}: still running after {step} steps with "
                    "refrac_dropout (a recurrent loop?); set max_steps"
                )
            step += 1
            chip.step = step  # send step `step` (step 0: the stimulus)
            steps_total += 1
            chosen = select(
                np.flatnonzero(ss.ready), F, policy, priority=ss.priority, sequence=ss.sequence, rng=rng, noise=noise
            )
            messages = ss.emitted(chosen)
            ss.sent(chosen)
            _check(chip, ss, fast, (yield from _send(env, chip, fast, messages)))
            if stop_k is not None and stop_at is None and chip.first_output is not None:
                stop_at = steps_total + stop_k
            if stop_f is not None:  # per frame: K steps after the step that sent the first output
                if first_out is None and bool((groups[chosen] == out_group).any()):
                    first_out = step
                if first_out is not None and step >= first_out + stop_f:
                    break
        ss.drop(slice(None))  # dropped at the cap (or at the stop)
        if fast is not None:
            fast.flush()
        count_updates(chip, ss)
        yield from chip.readout_pass(env)
        chip.frame_done(env.now)
        chip.count_barrier()
        if barrier_cycles:
            yield env.timeout(barrier_cycles)
        yield from chip.end_of_frame(env, t_frame)
        chip.steps_per_frame.append(step)
