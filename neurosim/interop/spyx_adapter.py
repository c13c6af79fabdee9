"""spyx (flax.nnx) -> neurosim: ``from_spyx(model, example_input)``.

spyx 1.0.0 models are ``flax.nnx`` modules (a ``spyx.nn.Sequential`` of ``nnx.Linear`` /
``nnx.Conv`` / ``spyx.nn.SumPool`` / ``spyx.nn.Flatten`` layers and spyx neurons) stepped by
``spyx.nn.run``; there is no separate parameter tree to pass. Their forwards (``spyx/nn.py``):

* ``LIF``: ``s = H(V - thr)`` on the membrane BEFORE the update, then ``V <- beta V + x - s thr``;
  ``IF`` the same with ``beta = 1``; ``RLIF`` / ``RIF`` add ``s @ W_rec`` to ``x``;
* ``CuBaLIF``: ``s = H(V - thr)``, ``V <- V - s thr``, ``I <- alpha I + x``, ``V <- beta V + I``
  (``RCuBaLIF`` adds ``s @ W_rec`` to the current);
* ``PSU_LIF``: ``V <- beta V + x``, ``s = H(V - thr)`` and no reset; ``LI``: ``V <- beta V + x``,
  the output is ``V``;
* ``H(x) = 1 where x > 0``; ``beta`` and ``alpha`` are clipped to [0, 1] in the forward.

Firing on the membrane before the update is a one-frame output delay: spyx's spike of step ``t`` is
the spike neurosim's neuron emits at the end of frame ``t - 1``. Exactly:

* ``LIF`` / ``IF`` / ``RLIF`` / ``RIF``: a LIF (IF) with ``reset='subtract'`` and ``reset_delay=True``
  (the reset of the spike of frame ``t - 1`` comes after the leak and the input of frame ``t``:
  ``V <- (beta V + x) - thr``, spyx's very operation order);
* ``CuBaLIF`` / ``RCuBaLIF``: a CubaLIF with ``reset='subtract'``, no reset delay (spyx resets before
  the leak, as neurosim does at the end of the previous frame) and ``current_lag=False``;
* the projections leaving such a layer get a ``Delay`` node of one frame (``dt``), so the next
  layer integrates at ``t`` the spike of ``t - 1``, as spyx's does; a recurrent projection has that
  one-frame delay already;
* ``PSU_LIF``: a LIF with ``reset='none'`` and no output delay; ``LI``: NIR ``LI`` (its membrane
  is the readout, no delay).

neurosim's spikes of a delayed layer at frame ``f`` are then spyx's at step ``f + 1`` (spyx's step 0
never spikes); the network's ``metadata['output_lag_frames']`` says by how many frames the output
population leads spyx's output (1 or 0): feed one more input frame to get spyx's last output step.

The exporter ``spyx.nir.to_nir`` writes ``LIF(tau = dt/(1-beta), r = beta)`` (an input gain of
``beta (1 - beta)`` in NIR's equation, and the unclipped beta), no reset mode, no ``dt``, drops
``LI`` layers (with a printed warning), and wires a recurrent layer's subgraph ``input -> w_rec ->
lif`` (the feed-forward input through the recurrent weights). The adapter keeps the exporter's
linear nodes and rebuilds every neuron node and the recurrent subgraphs as above, with ``tau``
chosen so that NIR's ``1 - dt/tau`` is exactly spyx's float32 decay and gains of 1.

Exactness: spikes equal spyx's per neuron and frame when the float32 sums of weights are exact
(a power-of-two grid) and every decay (``beta``, ``alpha``) is 0, 1 or a power of two. XLA computes
``beta V + x`` as one fused multiply-add (one rounding; measured on the CPU), neurosim as a product
and a sum (two roundings), which agree when the product is exact; another decay is refused unless
``allow_rounding=True`` (the spikes may then differ on near-ties, an LI membrane in the last bits).
An ``nnx.Linear`` bias is added to the membrane before the input in neurosim and inside the input in
spyx (``beta V + (W s + b)``), and a recurrent input after the feed-forward one: these agree while
the sums are exact.

Refused (one line, :class:`~neurosim.errors.NetworkError`): ``ALIF`` (adaptive threshold),
``ResonateFire`` and other layers the chip cannot run, an ``LI`` that is not the last layer (its
output is a real number, not a spike), a model that does not end with a neuron layer, an activation
whose forward is not the Heaviside step, and what :func:`neurosim.from_nir` refuses (e.g. a bias into
a ``CuBaLIF``'s current).
"""

from __future__ import annotations

from typing import Any

import nir
import numpy as np

from neurosim.describe.network import Network
from neurosim.errors import NetworkError
from neurosim.interop.decay import tau_for_decay
from neurosim.io.nir_nodes import checked_dt
from neurosim.io.nir_read import from_nir

DEFAULT_DT = 1e-3
"""Frame length (seconds) given to a spyx model, which has no time step of its own."""

PROBE = (-1.0, -1e-6, 0.0, 1e-6, 1.0)
"""Inputs on which a layer's spike function must give the Heaviside step ``x > 0``."""


def from_spyx(
    model, example_input, *, dt: float | None = None, name: str | None = None, allow_rounding: bool = False
) -> Network:
    """The neurosim network of the spyx ``model`` (an ``nnx`` module: a ``spyx.nn.Sequential`` or a
    single spyx neuron layer, with its parameters in it).

    ``example_input``: an input as ``spyx.nn.run`` takes it, time-major: ``(time, batch, ...)`` or
    ``(time, ...)``; only its per-sample shape is used (the last axis, or the last three
    ``(H, W, C)`` when the first layer is an ``nnx.Conv``; neurosim's input is then channels-first,
    ``C*H*W`` in C order, as NIR's). ``dt``: the frame length in seconds (default
    :data:`DEFAULT_DT`; spyx's decays are per step). ``allow_rounding``: accept decays that are not
    0, 1 or a power of two (module docstring). The model is not modified.
    """
    from flax import nnx  # noqa: PLC0415 - the framework is an optional extra
    from spyx.nir import to_nir  # noqa: PLC0415

    dt = DEFAULT_DT if dt is None else checked_dt(dt)
    layers = list(model.layers) if isinstance(model, nnx.Sequential) else [model]
    if not layers:
        raise NetworkError("the spyx model has no layers")
    kinds = [_kind(i, layer) for i, layer in enumerate(layers)]
    in_shape = _input_shape(example_input, layers[0])
    out_shape = _out_shape(layers, kinds)
    graph = to_nir(model, {"input": np.array(in_shape)}, {"output": np.array(out_shape)}, dt=dt)
    if not allow_rounding:
        for i, (layer, kind) in enumerate(zip(layers, kinds, strict=True)):
            _check_exact_decays(f"layer {i} ({type(layer).__name__})", layer, kind)
    graph = _rebuild(graph, layers, kinds, dt)

    return from_nir(graph, dt=dt, name=name or type(model).__name__)


# ------------------------------------------------------------------------------- the model object
NEURONS = ("LIF", "IF", "CuBaLIF", "RLIF", "RIF", "RCuBaLIF", "PSU_LIF", "LI")
LINEAR = ("Linear", "Conv", "SumPool", "Flatten")
PASS = ("ActivityRegularization",)
"""Layers whose forward passes the spikes on unchanged (not exported, not needed)."""


def _kind(i: int, layer) -> str:
    """The layer's kind (a name of :data:`NEURONS`, :data:`LINEAR` or :data:`PASS`), checked."""
    import spyx.nn as snn  # noqa: PLC0415
    from flax import nnx  # noqa: PLC0415

    place = f"layer {i} ({type(layer).__name__})"
    table: list[tuple[Any, str]] = [
        (snn.PSU_LIF, "PSU_LIF"),  # before LIF: AssociativeLIF is a PSU_LIF
        (snn.RCuBaLIF, "RCuBaLIF"),
        (snn.CuBaLIF, "CuBaLIF"),
        (snn.RLIF, "RLIF"),
        (snn.RIF, "RIF"),
        (snn.LIF, "LIF"),
        (snn.IF, "IF"),
        (snn.LI, "LI"),
        (nnx.Linear, "Linear"),
        (nnx.Conv, "Conv"),
        (snn.SumPool, "SumPool"),
        (snn.Flatten, "Flatten"),
        (snn.ActivityRegularization, "ActivityRegularization"),
    ]
    kind = next((k for cls, k in table if isinstance(layer, cls)), "")
    if not kind:
        why = {
            "ALIF": "its threshold adapts to its spikes, which the chip's neuron cannot",
            "ResonateFire": "a complex-valued resonator, which the chip's neuron cannot run",
        }.get(type(layer).__name__, "neither spyx's NIR export nor the chip knows this layer")
        raise NetworkError(f"{place}: not supported: {why}; use LIF, IF, CuBaLIF, their recurrent forms, PSU_LIF or LI")
    if kind in NEURONS and kind != "LI":
        import jax.numpy as jnp  # noqa: PLC0415

        got = np.asarray(layer.spike(jnp.asarray(PROBE, jnp.float32)))
        if not np.array_equal(got, (np.asarray(PROBE) > 0).astype(got.dtype)):
            raise NetworkError(
                f"{place}: its activation's forward is not the Heaviside step (x > 0 -> 1): got {got.tolist()} on "
                f"{list(PROBE)}; use a spyx.axn surrogate (their forward is the step)"
            )
    return kind


def _input_shape(example_input, first) -> tuple[int, ...]:
    from flax import nnx  # noqa: PLC0415

    shape = tuple(int(d) for d in np.shape(example_input))
    if isinstance(first, nnx.Conv):
        if len(shape) < 4:
            raise NetworkError(
                f"example_input has shape {shape}; a model starting with a Conv takes (time, [batch,] H, W, C)"
            )
        h, w, c = shape[-3:]
        return (c, h, w)
    if len(shape) < 2:
        raise NetworkError(f"example_input has shape {shape}; spyx.nn.run takes (time, [batch,] channels)")
    return (shape[-1],)


def _nir_shape(spyx_shape) -> tuple[int, ...]:
    s = tuple(int(d) for d in spyx_shape)
    return (s[2], s[0], s[1]) if len(s) == 3 else s


def _layer_shape(layer, kind: str) -> tuple[int, ...]:
    return _nir_shape(layer.layer_shape if kind == "LI" else layer.hidden_shape)


def _out_shape(layers: list, kinds: list[str]) -> tuple[int, ...]:
    """The NIR shape of the last layer, which must be a neuron layer; an LI only there."""
    for i, kind in enumerate(kinds[:-1]):
        if kind == "LI":
            raise NetworkError(
                f"layer {i} (LI): its output is its membrane, a real number, which the chip cannot send to "
                f"layer {i + 1}; use LI as the last (readout) layer only"
            )
    last = max((i for i, k in enumerate(kinds) if k not in PASS), default=None)
    if last is None or kinds[last] not in NEURONS:
        kind = "nothing" if last is None else f"layer {last} ({kinds[last]})"
        raise NetworkError(
            f"the spyx model ends with {kind}; neurosim's output is a neuron population: end with a neuron "
            "layer (e.g. an LI readout)"
        )
    return _layer_shape(layers[last], kinds[last])


def _check_exact_decays(place: str, layer, kind: str) -> None:
    """Refuse a decay whose product with the membrane (current) may round (see the module docstring)."""
    if kind not in NEURONS or kind in ("IF", "RIF"):
        return
    shape = _layer_shape(layer, kind)
    for attr in ("alpha", "beta") if kind in ("CuBaLIF", "RCuBaLIF") else ("beta",):
        d = _decay(layer, attr, shape).ravel()
        bad = np.flatnonzero((d != 0) & (np.frexp(d)[0] != 0.5))
        if bad.size:
            i = int(bad[0])
            raise NetworkError(
                f"{place}: {attr}[{i}] = {d[i]:.8g} is not 0, 1 or a power of two: XLA computes {attr} * state + input "
                "as one fused multiply-add, neurosim rounds the product first, which may differ in the last bit; "
                "pass allow_rounding=True to accept that, or train with power-of-two decays"
            )


# ---------------------------------------------------------------------------------- the NIR graph
LAG = {"LIF": 1, "IF": 1, "CuBaLIF": 1, "RLIF": 1, "RIF": 1, "RCuBaLIF": 1, "PSU_LIF": 0, "LI": 0}
"""Frames by which spyx's output of a layer follows the spike of neurosim's neuron."""


def _rebuild(graph, layers: list, kinds: list[str], dt: float):
    """A chain input -> layers -> output: the exporter's linear nodes, rebuilt neuron nodes and
    recurrent subgraphs, and a one-frame ``Delay`` after each delayed layer that is not the last."""

    nodes: dict[str, Any] = {"input": graph.nodes["input"]}
    edges: list[tuple[str, str]] = []
    prev = "input"
    last = max(i for i, k in enumerate(kinds) if k not in PASS)
    flattened: tuple[int, ...] | None = None  # the (C, H, W) a Flatten just flattened
    for i, (layer, kind) in enumerate(zip(layers, kinds, strict=True)):
        key = f"layer_{i}"
        if kind in PASS:
            continue
        if kind in LINEAR:
            if key not in graph.nodes:
                raise NetworkError(f"layer {i} ({type(layer).__name__}): spyx's to_nir wrote no node for it")
            nodes[key] = graph.nodes[key]
            if kind == "Linear" and flattened is not None:
                nodes[key] = _channels_first_columns(nodes[key], flattened)
            flattened = None
            if kind == "Flatten":
                shape = tuple(int(d) for d in np.ravel(graph.nodes[key].input_type["input"]))
                flattened = shape if len(shape) == 3 else None
        elif flattened is not None:
            raise NetworkError(
                f"layer {i} ({type(layer).__name__}): a neuron layer right after flattening a channels-last "
                "(H, W, C) tensor holds its neurons in spyx's order, not NIR's: put a Linear between them"
            )
        else:
            nodes[key] = _neuron(f"layer {i} ({type(layer).__name__})", key, layer, kind, dt)
        edges.append((prev, key))
        prev = key
        if kind in NEURONS and LAG[kind] and i != last:
            shape = _layer_shape(layer, kind)
            dkey = f"{key}.delay"
            nodes[dkey] = nir.Delay(np.full(shape, dt))
            edges.append((key, dkey))
            prev = dkey
    nodes["output"] = graph.nodes["output"]
    edges.append((prev, "output"))
    meta = {**dict(graph.metadata or {}), "dt": dt, "output_lag_frames": LAG[kinds[last]]}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def _channels_first_columns(node, chw: tuple[int, ...]):
    """A Linear/Affine after spyx's Flatten of a channels-last ``(H, W, C)`` tensor, with its
    columns reordered for NIR's channels-first flattening (the exporter keeps spyx's order, which
    would connect every input to the wrong neuron)."""

    c, h, w = chw
    perm = np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1).ravel()  # NIR flat -> spyx flat
    weight = np.asarray(node.weight)[:, perm]
    return nir.Affine(weight, np.asarray(node.bias)) if isinstance(node, nir.Affine) else nir.Linear(weight)


def _param(layer, value, shape: tuple[int, ...]) -> np.ndarray:
    """A spyx neuron parameter (scalar or channels-last) as a float32 array of NIR ``shape``."""
    p = np.asarray(value, dtype=np.float32)
    if p.ndim == 0:
        return np.full(shape, p, np.float32)
    if p.ndim == 3:
        p = p.transpose(2, 0, 1)
    return np.broadcast_to(p, shape).astype(np.float32)


def _decay(layer, attr: str, shape) -> np.ndarray:
    """``clip(layer.attr, 0, 1)`` in float32, as the forward computes it."""
    import jax.numpy as jnp  # noqa: PLC0415

    return _param(layer, jnp.clip(getattr(layer, attr)[...], 0, 1), shape)


def _neuron(place: str, key: str, layer, kind: str, dt: float):
    """The NIR node (or recurrent subgraph) of a spyx neuron layer."""

    base = "LIF" if kind in ("RLIF",) else "IF" if kind == "RIF" else "CuBaLIF" if kind == "RCuBaLIF" else kind
    shape = _layer_shape(layer, kind)
    zeros = np.zeros(shape)
    if base == "LI":
        tau = tau_for_decay(place, "beta", _decay(layer, "beta", shape), dt)
        return nir.LI(tau=tau, r=tau / dt, v_leak=zeros)
    thr = _param(layer, layer.threshold, shape).astype(np.float64)
    if base in ("LIF", "PSU_LIF"):
        tau = tau_for_decay(place, "beta", _decay(layer, "beta", shape), dt)
        meta = {"reset": "none" if base == "PSU_LIF" else "subtract", "reset_delay": base != "PSU_LIF"}
        node = nir.LIF(tau=tau, r=tau / dt, v_leak=zeros, v_threshold=thr, metadata={**meta, "fire_equal": False})
    elif base == "IF":
        meta = {"reset": "subtract", "reset_delay": True, "fire_equal": False}
        node = nir.IF(r=np.ones(shape), v_threshold=thr, metadata=meta)
    else:  # CuBaLIF: alpha is the current's decay, beta the membrane's
        tau_syn = tau_for_decay(place, "alpha", _decay(layer, "alpha", shape), dt)
        tau_mem = tau_for_decay(place, "beta", _decay(layer, "beta", shape), dt)
        meta = {"reset": "subtract", "reset_delay": False, "fire_equal": False, "current_lag": False}
        node = nir.CubaLIF(
            tau_syn=tau_syn,
            tau_mem=tau_mem,
            r=tau_mem / dt,
            v_leak=zeros,
            v_threshold=thr,
            w_in=tau_syn / dt,
            metadata=meta,
        )
    if kind == base:
        return node
    w_rec = np.asarray(layer.recurrent_w[...], np.float32).T.copy()  # NIR (out, in); spyx s @ W
    sub_nodes = {
        f"{key}.input": nir.Input(input_type={"input": np.array(shape)}),
        f"{key}.lif": node,
        f"{key}.w_rec": nir.Linear(w_rec, metadata={"recurrent": True}),
        f"{key}.output": nir.Output(output_type={"output": np.array(shape)}),
    }
    sub_edges = [
        (f"{key}.input", f"{key}.lif"),
        (f"{key}.lif", f"{key}.w_rec"),
        (f"{key}.w_rec", f"{key}.lif"),
        (f"{key}.lif", f"{key}.output"),
    ]
    return nir.NIRGraph(nodes=sub_nodes, edges=sub_edges, type_check=False)
