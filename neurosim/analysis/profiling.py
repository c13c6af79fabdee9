"""Spike-rate profiling: spikes per neuron of a sample, and the mean spikes per inference of every
neuron measured by simulating in ``sync`` mode (the traffic weights of the mapping tools)."""

from __future__ import annotations

import numpy as np

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.network import Network
from neurosim.errors import MappingError
from neurosim.mapping.registry import map_network
from neurosim.sim.chip import Chip

# ---- spike rates from a profiling run ----------------------------------------------------------------


def spike_counts(spike_log, n_neurons: int) -> np.ndarray:
    """Spikes per neuron in one sample, from ``Chip.spike_log`` entries ``(frame, group, ids, cycles)``."""
    ids = [np.asarray(e[2], np.int64) for e in spike_log]
    if not ids:
        return np.zeros(n_neurons, np.int64)
    return np.bincount(np.concatenate(ids), minlength=n_neurons).astype(np.int64)


def profile_rates(net: Network, hw: HardwareSpec, inputs: np.ndarray, mapping=None) -> np.ndarray:
    """Mean spikes per inference of every neuron (input neurons included) over ``inputs``
    (samples x frames x channels: bool spikes, or event counts, a count k being k input spikes),
    measured by simulating each sample on ``hw`` in ``sync``
    mode. Spike counts in ``sync`` mode do not depend on the mapping or the chip; ``mapping``
    defaults to ``sequential`` / ``row-major``, on a roomier copy of the chip (larger mesh, no
    fan-in limit) if the network does not fit it."""

    inputs = np.asarray(inputs)
    if inputs.dtype != np.bool_ and not np.issubdtype(inputs.dtype, np.integer):
        raise MappingError(f"profiling needs spikes or event counts, got stimuli of dtype {inputs.dtype}")
    if inputs.ndim != 3 or inputs.shape[0] == 0:
        raise MappingError(f"profiling needs stimuli of shape (samples >= 1, frames, channels), got {inputs.shape}")
    if mapping is None:
        try:
            mapping = map_network(net, hw)
        except MappingError:  # a roomier copy of the chip: spike counts do not depend on it
            n = max(net.n_neurons, 1)
            side = int(np.ceil(np.sqrt(n)))  # enough cores for one neuron each
            mesh = hw.mesh.model_copy(update={"width": side, "height": side, "cores_per_tile": 1})
            core = hw.core.model_copy(update={"max_fan_in": max(hw.core.max_fan_in, n), "max_synapses": None})
            hw = hw.model_copy(update={"mesh": mesh, "core": core})
            mapping = map_network(net, hw)
    chip = Chip(hw, net, mapping)
    total = np.zeros(net.n_neurons, np.int64)
    for x in inputs:
        chip.run_sample(x)
        total += spike_counts(chip.spike_log, net.n_neurons)
    return total / inputs.shape[0]
