"""Neuron dynamics as pure functions over arrays: the one definition shared by the simulator,
the numpy reference and (mirrored in torch) the trainer.

State: the membrane ``v`` of every neuron, plus, for the extended model, the synaptic current
``i`` of cuba neurons (zero elsewhere) and ``pending`` (bool: the neuron spiked last frame and its
delayed reset is due). They are plain float32 / bool arrays passed in and returned, never held
here: :func:`step` takes and returns all three; :func:`step_sync` is the membrane-only form for
neurons that need no more (it refuses others).

Semantics of one layer-synchronous frame (docs/design.md, "Neuron semantics"; :func:`step`),
float32 in exactly this order, which framework adapters rely on bit for bit:

1. ``synaptic_input``: a cuba neuron updates its current ``i <- syn_decay * i + I`` and the
   membrane takes ``x = i`` (the new current; the old one where ``current_lag``, the forward-Euler
   step of NIR's equations); any other neuron takes ``x = I``, the frame's summed synaptic input.
2. ``frame_start``: ``v <- decay * v`` then ``v <- v + bias`` (two roundings, in this order);
   then ``v <- v + x``. With a membrane grid (the hardware's ``core.membrane_grid``, default off)
   the leaked membrane is truncated toward zero to the grid before the bias (:func:`to_grid`).
3. ``pending_reset``: where ``delayed_reset`` (snnTorch's ``reset_delay``), last frame's spike
   resets now, after the leak and input: ``v - threshold`` or ``v_reset``.
4. ``fire``: a neuron spikes when ``v > threshold`` (strictly greater: NIR's text, Lava's Loihi
   LIF ``v > vth``, snnTorch, Norse and spyx; ``fire_equal`` neurons fire at equality too);
   ``spiking=False`` neurons (NIR LI, CubaLI, I: read-outs) never do.
5. ``reset``: hard reset ``v <- v_reset`` or reset by subtraction ``v <- v - threshold``, only
   where ``resets`` and not ``delayed_reset`` (those set ``pending`` instead); at most one spike
   per neuron per frame.

The asynchronous modes use the same pieces event by event (``integrate`` and the refractory
flag: a neuron fires at most once per frame; see :mod:`neurosim.sim.async_global`).

All state is float32. Synaptic currents arrive as sums of weights; with weights on a power-of-two
grid (as the trainer exports them) those sums are exact in any order, so the simulator, the
reference and the trainer agree bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DTYPE = np.float32


BOOL_FLAGS = {
    "resets": True,
    "spiking": True,
    "fire_equal": False,
    "delayed_reset": False,
    "cuba": False,
    "current_lag": False,
}
"""Per-neuron switches of the dynamics and their defaults (the plain LIF of the trainer):

* ``resets`` - False: no reset after a spike (NIR/snnTorch ``reset_mechanism='none'``).
* ``spiking`` - False: a non-spiking neuron (NIR ``LI``, ``CubaLI``, ``I``): it never fires; a
  readout reads its membrane.
* ``fire_equal`` - True: fire at ``v >= threshold`` (Sinabs, Rockpool); the default is NIR's
  ``v > threshold`` (Lava, snnTorch, Norse, spyx).
* ``delayed_reset`` - True: the reset of a spike is applied in the next frame, after its leak and
  input (snnTorch's ``reset_delay=True``: ``v <- (decay v + I) - threshold``).
* ``cuba`` - True: a current-based neuron with a synaptic current ``i``: per frame
  ``i <- syn_decay * i + I`` and the membrane integrates ``i`` instead of ``I`` (NIR ``CubaLIF``,
  Loihi's CUBA neuron).
* ``current_lag`` - with ``cuba``: the membrane takes the current of the previous frame (the
  forward-Euler step of NIR's coupled equations, as the NIR paper's reference computes it; Norse's
  ``LIFCell``, snnTorch's ``Synaptic``, Rockpool and Loihi take this frame's current).
"""

FLOAT_FIELDS = ("decay", "threshold", "v_reset", "bias", "syn_decay")


@dataclass(frozen=True, eq=False)
class NeuronParams:
    """Per-neuron parameters (1-D arrays of equal length: float32 values, bool switches).

    The first five are positional (the plain LIF); the rest default to the plain LIF's values
    (``syn_decay`` 0 and the switches of :data:`BOOL_FLAGS`) and are broadcast to the size."""

    decay: np.ndarray
    threshold: np.ndarray
    v_reset: np.ndarray
    bias: np.ndarray
    subtract: np.ndarray  # bool: reset by subtraction (True) or hard reset to v_reset (False)
    # None: the plain LIF's value for every neuron (filled in by __post_init__, so never None after)
    syn_decay: np.ndarray = None  # type: ignore[assignment]  # decay of the synaptic current per frame (cuba)
    resets: np.ndarray = None  # type: ignore[assignment]
    spiking: np.ndarray = None  # type: ignore[assignment]
    fire_equal: np.ndarray = None  # type: ignore[assignment]
    delayed_reset: np.ndarray = None  # type: ignore[assignment]
    cuba: np.ndarray = None  # type: ignore[assignment]
    current_lag: np.ndarray = None  # type: ignore[assignment]

    def __post_init__(self):
        n = len(self.decay)
        if self.syn_decay is None:
            object.__setattr__(self, "syn_decay", np.zeros(n, DTYPE))
        for name, default in BOOL_FLAGS.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, np.full(n, default))
        for name in ("threshold", "v_reset", "bias", "subtract", "syn_decay", *BOOL_FLAGS):
            if len(getattr(self, name)) != n:
                raise ValueError(f"NeuronParams.{name} has {len(getattr(self, name))} entries, expected {n}")

    @property
    def size(self) -> int:
        return len(self.decay)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return (*FLOAT_FIELDS[:4], "subtract", "syn_decay", *BOOL_FLAGS)

    @classmethod
    def uniform(
        cls, n: int, *, decay=1.0, threshold=1.0, v_reset=0.0, bias=0.0, subtract=False, **switches
    ) -> NeuronParams:
        """Parameters broadcast from scalars (or arrays) to ``n`` neurons; ``switches`` are
        ``syn_decay`` and the names of :data:`BOOL_FLAGS`."""
        unknown = set(switches) - {"syn_decay", *BOOL_FLAGS}
        if unknown:
            raise TypeError(f"NeuronParams.uniform: unknown parameter(s) {sorted(unknown)}")
        full = lambda x, dt=DTYPE: np.broadcast_to(np.asarray(x, dt), (n,)).copy()
        extra = {k: full(v, DTYPE if k == "syn_decay" else bool) for k, v in switches.items()}
        return cls(full(decay), full(threshold), full(v_reset), full(bias), full(subtract, bool), **extra)

    def take(self, idx) -> NeuronParams:
        return NeuronParams(*(getattr(self, k)[idx] for k in self.field_names()))

    @classmethod
    def concat(cls, parts) -> NeuronParams:
        parts = list(parts)
        dtype = lambda name: DTYPE if name in FLOAT_FIELDS else bool
        cat = lambda name: (
            np.concatenate([getattr(p, name) for p in parts]).astype(dtype(name)) if parts else np.zeros(0, dtype(name))
        )
        return cls(*(cat(k) for k in cls.field_names()))


def frame_start(v: np.ndarray, p: NeuronParams, grid: float = 0.0) -> np.ndarray:
    """Leak then bias, once per frame. Returns the new membrane. ``grid`` > 0 (a power of two, the
    hardware's ``core.membrane_grid``): the exact product ``decay * v`` (taken in float64, where a
    float32 product is exact) is truncated to the grid before the bias (:func:`to_grid`, Loihi's
    integer arithmetic; SANA-FE's float64 leak then ``loihi_quantize``)."""
    if grid:  # the exact product (float32 x float32 fits a float64), truncated to the grid
        return to_grid(v.astype(np.float64) * p.decay, grid) + p.bias
    v = v * p.decay
    return v + p.bias


def to_grid(v: np.ndarray, grid: float) -> np.ndarray:
    """``v`` (float32 or float64) truncated toward zero to a multiple of ``grid`` (a power of two,
    so every step is exact), as float32: Loihi's fixed-point leak, ``sign(x) * (|x| >> bits)``
    (SANA-FE's ``loihi_quantize``: ``int(v * 64) / 64`` on its float64 membrane)."""
    v = np.asarray(v)
    return (v - np.fmod(v, grid)).astype(DTYPE, copy=False)  # exact: no division, no overflow


def synaptic_input(i: np.ndarray, current: np.ndarray, p: NeuronParams) -> tuple[np.ndarray, np.ndarray]:
    """The input ``x`` the membrane integrates this frame and the new synaptic current:
    ``(x, i)``. Where ``cuba``: ``i <- syn_decay * i + current`` and ``x`` is the new ``i`` (the
    old one where ``current_lag``); elsewhere ``x = current`` and ``i`` is unchanged."""
    new_i = np.where(p.cuba, p.syn_decay * i + current, i).astype(DTYPE, copy=False)
    x = np.where(p.cuba, np.where(p.current_lag, i, new_i), current).astype(DTYPE, copy=False)
    return x, new_i


def integrate(v: np.ndarray, current: np.ndarray, refractory: np.ndarray) -> np.ndarray:
    """Add input current to every neuron that is not refractory."""
    return np.where(refractory, v, v + current).astype(DTYPE, copy=False)


def fire(v: np.ndarray, p: NeuronParams, refractory: np.ndarray | None = None) -> np.ndarray:
    """Boolean spikes: ``v > threshold`` (NIR's convention; ``v >= threshold`` where
    ``fire_equal``), spiking neurons only (and not refractory, when given)."""
    s = (v > p.threshold) | (p.fire_equal & (v == p.threshold))
    s &= p.spiking
    return s if refractory is None else s & ~refractory


def _after_reset(v: np.ndarray, p: NeuronParams) -> np.ndarray:
    return np.where(p.subtract, v - p.threshold, p.v_reset)


def resets_now(p: NeuronParams) -> np.ndarray:
    """Neurons that reset in the frame of their spike (``resets`` and not ``delayed_reset``)."""
    return p.resets & ~p.delayed_reset


def reset(v: np.ndarray, spikes: np.ndarray, p: NeuronParams) -> np.ndarray:
    """Reset the neurons that spiked and reset at once (hard or by subtraction, per neuron);
    ``resets=False`` and ``delayed_reset`` neurons keep their membrane (see :func:`pending_reset`)."""
    return np.where(spikes & resets_now(p), _after_reset(v, p), v).astype(DTYPE, copy=False)


def pending_reset(v: np.ndarray, pending: np.ndarray, p: NeuronParams) -> np.ndarray:
    """Apply the delayed reset of last frame's spikes (``pending``) where ``delayed_reset`` and
    ``resets``: ``v - threshold`` (subtract) or ``v_reset`` (hard)."""
    due = pending & p.delayed_reset & p.resets
    if not due.any():
        return v
    return np.where(due, _after_reset(v, p), v).astype(DTYPE, copy=False)


def step(v: np.ndarray, i: np.ndarray, pending: np.ndarray, current: np.ndarray, p: NeuronParams, grid: float = 0.0):
    """One layer-synchronous frame with the whole state: ``-> (spikes, v, i, pending)``; ``grid``:
    the membrane grid of :func:`frame_start` (0: off).

    The canonical order (float32; framework adapters rely on it bit for bit)::

        x, i = synaptic_input(i, current)       # cuba: i <- syn_decay i + I (x: new i, or old i with lag)
        v = decay * v;  v = to_grid(v) (grid > 0);  v = v + bias;  v = v + x
        v = pending_reset(v, pending)           # delayed_reset: last frame's spike resets now
        s = fire(v)                             # v > threshold (>= where fire_equal), spiking only
        v = reset(v, s)                         # resets and not delayed_reset
        pending = s & delayed_reset
    """
    x, i = synaptic_input(i, current, p)
    v = frame_start(v, p, grid)
    v = v + x
    v = pending_reset(v, pending, p)
    s = fire(v, p)
    return s, reset(v, s, p), i, s & p.delayed_reset


def stateful(p: NeuronParams) -> bool:
    """Whether neurons of ``p`` have state beyond the membrane (a synaptic current or a pending
    reset), so that :func:`step` must be used instead of :func:`step_sync`."""
    return bool(p.cuba.any() or (p.delayed_reset & p.resets).any())


def step_sync(v: np.ndarray, current: np.ndarray, p: NeuronParams, grid: float = 0.0):
    """One layer-synchronous frame of membrane-only neurons: ``(current, v) -> (spikes, v)``
    (:func:`step` without ``i`` and ``pending``; a ``ValueError`` for neurons that need them).

    ``current`` is the total synaptic input of the frame (integrated before any threshold check).
    """
    if stateful(p):
        raise ValueError("step_sync: cuba or delayed-reset neurons need the full state; use neuron.step")
    v = frame_start(v, p, grid)
    v = v + current
    s = fire(v, p)
    return s, reset(v, s, p)
