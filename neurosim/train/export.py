"""Export a trained spiking MLP to NIR (numpy + nir only; no torch).

Graph: ``input -> fc1 -> lif1 -> fc2 -> lif2 -> ... -> output`` with

* ``fcK``: ``nir.Affine(weight=W (n_out, n_in) float32, bias=b float32)`` (zeros for a model
  trained without bias; NIR adds the bias to the node's input every step, neurosim once per frame
  after the leak, ``v <- beta v + b``, as the trainer);
* ``lifK``: ``nir.LIF(tau, r, v_leak=0, v_threshold, v_reset=0)`` with ``tau`` (float64) chosen
  by :func:`neurosim.io.nir_tau.tau_for_decay` so that a loader computing
  ``decay = float32(1 - dt/tau)`` in float64, as :mod:`neurosim.io.nir_read` does, gets back the
  trainer's float32 beta bit for bit, for any beta in [0, 1] that this formula can give: 0,
  asynctorch's ``exp(-dt/tau_m) = e**-10`` and everything up to 1 (an IF neuron, ``tau = 2**30
  dt``); exact for every one of 10**6 sampled float32 decays in [1e-8, 1] at dt from 0.1 ms to
  1 s; below 1e-8 some are refused, in one line (``1 - dt/tau`` has too few bits there).
  ``r = tau / dt``, so that NIR's forward-Euler step ``v <- v + dt/tau * (v_leak - v + r * I)``
  is ``v <- beta * v + I``. A loader that stores ``tau`` in float32 gets only an approximation
  of small decays (float32 tau has 24 bits).
  The neurons fire at ``v > v_threshold``, NIR's convention, and reset hard
  to 0 (NIR's default, so no node metadata); a model trained with ``fire_equal`` (``v >=``)
  carries ``metadata={'fire_equal': True}`` on every LIF node, which :mod:`neurosim.io` reads.

Graph metadata: ``dt`` and a ``neurosim`` dict (see :func:`write_nir`). NIR stores lists as
arrays and numbers as numpy scalars; :func:`read_metadata` turns them back into plain Python.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nir
import numpy as np

from neurosim.errors import NetworkError, NeurosimError
from neurosim.io.nir_tau import tau_for_decay
from neurosim.plain import plain


class ExportError(NeurosimError, ValueError):
    """A model cannot be exported (bad shapes, parameters that do not round-trip)."""


def lif_tau(beta: float, dt: float) -> float:
    """The NIR time constant (float64) whose forward-Euler decay ``float32(1 - dt/tau)`` is the
    float32 value of ``beta`` exactly (:func:`neurosim.io.nir_tau.tau_for_decay`); refused outside
    [0, 1] and for the tiny decays (below about 1e-8 at dt = 1 ms) that no tau gives."""
    b = np.float32(beta)
    if not (0.0 <= b <= 1.0):
        raise ExportError(f"beta must be in [0, 1] to export as a NIR LIF, got {beta}")
    if not (dt > 0 and np.isfinite(dt)):
        raise ExportError(f"dt must be positive to export as a NIR LIF, got {dt}")
    try:
        return float(tau_for_decay("NIR export", "beta", np.array([b]), float(dt))[0])
    except NetworkError as exc:
        raise ExportError(f"{exc}; pick another beta or dt") from None


def check_decay_roundtrip(beta: float, dt: float) -> float:
    """The decay a loader recovers, ``float32(1 - dt/tau)`` with the exported float64 ``tau``;
    raises unless it equals ``float32(beta)`` exactly."""
    tau = lif_tau(beta, dt)
    b32 = np.float32(beta)
    d = np.float32(1.0 - dt / tau)
    if d != b32:  # pragma: no cover - tau_for_decay guarantees it
        raise ExportError(f"beta={beta!r} with dt={dt!r}: a loader would get decay {d!r} instead of {b32!r}")
    return float(b32)


def _biases(biases, weights) -> list[np.ndarray]:
    """The per-layer biases as float32 vectors (zeros when ``biases`` is None), shape-checked."""
    if biases is None:
        return [np.zeros(w.shape[0], np.float32) for w in weights]
    out = [np.asarray(b, dtype=np.float32).reshape(-1) for b in biases]
    if len(out) != len(weights) or any(b.shape[0] != w.shape[0] for b, w in zip(out, weights)):
        raise ExportError(
            f"biases {[b.shape for b in out]} do not match the layers {[w.shape[0] for w in weights]}: "
            "one bias per neuron of every layer"
        )
    return out


def build_graph(
    weights,
    *,
    beta: float,
    threshold: float = 1.0,
    fire_equal: bool = False,
    dt: float = 1e-3,
    metadata: dict[str, Any] | None = None,
    biases=None,
    conv: dict[str, Any] | None = None,
):
    """A ``nir.NIRGraph`` of the MLP; ``weights[l]`` is ``(n_out, n_in)``, ``biases[l]`` (or None:
    zeros) ``(n_out,)``; ``fire_equal``: the neurons fire at ``v >= threshold`` (node metadata),
    else at ``v > threshold``. ``conv`` (a CNN, see :func:`_conv_nodes`): ``{"spec",
    "input_shape", "params", "biases"}``; ``weights`` and ``biases`` are then its dense matrices
    and per-neuron biases, checked against the kernels."""

    weights = [np.asarray(w, dtype=np.float32) for w in weights]
    if not weights:
        raise ExportError("no layers to export")
    for l in range(1, len(weights)):
        if weights[l].shape[1] != weights[l - 1].shape[0]:
            raise ExportError(f"layer {l + 1}: weight shape {weights[l].shape} does not follow {weights[l - 1].shape}")
    bs = _biases(biases, weights)
    check_decay_roundtrip(beta, dt)
    tau = lif_tau(beta, dt)

    def lif(shape) -> nir.LIF:
        return nir.LIF(
            tau=np.full(shape, tau),
            r=np.full(shape, tau / dt),
            v_leak=np.zeros(shape),
            v_threshold=np.full(shape, float(threshold)),
            v_reset=np.zeros(shape),
            metadata={"reset": "hard", "fire_equal": True} if fire_equal else {"reset": "hard"},
        )

    if conv is not None:
        nodes, edges, prev = _conv_nodes(weights, bs, conv, lif)
    else:
        nodes = {"input": nir.Input(input_type={"input": np.array([weights[0].shape[1]])})}
        edges = []
        prev = "input"
        for l, (w, b) in enumerate(zip(weights, bs), start=1):
            nodes[f"fc{l}"] = nir.Affine(weight=w, bias=b)
            nodes[f"lif{l}"] = lif(w.shape[0])
            edges += [(prev, f"fc{l}"), (f"fc{l}", f"lif{l}")]
            prev = f"lif{l}"
    nodes["output"] = nir.Output(output_type={"output": np.array([weights[-1].shape[0]])})
    edges.append((prev, "output"))
    meta = {"dt": float(dt)}
    if metadata:
        meta["neurosim"] = _clean(metadata)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def _conv_nodes(weights, biases, conv: dict[str, Any], lif):
    """The nodes and edges of a CNN (:mod:`neurosim.train.conv_arch`): per layer its pools
    (``SumPool2d``/``AvgPool2d``), then a ``Conv2d`` (kernel, stride, padding, input shape, the
    per-channel bias) or, for a dense layer, a ``Flatten`` (after an image) and an ``Affine``;
    then a ``LIF`` of the layer's shape. Each layer's dense matrix rebuilt from its kernel must
    equal ``weights[l]`` bit for bit (and the biases theirs), else the export is refused."""
    from neurosim.train.conv_arch import dense_matrix, expand_bias, parse_spec, plan  # noqa: PLC0415

    layers = plan(parse_spec(conv["spec"]), conv["input_shape"], weights[-1].shape[0])
    params, cbias = conv["params"], conv.get("biases")
    if len(layers) != len(weights) or len(params) != len(weights):
        raise ExportError(f"conv spec {conv['spec']!r} has {len(layers)} layers, the model {len(weights)}")
    in_shape = np.array([int(s) for s in conv["input_shape"]])
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": in_shape})}
    edges: list[tuple[str, str]] = []
    prev = "input"
    for l, lp in enumerate(layers, start=1):
        p = np.asarray(params[l - 1], np.float32)
        pb = np.zeros(lp.bias_shape, np.float32) if cbias is None else np.asarray(cbias[l - 1], np.float32)
        if not np.array_equal(dense_matrix(lp, p), weights[l - 1]) or not np.array_equal(
            expand_bias(lp, pb), biases[l - 1]
        ):
            raise ExportError(
                f"layer {l}: the dense weights or biases are not those of its kernel; export the model's own"
            )
        chain = []
        for j, (pool, _shape) in enumerate(lp.pools, start=1):
            cls = nir.SumPool2d if pool.kind == "sum" else nir.AvgPool2d
            name = f"pool{l}_{j}"
            nodes[name] = cls(
                kernel_size=np.array([pool.kernel] * 2), stride=np.array([pool.stride] * 2), padding=np.array([0, 0])
            )
            chain.append(name)
        if lp.conv is not None:
            c = lp.conv
            nodes[f"conv{l}"] = nir.Conv2d(
                input_shape=tuple(lp.in_shape[1:]),
                weight=p,
                stride=c.stride,
                padding=c.padding,
                dilation=1,
                groups=1,
                bias=pb,
            )
            chain.append(f"conv{l}")
        else:
            if len(lp.in_shape) > 1:
                nodes[f"flat{l}"] = nir.Flatten(input_type={"input": np.array(lp.in_shape)}, start_dim=0, end_dim=-1)
                chain.append(f"flat{l}")
            nodes[f"fc{l}"] = nir.Affine(weight=p, bias=pb)
            chain.append(f"fc{l}")
        nodes[f"lif{l}"] = lif(lp.out_shape)
        for node in [*chain, f"lif{l}"]:
            edges.append((prev, node))
            prev = node
    return nodes, edges, prev


def write_nir(path, weights, **graph_options) -> Path:
    """Write the MLP to ``path`` with ``nir.write``; ``graph_options`` are :func:`build_graph`'s
    (``beta``, ``threshold``, ``fire_equal``, ``dt``, ``metadata``: under ``neurosim``, ``biases``:
    None for zeros, the Affine biases).

    The trainer's metadata keys: ``mode``, ``scheduler``, ``group_size``, ``max_steps``,
    ``stop_after_output`` (-1 = off), ``dt``, ``beta``, ``threshold``, ``threshold_convention``
    (``">"``, or ``">="`` with ``fire_equal``), ``reset`` (``"hard"``), ``v_reset``, ``dataset``,
    ``encoding`` (the dataset's encoding parameters, e.g. frames, seed, and ``values``: ``"counts"``
    when the inputs were event counts, which ``neurosim run`` then loads too; absent or ``"binary"``:
    spikes), ``frames``, ``data_seed``, ``test_accuracy``
    (quantised weights, same forward), ``n_test``, ``seed``, ``epochs``, ``architecture``
    (``"64-64-64-10"``), ``sizes``, ``weight_bits``, ``weight_scales``, ``neurosim_version``, ...
    """

    path = Path(path)
    graph = build_graph(weights, **graph_options)
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(str(path), graph)
    return path


def _clean(obj):
    """Make metadata storable by NIR/HDF5: None -> "none", tuples -> lists, numpy -> Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if obj is None:
        return "none"
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def read_metadata(path) -> dict[str, Any]:
    """The graph metadata of a NIR file as plain Python (``dt`` and the ``neurosim`` dict)."""

    return plain(dict(nir.read(str(path)).metadata))
