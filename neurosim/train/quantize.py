"""8-bit power-of-two weight quantisation (numpy only).

Real chips store integer weights; the trainer exports each layer's weights as
``q * scale`` with ``q`` an 8-bit signed integer and ``scale`` a power of two:

    scale = 2 ** ceil(log2(max|w| / 127)),   w_q = round(w / scale) * scale

(``round`` is numpy's round-half-to-even; ``q`` lies in -127..127). On such a grid every weight
is an integer multiple of ``scale``, so sums of up to 2**24 / 127 (about 132,000) weights are exact
in float32 whatever the order of addition: the simulator, the numpy reference and the trainer
then produce the same synaptic currents bit for bit.
"""

from __future__ import annotations

import math

import numpy as np

QMAX = 127


def pow2_scale(max_abs: float, qmax: int = QMAX) -> float:
    """The smallest power of two ``s`` with ``max_abs / s <= qmax`` (1.0 for an all-zero layer)."""
    max_abs = float(max_abs)
    if not math.isfinite(max_abs):
        raise ValueError(f"cannot quantise weights with a non-finite magnitude {max_abs}")
    if max_abs == 0.0:
        return 1.0
    m, e = math.frexp(max_abs / qmax)  # max_abs/qmax = m * 2**e, 0.5 <= m < 1
    return math.ldexp(1.0, e - 1 if m == 0.5 else e)


def quantize(w: np.ndarray, qmax: int = QMAX) -> tuple[np.ndarray, float]:
    """Quantise one layer: returns ``(w_q as float32, scale)``; ``w_q / scale`` is integral."""
    w = np.asarray(w, dtype=np.float64)
    scale = pow2_scale(np.max(np.abs(w)) if w.size else 0.0, qmax)
    q = np.clip(np.round(w / scale), -qmax, qmax)
    return (q * scale).astype(np.float32), scale


def is_on_grid(w: np.ndarray, qmax: int = QMAX) -> bool:
    """True when ``w`` is ``q * 2**k`` with integer ``|q| <= qmax`` for one power of two ``2**k``."""
    w = np.asarray(w, dtype=np.float64)
    if w.size == 0 or not np.any(w):
        return True
    scale = pow2_scale(np.max(np.abs(w)), qmax)
    q = w / scale
    return bool(np.all(q == np.round(q)) and np.all(np.abs(q) <= qmax))


def quantize_layer(
    w: np.ndarray, b: np.ndarray | None, qmax: int = QMAX
) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Quantise one layer's weights and biases on one grid: ``(w_q, b_q, scale)`` with ``scale``
    the power of two for the largest magnitude of both (so a bias is a multiple of the weights'
    step too: the trainer and the simulator then add the same float32 values). Without a bias
    (``b`` None) this is :func:`quantize`."""
    if b is None:
        wq, scale = quantize(w, qmax)
        return wq, None, scale
    w64, b64 = np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64)
    both = np.concatenate([w64.ravel(), b64.ravel()])
    scale = pow2_scale(np.max(np.abs(both)) if both.size else 0.0, qmax)
    on_grid = lambda a: (np.clip(np.round(a / scale), -qmax, qmax) * scale).astype(np.float32)
    return on_grid(w64), on_grid(b64), scale
