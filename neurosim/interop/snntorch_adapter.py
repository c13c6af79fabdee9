"""snnTorch -> neurosim: :func:`from_snntorch` exports a model with snnTorch's own NIR exporter,
puts back what the export loses, and builds the network with :func:`neurosim.from_nir`.

What snnTorch 1.0.0's exporter (``snntorch.export_nir.export_to_nir``) loses, and how it is
recovered from the module object:

* **dt.** The exporter writes ``tau = 1e-4 / (1 - beta)`` (it assumes ``dt = 1e-4`` s) and no dt.
  An snnTorch step is one frame whatever dt means; the adapter rewrites ``tau = dt / (1 - beta)``
  and ``r = tau / dt`` in float64, so that neurosim's ``decay = 1 - dt / tau`` is the float32
  ``beta.clamp(0, 1)`` of the forward exactly and the input gain is 1 (``beta == 1``: an ``IF``
  node, or ``tau = 2**30 dt`` within a layer). ``dt`` defaults to the exporter's ``1e-4``.
* **Reset mechanism and reset delay** (metadata keys ``reset`` and ``reset_delay`` of the neuron
  nodes). snnTorch's forward, per step (``H`` the Heaviside step, ``thr`` the threshold,
  ``r_t = H(mem_{t-1} - thr)``)::

      Leaky/RLeaky  mem = beta mem + I [+ V spk_{t-1}]          (RLeaky: recurrent term)
      Synaptic      syn = alpha syn + I;  mem = beta mem + syn
      subtract      mem <- mem - r_t thr                    -> reset 'subtract', delayed
      zero, Leaky   mem = beta (1 - r_t) mem + I            -> 'hard' to 0, immediate
      zero, others  mem <- mem - r_t mem  (= 0 after a spike) -> 'hard' to 0, delayed
      none                                                  -> 'none'
      spk = H(mem - thr)                                    (v > threshold, NIR's convention)

  With ``reset_delay=True`` (snnTorch's default) ``r_t`` is the spike of the previous step: the
  subtraction is neurosim's delayed reset (``NeuronParams.delayed_reset``). Leaky's reset to zero
  multiplies the stored membrane by ``1 - r_t`` before the leak, which equals an immediate hard
  reset to 0; Synaptic and RLeaky subtract the whole new membrane, which is a delayed hard reset.
  With ``reset_delay=False`` snnTorch resets after firing, but its guard against a double reset
  (``do_reset = spk - r_t``) changes the dynamics of a subtracting neuron whose membrane stays
  above threshold after its reset; the adapter accepts ``reset_delay=False`` with
  ``'subtract'`` only where the weights make that impossible (every neuron's largest input per
  step is at most ``(2 - beta) * threshold``) and refuses it elsewhere. A reset to zero is an
  immediate hard reset either way (threshold >= 0).
* **Synaptic**: ``CubaLIF`` with ``syn_decay = alpha``; the membrane takes this step's current
  (``current_lag`` False).
* **Pooling**: the exporter writes ``AvgPool2d`` with padding 0 whatever the module has and
  ignores ``divisor_override``; the adapter writes the module's padding, and ``SumPool2d`` for
  ``divisor_override=1``.
* **Scalar parameters**: ``export_to_nir`` fails its own closing type check when ``beta`` or
  ``threshold`` is a scalar (the LIF node gets shape ``()``) or an ``AvgPool2d`` has padding; its
  nodes assert when ``beta`` and ``threshold`` differ in shape, and it raises on a scalar ``V`` of a
  one-to-one RLeaky. The adapter runs the exporter's module map (``nirtorch.extract_nir_graph``
  with ``_extract_snntorch_module``, as ``export_to_nir`` does) on a copy of the model whose neuron
  parameters are broadcast to the layer's shape (found by one forward of ``example_input``), writes
  the neuron nodes itself, corrects the pools, and then runs the type check.

Refused (:class:`NetworkError`, one line naming the layer): max pooling (the chip only sums:
use ``AvgPool2d`` or a sum pool, ``AvgPool2d(divisor_override=1)``); an average pool whose area is
not a power of two, with ``ceil_mode``, or padded with ``count_include_pad=False``; graded spikes
(``graded_spikes_factor != 1``), ``inhibition``, ``state_quant``; a spike function other than
``H(mem - threshold)``; non-float32 parameters; a negative threshold with ``reset_delay=False``;
a ``reset_mechanism`` changed after the layer was built (snnTorch keeps the old state function);
RLeaky / RSynaptic with a convolutional recurrence (the exporter writes a wrong layer size);
RSynaptic with ``reset_delay=False`` (snnTorch 1.0.0 never applies that reset); subclasses of the
snnTorch and torch classes (their forward may differ) and every module the exporter does not export
(other neuron models, Dropout, BatchNorm, activations, ``Conv1d`` ...). :func:`neurosim.from_nir`
refuses a bias into a Synaptic layer (snnTorch adds it to the synaptic current, where it
accumulates). After lowering, every population's parameters and switches are compared with the
module's; a difference is refused, never run.

Exactness: neurosim computes ``(decay v + bias) + I`` with ``I`` the summed synaptic input;
snnTorch computes ``decay v + (W x + b)``, and for RLeaky ``(decay v + I_ff) + I_rec`` (RSynaptic
alike for its current). With weights on a power-of-two grid the sums are exact, so without biases
and recurrence the membranes agree bit for bit; with a bias or a recurrence the last bit of a
membrane can differ (measured: 5 to 17 % of membrane values, 400 frames x 100 neurons, 3 seeds),
and a spike flips only if a membrane lands within one float32 step of the threshold (measured:
no spike differed in 3.8e5 neuron-frames).

The network's input population is a spike source: snnTorch's first layer must be fed 0/1 values
for the forwards to agree.
"""

from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass
from typing import Any

import nir
import numpy as np
import scipy.sparse as sp

from neurosim.errors import NetworkError
from neurosim.interop.decay import tau_for_decay
from neurosim.io.nir_nodes import checked_dt
from neurosim.io.nir_read import from_nir
from neurosim.neuron import DTYPE

DEFAULT_DT = 1e-4
"""Seconds per frame when ``dt`` is not given: what snnTorch's exporter assumes."""

_NEURONS = ("Leaky", "Synaptic", "RLeaky", "RSynaptic")
_RECURRENT = ("RLeaky", "RSynaptic")
_CUBA = ("Synaptic", "RSynaptic")
_LINEAR = ("Linear", "Conv2d", "AvgPool2d", "Flatten")
_MAX_POOLS = ("MaxPool1d", "MaxPool2d", "MaxPool3d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d")


@dataclass
class _Layer:
    """One snnTorch neuron layer and the semantics neurosim must reproduce."""

    name: str
    module: Any
    kind: str
    shape: tuple[int, ...]
    reset: str  # 'subtract' | 'hard' | 'none'
    delayed: bool
    beta: np.ndarray  # float32, clamped, per neuron
    threshold: np.ndarray
    alpha: np.ndarray | None = None

    @property
    def node(self) -> str:
        """The key of the layer's neuron node in the exported graph."""
        return f"{self.name}.lif" if self.kind in _RECURRENT else self.name

    @property
    def place(self) -> str:
        return f"snnTorch layer {self.name!r} ({self.kind})"


# ============================================================================================ API
def from_snntorch(module, example_input, *, dt: float | None = None, name: str | None = None):
    """The neurosim :class:`~neurosim.describe.network.Network` of the snnTorch model ``module``.

    ``example_input``: one time step of input with a leading batch dimension, shape
    ``(batch, *features)`` (a tensor or array; only its shape is used). ``dt``: seconds per frame
    (default :data:`DEFAULT_DT`, snnTorch's own assumption); one snnTorch step is one frame.
    ``name`` defaults to the module's class name. Semantics and refusals: module docstring.
    """
    import torch  # noqa: PLC0415 - frameworks are imported only when an adapter is called

    dt = _check_dt(dt)
    x = torch.as_tensor(np.asarray(example_input) if not torch.is_tensor(example_input) else example_input)
    if x.dim() < 2:
        raise NetworkError(
            f"example_input has shape {tuple(x.shape)}: expected one time step with a batch dimension, "
            "(batch, *features)"
        )
    x = torch.zeros((1, *x.shape[1:]), dtype=torch.float32)
    model = copy.deepcopy(module).cpu()
    _check_modules(model)
    layers = _neuron_layers(model, x)
    _broadcast_parameters(model, layers)
    graph = _export(model, x)
    _check_graph(graph, model)
    for layer in layers:
        graph.nodes[layer.node] = _neuron_node(layer, graph.nodes.get(layer.node), dt)
    _fix_pools(graph, model)
    try:
        graph.infer_types()  # what export_to_nir ends with, here on the corrected nodes
    except Exception as e:  # noqa: BLE001
        raise NetworkError(f"the exported graph is inconsistent: {type(e).__name__}: {_one_line(e)}") from None
    graph.metadata = {**(graph.metadata or {}), "dt": dt}
    net = from_nir(graph, dt=dt, name=name or type(module).__name__)
    for layer in layers:
        _verify(net, layer)
        if layer.reset == "subtract" and not layer.delayed:
            _check_double_reset_guard(net, layer)
    return net


# ====================================================================================== modules
def _kind(m) -> str | None:
    """The name of ``m``'s class when it is exactly one of the classes the adapter knows (a subclass
    may override the forward, so it is not taken for its base), else None."""
    import snntorch  # noqa: PLC0415
    import torch  # noqa: PLC0415

    name = type(m).__name__
    if name in _NEURONS:
        return name if type(m) is getattr(snntorch, name) else None
    if name in _LINEAR or name in _MAX_POOLS:
        return name if type(m) is getattr(torch.nn, name) else None
    return None


def _check_dt(dt) -> float:
    return DEFAULT_DT if dt is None else checked_dt(dt)


def _check_modules(model) -> None:
    """Refuse every module the exporter does not export or neurosim cannot run."""
    skip: set[str] = set()
    for name, m in model.named_modules():
        kind = _kind(m)
        place = f"snnTorch module {name or '<top>'!r} ({type(m).__name__})"
        if any(name.startswith(s + ".") for s in skip):
            continue
        if kind in _NEURONS:
            _check_neuron(place, m)
            skip.add(name)
        elif kind in _MAX_POOLS:
            raise NetworkError(
                f"{place}: max pooling is not supported (the chip only sums its inputs); "
                "use AvgPool2d or a sum pool, AvgPool2d(divisor_override=1)"
            )
        elif kind == "Conv2d" and m.padding_mode != "zeros":
            raise NetworkError(f"{place}: padding_mode {m.padding_mode!r} is not supported; use 'zeros'")
        elif kind == "AvgPool2d":
            _check_avgpool(place, m)
        elif kind is None and (type(m).__name__ in _NEURONS + _LINEAR or not list(m.children())):
            raise NetworkError(
                f"{place} is not exported by snnTorch's NIR exporter; supported: "
                f"{', '.join(_NEURONS + _LINEAR)} (remove it, or replace it by one of these)"
            )


def _check_neuron(place: str, m) -> None:
    import torch  # noqa: PLC0415

    if getattr(m, "inhibition", False):
        raise NetworkError(f"{place}: inhibition=True (winner-take-all firing) is not supported; train without it")
    if getattr(m, "state_quant", False):
        raise NetworkError(f"{place}: state_quant quantizes the membrane, which neurosim does not; remove it")
    graded = torch.as_tensor(getattr(m, "graded_spikes_factor", 1.0)).detach()
    if not bool(torch.all(graded == 1)):
        raise NetworkError(
            f"{place}: graded_spikes_factor {graded.numpy().ravel()[:4].tolist()} != 1: a spike of the "
            "chip carries no value; train with graded_spikes_factor=1"
        )
    params = ("beta", "threshold") + (("alpha",) if hasattr(m, "alpha") else ())
    for p in params:
        t = getattr(m, p)
        if not torch.is_tensor(t) or t.dtype != torch.float32:
            raise NetworkError(
                f"{place}: parameter {p} has dtype {getattr(t, 'dtype', type(t))}; convert with .float()"
            )
    tiny = float(np.finfo(np.float32).smallest_subnormal)
    probe = torch.tensor([-1.0, -tiny, 0.0, tiny, 1.0])
    try:
        out = m.spike_grad(probe).detach()
    except Exception as e:  # noqa: BLE001 - any failure means we cannot tell what it computes
        raise NetworkError(f"{place}: its spike function fails on a probe: {_one_line(e)}") from None
    if not torch.equal(out, torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0])):
        raise NetworkError(
            f"{place}: its spike function is not the Heaviside step H(mem - threshold) in the forward "
            f"(gives {out.tolist()} at [-1, -tiny, 0, tiny, 1]); use one of snntorch.surrogate's"
        )
    kind = type(m).__name__
    by_state = {"_base_sub": "subtract", "_base_zero": "zero", "_base_int": "none"}.get(m.state_function.__name__)
    if by_state != m.reset_mechanism or list(m.reset_dict)[int(m.reset_mechanism_val)] != m.reset_mechanism:
        raise NetworkError(
            f"{place}: its forward resets as {by_state!r} (chosen when the layer was built) but "
            f"reset_mechanism is {m.reset_mechanism!r}: snnTorch 1.0.0 does not update the forward when it "
            "is changed; rebuild the layer"
        )
    if kind in _RECURRENT and m.all_to_all and not isinstance(m.recurrent, torch.nn.Linear):
        raise NetworkError(
            f"{place}: a convolutional recurrence is exported with a wrong layer size by snnTorch 1.0.0; "
            "use linear_features or all_to_all=False"
        )
    if kind == "RSynaptic" and not m.reset_delay:
        raise NetworkError(
            f"{place}: reset_delay=False is never applied by snnTorch 1.0.0's RSynaptic (a bug), so its "
            "dynamics are not what the flag says; use reset_delay=True"
        )


def _check_avgpool(place: str, m) -> None:
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)
    kh, kw = pair(m.kernel_size)
    pad = pair(m.padding)
    if m.ceil_mode:
        raise NetworkError(f"{place}: ceil_mode=True is not supported; use ceil_mode=False")
    if any(pad) and not m.count_include_pad:
        raise NetworkError(f"{place}: padding with count_include_pad=False divides by a varying count; not supported")
    div = m.divisor_override
    if div not in (None, 1, kh * kw):
        raise NetworkError(f"{place}: divisor_override={div} is not supported; use None (average) or 1 (sum)")
    if div is None and (kh * kw) & (kh * kw - 1):
        raise NetworkError(
            f"{place}: a {kh}x{kw} average divides by {kh * kw}, not a power of two, so neurosim's weights "
            "(w / n) round differently from PyTorch's sum / n; use a power-of-two area or divisor_override=1"
        )


def _neuron_layers(model, x) -> list[_Layer]:
    """Every neuron layer with its per-neuron shape (from one forward pass of ``x``)."""
    import torch  # noqa: PLC0415

    shapes: dict[str, tuple[int, ...]] = {}
    hooks = []
    named = [(n, m) for n, m in model.named_modules() if _kind(m) in _NEURONS]

    def record(name: str):
        def hook(mod, args, out) -> None:  # returns None: the output is left as it is
            shapes.setdefault(name, tuple(args[0].shape[1:]))

        return hook

    for n, m in named:
        hooks.append(m.register_forward_hook(record(n)))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model(x)
    except Exception as e:  # noqa: BLE001
        raise NetworkError(f"the model's forward fails on example_input: {type(e).__name__}: {_one_line(e)}") from None
    finally:
        for h in hooks:
            h.remove()
        for _, m in named:
            m.reset_mem()  # the copy's state only (snntorch.utils.reset clears every instance)
    layers = []
    for n, m in named:
        if n not in shapes:
            raise NetworkError(f"snnTorch layer {n!r} ({type(m).__name__}) is not used by the forward on example_input")
        layers.append(_layer(n, m, shapes[n]))
    return layers


def _layer(name: str, m, shape: tuple[int, ...]) -> _Layer:
    kind = type(m).__name__
    place = f"snnTorch layer {name!r} ({kind})"
    size = math.prod(shape)

    def per_neuron(key: str, clamp: bool) -> np.ndarray:
        t = getattr(m, key).detach()
        if clamp:
            t = t.clamp(0, 1)
        a = t.numpy().astype(DTYPE)
        try:
            return np.broadcast_to(a, shape).reshape(size).copy()
        except ValueError:
            raise NetworkError(f"{place}: parameter {key} has shape {a.shape}, the layer {shape}") from None

    mech = m.reset_mechanism
    delayed = bool(m.reset_delay)
    thr = per_neuron("threshold", clamp=False)
    if mech == "none":
        reset, delayed = "none", False
    elif mech == "subtract":
        reset = "subtract"
    else:
        reset = "hard"
        delayed = delayed and kind != "Leaky"  # Leaky's reset to zero acts at once (module docstring)
    if mech != "none" and not m.reset_delay and np.any(thr < 0):
        raise NetworkError(
            f"{place}: a negative threshold with reset_delay=False re-triggers snnTorch's reset guard; "
            "use reset_delay=True or a positive threshold"
        )
    alpha = per_neuron("alpha", clamp=True) if kind in _CUBA else None
    return _Layer(name, m, kind, shape, reset, delayed, per_neuron("beta", clamp=True), thr, alpha)


def _broadcast_parameters(model, layers: list[_Layer]) -> None:
    """Give the copy's neuron parameters the layer's shape (RLeaky/RSynaptic: its size, and a
    vector ``V`` when one-to-one): the exporter's nodes need parameters of one shape."""
    import torch  # noqa: PLC0415

    for layer in layers:
        m = layer.module
        shape = layer.shape if layer.kind not in _RECURRENT else (math.prod(layer.shape),)
        for key in ("beta", "threshold") + (("alpha",) if layer.alpha is not None else ()):
            _set(m, key, torch.broadcast_to(getattr(m, key).detach(), shape).clone())
        if layer.kind in _RECURRENT and not m.all_to_all:
            v = torch.broadcast_to(torch.as_tensor(m.recurrent.V).detach().float(), shape).clone()
            _set(m, "V", v)
            _set(m.recurrent, "V", v)


def _set(m, key: str, value) -> None:
    """Replace a parameter or buffer of ``m`` (a Parameter stays a Parameter)."""
    import torch  # noqa: PLC0415

    if isinstance(getattr(m, key, None), torch.nn.Parameter):
        value = torch.nn.Parameter(value, requires_grad=False)
    setattr(m, key, value)


# ========================================================================================= graph
def _export(model, x):
    """snnTorch's exporter: ``export_to_nir`` without its closing ``infer_types``, which fails on
    what the exporter writes wrongly (pool padding) before the adapter can correct it."""
    import nirtorch  # noqa: PLC0415
    import snntorch  # noqa: PLC0415
    import torch  # noqa: PLC0415
    from snntorch.export_nir import _extract_snntorch_module  # noqa: PLC0415

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # nirtorch: extract_nir_graph is deprecated
        try:
            return nirtorch.extract_nir_graph(
                model,
                _extract_snntorch_module,
                x,
                model_name="snntorch",
                ignore_submodules_of=[snntorch.RLeaky, snntorch.RSynaptic],
                ignore_dims=[0],
            )
        except Exception as e:  # noqa: BLE001 - the exporter's failures become one line
            raise NetworkError(f"snnTorch's NIR exporter failed: {type(e).__name__}: {_one_line(e)}") from None


def _check_graph(graph, model) -> None:
    """Every module the exporter skipped (a ``None`` node) is refused (normally caught before)."""
    modules = dict(model.named_modules())
    for key, node in graph.nodes.items():
        if node is None:
            kind = type(modules[key]).__name__ if key in modules else "?"
            raise NetworkError(f"snnTorch module {key!r} ({kind}) was not exported by snnTorch's NIR exporter")


def _neuron_node(layer: _Layer, old, dt: float):
    """The NIR neuron node of ``layer`` with exact parameters and the reset metadata."""
    if old is None:
        raise NetworkError(f"{layer.place}: snnTorch's exporter wrote no node {layer.node!r}")
    meta = {"reset": layer.reset, "reset_delay": layer.delayed, "fire_equal": False}
    thr = layer.threshold.astype(np.float64).reshape(layer.shape)
    zeros = np.zeros(layer.shape)
    if layer.alpha is None and np.all(layer.beta == 1):
        return nir.IF(r=np.ones(layer.shape), v_threshold=thr, v_reset=zeros, metadata=meta)
    tau, r = _tau_r(layer.beta, dt, layer.shape)
    if layer.alpha is None:
        return nir.LIF(tau=tau, r=r, v_leak=zeros, v_threshold=thr, v_reset=zeros, metadata=meta)
    tau_syn, w_in = _tau_r(layer.alpha, dt, layer.shape)
    return nir.CubaLIF(
        tau_syn=tau_syn,
        tau_mem=tau,
        r=r,
        v_leak=zeros,
        v_threshold=thr,
        v_reset=zeros,
        w_in=w_in,
        metadata={**meta, "current_lag": False},
    )


def _tau_r(decay: np.ndarray, dt: float, shape) -> tuple[np.ndarray, np.ndarray]:
    """``tau`` (float64) with ``float32(1 - dt / tau) == decay`` exactly, and ``r = tau / dt``
    (input gain ``dt r / tau == 1``); a decay of 1 takes ``tau = 2**30 dt``."""
    tau = tau_for_decay("snnTorch layer", "beta", decay, dt)
    return tau.reshape(shape), (tau / dt).reshape(shape)


def _fix_pools(graph, model) -> None:
    """The module's padding (the exporter writes 0) and ``SumPool2d`` for ``divisor_override=1``."""
    pair = lambda v: np.array((v, v) if isinstance(v, int) else tuple(v))
    for key, m in model.named_modules():
        if _kind(m) != "AvgPool2d" or key not in graph.nodes:
            continue
        kernel = pair(m.kernel_size)
        stride = kernel if m.stride is None else pair(m.stride)
        cls = nir.SumPool2d if m.divisor_override == 1 else nir.AvgPool2d
        graph.nodes[key] = cls(kernel_size=kernel, stride=stride, padding=pair(m.padding))


# ====================================================================================== checking
def _verify(net, layer: _Layer) -> None:
    """The lowered population has exactly the layer's parameters and switches (a mismatch here is
    a bug of the lowering, refused rather than run with other dynamics)."""
    if layer.node not in net.by_name:
        raise NetworkError(f"{layer.place}: neurosim.from_nir made no population {layer.node!r}")
    p = net.by_name[layer.node].neurons
    n = p.size
    expect = {
        "decay": layer.beta,
        "threshold": layer.threshold,
        "v_reset": np.zeros(n, DTYPE),
        "subtract": np.full(n, layer.reset == "subtract"),
        "resets": np.full(n, layer.reset != "none"),
        "spiking": np.ones(n, bool),
        "fire_equal": np.zeros(n, bool),
        "delayed_reset": np.full(n, layer.delayed),
        "cuba": np.full(n, layer.alpha is not None),
    }
    if layer.alpha is not None:
        expect["syn_decay"] = layer.alpha
        expect["current_lag"] = np.zeros(n, bool)
    for key, want in expect.items():
        got = getattr(p, key)
        if got.shape != want.shape or not np.array_equal(got, want):
            bad = int(np.flatnonzero(got != want)[0]) if got.shape == want.shape else 0
            raise NetworkError(
                f"{layer.place}: neurosim.from_nir gave {key} {got.ravel()[bad]!r} at neuron {bad}, "
                f"snnTorch's forward uses {want.ravel()[bad]!r}; the network cannot be reproduced"
            )


def _check_double_reset_guard(net, layer: _Layer) -> None:
    """``reset_delay=False`` with ``'subtract'``: refuse unless no neuron's membrane can stay above
    threshold after its reset, where snnTorch's ``do_reset = spk - reset`` changes the dynamics.

    With inputs and spikes in [0, 1], a neuron's input per step is at most ``x``, the sum of its
    positive incoming weights plus its bias (Synaptic: the current's bound, the fixed point of
    ``s = alpha s + x``); after a reset its membrane is at most ``beta thr + x - thr``, computed
    here in float32 as the forward does (rounding is monotone), which must not exceed ``thr``. The
    bound is exact where the weight sums are (weights on a power-of-two grid)."""
    span = net.span(layer.node)
    w = sp.csr_array(net.weights[:, span]) + sp.csr_array(net.recurrent_weights[:, span])
    pos = np.asarray(w.maximum(0).sum(axis=0), dtype=np.float64).ravel()
    p = net.by_name[layer.node].neurons
    x64 = np.maximum(pos + p.bias.astype(np.float64), 0.0)
    x = x64.astype(DTYPE)
    x = np.where(x < x64, np.nextafter(x, np.float32(np.inf)), x)  # round up
    if layer.alpha is not None:
        x = _current_bound(layer.alpha, x)
    thr = layer.threshold
    with np.errstate(over="ignore", invalid="ignore"):
        after = (layer.beta * thr + x) - thr  # float32, in the forward's order
    bad = np.flatnonzero(~(after <= thr))
    if bad.size:
        j = int(bad[0])
        limit = float((2 - layer.beta[j]) * thr[j])
        raise NetworkError(
            f"{layer.place}: with reset_delay=False and reset_mechanism='subtract', neuron {j} can receive "
            f"{float(x[j]):.6g} in a step, more than (2 - beta) * threshold = {limit:.6g}, "
            "where snnTorch's double-reset guard changes its dynamics; use reset_delay=True (the default) or "
            "reset_mechanism='zero'"
        )


def _current_bound(alpha: np.ndarray, x: np.ndarray, steps: int = 100_000) -> np.ndarray:
    """The least float32 fixed point of ``s = alpha s + x`` from 0 (infinite where none is
    reached): a bound of a Synaptic current fed at most ``x`` per step."""
    s = np.zeros_like(x)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            nxt = alpha * s + x
            if np.array_equal(nxt, s):
                return s
            s = nxt
    return np.where(alpha * s + x == s, s, np.float32(np.inf))


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__
