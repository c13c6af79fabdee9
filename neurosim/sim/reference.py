"""A plain time-stepped numpy forward: the oracle for the simulator's ``sync`` mode.

No hardware, no events: per frame, populations in topological order, each takes the whole
frame's synaptic current and runs :func:`neurosim.neuron.step_sync`. Recurrent projections
deliver the previous frame's spikes.
"""

from __future__ import annotations

import numpy as np

from neurosim.describe.network import INPUT, Network
from neurosim.neuron import DTYPE, step_sync


def forward_sync(net: Network, stimulus: np.ndarray) -> np.ndarray:
    """Spikes (frames x neurons, bool) of one sample; ``stimulus`` is (frames x input channels)."""
    frames = stimulus.shape[0]
    n = net.n_neurons
    w, wr = net.weights, net.recurrent_weights
    v = np.zeros(n, DTYPE)
    spikes = np.zeros((frames, n), bool)
    prev = np.zeros(n, bool)
    for f in range(frames):
        s = np.zeros(n, bool)
        s[net.span(net.input)] = stimulus[f]
        rec = (wr.T @ prev.astype(DTYPE)).astype(DTYPE) if wr.nnz else np.zeros(n, DTYPE)
        for pop in net.populations:
            if pop.kind == INPUT:
                continue
            sl = net.span(pop.name)
            cur = np.asarray(w[:, sl].T @ s.astype(DTYPE), DTYPE) + rec[sl]
            s[sl], v[sl] = step_sync(v[sl], cur, pop.neurons)
        spikes[f] = s
        prev = s
    return spikes
