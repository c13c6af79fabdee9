"""Norse 1.1.0 models as neurosim networks: ``from_norse(module, example_input, dt=None, name=None)``.

``module`` is a ``norse.torch.SequentialState`` (or one layer) of torch layers and Norse neuron
layers, ``example_input`` one forward's input: a single time step ``(batch, ...)`` for the cells
(``LIFBoxCell``, ``LIFCell``, ``LIFRecurrentCell``, ``LIBoxCell``, ``LICell``, ``IAFCell``), or
``(time, batch, ...)`` for the layers that loop over time themselves (``LIF``, ``LIFRecurrent``,
``LI``, ``IAF``). The graph comes from Norse's own exporter (``_extract_norse_module`` traced by
nirtorch); what that exporter garbles or loses is taken from the module object:

* **Time constants.** Norse 1.1.0 writes ``tau = dt / tau_mem_inv`` (1e-5 s for the default
  10 ms) and ignores the cell's own ``dt``. Norse's Euler step is
  ``v <- v + a ((v_leak - v) + i)`` with ``a = dt * tau_mem_inv`` (float32, the cell's ``dt``),
  so the graph gets ``tau = dt / a``, ``r = 1`` and ``metadata['dt']`` = the cells' ``dt``.
* **LIFCell / LIF (CubaLIF).** Norse adds the input to the current *before* the membrane step
  (``i <- i + x``; ``v`` integrates that ``i``; then ``i <- i - a_syn i``), so the membrane sees
  the current of the same step: ``metadata['current_lag'] = False``, ``tau_syn = dt / a_syn``
  and ``w_in = 1 / a_syn`` (Norse's current jumps by ``x``, not by ``a_syn x``).
* **Resets.** ``LIFBoxCell``'s ``reset_method`` (``reset_value`` or ``reset_subtract``) becomes
  ``metadata['reset']``; ``v_reset`` of LIF and IAF layers is kept (the exporter drops it).
* **Resting state.** Norse starts LIF membranes at ``v_leak`` and IAF membranes at ``v_reset``;
  neurosim starts at 0 and leaks towards 0, so membranes are shifted: thresholds and reset values
  lose ``v_leak`` (IAF: ``v_reset``) and ``v_leak`` becomes 0 (same spikes; exact on a grid).
* **Shapes.** The Input and Output nodes lose the batch (and time) dimensions; Flatten's
  ``start_dim`` loses the batch dimension; ``AvgPool2d`` (which the exporter leaves out) is written.

Norse fires at ``v - v_th > 0`` (Heaviside), NIR's default. Every surrogate method Norse's
``threshold`` knows has that forward.

Caveat (floating point): Norse computes ``v + a ((x + v_leak) - v)``, neurosim ``(1 - a) v + a x``
with ``a`` folded into the weights: equal in exact arithmetic, not always in float32. With
weights and biases on a power-of-two grid and ``a`` a power of two (e.g. ``dt = 2**-10`` s and
``tau_mem_inv = 512``) both are exact as long as a membrane's binary expansion fits float32's 24
bits; a membrane that is never reset (an LI readout) gains bits every step and then differs in
its last bit. Measured (``tests/interop/test_norse.py`` and 20 seeds of a 10-12-4 LIF/LI net, 24
frames): spikes equal on every neuron and frame for a = 0.5, 0.3 and 0.1 (Norse's defaults);
LI membranes within 2e-5 relative (4e-6 for a = 0.5). A membrane that lands within rounding of
the threshold could still spike one frame apart: this is not a proof of equality.

Refused (one line, :class:`NetworkError`): max pooling; other Norse neuron models (AdEx, LSNN,
Izhikevich, conductance-based, refractory) and any layer neither exporter knows; a surrogate
``method`` Norse's ``threshold`` does not know; cells with different ``dt``; ``a`` outside
(0, 1]; an LI readout with ``v_leak != 0`` (its membrane is the readout, so it cannot be shifted);
``reset_subtract`` with ``v_leak != 0`` (the shifted membrane would subtract a shifted threshold).
:func:`neurosim.from_nir` refuses a bias feeding a ``LIFCell``/``LICell`` (Norse adds it to the
current every step, where it accumulates; neurosim adds biases to the membrane).
"""

from __future__ import annotations

import nir
import numpy as np

from neurosim.errors import NetworkError
from neurosim.interop.torch_trace import pool_node, to_numpy, traced_network

FORWARD_HEAVISIDE = ("super", "heaviside", "triangle", "tanh", "circ", "heavi_erfc")
"""Norse spike ``method``s whose forward is the Heaviside step ``v - v_th > 0`` (the surrogate
changes only the gradient)."""


def from_norse(module, example_input, *, dt: float | None = None, name: str | None = None):
    """The neurosim :class:`~neurosim.describe.network.Network` of a Norse model, whose sync-mode
    spikes (and readout membranes) equal Norse's forward per neuron and frame (see the module
    docstring for the conventions and the float caveat). ``dt`` (seconds), when given, must be
    the ``dt`` the cells integrate with."""
    classes = _classes()
    strip = _leading_dims(module, classes)
    step_dt = _step_dt(module, classes, dt)
    converter = lambda shapes: _Converter(classes, shapes, step_dt)
    return traced_network(module, example_input, converter, strip, step_dt, name or "norse")


# ------------------------------------------------------------------------------------- layers
def _classes() -> dict:
    import norse.torch as nt
    import torch
    from norse.torch.module.snn import SNN, SNNCell, SNNRecurrent, SNNRecurrentCell

    return {
        "torch": torch,
        "nt": nt,
        "cell": (SNNCell, SNNRecurrentCell),
        "timed": (SNN, SNNRecurrent),
        "box": (nt.LIFBoxCell,),
        "cuba": (nt.LIFCell, nt.LIF),
        "recurrent": (nt.LIFRecurrentCell, nt.LIFRecurrent),
        "li": (nt.LIBoxCell,),
        "cuba_li": (nt.LICell, nt.LI),
        "iaf": (nt.IAFCell, nt.IAF),
    }


def _leading_dims(model, c) -> int:
    """1 (batch) for models of cells, 2 (time, batch) for layers that loop over time."""
    mods = list(model.modules())
    cells = [m for m in mods if isinstance(m, c["cell"])]
    timed = [m for m in mods if isinstance(m, c["timed"])]
    if cells and timed:
        raise NetworkError(
            f"layer {type(timed[0]).__name__} loops over time but {type(cells[0]).__name__} takes one step: "
            "build the model from cells only (one step per call) or from time layers only"
        )
    return 2 if timed else 1


def _step_dt(model, c, dt: float | None) -> float:
    """The ``dt`` every Norse neuron layer integrates with (refused when they differ, or when
    ``dt`` is given and is not it); 1e-3 when no layer has one."""
    found = sorted({float(m.dt) for m in model.modules() if isinstance(m, c["cell"] + c["timed"])})
    if len(found) > 1:
        raise NetworkError(f"the Norse layers integrate with different dt {found}: neurosim has one frame length")
    if dt is not None and found and not np.isclose(float(dt), found[0], rtol=1e-9, atol=0):
        raise NetworkError(
            f"dt={dt:g} s but the Norse layers integrate with dt={found[0]:g} s: pass dt={found[0]:g} or leave it out"
        )
    return found[0] if found else (1e-3 if dt is None else float(dt))


class _Converter:
    """Norse layer -> NIR node (called by the tracer once per leaf layer, in forward order)."""

    def __init__(self, c: dict, shapes: dict, dt: float):
        self.c, self.shapes, self.dt = c, shapes, dt
        self.recurrent: dict[int, tuple] = {}  # id(layer) -> (input weights, recurrent weights), [out, in]

    def __call__(self, m):
        from norse.torch.utils.export_nir import _extract_norse_module

        c, torch = self.c, self.c["torch"]
        layer = self.shapes.get(id(m))
        where = f"layer {layer.name if layer else '?'!r} ({type(m).__name__})"
        if isinstance(m, c["box"]):
            return self._lif_box(m, where)
        if isinstance(m, c["recurrent"]):
            self.recurrent[id(m)] = (to_numpy(m.input_weights), to_numpy(m.recurrent_weights))
            return self._cuba(m, where, lif=True)
        if isinstance(m, c["cuba"]):
            return self._cuba(m, where, lif=True)
        if isinstance(m, c["cuba_li"]):
            return self._cuba(m, where, lif=False)
        if isinstance(m, c["li"]):
            return self._li_box(m, where)
        if isinstance(m, c["iaf"]):
            return self._iaf(m, where)
        if isinstance(m, torch.nn.Conv2d) and m.bias is None:  # Norse's exporter crashes on it
            w = to_numpy(m.weight)
            return nir.Conv2d(None, w, m.stride, m.padding, m.dilation, m.groups, np.zeros(w.shape[0], np.float32))
        if isinstance(m, torch.nn.Linear | torch.nn.Conv2d):
            return _extract_norse_module(m, dt=self.dt)
        return _torch_layer(m, where, self.shapes[id(m)].input, c)

    # ---- neuron layers ----------------------------------------------------------------------
    def _rate(self, m, where: str, field: str) -> np.ndarray:
        """``dt * field`` as Norse computes it (float32), per neuron; refused outside (0, 1]."""
        torch = self.c["torch"]
        a = torch.as_tensor(m.dt * getattr(m.p, field), dtype=torch.float32)
        a = self._full(m, a)
        bad = np.flatnonzero(~((a > 0) & (a <= 1)))
        if bad.size:
            raise NetworkError(
                f"{where}: dt * {field} = {a[bad[0]]:g} is outside (0, 1] (Norse's Euler step then overshoots "
                f"or grows): use a smaller dt or a longer time constant"
            )
        return a

    def _full(self, m, value) -> np.ndarray:
        """A parameter broadcast to the layer's neurons, as float32."""
        shape = self.shapes[id(m)].output
        a = np.asarray(to_numpy(value), np.float32)
        try:
            return np.broadcast_to(a, shape).astype(np.float32)
        except ValueError:
            raise NetworkError(
                f"layer {self.shapes[id(m)].name!r}: a parameter of shape {a.shape} does not fit its neurons {shape}"
            ) from None

    def _check_method(self, m, where: str) -> None:
        method = getattr(m.p, "method", "super")
        if method not in FORWARD_HEAVISIDE:
            raise NetworkError(
                f"{where}: spike method {method!r} is not one whose forward is the Heaviside step "
                f"({', '.join(FORWARD_HEAVISIDE)}): use one of those"
            )

    def _tau(self, a: np.ndarray) -> np.ndarray:
        return self.dt / a.astype(np.float64)

    def _lif_box(self, m, where: str):
        from norse.torch.functional.reset import reset_subtract, reset_value

        self._check_method(m, where)
        if m.p.reset_method is reset_value:
            reset = "hard"
        elif m.p.reset_method is reset_subtract:
            reset = "subtract"
        else:
            raise NetworkError(
                f"{where}: reset_method {getattr(m.p.reset_method, '__name__', m.p.reset_method)!r} is not Norse's "
                "reset_value or reset_subtract: neurosim resets hard or by subtraction only"
            )
        a, leak = self._rate(m, where, "tau_mem_inv"), self._full(m, m.p.v_leak)
        if reset == "subtract" and np.any(leak != 0):
            raise NetworkError(
                f"{where}: reset_subtract with v_leak != 0: Norse subtracts v_th from a membrane that rests at "
                "v_leak, neurosim's shifted membrane rests at 0 and subtracts its shifted threshold: set v_leak=0 "
                "or use reset_value"
            )
        node = nir.LIF(
            tau=self._tau(a),
            r=np.ones_like(a),
            v_leak=np.zeros_like(a),
            v_threshold=self._full(m, m.p.v_th) - leak,
            v_reset=self._full(m, m.p.v_reset) - leak,
        )
        node.metadata.update(reset=reset)
        return node

    def _cuba(self, m, where: str, *, lif: bool):
        if lif:
            self._check_method(m, where)
        a, a_syn = self._rate(m, where, "tau_mem_inv"), self._rate(m, where, "tau_syn_inv")
        leak = self._full(m, m.p.v_leak)
        if not lif and np.any(leak != 0):
            raise NetworkError(_LI_LEAK.format(where=where))
        common = dict(tau_syn=self._tau(a_syn), tau_mem=self._tau(a), r=np.ones_like(a), v_leak=np.zeros_like(a))
        common["w_in"] = 1.0 / a_syn.astype(np.float64)
        if lif:
            thr, vr = self._full(m, m.p.v_th) - leak, self._full(m, m.p.v_reset) - leak
            node = nir.CubaLIF(v_threshold=thr, v_reset=vr, **common)
            node.metadata.update(reset="hard", current_lag=False)
        else:
            node = nir.CubaLI(**common)
            node.metadata.update(current_lag=False)
        return node

    def _li_box(self, m, where: str):
        a = self._rate(m, where, "tau_mem_inv")
        if np.any(self._full(m, m.p.v_leak) != 0):
            raise NetworkError(_LI_LEAK.format(where=where))
        return nir.LI(tau=self._tau(a), r=np.ones_like(a), v_leak=np.zeros_like(a))

    def _iaf(self, m, where: str):
        self._check_method(m, where)
        vr = self._full(m, m.p.v_reset)
        node = nir.IF(r=np.ones_like(vr), v_threshold=self._full(m, m.p.v_th) - vr, v_reset=np.zeros_like(vr))
        node.metadata.update(reset="hard")
        return node


_LI_LEAK = (
    "{where}: v_leak != 0: Norse starts and leaks this readout's membrane at v_leak, neurosim at 0, "
    "and the membrane is the output: set v_leak=0 (a constant offset of every readout)"
)


def _torch_layer(m, where: str, in_shape: tuple, c: dict):
    """A plain torch layer Norse's exporter leaves out (``None``): pools and Flatten."""
    torch = c["torch"]
    if (pool := pool_node(m, where, torch, "AvgPool2d or a strided convolution")) is not None:
        return pool
    if isinstance(m, torch.nn.Flatten):
        if m.start_dim == 0:
            raise NetworkError(f"{where}: start_dim=0 flattens the batch dimension: use start_dim=1")
        end = m.end_dim - 1 if m.end_dim > 0 else m.end_dim
        return nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=m.start_dim - 1, end_dim=end)
    raise NetworkError(
        f"{where}: not a layer neurosim can run (Norse's exporter writes nothing for it): "
        "supported are Linear, Conv2d, AvgPool2d, Flatten and the Norse LIF, LIFBox, LIFRecurrent, "
        "LI, LIBox and IAF layers and cells"
    )
