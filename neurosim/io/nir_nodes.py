"""What neurosim understands of NIR: the supported node types, the names and parameters of a
node as error messages and the lowering need them, and the conventions our files share
(the recurrent-projection metadata key, the tau that stands for an IF neuron)."""

from __future__ import annotations

import numpy as np

from neurosim.errors import NetworkError

LINEAR_TYPES = ("Affine", "Linear", "Scale", "Flatten", "Conv2d", "SumPool2d", "AvgPool2d")


NEURON_TYPES = ("LIF", "IF")


SUPPORTED_NODES = ("Input", "Output") + LINEAR_TYPES + NEURON_TYPES


RECURRENT_KEY = "recurrent"
"""Metadata key of a linear node that marks its projection as recurrent (next-frame delivery)."""


IF_TAU_FACTOR = 2.0**30  # tau = 2**30 dt: 1 - 2**-30 rounds to 1.0 in float32


# ------------------------------------------------------------------------------------- limits
MAX_NEURONS = 100_000_000
"""Most neurons of a network (all populations, the input included); checked from the declared
shapes before any array of that size is built."""

MAX_SYNAPSES = 2_000_000_000
"""Most synapses (stored weights) of a network, and of one linear node; a convolution or a pool
is checked from its shapes (an upper bound of its entries) before its matrix is built."""

MAX_FILE_VALUES = 2 * MAX_SYNAPSES
"""Most numbers stored in a NIR file (all its datasets), checked from the file's declared
dataset shapes before any is read."""


def node_type(node) -> str:
    return type(node).__name__


def node_place(name: str, node) -> str:
    return f"node {name!r} ({node_type(node)})"


# ------------------------------------------------------------------------------------- neurons
def param_arrays(node, name: str = "?") -> dict[str, np.ndarray]:
    """The neuron parameters of a LIF/IF node as float64 arrays (NaN and infinity refused)."""
    names = (
        ("tau", "r", "v_leak", "v_threshold", "v_reset")
        if node_type(node) == "LIF"
        else ("r", "v_threshold", "v_reset")
    )
    out = {}
    for k in names:
        v = getattr(node, k, None)
        if v is None and k == "v_reset":
            out[k] = np.zeros(())
            continue
        out[k] = float_array(name, node, k, v)
    return out


def float_array(name: str, node, key: str, value) -> np.ndarray:
    """``value`` (parameter ``key`` of ``node``) as a float64 array, every entry finite."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        got = type(value).__name__
        raise NetworkError(f"{node_place(name, node)}: parameter {key} is not numeric, got {got}") from None
    if not np.all(np.isfinite(a)):
        at = int(np.flatnonzero(~np.isfinite(a.ravel()))[0])
        bad = a.ravel()[at]
        raise NetworkError(f"{node_place(name, node)}: parameter {key} must be finite, got {bad} at flat index {at}")
    return a


def param_shape(name: str, node) -> tuple:
    arrays = param_arrays(node, name)
    try:
        return tuple(int(x) for x in np.broadcast_shapes(*(a.shape for a in arrays.values())))
    except ValueError:
        raise NetworkError(
            f"{node_place(name, node)}: parameter shapes { {k: a.shape for k, a in arrays.items()} } do not broadcast"
        ) from None
