"""The readout of one sample: spike counts in emission order, the output population's events,
the decision (the cycle from which the arg-max stays on the label) and the figures up to it.

A spiking output is read by its spike counts. A non-spiking output (NIR ``LI``, ``CubaLI``, ``I``:
``spiking=False``) is read by its membranes at the end of each frame (:class:`MembraneReadout`):
the readout is their maximum over the frames (``max``, Norse's decoder), their mean (``mean``) or
the last frame's (``last``); the prediction is its arg-max and the decision the end of the frame
from which the arg-max of the readout so far stays on the label."""

from __future__ import annotations

import numpy as np

from neurosim.sim.chip import Chip

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


class SpikeLog:
    """The spikes of one sample in emission order: counts, output readout and the decision."""

    def __init__(self, chip: Chip):
        self.chip = chip
        log = chip.spike_log
        n_groups = len(chip.net.populations)
        if log:
            self.ids = np.concatenate([ids for _, _, ids, _ in log])
            self.cycles = np.concatenate([c for _, _, _, c in log]).astype(np.int64)
            groups = np.concatenate([np.full(ids.size, g, np.int64) for _, g, ids, _ in log])
        else:
            self.ids = self.cycles = groups = np.zeros(0, np.int64)
        self.groups = groups
        self.per_group = np.bincount(groups, minlength=n_groups).astype(np.int64)

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
