"""What neurosim understands of NIR: the supported node types, the names and parameters of a
node as error messages and the lowering need them, and the conventions our files share
(the recurrent-projection metadata key, the tau that stands for an IF neuron)."""

from __future__ import annotations

import numpy as np

from neurosim.errors import NetworkError

LINEAR_TYPES = ("Affine", "Linear", "Scale", "Flatten", "Conv1d", "Conv2d", "SumPool2d", "AvgPool2d", "Delay")
"""Nodes between populations: composed into one projection per delay (``Delay`` is the identity
map with a per-channel delay in time)."""


NEURON_PARAMS = {
    "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"),
    "IF": ("r", "v_threshold", "v_reset"),
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
    "LI": ("tau", "r", "v_leak"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
    "I": ("r",),
    "Threshold": ("threshold",),
}
"""The NIR 1.0.8 neuron nodes (each a population) and the parameters neurosim reads from them."""

NEURON_TYPES = tuple(NEURON_PARAMS)

PARAM_DEFAULTS = {"v_reset": 0.0, "w_in": 1.0}
"""Parameters NIR lets a node leave unset (``None``), and the value NIR's constructors give them."""

NEEDS_DT = ("LIF", "CubaLIF", "LI", "CubaLI")
"""Neuron nodes with a time constant: their decay depends on ``dt``."""


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

MAX_DELAY_FRAMES = 1_000_000
"""Longest synaptic delay read from a ``Delay`` node, in frames."""

MAX_FILE_VALUES = 2 * MAX_SYNAPSES
"""Most numbers stored in a NIR file (all its datasets), checked from the file's declared
dataset shapes before any is read."""


def checked_dt(dt) -> float:
    """``dt`` (seconds per frame) as a positive, finite float, else a one-line :class:`NetworkError`."""
    try:
        dt = float(np.asarray(dt).item())
    except (TypeError, ValueError):
        raise NetworkError(f"dt must be a number of seconds, got {dt!r}") from None
    if not (np.isfinite(dt) and dt > 0):
        raise NetworkError(f"dt must be a positive number of seconds, got {dt!r}")
    return dt


def node_type(node) -> str:
    return type(node).__name__


def node_place(name: str, node) -> str:
    return f"node {name!r} ({node_type(node)})"


# ------------------------------------------------------------------------------------- neurons
def param_arrays(node, name: str = "?") -> dict[str, np.ndarray]:
    """The neuron parameters of a neuron node (:data:`NEURON_PARAMS`) as float64 arrays (NaN and
    infinity refused; an unset ``v_reset`` / ``w_in`` takes NIR's default)."""
    out = {}
    for k in NEURON_PARAMS[node_type(node)]:
        v = getattr(node, k, None)
        if v is None and k in PARAM_DEFAULTS:
            out[k] = np.full((), PARAM_DEFAULTS[k])
            continue
        out[k] = float_array(name, node, k, v)
    return out


def to_numpy(value):
    """A torch tensor (detached, on the CPU) or a jax array as a numpy array; anything else as
    it is. Neither framework is imported: they are recognised by their methods."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor
        return value.detach().cpu().numpy()
    if not isinstance(value, (np.ndarray, np.generic, str, bytes, int, float, bool, dict, list, tuple, type(None))):
        if hasattr(value, "__array__"):  # jax.Array and other array-likes
            return np.asarray(value)
    return value


def float_array(name: str, node, key: str, value) -> np.ndarray:
    """``value`` (parameter ``key`` of ``node``) as a float64 array, every entry finite."""
    try:
        a = np.asarray(to_numpy(value), dtype=np.float64)
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
