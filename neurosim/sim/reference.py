"""A plain time-stepped numpy forward: the oracle for the simulator's ``sync`` mode.

No hardware, no events: per frame, populations in topological order, each takes the whole
frame's synaptic current and runs :func:`neurosim.neuron.step_sync`. Recurrent projections
deliver the previous frame's spikes.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from neurosim.describe.network import INPUT, Network
from neurosim.neuron import DTYPE, step_sync


def sync_frames(net: Network, stimulus: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per frame of one sample, the spikes (bool, all neurons, inputs included) and the membranes
    after the frame (after reset); ``stimulus`` is (frames x input channels). The arrays yielded
    are the loop's own: copy them to keep them."""
    n = net.n_neurons
    w, wr = net.weights, net.recurrent_weights
    v = np.zeros(n, DTYPE)
    prev = np.zeros(n, bool)
    for frame in stimulus:
        s = np.zeros(n, bool)
        s[net.span(net.input)] = frame
        rec = (wr.T @ prev.astype(DTYPE)).astype(DTYPE) if wr.nnz else np.zeros(n, DTYPE)
        for pop in net.populations:
            if pop.kind == INPUT:
                continue
            sl = net.span(pop.name)
            cur = np.asarray(w[:, sl].T @ s.astype(DTYPE), DTYPE) + rec[sl]
            s[sl], v[sl] = step_sync(v[sl], cur, pop.neurons)
        yield s, v
        prev = s


def forward_sync(net: Network, stimulus: np.ndarray) -> np.ndarray:
    """Spikes (frames x neurons, bool) of one sample; ``stimulus`` is (frames x input channels)."""
    spikes = np.zeros((stimulus.shape[0], net.n_neurons), bool)
    for f, (s, _) in enumerate(sync_frames(net, stimulus)):
        spikes[f] = s
    return spikes
