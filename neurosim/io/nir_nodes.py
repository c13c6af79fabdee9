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


def node_type(node) -> str:
    return type(node).__name__


def node_place(name: str, node) -> str:
    return f"node {name!r} ({node_type(node)})"


# ------------------------------------------------------------------------------------- neurons
def param_arrays(node) -> dict[str, np.ndarray]:
    names = (
        ("tau", "r", "v_leak", "v_threshold", "v_reset")
        if node_type(node) == "LIF"
        else ("r", "v_threshold", "v_reset")
    )
    out = {}
    for k in names:
        v = getattr(node, k, None)
        out[k] = np.zeros(()) if v is None and k == "v_reset" else np.asarray(v, dtype=np.float64)
    return out


def param_shape(name: str, node) -> tuple:
    arrays = param_arrays(node)
    try:
        return tuple(int(x) for x in np.broadcast_shapes(*(a.shape for a in arrays.values())))
    except ValueError:
        raise NetworkError(
            f"{node_place(name, node)}: parameter shapes { {k: a.shape for k, a in arrays.items()} } do not broadcast"
        ) from None
