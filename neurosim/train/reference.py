"""Plain numpy reference of the trainer's forwards, one sample at a time (no torch).

Built on :mod:`neurosim.neuron`'s pure functions, so it pins the trainer (and the simulator) to
the one neuron definition. It is the test oracle for the vectorised torch forwards in
:mod:`neurosim.train.model`; the semantics are documented there. The ``random`` scheduler is not
reproduced (it depends on torch's generator); ``momentum`` is, exactly.

Weights are ``(n_out, n_in)`` float32 arrays, as in the trainer and in NIR's Affine.
"""

from __future__ import annotations

import numpy as np

from neurosim.neuron import DTYPE, NeuronParams, fire, frame_start, integrate, reset, step_sync


def _params(n: int, beta: float, threshold: float, fire_equal: bool = False, bias=None) -> NeuronParams:
    p = NeuronParams.uniform(
        n, decay=beta, threshold=threshold, v_reset=0.0, bias=0.0, subtract=False, fire_equal=fire_equal
    )
    if bias is not None:
        p.bias[:] = np.asarray(bias, DTYPE)
    return p


def layered_spikes(
    weights,
    x: np.ndarray,
    *,
    beta: float = 0.9,
    threshold: float = 1.0,
    fire_equal: bool = False,
    biases=None,
) -> np.ndarray:
    """Layer-synchronous spikes ``(T, N)`` uint8 of one sample ``x`` ``(T, C)``, via
    :func:`neurosim.neuron.step_sync` per layer per frame (``v > threshold``; ``>=`` with
    ``fire_equal``, as the trainer's ``LIFParams.fire_equal``); ``biases``: None or one vector
    per layer (added after the leak, :func:`neurosim.neuron.frame_start`)."""
    weights = [np.asarray(w, DTYPE) for w in weights]
    bs = [None] * len(weights) if biases is None else list(biases)
    ps = [_params(w.shape[0], beta, threshold, fire_equal, b) for w, b in zip(weights, bs)]
    v = [np.zeros(w.shape[0], DTYPE) for w in weights]
    out = []
    for t in range(x.shape[0]):
        h = np.asarray(x[t], DTYPE)
        frame = []
        for l, w in enumerate(weights):
            cur = (w @ h).astype(DTYPE)
            s, v[l] = step_sync(v[l], cur, ps[l])
            frame.append(s)
            h = s.astype(DTYPE)
        out.append(np.concatenate(frame))
    return np.asarray(out, dtype=np.uint8)


def unlayered_spikes(
    weights,
    x: np.ndarray,
    *,
    beta: float = 0.9,
    threshold: float = 1.0,
    group_size: int = 8,
    max_steps: int | None = None,
    fire_equal: bool = False,
    biases=None,
):
    """Asynchronous forward of one sample with the global ``momentum`` scheduler (``v >
    threshold``; ``>=`` with ``fire_equal``); ``biases``: None or one vector per layer.

    Returns ``(spikes (T, N) uint8, steps (T,) int)``: spikes sent per neuron per frame and the
    number of send steps per frame after step 0.
    """
    weights = [np.asarray(w, DTYPE) for w in weights]
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    N = sum(sizes[1:])
    offs = np.concatenate([[0], np.cumsum(sizes[1:])])
    p = _params(N, beta, threshold, fire_equal, None if biases is None else np.concatenate(list(biases)))
    cap = N if max_steps is None else int(max_steps)
    F = int(group_size)
    # global matrix G[target, source] over non-input neurons
    G = np.zeros((N, N), DTYPE)
    for l in range(1, len(weights)):
        G[offs[l] : offs[l + 1], offs[l - 1] : offs[l]] = weights[l]
    idx = np.arange(N)
    v = np.zeros(N, DTYPE)
    spikes = np.zeros((x.shape[0], N), np.uint8)
    steps = np.zeros(x.shape[0], np.int64)
    for t in range(x.shape[0]):
        v = frame_start(v, p)
        refr = np.zeros(N, bool)
        ready = np.zeros(N, bool)
        prio = np.zeros(N, DTYPE)

        def check(v, refr, ready, prio=prio):
            new = fire(v, p, refr)
            prio[new] = v[new]
            return reset(v, new, p), refr | new, ready | new

        cur = np.zeros(N, DTYPE)
        cur[: sizes[1]] = weights[0] @ np.asarray(x[t], DTYPE)
        v = integrate(v, cur, refr)
        v, refr, ready = check(v, refr, ready)
        k = 0
        while k < cap and ready.any():
            k += 1
            cand = idx[ready]
            order = cand[np.lexsort((cand, -prio[cand].astype(np.float64)))]
            picked = order[:F]
            ready[picked] = False
            spikes[t, picked] = 1
            sent = np.zeros(N, DTYPE)
            sent[picked] = 1.0
            v = integrate(v, (G @ sent).astype(DTYPE), refr)
            v, refr, ready = check(v, refr, ready)
        steps[t] = k
    return spikes, steps
