"""Export a trained spiking MLP to NIR (numpy + nir only; no torch).

Graph: ``input -> fc1 -> lif1 -> fc2 -> lif2 -> ... -> output`` with

* ``fcK``: ``nir.Affine(weight=W (n_out, n_in) float32, bias=zeros float32)``;
* ``lifK``: ``nir.LIF(tau, r, v_leak=0, v_threshold, v_reset=0)`` with ``tau = dt / (1 - beta)``
  (float64) and ``r = tau / dt``, so that NIR's forward-Euler step
  ``v <- v + dt/tau * (v_leak - v + r * I)`` is ``v <- beta * v + I``. A loader that takes
  ``decay = float32(1 - dt/tau)`` gets back the trainer's float32 beta bit for bit
  (checked at export). The neurons fire at ``v > v_threshold``, NIR's convention, and reset hard
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

from neurosim.errors import NeurosimError
from neurosim.plain import plain


class ExportError(NeurosimError, ValueError):
    """A model cannot be exported (bad shapes, parameters that do not round-trip)."""


def lif_tau(beta: float, dt: float) -> float:
    """``tau = dt / (1 - beta)`` in float64, for the float32 value of ``beta``."""
    b = float(np.float32(beta))
    if not (0.0 <= b < 1.0):
        raise ExportError(f"beta must be in [0, 1) to export as a NIR LIF, got {beta}")
    return dt / (1.0 - b)


def check_decay_roundtrip(beta: float, dt: float) -> float:
    """The decay a loader recovers, ``float32(1 - dt/tau)``; raises unless it equals
    ``float32(beta)`` exactly (also via a float32-stored tau)."""
    tau = lif_tau(beta, dt)
    b32 = np.float32(beta)
    for t in (tau, float(np.float32(tau))):
        d = np.float32(1.0 - dt / t)
        if d != b32:
            raise ExportError(
                f"beta={beta!r} with dt={dt!r} does not round-trip through tau=dt/(1-beta): "
                f"a loader would get decay {d!r} instead of {b32!r}; pick another beta or dt"
            )
    return float(b32)


def build_graph(
    weights,
    *,
    beta: float,
    threshold: float = 1.0,
    fire_equal: bool = False,
    dt: float = 1e-3,
    metadata: dict[str, Any] | None = None,
):
    """A ``nir.NIRGraph`` of the MLP; ``weights[l]`` is ``(n_out, n_in)``; ``fire_equal``: the
    neurons fire at ``v >= threshold`` (node metadata), else at ``v > threshold``."""

    weights = [np.asarray(w, dtype=np.float32) for w in weights]
    if not weights:
        raise ExportError("no layers to export")
    for l in range(1, len(weights)):
        if weights[l].shape[1] != weights[l - 1].shape[0]:
            raise ExportError(f"layer {l + 1}: weight shape {weights[l].shape} does not follow {weights[l - 1].shape}")
    check_decay_roundtrip(beta, dt)
    tau = lif_tau(beta, dt)
    nodes = {"input": nir.Input(input_type={"input": np.array([weights[0].shape[1]])})}
    edges = []
    prev = "input"
    for l, w in enumerate(weights, start=1):
        n = w.shape[0]
        nodes[f"fc{l}"] = nir.Affine(weight=w, bias=np.zeros(n, np.float32))
        nodes[f"lif{l}"] = nir.LIF(
            tau=np.full(n, tau),
            r=np.full(n, tau / dt),
            v_leak=np.zeros(n),
            v_threshold=np.full(n, float(threshold)),
            v_reset=np.zeros(n),
            metadata={"reset": "hard", "fire_equal": True} if fire_equal else {"reset": "hard"},
        )
        edges += [(prev, f"fc{l}"), (f"fc{l}", f"lif{l}")]
        prev = f"lif{l}"
    nodes["output"] = nir.Output(output_type={"output": np.array([weights[-1].shape[0]])})
    edges.append((prev, "output"))
    meta = {"dt": float(dt)}
    if metadata:
        meta["neurosim"] = _clean(metadata)
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def write_nir(
    path,
    weights,
    *,
    beta: float,
    threshold: float = 1.0,
    fire_equal: bool = False,
    dt: float = 1e-3,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write the MLP to ``path`` with ``nir.write``; ``metadata`` goes under ``neurosim``.

    The trainer's metadata keys: ``mode``, ``scheduler``, ``group_size``, ``max_steps``,
    ``stop_after_output`` (-1 = off), ``dt``, ``beta``, ``threshold``, ``threshold_convention``
    (``">"``, or ``">="`` with ``fire_equal``), ``reset`` (``"hard"``), ``v_reset``, ``dataset``,
    ``encoding`` (the dataset's encoding parameters, e.g. frames, seed), ``frames``, ``data_seed``, ``test_accuracy``
    (quantised weights, same forward), ``n_test``, ``seed``, ``epochs``, ``architecture``
    (``"64-64-64-10"``), ``sizes``, ``weight_bits``, ``weight_scales``, ``neurosim_version``, ...
    """

    path = Path(path)
    graph = build_graph(weights, beta=beta, threshold=threshold, fire_equal=fire_equal, dt=dt, metadata=metadata)
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
