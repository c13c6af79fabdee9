"""A plain time-stepped numpy forward: the oracle for the simulator's ``sync`` mode.

No hardware, no events: per frame, populations in topological order, each takes the whole
frame's synaptic current and runs :func:`neurosim.neuron.step` (membrane ``v``, truncated to a
``membrane_grid`` after the leak when one is given, synaptic current
``i`` of cuba neurons, pending delayed resets). A spike of frame ``f`` through a projection of
delay ``d`` (:meth:`Network.delay_of`: recurrent projections at least 1) is integrated in frame
``f + d``: such currents wait in a ring of ``max_delay`` future frames and join the frame's
current (``feed-forward + delayed``) when their frame comes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from neurosim.describe.network import INPUT, Network
from neurosim.neuron import DTYPE, step


def sync_frames(
    net: Network, stimulus: np.ndarray, membrane_grid: float = 0.0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per frame of one sample, the spikes (bool, all neurons, inputs included) and the membranes
    after the frame (after reset); ``stimulus`` is (frames x input channels: bool spikes, or event
    counts, a count k sending k times the weights); ``membrane_grid``:
    the hardware's ``core.membrane_grid`` (0: off). The arrays yielded are the loop's own: copy
    them to keep them."""
    for s, v, _ in sync_states(net, stimulus, membrane_grid):
        yield s, v


def sync_states(
    net: Network, stimulus: np.ndarray, membrane_grid: float = 0.0
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """As :func:`sync_frames`, with the synaptic currents after the frame: ``(spikes, v, i)``."""
    n = net.n_neurons
    w = net.weights
    delayed = {d: m.T.tocsr() for d, m in net.weights_by_delay().items() if d > 0}
    depth = net.max_delay
    ring = np.zeros((max(depth, 1), n), DTYPE)  # ring[f % depth]: current due in frame f
    v = np.zeros(n, DTYPE)
    i = np.zeros(n, DTYPE)
    pending = np.zeros(n, bool)
    inp = net.span(net.input)
    for f, frame in enumerate(stimulus):
        s = np.zeros(n, bool)
        s[inp] = frame
        act = s.astype(DTYPE)  # what each neuron sends: 0/1, or an input channel's event count
        act[inp] = frame
        due = ring[f % depth].copy() if depth else ring[0]
        if depth:
            ring[f % depth] = 0
        for pop in net.populations:
            if pop.kind == INPUT:
                continue
            sl = net.span(pop.name)
            cur = np.asarray(w[:, sl].T @ act, DTYPE) + due[sl]
            s[sl], v[sl], i[sl], pending[sl] = step(v[sl], i[sl], pending[sl], cur, pop.neurons, membrane_grid)
            act[sl] = s[sl]
        for d, mt in delayed.items():
            ring[(f + d) % depth] += np.asarray(mt @ act, DTYPE)
        yield s, v, i


def forward_sync(net: Network, stimulus: np.ndarray, membrane_grid: float = 0.0) -> np.ndarray:
    """Spikes (frames x neurons, bool) of one sample; ``stimulus`` is (frames x input channels)."""
    spikes = np.zeros((stimulus.shape[0], net.n_neurons), bool)
    for f, (s, _) in enumerate(sync_frames(net, stimulus, membrane_grid)):
        spikes[f] = s
    return spikes


def membranes_sync(net: Network, stimulus: np.ndarray, membrane_grid: float = 0.0) -> np.ndarray:
    """Membranes after each frame (frames x neurons, float32) of one sample."""
    out = np.zeros((stimulus.shape[0], net.n_neurons), DTYPE)
    for f, (_, v) in enumerate(sync_frames(net, stimulus, membrane_grid)):
        out[f] = v
    return out
