"""Sinabs 3.1.3 models as neurosim networks: ``from_sinabs(module, example_input, dt=None, name=None)``.

``module`` is a torch model (``nn.Sequential`` or one layer) of torch layers and Sinabs layers,
``example_input`` one forward's input: ``(batch, time, ...)`` for ``LIF``, ``IAF``, ``ExpLeak``
and their ``Recurrent`` forms, ``(batch * time, ...)`` for the ``Squeeze`` forms (conv models).
The graph comes from Sinabs' own exporter (``_extract_sinabs_module`` traced by nirtorch, as
``sinabs.to_nir`` does); what that exporter loses or garbles is taken from the layer objects:

* **Decay.** Sinabs steps ``v <- alpha v + g I`` with ``alpha = exp(-1 / tau_mem)`` (``tau_mem``
  counts time steps; with ``train_alphas`` the layer holds ``alpha`` itself, which the exporter
  cannot read) and ``g = 1 - alpha`` when ``norm_input`` (the LIF default), else 1. The exporter
  writes ``tau = tau_mem`` as seconds and ``r = 1``; the graph gets ``tau = dt / (1 - alpha)``
  and ``r = g tau / dt``, which neurosim reads back as ``decay = alpha`` and gain ``g``. Sinabs
  has no dt: ``dt`` (default 1e-3 s) only sets the frame length.
* **Synaptic current** (``tau_syn``, which the exporter drops): ``i <- alpha_syn (i + I)`` and the
  membrane takes ``g i`` of the same step: a CubaLIF with ``metadata['current_lag'] = False``,
  ``tau_syn = dt / (1 - alpha_syn)`` and ``w_in = alpha_syn / (1 - alpha_syn)``.
* **Spikes.** ``SingleSpike`` fires at ``v - threshold >= 0``: ``metadata['fire_equal'] = True``.
* **Resets.** ``MembraneSubtract`` (the default) becomes ``metadata['reset'] = 'subtract'``,
  ``MembraneReset(reset_value=0)`` ``'hard'`` with ``v_reset = 0``; the exporter writes neither.
* **Readouts.** ``ExpLeak`` (and a layer with ``spike_fn=None``) output the membrane: NIR ``LI``
  (``I`` when ``alpha = 1``). Recurrent layers (which the exporter refuses) become the neuron node
  and a Linear back to itself, delivered in the next frame as Sinabs adds ``rec_connect(spikes)``
  to the next step's input.
* **Shapes.** The Input loses the batch and time dimensions (the exporter keeps time for the
  non-squeezed layers); ``AvgPool2d``, which the exporter refuses, is written.

Floating point: neurosim computes ``(decay v + bias) + sum(g w x)``, Sinabs ``alpha v + g (sum(w
x) + bias)``: equal in exact arithmetic. With weights and biases on a power-of-two grid and
``g``, ``alpha_syn`` powers of two (``norm_input=False``, or ``alpha = 1/2``) the sums are exact and
only the rounding of ``alpha v`` against the bias differs. Measured (``tests/interop/test_sinabs.py``
and 20 seeds of a 10-12-4 LIF/ExpLeak net, 24 frames, tau_mem = 4 and 1.44 steps, norm_input
on and off): spikes equal on every neuron and frame; ExpLeak membranes differ in the last bits
(at most 2e-6 absolute). Not a proof: a membrane within rounding of the threshold could spike a
frame apart. ``SumPool2d`` is torch's ``LPPool2d(1)``, an average times the window area: exact
on spike counts up to 3x3 windows (5x5 is not: 15/25*25 rounds to 15.000001 in float32).

Refused (one line, :class:`NetworkError`): ``MultiSpike`` (the default ``spike_fn``) and
``MaxSpike``, which send several spikes per neuron per step while neurosim's chip sends one per
neuron and frame (use ``spike_fn=SingleSpike``); ``min_v_mem`` (no floor on the chip's membrane);
``MembraneReset`` with a ``reset_value`` other than 0 (Sinabs 3.1.3 then adds ``reset_value`` to
every neuron that did not spike); a ``MembraneSubtract.subtract_value`` other than the threshold;
max pooling; a ``rec_connect`` other than a Linear without bias; other layers.
:func:`neurosim.from_nir` refuses a bias feeding a layer with ``tau_syn`` (Sinabs adds it to
``i_syn`` every step, where it accumulates; neurosim adds biases to the membrane).
"""

from __future__ import annotations

import nir
import numpy as np

from neurosim.errors import NetworkError
from neurosim.interop.torch_trace import pool_node, to_numpy, traced_network
from neurosim.io.nir_nodes import checked_dt
from neurosim.io.nir_tau import tau_for_decay


def from_sinabs(module, example_input, *, dt: float | None = None, name: str | None = None):
    """The neurosim :class:`~neurosim.describe.network.Network` of a Sinabs model, whose sync-mode
    spikes (and readout membranes) equal Sinabs' forward per neuron and frame (conventions and the
    float caveat: module docstring). The model runs ``example_input`` twice (shapes, then the
    exporter's trace); its neuron states are put back afterwards."""
    dt = 1e-3 if dt is None else checked_dt(dt)
    c = _classes()
    strip = _leading_dims(module, c)
    converter = lambda shapes: _Converter(c, shapes, dt)
    return traced_network(module, example_input, converter, strip, dt, name or "sinabs")


def _classes() -> dict:
    import sinabs.activation as sa
    import sinabs.layers as sl
    import torch
    from sinabs.layers.reshape import SqueezeMixin
    from sinabs.layers.stateful_layer import StatefulLayer

    return {
        "torch": torch,
        "sa": sa,
        "squeeze": SqueezeMixin,
        "stateful": StatefulLayer,
        "neurons": (sl.LIF, sl.LIFSqueeze, sl.LIFRecurrent, sl.IAF, sl.IAFSqueeze, sl.IAFRecurrent)
        + (sl.ExpLeak, sl.ExpLeakSqueeze),
        "iaf": (sl.IAF, sl.IAFSqueeze, sl.IAFRecurrent),
        "recurrent": (sl.LIFRecurrent, sl.IAFRecurrent),
    }


def _leading_dims(model, c) -> int:
    """2 (batch, time) for the plain Sinabs layers, 1 (batch * time) for the Squeeze forms."""
    layers = [m for m in model.modules() if isinstance(m, c["stateful"])]
    squeezed = [m for m in layers if isinstance(m, c["squeeze"])]
    if squeezed and len(squeezed) != len(layers):
        plain = next(m for m in layers if not isinstance(m, c["squeeze"]))
        raise NetworkError(
            f"{type(plain).__name__} takes (batch, time, ...) but {type(squeezed[0]).__name__} takes "
            "(batch*time, ...): use the Squeeze forms throughout or none"
        )
    return 1 if squeezed else 2


class _Converter:
    """Sinabs layer -> NIR node (called by the tracer once per layer, in forward order)."""

    def __init__(self, c: dict, shapes: dict, dt: float):
        self.c, self.shapes, self.dt = c, shapes, dt
        self.recurrent: dict[int, tuple] = {}  # id(layer) -> (None, recurrent weights [out, in])

    def __call__(self, m):
        from sinabs.nir import _extract_sinabs_module

        c, torch = self.c, self.c["torch"]
        layer = self.shapes.get(id(m))
        where = f"layer {layer.name if layer else '?'!r} ({type(m).__name__})"
        if type(m) in c["neurons"]:
            return self._neuron(m, where)
        if isinstance(m, c["stateful"]):
            raise NetworkError(f"{where}: a Sinabs layer neurosim cannot run: use LIF, IAF or ExpLeak layers")
        if (pool := pool_node(m, where, torch, "SumPool2d or AvgPool2d")) is not None:
            return pool
        if isinstance(m, torch.nn.LPPool2d) and m.ceil_mode:
            raise NetworkError(f"{where}: ceil_mode=True is not supported (Sinabs' exporter drops it): use False")
        try:
            return _extract_sinabs_module(m)
        except NotImplementedError:
            raise NetworkError(
                f"{where}: not a layer neurosim can run (Sinabs' exporter does not know it): supported are "
                "Linear, Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten and Sinabs LIF, IAF and ExpLeak layers"
            ) from None

    def _full(self, m, value) -> np.ndarray:
        shape = self.shapes[id(m)].output
        a = np.asarray(to_numpy(value), np.float32)
        try:
            return np.broadcast_to(a, shape).astype(np.float32)
        except ValueError:
            raise NetworkError(
                f"layer {self.shapes[id(m)].name!r}: a parameter of shape {a.shape} does not fit its neurons {shape}"
            ) from None

    def _neuron(self, m, where: str):
        c, torch = self.c, self.c["torch"]
        if m.min_v_mem is not None:
            raise NetworkError(f"{where}: min_v_mem clips the membrane, which the chip does not: set min_v_mem=None")
        if isinstance(m, c["recurrent"]):
            self.recurrent[id(m)] = (None, _rec_weights(m, where, torch))
        iaf = isinstance(m, c["iaf"])
        alpha = np.ones(self.shapes[id(m)].output, np.float32) if iaf else self._full(m, m.alpha_mem_calculated)
        if not np.all((alpha >= 0) & (alpha <= 1)):
            raise NetworkError(f"{where}: alpha = exp(-1/tau_mem) outside [0, 1]: tau_mem must be positive")
        gain = (1 - alpha).astype(np.float32) if (not iaf and m.norm_input) else np.ones_like(alpha)
        alpha_syn = None if m.alpha_syn_calculated is None else self._full(m, m.alpha_syn_calculated)
        spiking = m.spike_fn is not None
        meta = self._spike_meta(m, where) if spiking else {}
        tau = tau_for_decay(where, "alpha_mem", alpha, self.dt)
        r = gain * tau / self.dt
        if alpha_syn is not None:
            if not np.all((alpha_syn > 0) & (alpha_syn < 1)):
                raise NetworkError(f"{where}: alpha_syn = exp(-1/tau_syn) must be inside (0, 1): check tau_syn")
            syn = dict(tau_syn=tau_for_decay(where, "alpha_syn", alpha_syn, self.dt), tau_mem=tau, r=r)
            syn.update(v_leak=np.zeros_like(tau), w_in=alpha_syn / (1.0 - alpha_syn.astype(np.float64)))
            node = nir.CubaLIF(v_threshold=self._threshold(m), **syn) if spiking else nir.CubaLI(**syn)
            node.metadata.update(current_lag=False)
        elif not spiking:
            node = nir.I(r=gain) if np.all(alpha == 1) else nir.LI(tau=tau, r=r, v_leak=np.zeros_like(tau))
        elif iaf:
            node = nir.IF(r=gain, v_threshold=self._threshold(m), v_reset=np.zeros_like(gain))
        else:
            node = nir.LIF(tau=tau, r=r, v_leak=np.zeros_like(tau), v_threshold=self._threshold(m))
        node.metadata.update(meta)
        return node

    def _threshold(self, m) -> np.ndarray:
        return self._full(m, m.spike_threshold)

    def _spike_meta(self, m, where: str) -> dict:
        sa = self.c["sa"]
        if m.spike_fn is not sa.SingleSpike:
            what = getattr(m.spike_fn, "__name__", type(m.spike_fn).__name__)
            raise NetworkError(
                f"{where}: spike_fn {what} can send several spikes per neuron per step; neurosim's chip sends "
                "one per neuron and frame: use spike_fn=SingleSpike"
            )
        reset = m.reset_fn
        if isinstance(reset, sa.MembraneSubtract):
            if reset.subtract_value is not None and not np.all(
                self._full(m, reset.subtract_value) == self._threshold(m)
            ):
                raise NetworkError(
                    f"{where}: MembraneSubtract(subtract_value={reset.subtract_value}) differs from the threshold: "
                    "neurosim subtracts the threshold; use subtract_value=None"
                )
            mode = "subtract"
        elif isinstance(reset, sa.MembraneReset):
            if reset.reset_value != 0:
                raise NetworkError(
                    f"{where}: MembraneReset(reset_value={reset.reset_value}) adds reset_value to every neuron that "
                    "did not spike (Sinabs 3.1.3: v * (spikes == 0) + reset_value): use reset_value=0"
                )
            mode = "hard"
        else:
            raise NetworkError(
                f"{where}: reset_fn {type(reset).__name__} is neither MembraneSubtract nor MembraneReset: "
                "neurosim resets hard or by subtraction only"
            )
        return {"reset": mode, "fire_equal": True}


def _rec_weights(m, where: str, torch) -> np.ndarray:
    rec = m.rec_connect
    if not isinstance(rec, torch.nn.Linear) or (rec.bias is not None and bool(torch.any(rec.bias != 0))):
        raise NetworkError(
            f"{where}: rec_connect must be a Linear without bias (Sinabs adds no recurrent input in the first "
            "step, so a bias would not be constant)"
        )
    return to_numpy(rec.weight)
