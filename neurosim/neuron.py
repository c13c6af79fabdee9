"""Neuron dynamics as pure functions over arrays: the one definition shared by the simulator,
the numpy reference and (mirrored in torch) the trainer.

Semantics (docs/design.md, "Neuron semantics"), per frame:

1. ``frame_start``: ``v <- decay * v`` then ``v <- v + bias`` (two float32 roundings, in this
   order); refractory flags clear.
2. ``integrate``: ``v <- v + I`` for neurons that are not refractory. A refractory neuron keeps the
   value it was reset to.
3. ``fire``: a neuron spikes when ``v >= threshold`` (greater *or equal*, as Lava's Loihi LIF;
   NIR's text writes ``>``, which differs only on exact equality).
4. ``reset``: hard reset ``v <- v_reset`` or reset by subtraction ``v <- v - threshold``; the
   neuron is then refractory for the rest of the frame, so it spikes at most once per frame.

All state is float32. Synaptic currents arrive as sums of weights; with weights on a power-of-two
grid (as the trainer exports them) those sums are exact in any order, so the simulator, the
reference and the trainer agree bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DTYPE = np.float32


@dataclass(frozen=True, eq=False)
class NeuronParams:
    """Per-neuron parameters (1-D float32 arrays of equal length)."""

    decay: np.ndarray
    threshold: np.ndarray
    v_reset: np.ndarray
    bias: np.ndarray
    subtract: np.ndarray  # bool: reset by subtraction (True) or hard reset to v_reset (False)

    def __post_init__(self):
        n = len(self.decay)
        for name in ("threshold", "v_reset", "bias", "subtract"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"NeuronParams.{name} has {len(getattr(self, name))} entries, expected {n}")

    @property
    def size(self) -> int:
        return len(self.decay)

    @classmethod
    def uniform(cls, n: int, *, decay=1.0, threshold=1.0, v_reset=0.0, bias=0.0, subtract=False) -> NeuronParams:
        """Parameters broadcast from scalars (or arrays) to ``n`` neurons."""
        full = lambda x: np.broadcast_to(np.asarray(x, DTYPE), (n,)).copy()
        return cls(
            full(decay),
            full(threshold),
            full(v_reset),
            full(bias),
            np.broadcast_to(np.asarray(subtract, bool), (n,)).copy(),
        )

    def take(self, idx) -> NeuronParams:
        return NeuronParams(self.decay[idx], self.threshold[idx], self.v_reset[idx], self.bias[idx], self.subtract[idx])

    @classmethod
    def concat(cls, parts) -> NeuronParams:
        parts = list(parts)
        cat = lambda name, dt: (
            np.concatenate([getattr(p, name) for p in parts]).astype(dt) if parts else np.zeros(0, dt)
        )
        return cls(
            cat("decay", DTYPE),
            cat("threshold", DTYPE),
            cat("v_reset", DTYPE),
            cat("bias", DTYPE),
            cat("subtract", bool),
        )


def frame_start(v: np.ndarray, p: NeuronParams) -> np.ndarray:
    """Leak then bias, once per frame. Returns the new membrane."""
    v = v * p.decay
    return v + p.bias


def integrate(v: np.ndarray, current: np.ndarray, refractory: np.ndarray) -> np.ndarray:
    """Add input current to every neuron that is not refractory."""
    return np.where(refractory, v, v + current).astype(DTYPE, copy=False)


def fire(v: np.ndarray, p: NeuronParams, refractory: np.ndarray | None = None) -> np.ndarray:
    """Boolean spikes: ``v >= threshold`` (and not refractory, when given)."""
    s = v >= p.threshold
    return s if refractory is None else s & ~refractory


def reset(v: np.ndarray, spikes: np.ndarray, p: NeuronParams) -> np.ndarray:
    """Reset the neurons that spiked (hard or by subtraction, per neuron)."""
    after = np.where(p.subtract, v - p.threshold, p.v_reset)
    return np.where(spikes, after, v).astype(DTYPE, copy=False)


def step_sync(v: np.ndarray, current: np.ndarray, p: NeuronParams):
    """One layer-synchronous frame for a group of neurons: ``(current, v) -> (spikes, v)``.

    ``current`` is the total synaptic input of the frame (integrated before any threshold check).
    """
    v = frame_start(v, p)
    v = v + current
    s = fire(v, p)
    return s, reset(v, s, p)
