"""Decays as NIR time constants: the ``tau`` for which NIR's forward-Euler decay ``1 - dt/tau``
(what :mod:`neurosim.io.nir_read` computes in float64 and casts to float32) is exactly a given
float32 decay. Shared by the trainer's export (:mod:`neurosim.train.export`) and the framework
adapters (:mod:`neurosim.interop`)."""

from __future__ import annotations

import numpy as np

from neurosim.errors import NetworkError
from neurosim.io.nir_nodes import IF_TAU_FACTOR
from neurosim.neuron import DTYPE


def tau_for_decay(place: str, key: str, decay: np.ndarray, dt: float) -> np.ndarray:
    """Time constants (float64, the shape of ``decay``) with ``float32(1 - dt / tau) == decay``
    exactly; a decay of 1 gets ``tau = 2**30 dt`` (an IF neuron). The rare ``tau`` whose float64
    rounding misses by one float32 step is nudged; a decay no ``tau`` gives is refused in one line
    naming ``place`` and ``key``."""
    decay = np.asarray(decay, DTYPE)
    d = decay.astype(np.float64)
    with np.errstate(divide="ignore"):
        tau = np.where(d < 1, dt / (1.0 - d), IF_TAU_FACTOR * dt)
    for _ in range(4):
        got = (1.0 - dt / tau).astype(DTYPE)
        low, high = got < decay, got > decay
        if not (low.any() or high.any()):
            return tau
        tau = np.where(low, np.nextafter(tau, np.inf), np.where(high, np.nextafter(tau, 0), tau))
    bad = np.flatnonzero((1.0 - dt / tau).astype(DTYPE).ravel() != decay.ravel())
    if bad.size:
        i = int(bad[0])
        raise NetworkError(
            f"{place}: {key} decay {decay.ravel()[i]:.9g} cannot be written as a NIR time constant for "
            f"dt = {dt:g} s (1 - dt/tau rounds to another float32)"
        )
    return tau
