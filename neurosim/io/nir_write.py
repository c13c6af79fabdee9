"""Write networks as NIR graphs (the inverse of :mod:`neurosim.io.nir_read`).

Conventions (saving)
--------------------
``Input`` (with the input population's shape; a ``Flatten`` follows when it is not 1-D) -> one
``Affine`` per projection (dense weight ``(n_target, n_source)``; the target population's bias on
its first incoming Affine, zeros on the others; ``metadata={'recurrent': True}`` on recurrent
projections) -> one ``LIF`` per population (flattened, ``tau = dt/(1-decay)``, ``r = tau/dt``,
``v_leak = 0``; a neuron with ``decay == 1`` inside a LIF gets ``tau = 2**30 dt`` and
``r = 2**30``, which read back as decay 1 and gain 1 in float32) or ``IF`` (``r = 1``) when every decay is exactly 1 ->
``Output``. ``metadata={'reset': 'subtract'}`` on nodes that reset by subtraction. Graph metadata
is ``net.metadata`` plus ``'dt'``. A population with a bias but no incoming projection gets an
all-zero Affine from the input to carry it (it reads back as a projection without synapses).
Several projections between the same two populations read back as one (their sum). A population
cannot mix hard and subtractive reset (one NIR node, one mode).
"""

from __future__ import annotations

import pathlib
from typing import Any

import nir
import numpy as np
import scipy.sparse as sp

from neurosim.describe.network import INPUT, Network, Population, Projection
from neurosim.errors import NetworkError
from neurosim.io.nir_nodes import IF_TAU_FACTOR, RECURRENT_KEY
from neurosim.neuron import DTYPE


def network_to_nir(net: Network) -> nir.NIRGraph:
    """The NIR graph of ``net`` (layout in the module docstring). The graph is built without NIR's
    type inference (which would add Output nodes to dead-end populations); its types are
    consistent all the same."""
    taken: set[str] = {p.name for p in net.populations}
    nodes: dict[str, nir.NIRNode] = {}
    edges: list[tuple[str, str]] = []
    inp = net.by_name[net.input]
    nodes[inp.name] = nir.Input(input_type=np.array(inp.shape, dtype=np.int64))
    feed = {inp.name: inp.name}  # population -> node its projections start from
    if len(inp.shape) != 1:
        flat = _unique(f"{inp.name}_flatten", taken)
        nodes[flat] = nir.Flatten(input_type={"input": np.array(inp.shape, dtype=np.int64)}, start_dim=0, end_dim=-1)
        edges.append((inp.name, flat))
        feed[inp.name] = flat
    for pop in net.populations:
        if pop.kind != INPUT:
            nodes[pop.name] = _neuron_node(pop, net.dt)
            feed[pop.name] = pop.name
    has_bias = {p.name for p in net.populations if p.params is not None and np.any(p.params.bias)}
    incoming = {pr.target for pr in net.projections}
    extra = [
        Projection(net.input, t, sp.csr_array((inp.size, net.by_name[t].size), dtype=DTYPE))
        for t in sorted(has_bias - incoming, key=net.index.__getitem__)
    ]  # carries a bias with no input
    for pr in (*net.projections, *extra):
        tgt = net.by_name[pr.target]
        bias = np.zeros(tgt.size, DTYPE)
        if pr.target in has_bias:
            bias = tgt.neurons.bias.astype(DTYPE)
            has_bias.discard(pr.target)
        meta = {RECURRENT_KEY: True} if net.is_recurrent(pr) else {}
        aff = _unique(f"{pr.source}_to_{pr.target}", taken)
        nodes[aff] = nir.Affine(weight=pr.weights.toarray().T.astype(DTYPE), bias=bias, metadata=meta)
        edges += [(feed[pr.source], aff), (aff, pr.target)]
    out = _unique("output", taken)
    nodes[out] = nir.Output(output_type=np.array([net.by_name[net.output].size], dtype=np.int64))
    edges.append((net.output, out))
    metadata = {**_hdf5_metadata(net.metadata), "dt": float(net.dt)}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def save_network(net: Network, path) -> None:
    """Write ``net`` to the NIR (HDF5) file ``path`` (see :func:`network_to_nir`)."""
    nir.write(pathlib.Path(path), network_to_nir(net))


def _neuron_node(pop: Population, dt: float) -> nir.NIRNode:
    p = pop.neurons
    sub = np.asarray(p.subtract, bool)
    if sub.any() and not sub.all():
        raise NetworkError(f"population {pop.name!r} mixes hard and subtractive reset; a NIR node has one reset mode")
    meta = {"reset": "subtract"} if sub.all() and sub.size else {}
    thr, v_reset = p.threshold.astype(DTYPE), p.v_reset.astype(DTYPE)
    decay = p.decay.astype(np.float64)
    if np.all(decay == 1.0):
        return nir.IF(r=np.ones(pop.size), v_threshold=thr, v_reset=v_reset, metadata=meta)
    if np.any(decay > 1.0):
        raise NetworkError(f"population {pop.name!r}: decay > 1 cannot be written as a NIR LIF (tau < 0)")
    with np.errstate(divide="ignore"):
        tau = np.where(decay == 1.0, dt * IF_TAU_FACTOR, dt / (1.0 - decay))
    return nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(pop.size), v_threshold=thr, v_reset=v_reset, metadata=meta)


def _unique(base: str, taken: set[str]) -> str:
    name, i = base, 1
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _hdf5_metadata(x: Any, key: str = "metadata") -> Any:
    """Metadata in a form ``nir.write`` (h5py) stores and reads back: dicts, strings, numbers,
    booleans and lists of them."""
    if isinstance(x, dict):
        return {str(k): _hdf5_metadata(v, f"{key}.{k}") for k, v in x.items()}
    if isinstance(x, (str, bool, int, float, np.generic)):
        return x
    if isinstance(x, (list, tuple, np.ndarray)):
        if len(x) and all(isinstance(v, str) for v in x):
            import h5py  # noqa: PLC0415 - optional extra (nir's own dependency)

            return np.array(list(x), dtype=h5py.string_dtype())
        a = np.asarray(x)
        if a.dtype.kind in "biuf":
            return a
    raise NetworkError(f"{key}: {type(x).__name__} value {x!r} cannot be stored in a NIR file")
