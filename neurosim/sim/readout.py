"""The readout of one sample: spike counts in emission order, the output population's events,
the decision (the cycle from which the arg-max stays on the label) and the figures up to it.

A spiking output is read by its spike counts. A non-spiking output (NIR ``LI``, ``CubaLI``, ``I``:
``spiking=False``) is read by its membranes at the end of each frame (:class:`MembraneReadout`):
the readout is their maximum over the frames (``max``, Norse's decoder), their mean (``mean``) or
the last frame's (``last``); the prediction is its arg-max and the decision the end of the frame
from which the arg-max of the readout so far stays on the label.

The paper's per-frame metrics (docs/paper-metrics.md: network spikes and forward steps to the
first output spike and to the target's, steps per frame, spike density) come from the same log,
each entry's forward step (``Chip.spike_steps``) included: :meth:`SpikeLog.frame_metrics`."""

from __future__ import annotations

import numpy as np

from neurosim.sim.chip import Chip
from neurosim.sim.counters import FrameMetrics

READOUTS = ("max", "mean", "last")


def output_is_spiking(net) -> bool:
    """Whether the output population is read by its spikes (every neuron spiking) or by its
    membranes (none spiking); a mix is refused (``ValueError``)."""
    spiking = net.by_name[net.output].neurons.spiking
    if spiking.all():
        return True
    if not spiking.any():
        return False
    raise ValueError(
        f"output population {net.output!r} mixes spiking and non-spiking neurons; "
        "read it out by spikes or by membranes, not both"
    )


class MembraneReadout:
    """The output membranes after each frame (frames x output neurons) and the cycle at which each
    frame's work was done; read out by ``readout`` (:data:`READOUTS`)."""

    def __init__(self, membranes: list[np.ndarray], frame_end: list[int], readout: str):
        n = membranes[0].size if membranes else 0
        self.v = np.array(membranes, np.float32).reshape(len(membranes), n)
        self.frame_end = np.asarray(frame_end, np.int64)
        self.readout = readout

    def running(self) -> np.ndarray:
        """The readout over frames ``0..f`` for every frame ``f`` (frames x output neurons)."""
        if self.readout == "max":
            return np.maximum.accumulate(self.v, axis=0)
        if self.readout == "mean":
            return (np.cumsum(self.v, axis=0, dtype=np.float64) / np.arange(1, len(self.v) + 1)[:, None]).astype(
                np.float32
            )
        return self.v

    def values(self) -> np.ndarray:
        """The readout of the sample (one value per output neuron)."""
        run = self.running()
        return run[-1] if len(run) else np.zeros(self.v.shape[1], np.float32)

    def decision_cycle(self, label: int) -> int | None:
        """The end cycle of the frame from which the arg-max of the readout stays on the label."""
        if not len(self.v):
            return None
        hit = np.argmax(self.running(), axis=1) == label
        if not hit[-1]:
            return None
        wrong = np.flatnonzero(~hit)
        first = int(wrong[-1]) + 1 if wrong.size else 0
        return int(self.frame_end[first])


def per_spike(spike_log: list, values) -> np.ndarray:
    """One value per entry of a spike log of ``(frame, group, ids, cycles)`` entries (``values``),
    repeated for each of the entry's spikes."""
    sizes = np.fromiter((e[2].size for e in spike_log), np.int64, len(spike_log))
    return np.repeat(np.asarray(values, np.int64), sizes) if sizes.size else np.zeros(0, np.int64)


class SpikeLog:
    """The spikes of one sample in emission order: counts, output readout and the decision."""

    def __init__(self, chip: Chip):
        self.chip = chip
        log = chip.spike_log
        n_groups = len(chip.net.populations)
        if log:
            self.ids = np.concatenate([ids for _, _, ids, _ in log])
            self.cycles = np.concatenate([c for _, _, _, c in log]).astype(np.int64)
            groups = per_spike(log, [g for _, g, _, _ in log])
        else:
            self.ids = self.cycles = groups = np.zeros(0, np.int64)
        self.groups = groups
        self.per_group = np.bincount(groups, minlength=n_groups).astype(np.int64)
        self.frame_of = self._per_spike([f for f, _, _, _ in log])
        steps = getattr(chip, "spike_steps", None)  # absent in an engine that records no steps
        self.step_of = self._per_spike(steps) if steps is not None and len(steps) == len(log) else None

    def _per_spike(self, values) -> np.ndarray:
        """One value per log entry, repeated for each of its spikes."""
        return per_spike(self.chip.spike_log, values)

    def output_counts(self) -> np.ndarray:
        sl = self.chip.out_span
        out = self.ids[self.groups == self.chip.output_group] - sl.start
        return np.bincount(out, minlength=sl.stop - sl.start)

    def output_events(self) -> tuple[np.ndarray, np.ndarray]:
        """(cycle, output neuron) of every output spike, in time order."""
        is_out = self.groups == self.chip.output_group
        ids, cyc = self.ids[is_out] - self.chip.out_span.start, self.cycles[is_out]
        order = np.lexsort((ids, cyc))
        return cyc[order], ids[order]

    def decision_cycle(self, label: int) -> int | None:
        """The cycle from which the arg-max of the output counts is the label and stays so."""
        cyc, ids = self.output_events()
        counts = np.zeros(self.chip.out_span.stop - self.chip.out_span.start, np.int64)
        decided = None
        for n, c in zip(ids.tolist(), cyc.tolist()):
            counts[n] += 1
            if int(np.argmax(counts)) == label:
                decided = c if decided is None else decided
            else:
                decided = None
        return decided

    def until(self, cycle: int) -> dict:
        """Spikes (input excluded) and synaptic operations caused by spikes up to ``cycle``."""
        upto = self.cycles <= cycle
        neuron_spikes = upto & (self.groups != self.chip.input_group)
        return {
            "spikes_to_decision": int(neuron_spikes.sum()),
            "synops_to_decision": int(self.chip.synops_of[self.ids[upto]].sum()),
        }

    def frame_metrics(self, label: int) -> FrameMetrics | None:
        """The paper's metrics per frame (:class:`FrameMetrics`, docs/paper-metrics.md) of the
        sample, ``label`` its target class; None when the forward step of the mode is not
        recorded (an async run whose controller does not set ``chip.step``)."""
        chip = self.chip
        mode, scope = chip.options.get("mode", "sync"), chip.options.get("scope", "global")
        n_frames = len(chip.frame_end)
        net = self.groups != chip.input_group
        frame = self.frame_of[net]
        if frame.size:
            n_frames = max(n_frames, int(frame.max()) + 1)
        if mode == "sync":  # one step per population phase, in phase order (the input's: 0)
            position = np.zeros(len(chip.phase_order), np.int64)
            position[chip.phase_order] = np.arange(len(chip.phase_order))
            step = position[self.groups[net]]
            steps = np.full(n_frames, len(chip.phase_order) - 1, np.int64)
        elif mode == "timestep":  # the frame is one step
            step = np.ones(frame.size, np.int64)
            steps = np.ones(n_frames, np.int64)
        elif self.step_of is None:
            return None
        else:
            step = self.step_of[net]
            if scope == "global":
                steps = np.zeros(n_frames, np.int64)
                steps[: len(chip.steps_per_frame)] = chip.steps_per_frame
            else:  # the issues of the frame: the last issue's count
                steps = np.zeros(n_frames, np.int64)
                np.maximum.at(steps, self.frame_of, self.step_of)
        sl = chip.out_span
        is_out = self.groups[net] == chip.output_group
        out_class = np.where(is_out, self.ids[net] - sl.start, -1)
        return frame_metrics(
            frame,
            step,
            out_class,
            steps,
            label,
            neurons=int(chip.net.n_neurons - chip.net.by_name[chip.net.input].size),
            spiking_output=output_is_spiking(chip.net),
            kind=step_kind(mode, scope),
        )


def step_kind(mode: str, scope: str = "global") -> str:
    """What one forward step is in ``mode`` (docs/paper-metrics.md): ``send step`` (async,
    global scheduler: step 0 delivers the input, step k is the scheduler's k-th send), ``issue``
    (async, per-core schedulers: the chip-wide count of issue rounds in the frame), ``phase``
    (sync: one per population, in phase order; the input's is 0) or ``timestep`` (the frame is
    one step)."""
    if mode == "async":
        return "send step" if scope == "global" else "issue"
    return "phase" if mode == "sync" else "timestep"


def first_step(frame: np.ndarray, step: np.ndarray, hit: np.ndarray, n_frames: int) -> np.ndarray:
    """Per frame, the smallest ``step`` of the spikes where ``hit`` (-1 in frames without)."""
    big = np.iinfo(np.int64).max
    out = np.full(n_frames, big, np.int64)
    np.minimum.at(out, frame[hit], step[hit])
    out[out == big] = -1
    return out


def spikes_up_to(frame: np.ndarray, step: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Per frame, the spikes with ``step`` <= the frame's ``limit`` (-1 where the limit is -1)."""
    lim = limit[frame]
    ok = (lim >= 0) & (step <= lim)
    out = np.bincount(frame[ok], minlength=limit.size).astype(np.int64)
    out[limit < 0] = -1
    return out


def frame_metrics(
    frame: np.ndarray,
    step: np.ndarray,
    out_class: np.ndarray,
    steps: np.ndarray,
    target: int,
    *,
    neurons: int,
    spiking_output: bool = True,
    kind: str = "send step",
) -> FrameMetrics:
    """The paper's metrics per frame from the network spikes of one sample (input spikes
    excluded): each spike's ``frame``, forward ``step`` and output class (``out_class``, -1 for a
    spike of a non-output neuron); ``steps``: the index of each frame's last step (its length is
    the number of frames); ``target``: the sample's label; ``neurons``: non-input neurons."""
    n = int(np.asarray(steps).size)
    frame, step, out_class = (np.asarray(a, np.int64) for a in (frame, step, out_class))
    first = first_step(frame, step, out_class >= 0, n)
    tgt = first_step(frame, step, out_class == int(target), n)
    return FrameMetrics(
        network_spikes=np.bincount(frame, minlength=n).astype(np.int64),
        steps=np.asarray(steps, np.int64),
        first_output_step=first,
        spikes_to_first_output=spikes_up_to(frame, step, first),
        target_step=tgt,
        spikes_to_target=spikes_up_to(frame, step, tgt),
        neurons=int(neurons),
        spiking_output=bool(spiking_output),
        step_kind=kind,
    )
