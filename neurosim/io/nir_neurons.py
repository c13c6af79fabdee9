"""NIR neuron nodes as neurosim neuron parameters: the discretisation of each node type, its
input gain, and the metadata keys that override NIR's conventions (see :mod:`neurosim.io.nir_read`
for the equations and the reasons)."""

from __future__ import annotations

import numpy as np

from neurosim.describe.network import IF, LIF
from neurosim.errors import NetworkError
from neurosim.io.nir_lower import shape_size
from neurosim.io.nir_nodes import node_place, node_type, param_arrays
from neurosim.neuron import DTYPE, NeuronParams

GAIN_TOLERANCE = 1e-6
"""An input gain ``g`` with ``|g - 1| <= GAIN_TOLERANCE`` is taken as exactly 1."""

RESET_MODES = ("hard", "subtract", "none")
"""Values of a neuron node's ``metadata['reset']``."""

BOOL_KEYS = ("reset_delay", "fire_equal", "current_lag")
"""Boolean metadata keys of a neuron node."""

NON_SPIKING = ("LI", "CubaLI", "I")
CUBA = ("CubaLIF", "CubaLI")
KIND = {"LIF": LIF, "CubaLIF": LIF, "LI": LIF, "CubaLI": LIF, "Threshold": LIF, "IF": IF, "I": IF}

CURRENT_LAG_DEFAULT = True
"""A CubaLIF/CubaLI membrane takes the synaptic current of the previous frame unless the node's
``metadata['current_lag']`` says otherwise: the forward Euler step of NIR's coupled equations
(both derivatives from the state at the start of the step), as the NIR paper's numpy reference
``CubaLIFImplementation`` (neuromorphs/NIR, ``paper/03_rnn/extras/debug_CubaLIF/nir_reference_impl.py``)
computes it. (Norse 1.1.0's ``LIFCell`` adds the input to the current before the membrane step:
its adapter writes ``current_lag: false``, as snnTorch's and Rockpool's do.)"""


def neuron_population(name: str, node, shape: tuple, dt: float | None, bias) -> tuple[str, NeuronParams, np.ndarray]:
    """``(kind, params, gain)`` of neuron node ``node``: the population kind, its parameters with
    the bias folded in, and the per-neuron input gain to fold into the incoming weights.

    ``bias`` (float64 per neuron, or None) is the sum of the Affine/Conv biases reaching the node,
    before the gain (NIR adds it to the node's input)."""
    t = node_type(node)
    place = node_place(name, node)
    p = _flat_params(name, node, shape)
    n = shape_size(shape)
    flags = _flags(place, t, node.metadata or {})
    leak_bias = np.zeros(n)
    syn_decay = np.zeros(n)
    if t in ("LIF", "LI"):
        decay = _decay(place, "tau", p["tau"], dt)
        gain = _gain(place, "dt r / tau", dt * p["r"] / p["tau"])
        leak_bias = dt * p["v_leak"] / p["tau"]
    elif t in CUBA:
        decay = _decay(place, "tau_mem", p["tau_mem"], dt)
        syn_decay = _decay(place, "tau_syn", p["tau_syn"], dt)
        gain = _gain(place, "dt w_in / tau_syn", dt * p["w_in"] / p["tau_syn"]) * _gain(
            place, "dt r / tau_mem", dt * p["r"] / p["tau_mem"]
        )
        leak_bias = dt * p["v_leak"] / p["tau_mem"]
    elif t in ("IF", "I"):
        decay = np.ones(n)
        gain = _gain(place, "r", p["r"])
    else:  # Threshold: a stateless Heaviside of its input
        decay = np.zeros(n)
        gain = np.ones(n)
    if bias is not None and np.any(bias != 0) and t in CUBA:
        if np.any(syn_decay != 0) or flags["current_lag"]:
            raise NetworkError(
                f"{place}: a bias (Affine/Conv) would enter its synaptic current, which filters it over frames; "
                "neurosim adds biases to the membrane: export the layer feeding it without bias"
            )
    with np.errstate(over="ignore", invalid="ignore"):
        folded = leak_bias + (0 if bias is None else bias * gain)
    spiking = t not in NON_SPIKING
    thr_key = "threshold" if t == "Threshold" else "v_threshold"
    if spiking:
        threshold, v_reset = p[thr_key], p.get("v_reset", np.zeros(n))
    else:  # never fires: threshold and reset are unused
        threshold, v_reset = np.full(n, np.inf), np.zeros(n)
    values = {
        "decay (1 - dt / tau)": decay,
        "syn_decay (1 - dt / tau_syn)": syn_decay,
        thr_key: threshold,
        "v_reset": v_reset,
        "bias (dt v_leak / tau plus the input bias times the gain)": folded,
    }
    cast = []
    for key, v in values.items():
        with np.errstate(over="ignore"):
            cast.append(v.astype(DTYPE))
        if key != thr_key or spiking:
            _check_float32(place, key, cast[-1])
    decay32, syn32, thr32, reset32, bias32 = cast
    params = NeuronParams(
        decay32,
        thr32,
        reset32,
        bias32,
        np.full(n, spiking and flags["reset"] == "subtract"),
        syn_decay=syn32,
        resets=np.full(n, spiking and flags["reset"] != "none"),
        spiking=np.full(n, spiking),
        fire_equal=np.full(n, spiking and flags["fire_equal"]),
        delayed_reset=np.full(n, spiking and flags["reset_delay"]),
        cuba=np.full(n, t in CUBA),
        current_lag=np.full(n, t in CUBA and flags["current_lag"]),
    )
    return KIND[t], params, gain


def _flat_params(name: str, node, shape: tuple) -> dict[str, np.ndarray]:
    """The node's parameters as float64 vectors of the population's size (size-1 broadcast)."""
    n = shape_size(shape)
    flat = {}
    for k, a in param_arrays(node, name).items():
        if a.size not in (1, n):
            raise NetworkError(f"{node_place(name, node)}: parameter {k} has shape {a.shape}, the population {shape}")
        flat[k] = np.broadcast_to(a.ravel(), (n,)).astype(np.float64) if a.size == 1 else a.ravel().astype(np.float64)
    return flat


def _flags(place: str, t: str, meta: dict) -> dict:
    """The metadata switches of a neuron node, checked (unknown values refused)."""
    reset = meta.get("reset", "hard")
    if isinstance(reset, bytes):
        reset = reset.decode(errors="replace")
    if isinstance(reset, np.ndarray) and reset.ndim == 0:
        reset = reset.item()
        reset = reset.decode(errors="replace") if isinstance(reset, bytes) else reset
    if not isinstance(reset, str) or str(reset) not in RESET_MODES:
        raise NetworkError(f"{place}: metadata['reset'] = {reset!r} is not one of {', '.join(map(repr, RESET_MODES))}")
    out: dict = {"reset": str(reset)}
    for key in BOOL_KEYS:
        default = CURRENT_LAG_DEFAULT if key == "current_lag" else False
        v = meta.get(key, default)
        if isinstance(v, np.ndarray) and v.ndim == 0:
            v = v.item()
        if isinstance(v, (bool, np.bool_)) or (isinstance(v, (int, np.integer)) and v in (0, 1)):
            out[key] = bool(v)
        else:
            raise NetworkError(f"{place}: metadata[{key!r}] = {v!r} is not a boolean")
    if "current_lag" in meta and t not in CUBA:
        raise NetworkError(f"{place}: metadata['current_lag'] applies to CubaLIF/CubaLI nodes only (it has no current)")
    return out


def _decay(place: str, key: str, tau: np.ndarray, dt: float | None) -> np.ndarray:
    """``1 - dt / tau`` (float64), refused unless ``tau > 0`` and the decay is within [0, 1]."""
    if dt is None:  # _resolve_dt requires dt for these node types
        raise NetworkError(f"{place}: dt unknown: pass dt= (CLI --dt) or store metadata['dt'] in the NIR graph")
    bad = np.flatnonzero(~(tau > 0))
    if bad.size:
        i = int(bad[0])
        raise NetworkError(f"{place}: {key} = {tau[i]:g} s at flat index {i} must be positive")
    decay = 1.0 - dt / tau
    bad = np.flatnonzero(decay < 0)
    if bad.size:
        i = int(bad[0])
        raise NetworkError(
            f"{place}: {key} = {tau[i]:g} s is shorter than dt = {dt:g} s (decay {decay[i]:g}): "
            "pass the dt the model was trained with (--dt)"
        )
    return decay


def _gain(place: str, what: str, g: np.ndarray) -> np.ndarray:
    """An input gain (float64), 1 when within ``GAIN_TOLERANCE`` of 1; refused unless finite and
    positive."""
    g = np.where(np.abs(g - 1.0) <= GAIN_TOLERANCE, 1.0, g)
    bad = np.flatnonzero(~(np.isfinite(g) & (g > 0)))
    if bad.size:
        i = int(bad[0])
        raise NetworkError(
            f"{place}: the input gain {what} = {g[i]:g} at flat index {i} is not a positive finite number: "
            "check r (and w_in, tau) and dt"
        )
    return g


def _check_float32(place: str, key: str, values: np.ndarray) -> None:
    """Refuse a neuron parameter that is not finite once cast to float32 (the simulator's type)."""
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise NetworkError(f"{place}: parameter {key} is out of the float32 range at flat index {int(bad[0])}")
