"""The readout of one sample: spike counts in emission order, the output population's events,
the decision (the cycle from which the arg-max stays on the label) and the figures up to it."""

from __future__ import annotations

import numpy as np

from neurosim.sim.chip import Chip


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
