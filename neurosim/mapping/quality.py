"""How good a mapping is, from the network and the hardware alone: traffic weights, the
core-to-core traffic matrix, and :func:`mapping_quality` (messages, cut and tile traffic, hops,
load balance, fullest resource)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import core_loads
from neurosim.describe.network import Network
from neurosim.describe.topology import pair_hops
from neurosim.errors import MappingError

# ---- shared pieces -------------------------------------------------------------------------------


def traffic_weights(net: Network, rates: np.ndarray | None) -> np.ndarray:
    """Per-neuron traffic weight: the given spike rates (checked), else one per neuron."""
    if rates is None:
        return np.ones(net.n_neurons)
    r = np.asarray(rates, dtype=np.float64)
    if r.shape != (net.n_neurons,):
        raise MappingError(f"rates have shape {r.shape}; network {net.name!r} has {net.n_neurons} neurons")
    if not np.all(np.isfinite(r)) or (r < 0).any():
        raise MappingError("rates must be finite and non-negative")
    return r


def core_traffic(net: Network, core_of: np.ndarray, n_cores: int, rates: np.ndarray | None = None) -> np.ndarray:
    """``T[a, b]``: messages (traffic-weighted) from core a to core b, ``n_cores`` x ``n_cores``."""
    return np.asarray(_core_traffic_sparse(net, core_of, n_cores, rates).toarray(), dtype=np.float64)


def _core_traffic_sparse(net: Network, core_of: np.ndarray, n_cores: int, rates: np.ndarray | None) -> sp.csr_array:
    """:func:`core_traffic` as a sparse matrix (only the core pairs that exchange messages)."""
    w = traffic_weights(net, rates)
    present = present_matrix(net.synapse_pattern(), core_of, n_cores)
    present.data = np.ones_like(present.data)
    n = core_of.size
    src = sp.csr_array((w, (core_of, np.arange(n))), shape=(n_cores, n))
    return (src @ present).tocsr()


def mapping_quality(net: Network, hw: HardwareSpec, mapping, rates: np.ndarray | None = None) -> dict:
    """Quality figures of a mapping (physical cores), from the network and the hardware alone.

    Traffic is weighted by ``rates`` (mean spikes per inference per neuron) when given, else one
    spike per neuron. Keys:

    ``messages``        messages sent (one per spiking neuron and distinct destination core)
    ``cut_traffic``     messages that leave their source core
    ``tile_traffic``    messages that cross tiles (leave their source tile)
    ``hops``            sum over messages of their mesh hops (XY routing; chip-link hops included)
    ``mean_hops``       hops / messages (traffic-weighted mean hops; 0 without traffic)
    ``max_load``        the largest synaptic work of a core: synapses reached per inference
                        (with ``rates``) or fan-in synapses stored
    ``load_imbalance``  max_load / mean load over the cores in use (1 = perfectly even)
    ``max_load_frac``   the fullest core resource: max over cores and over neurons, fan-in axons
                        and synapses of load / capacity
    ``cores_used``, ``tiles_used``

    The traffic figures model unicast delivery, one message per destination core. On a chip
    with ``router.delivery: multicast`` they count the copies delivered, and ``hops`` is an upper
    bound of the links a multicast tree uses.
    """
    core_of = np.asarray(getattr(mapping, "core_of", mapping), np.int64)
    w = traffic_weights(net, rates)
    k = hw.n_cores
    t = _core_traffic_sparse(net, core_of, k, rates).tocoo()  # no n_cores x n_cores arrays
    a, b, msgs = t.row, t.col, np.asarray(t.data, np.float64)
    tile = np.arange(k) // hw.mesh.cores_per_tile
    messages = float(msgs.sum())
    diag = float(msgs[a == b].sum())
    pattern = net.synapse_pattern()
    per_neuron = pattern.T @ w if rates is not None else net.fan_in.astype(np.float64)
    work = np.bincount(core_of, weights=per_neuron, minlength=k).astype(np.float64)
    used = np.unique(core_of)

    loads = core_loads(net, core_of, k)
    cap = {"neurons": hw.core.max_neurons, "axons": hw.core.max_fan_in, "synapses": hw.core.max_synapses}
    frac = max((float(loads[key].max()) / c for key, c in cap.items() if c), default=0.0) if core_of.size else 0.0
    ew, ns, chip = pair_hops(hw, a, b)
    total_hops = float(msgs @ (ew + ns + chip).astype(np.float64))
    mean_work = float(work[used].mean()) if used.size else 0.0
    return {
        "messages": messages,
        "cut_traffic": messages - diag,
        "tile_traffic": float(msgs[tile[a] != tile[b]].sum()),
        "hops": total_hops,
        "mean_hops": total_hops / messages if messages else 0.0,
        "max_load": float(work.max()) if core_of.size else 0.0,
        "load_imbalance": float(work.max()) / mean_work if mean_work else 1.0,
        "max_load_frac": frac,
        "cores_used": int(used.size),
        "tiles_used": int(np.unique(tile[used]).size),
    }


def present_matrix(pattern: sp.csr_array, core_of: np.ndarray, k: int) -> sp.csr_array:
    """``[i, c]`` = number of targets of neuron i on core c (CSR, only nonzeros stored)."""
    n = core_of.size
    onehot = sp.csr_array((np.ones(n, np.int64), (np.arange(n), core_of)), shape=(n, k))
    out = (pattern.astype(np.int64) @ onehot).tocsr()
    out.sum_duplicates()
    out.eliminate_zeros()
    return out
