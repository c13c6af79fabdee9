"""Write networks as NIR graphs (the inverse of :mod:`neurosim.io.nir_read`).

Conventions (saving)
--------------------
``Input`` (with the input population's shape; a ``Flatten`` follows when it is not 1-D) -> one
``Affine`` per projection (dense weight ``(n_target, n_source)``; ``metadata={'recurrent': True}``
on recurrent projections), then a ``Delay`` node (``delay = frames * dt`` seconds, every channel)
when the projection has a delay -> one neuron node per population (flattened) -> ``Output``.

The neuron node follows the population's switches (each the same for all its neurons: a NIR node
has one mode, so a population mixing them is refused):

* spiking, not cuba: ``IF`` (``r = 1``) when every decay is exactly 1, else ``LIF``
  (``tau = dt/(1-decay)``, ``r = tau/dt``, ``v_leak = 0``);
* spiking, cuba: ``CubaLIF`` (``tau_mem`` and ``r`` as a LIF's, ``tau_syn = dt/(1-syn_decay)``,
  ``w_in = tau_syn/dt``);
* non-spiking: ``I`` (``r = 1``, every decay 1), ``LI`` (as a LIF's) or ``CubaLI`` (as a
  CubaLIF's); their threshold and reset are not stored (they never fire: read back as
  ``inf`` and 0).

A decay (or ``syn_decay``) of exactly 1 inside a leaky node gets ``tau = 2**30 dt`` and
``r = 2**30`` (``w_in``), which read back as decay 1 and gain 1 in float32. Every input gain is
1, so weights are written as they are. Node metadata: ``reset`` (``'subtract'`` or ``'none'``;
absent: hard), ``reset_delay`` and ``fire_equal`` when true, ``current_lag`` (always, on cuba
nodes). The population's bias is the bias of one incoming Affine without delay (zeros on the
others; a population without one gets an all-zero Affine from the input to carry it, read back
as a projection without synapses), except on cuba nodes, where NIR would add it to the synaptic
current: there it is written as ``v_leak = bias tau_mem / dt``, which reads back as the bias
``dt v_leak / tau_mem``. Graph metadata is ``net.metadata`` plus ``'dt'``. Several projections
between the same two populations with the same delay read back as one (their sum).
"""

from __future__ import annotations

import pathlib
from typing import Any

import nir
import numpy as np
import scipy.sparse as sp

from neurosim.describe.network import INPUT, Network, Population, Projection
from neurosim.errors import NetworkError
from neurosim.io.nir_nodes import RECURRENT_KEY
from neurosim.io.nir_tau import tau_for_decay
from neurosim.neuron import DTYPE


def network_to_nir(net: Network) -> nir.NIRGraph:
    """The NIR graph of ``net`` (layout in the module docstring). The graph is built without NIR's
    type inference (which would add Output nodes to dead-end populations); its types are
    consistent all the same."""
    for pr in net.projections:
        if pr.synapse_unit is not None:
            raise NetworkError(
                f"projection {pr.source!r} -> {pr.target!r}: synapse_unit {pr.synapse_unit!r} has no NIR field "
                "and would be lost; write the network without it and name the unit after loading"
            )
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
    cuba = set()
    for pop in net.populations:
        if pop.kind != INPUT:
            nodes[pop.name] = _neuron_node(pop, net.dt)
            feed[pop.name] = pop.name
            if type(nodes[pop.name]).__name__ in ("CubaLIF", "CubaLI"):
                cuba.add(pop.name)
    has_bias = {p.name for p in net.populations if p.params is not None and np.any(p.params.bias)} - cuba
    carriers = {pr.target for pr in net.projections if pr.delay == 0}
    extra = [
        Projection(net.input, t, sp.csr_array((inp.size, net.by_name[t].size), dtype=DTYPE))
        for t in sorted(has_bias - carriers, key=net.index.__getitem__)
    ]  # carries a bias with no undelayed input
    for pr in (*net.projections, *extra):
        tgt = net.by_name[pr.target]
        bias = np.zeros(tgt.size, DTYPE)
        if pr.target in has_bias and pr.delay == 0:
            bias = tgt.neurons.bias.astype(DTYPE)
            has_bias.discard(pr.target)
        meta = {RECURRENT_KEY: True} if net.is_recurrent(pr) else {}
        aff = _unique(f"{pr.source}_to_{pr.target}", taken)
        nodes[aff] = nir.Affine(weight=pr.weights.toarray().T.astype(DTYPE), bias=bias, metadata=meta)
        edges.append((feed[pr.source], aff))
        if pr.delay:
            delay = _unique(f"{aff}_delay", taken)
            nodes[delay] = nir.Delay(delay=np.full(tgt.size, pr.delay * float(net.dt)))
            edges += [(aff, delay), (delay, pr.target)]
        else:
            edges.append((aff, pr.target))
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
    flag = {k: _one_mode(pop, k) for k in ("subtract", "resets", "spiking", "fire_equal", "delayed_reset", "cuba")}
    meta: dict[str, Any] = {}
    if flag["spiking"]:
        # always written, "hard" included, so that a file says its reset (neurosim notes files that don't)
        meta["reset"] = "none" if not flag["resets"] else ("subtract" if flag["subtract"] else "hard")
        if flag["delayed_reset"]:
            meta["reset_delay"] = True
        if flag["fire_equal"]:
            meta["fire_equal"] = True
    if flag["cuba"]:
        meta["current_lag"] = _one_mode(pop, "current_lag")
    thr, v_reset = p.threshold.astype(DTYPE), p.v_reset.astype(DTYPE)
    decay = p.decay.astype(np.float64)
    if flag["cuba"]:
        tau_mem = _tau(pop, "decay", decay, dt)
        tau_syn = _tau(pop, "syn_decay", p.syn_decay.astype(np.float64), dt)
        common = {
            "tau_syn": tau_syn,
            "tau_mem": tau_mem,
            "r": tau_mem / dt,
            "v_leak": p.bias.astype(np.float64) * tau_mem / dt,
            "w_in": tau_syn / dt,
        }
        if flag["spiking"]:
            return nir.CubaLIF(**common, v_threshold=thr, v_reset=v_reset, metadata=meta)
        return nir.CubaLI(**common, metadata=meta)
    if np.all(decay == 1.0):
        if flag["spiking"]:
            return nir.IF(r=np.ones(pop.size), v_threshold=thr, v_reset=v_reset, metadata=meta)
        return nir.I(r=np.ones(pop.size), metadata=meta)
    tau = _tau(pop, "decay", decay, dt)
    if flag["spiking"]:
        return nir.LIF(tau=tau, r=tau / dt, v_leak=np.zeros(pop.size), v_threshold=thr, v_reset=v_reset, metadata=meta)
    return nir.LI(tau=tau, r=tau / dt, v_leak=np.zeros(pop.size), metadata=meta)


def _one_mode(pop: Population, key: str) -> bool:
    """The value of a per-neuron switch, the same for the whole population (else refused)."""
    v = np.asarray(getattr(pop.neurons, key), bool)
    if v.any() and not v.all():
        what = "hard and subtractive reset" if key == "subtract" else f"{key} true and false"
        raise NetworkError(f"population {pop.name!r} mixes {what}; a NIR node has one mode")
    return bool(v.all()) and bool(v.size)


def _tau(pop: Population, key: str, decay: np.ndarray, dt: float) -> np.ndarray:
    """The ``tau`` whose ``1 - dt/tau`` reads back as exactly ``decay`` (``2**30 dt`` where the decay
    is 1; :func:`neurosim.io.nir_tau.tau_for_decay`), refused outside [0, 1]."""
    if np.any((decay > 1.0) | (decay < 0.0)):
        raise NetworkError(f"population {pop.name!r}: a {key} outside [0, 1] cannot be written as a NIR time constant")
    return tau_for_decay(f"population {pop.name!r}", key, decay, dt)


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
