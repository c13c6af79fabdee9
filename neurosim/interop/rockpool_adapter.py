"""Rockpool (torch backend) -> neurosim: ``from_rockpool(module, example_input)``.

Rockpool's NIR exporter (``rockpool.nn.modules.torch.nir.to_nir``, 3.1.0) writes a ``LIFTorch``
as a ``CubaLIF`` with the real time constants, ``r = tau_mem exp(-dt/tau_mem) / dt`` and
``v_leak = 0``, an ``LIFNeuronTorch`` as a ``LIF`` and an ``ExpSynTorch`` as an ``LI``. It loses or
garbles what the forward does (``lif_torch.py``, ``lif_neuron_torch.py``, ``exp_syn_torch.py``):

* the decays are exponential, ``alpha = exp(-dt/tau_mem)`` and ``beta = exp(-dt/tau_syn)`` (NIR's
  forward Euler reads ``1 - dt/tau``); no ``dt`` is written;
* ``LIFTorch`` adds its input to the synaptic current BEFORE the decay:
  ``isyn <- beta (isyn + I)``, then ``vmem <- alpha vmem + isyn + bias``; ``ExpSynTorch`` is
  ``isyn <- beta (isyn + I)`` and outputs ``isyn``;
* the neuron ``bias`` is dropped (``v_leak`` is written as 0);
* the recurrent weights ``w_rec`` of ``LIFTorch(has_rec=True)`` are dropped;
* spikes are ``floor(v / threshold)`` where ``v >= threshold``, up to ``max_spikes_per_dt`` (default
  65536) per step, each subtracting the threshold.

This adapter exports with ``to_nir`` and rewrites each neuron node from the module itself so that
:func:`neurosim.from_nir` builds the same dynamics: ``tau`` is chosen so that NIR's ``1 - dt/tau``
is exactly Rockpool's float32 decay, the gains ``r`` / ``w_in`` are 1, the bias becomes ``v_leak``,
``beta`` is a ``Scale`` node on every input of the neuron (``beta (isyn + I) = beta isyn + beta I``),
``w_rec`` becomes a recurrent ``Linear`` node, and the metadata says ``reset='subtract'``,
``fire_equal=True`` (``v >= threshold``), ``reset_delay=False``, ``current_lag=False`` (the
membrane takes the current of the same step).

Exactness. The spikes equal Rockpool's per neuron and step when the float32 sums are exact (weights
and biases on a power-of-two grid) and ``beta`` is 0 or a power of two: then ``beta (i + I)`` and
``beta i + beta I`` are the same number. For another ``beta`` they differ in the last bit, so the
adapter refuses unless ``allow_rounding=True``. Two smaller differences of operation order remain
(they change nothing while the sums are exact): Rockpool adds the bias after the input
(``alpha v + I + b``; neurosim ``alpha v + b + I``) and the recurrent input after the feed-forward
one into the synaptic current.

Refused (one line, :class:`~neurosim.errors.NetworkError`): ``max_spikes_per_dt`` other than 1
(the chip sends one spike per neuron and frame), noise, several synaptic states per neuron,
thresholds that are not positive, decays outside [0, 1], a spike function other than Rockpool's
``StepPWL`` / ``PeriodicExponential`` (same forward), modules of other types, and modules whose
``dt`` differ.
"""

from __future__ import annotations

import copy
from typing import Any

import nir
import numpy as np

from neurosim.describe.network import Network
from neurosim.errors import NetworkError
from neurosim.interop.decay import tau_for_decay
from neurosim.io.nir_read import from_nir

MODEL_NAME = "rockpool"
"""Name ``to_nir`` gives the node of a module exported on its own (not in a Sequential)."""

EXACT_FLAGS = {"reset": "subtract", "fire_equal": True, "reset_delay": False}
"""Metadata of every spiking neuron node the adapter writes (Rockpool's forward)."""


def from_rockpool(
    module, example_input, *, dt: float | None = None, name: str | None = None, allow_rounding: bool = False
) -> Network:
    """The neurosim network of the Rockpool torch ``module`` (a ``Sequential`` of ``LinearTorch``,
    ``LIFTorch``, ``LIFNeuronTorch`` and ``ExpSynTorch``, or one such module).

    ``example_input``: input spikes ``(time, channels)`` or ``(batch, time, channels)``; only its
    channel count is used (checked against the module). ``dt`` must equal the modules' ``dt``
    when given (Rockpool's decays are computed from it); the network takes the modules' ``dt``.
    ``allow_rounding``: accept a synaptic decay ``beta`` (of a ``LIFTorch`` or an ``ExpSynTorch``)
    that is not a power of two (see the module docstring); the spikes may then differ from
    Rockpool's on near-ties. The module is not modified (it is exported from a copy).
    """
    import torch  # noqa: PLC0415 - the framework is an optional extra
    from rockpool.nn.modules.torch.nir import to_nir  # noqa: PLC0415

    module = copy.deepcopy(module)
    layers = _layers(module)
    for place, layer in layers.items():
        _check_layer(place, layer, allow_rounding)
    net_dt = _common_dt(layers, dt)
    size_in = int(module.size_in)
    channels = np.shape(example_input)[-1] if np.ndim(example_input) else None
    if channels != size_in:
        raise NetworkError(
            f"example_input has {channels} channels (last axis of shape {np.shape(example_input)}); "
            f"the Rockpool module takes {size_in}"
        )
    with torch.no_grad():
        try:
            graph = to_nir(module, torch.zeros((1, size_in)), model_name=MODEL_NAME)
        except NotImplementedError as e:
            raise NetworkError(f"Rockpool's to_nir cannot export the module: {' '.join(str(e).split())}") from None
    graph = _rewrite(graph, layers, net_dt)

    net = from_nir(graph, dt=net_dt, name=name or type(module).__name__)
    _check_lowering(net, graph)
    return net


# ------------------------------------------------------------------------------- the model object
def _layers(module) -> dict[str, Any]:
    """The modules ``to_nir`` writes a node for, by node name (a ``Sequential``'s children by
    their names; a lone module under :data:`MODEL_NAME`)."""
    from rockpool.nn.modules import LinearTorch  # noqa: PLC0415

    children = dict(module.named_children())
    if not children or _is_neuron(module) or isinstance(module, LinearTorch):
        return {MODEL_NAME: module}
    return children


def _is_neuron(layer) -> bool:
    from rockpool.nn.modules import ExpSynTorch, LIFNeuronTorch, LIFTorch  # noqa: PLC0415

    return type(layer) in (LIFTorch, LIFNeuronTorch, ExpSynTorch)


def _place(name: str, layer) -> str:
    return f"{type(layer).__name__} {name!r}"


def _common_dt(layers: dict, dt: float | None) -> float:
    dts = {name: float(layer.dt) for name, layer in layers.items() if _is_neuron(layer)}
    if not dts:
        raise NetworkError("the Rockpool module has no neuron layer (LIFTorch, LIFNeuronTorch or ExpSynTorch)")
    first = next(iter(dts))
    for name, value in dts.items():
        if value != dts[first]:
            raise NetworkError(
                f"{_place(name, layers[name])}: dt = {value:g} s differs from {first!r}'s dt = {dts[first]:g} s; "
                "neurosim runs one frame length: build every layer with the same dt"
            )
    if dt is not None and float(dt) != dts[first]:
        raise NetworkError(
            f"dt = {dt:g} s was given but the Rockpool layers run with dt = {dts[first]:g} s (their decays "
            "are computed from it): pass the module's dt or none"
        )
    return dts[first]


def _check_layer(name: str, layer, allow_rounding: bool) -> None:
    """Refuse what the chip (or neurosim's neuron) cannot do, naming the layer and the remedy."""
    from rockpool.nn.modules import ExpSynTorch, LIFNeuronTorch, LIFTorch, LinearTorch  # noqa: PLC0415

    place = _place(name, layer)
    if type(layer) not in (LinearTorch, LIFTorch, LIFNeuronTorch, ExpSynTorch):
        raise NetworkError(
            f"{place}: this Rockpool module type is not supported (its NIR export is missing or does not "
            "describe its forward); use LinearTorch, LIFTorch, LIFNeuronTorch and ExpSynTorch"
        )
    if isinstance(layer, LinearTorch):
        return
    if float(layer.noise_std) != 0.0:
        raise NetworkError(f"{place}: noise_std = {float(layer.noise_std):g}: the chip is noiseless; set noise_std=0")
    if isinstance(layer, ExpSynTorch):
        _check_decay(place, "exp(-dt/tau)", _exp_syn_decay(layer), allow_rounding, scaled=True)
        return
    if isinstance(layer, LIFTorch) and int(layer.n_synapses) != 1:
        raise NetworkError(
            f"{place}: {int(layer.n_synapses)} synaptic states per neuron (shape (Nin, Nout) with Nin = "
            f"{int(layer.n_synapses)} Nout); neurosim has one synaptic current per neuron: use shape (N,) "
            "behind a LinearTorch"
        )
    max_spikes = float(layer.max_spikes_per_dt)
    if max_spikes != 1.0:
        raise NetworkError(
            f"{place}: max_spikes_per_dt = {max_spikes:g} lets a neuron send floor(v / threshold) spikes in "
            "one step; the chip sends at most one per neuron and frame: build the layer with "
            "max_spikes_per_dt=1 (and retrain)"
        )
    if not _standard_spike_fn(layer):
        raise NetworkError(
            f"{place}: spike_generation_fn is not Rockpool's StepPWL or PeriodicExponential, so its forward is "
            "unknown: use one of those"
        )
    thr = _per_neuron(layer.threshold, layer.size_out)
    if not np.all(np.isfinite(thr) & (thr > 0)):
        i = int(np.flatnonzero(~(np.isfinite(thr) & (thr > 0)))[0])
        raise NetworkError(
            f"{place}: threshold[{i}] = {thr[i]:g}; Rockpool counts floor(v / threshold) spikes, which "
            "needs a positive threshold"
        )
    _check_decay(place, "alpha (membrane decay)", _mem_decay(layer), allow_rounding, scaled=False)
    if isinstance(layer, LIFTorch):
        _check_decay(place, "beta (synaptic decay)", _syn_decay(layer), allow_rounding, scaled=True)


def _check_decay(place: str, what: str, decay: np.ndarray, allow_rounding: bool, scaled: bool) -> None:
    bad = np.flatnonzero(~((decay >= 0) & (decay <= 1)))
    if bad.size:
        i = int(bad[0])
        raise NetworkError(
            f"{place}: {what}[{i}] = {decay[i]:g} is outside [0, 1] (a time constant that is not positive)"
        )
    if not scaled or allow_rounding:
        return
    mant = np.frexp(decay)[0]
    bad = np.flatnonzero((decay != 0) & (mant != 0.5))
    if bad.size:
        i = int(bad[0])
        raise NetworkError(
            f"{place}: {what}[{i}] = {decay[i]:.8g} is not a power of two: Rockpool scales the input after adding "
            "it, beta (i + I), neurosim beta i + beta I, which differ in the last bit; pass allow_rounding=True "
            "to accept that, or train with leak_mode='decays' and a power-of-two beta"
        )


def _standard_spike_fn(layer) -> bool:
    from rockpool.nn.modules.torch import lif_neuron_torch, lif_torch  # noqa: PLC0415

    owner = getattr(layer.spike_generation_fn, "__self__", None)
    return owner in (lif_torch.StepPWL, lif_torch.PeriodicExponential, lif_neuron_torch.StepPWL)


def _numpy32(t) -> np.ndarray:
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.asarray(t, dtype=np.float32)


def _per_neuron(value, n: int) -> np.ndarray:
    a = _numpy32(value).reshape(-1)
    return np.broadcast_to(a, (n,)).copy() if a.size == 1 else a.copy()


def _mem_decay(layer) -> np.ndarray:
    """The float32 membrane decay exactly as the forward computes it."""
    from rockpool.nn.modules import LIFNeuronTorch  # noqa: PLC0415
    from rockpool.nn.modules.torch.lif_neuron_torch import tau_to_decay  # noqa: PLC0415

    if isinstance(layer, LIFNeuronTorch):
        return _per_neuron(tau_to_decay(layer.dt, layer.tau_mem), layer.size_out)
    return _per_neuron(layer.alpha, layer.size_out)


def _syn_decay(layer) -> np.ndarray:
    return _per_neuron(layer.beta, layer.size_out)


def _exp_syn_decay(layer) -> np.ndarray:
    import torch  # noqa: PLC0415

    return _per_neuron(torch.exp(-layer.dt / layer.tau), layer.size_out)


# ---------------------------------------------------------------------------------- the NIR graph
def _rewrite(graph, layers: dict, dt: float):
    """The exported graph with every neuron node rebuilt from its module (module docstring)."""

    nodes = dict(graph.nodes)
    edges = [tuple(str(x) for x in e) for e in graph.edges]
    for name in list(nodes):
        node = nodes[name]
        if isinstance(node, nir.Input):  # nirtorch keeps the sample's batch axis: (1, channels)
            shape = np.asarray(node.input_type["input"]).ravel()
            nodes[name] = nir.Input(input_type={"input": shape[-1:]})
            continue
        if isinstance(node, nir.Output):
            continue
        if name not in layers:
            raise NetworkError(f"node {name!r} of Rockpool's NIR export matches no module of the model")
        layer = layers[name]
        place = _place(name, layer)
        if node is None:
            raise NetworkError(f"{place}: Rockpool's to_nir wrote no node for it")
        if isinstance(node, (nir.Linear, nir.Affine)):
            nodes[name] = _linear(node)
            continue
        new, scale, rec = _neuron(place, layer, dt)
        nodes[name] = new
        if scale is not None:
            sname = f"{name}.beta"
            nodes[sname] = nir.Scale(scale)
            edges = [(a, sname) if b == name else (a, b) for a, b in edges] + [(sname, name)]
            if rec is not None:
                rname = f"{name}.w_rec"
                nodes[rname] = nir.Linear(rec, metadata={"recurrent": True})
                edges += [(name, rname), (rname, sname)]
    meta = {**dict(graph.metadata or {}), "dt": dt}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)


def _linear(node):

    w = _numpy32(node.weight)
    if isinstance(node, nir.Affine):
        return nir.Affine(w, _numpy32(node.bias))
    return nir.Linear(w)


def _neuron(place: str, layer, dt: float):
    """``(node, scale, w_rec)``: the NIR neuron node of a Rockpool neuron layer, the ``beta`` to
    scale its inputs by (None: none) and its recurrent weights as NIR ``(out, in)`` (None: none)."""
    from rockpool.nn.modules import ExpSynTorch, LIFTorch  # noqa: PLC0415

    n = int(layer.size_out)
    if isinstance(layer, ExpSynTorch):
        beta = _exp_syn_decay(layer)
        tau = tau_for_decay(place, "synaptic", beta, dt)
        node = nir.LI(tau=tau, r=tau / dt, v_leak=np.zeros(n))
        return node, beta, None
    alpha = _mem_decay(layer)
    tau_mem = tau_for_decay(place, "membrane", alpha, dt)
    thr = _per_neuron(layer.threshold, n).astype(np.float64)
    v_leak = _per_neuron(layer.bias, n).astype(np.float64) * tau_mem / dt
    meta = dict(EXACT_FLAGS)
    if not isinstance(layer, LIFTorch):
        return nir.LIF(tau=tau_mem, r=tau_mem / dt, v_leak=v_leak, v_threshold=thr, metadata=meta), None, None
    beta = _syn_decay(layer)
    tau_syn = tau_for_decay(place, "synaptic", beta, dt)
    node = nir.CubaLIF(
        tau_syn=tau_syn,
        tau_mem=tau_mem,
        r=tau_mem / dt,
        v_leak=v_leak,
        v_threshold=thr,
        w_in=tau_syn / dt,
        metadata={**meta, "current_lag": False},
    )
    rec = _numpy32(layer.w_rec).T.copy() if bool(layer._has_rec) else None
    return node, beta, rec


def _check_lowering(net: Network, graph) -> None:
    """Each population's decays, threshold and bias are the module's float32 values (a guard
    against a change of :func:`neurosim.from_nir`'s conventions)."""

    for name, node in graph.nodes.items():
        if not isinstance(node, (nir.LIF, nir.CubaLIF, nir.LI)) or name not in net.by_name:
            continue
        p = net.by_name[name].neurons
        tau = node.tau if isinstance(node, (nir.LIF, nir.LI)) else node.tau_mem
        want = {"decay": (1 - net.dt / np.asarray(tau)).astype(np.float32)}
        if isinstance(node, nir.CubaLIF):
            want["syn_decay"] = (1 - net.dt / np.asarray(node.tau_syn)).astype(np.float32)
        if not isinstance(node, nir.LI):
            want["threshold"] = np.asarray(node.v_threshold, np.float32)
            want["bias"] = (np.asarray(node.v_leak) * net.dt / np.asarray(tau)).astype(np.float32)
        for key, value in want.items():
            got = getattr(p, key)
            if not np.array_equal(got, np.broadcast_to(value, got.shape)):
                raise NetworkError(
                    f"node {name!r}: neurosim.from_nir gave {key} {got[:3]}..., the Rockpool layer has "
                    f"{np.ravel(value)[:3]}...: the adapter and the NIR reader disagree (a neurosim bug)"
                )
