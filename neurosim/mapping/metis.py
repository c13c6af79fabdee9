"""The neuron graph that graph partitioners cut, and its k-way partition by METIS (the optional
``pymetis``, ``pip install 'neurosim-hw[metis]'``).

The graph approximates the traffic hypergraph of :mod:`neurosim.mapping.strategies` (hyperedge
``{i} + targets(i)`` of weight ``w_i``) by its clique-net expansion: every synapse ``i -> j``
(``i != j``) adds ``w_i / fanout(i)`` to the undirected edge ``{i, j}``, so a neuron's traffic
counts once however many targets it has. METIS balances one vertex weight per neuron, the larger
of its share of a core's neurons and of its synapses (so a synapse-bound chip is balanced on
synapses); the caller repairs what METIS's approximate balance (and the fan-in axon capacity,
which no vertex weight expresses) leaves over capacity."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neurosim.describe.network import Network
from neurosim.errors import MappingError

INSTALL = "pip install 'neurosim-hw[metis]'"
_MAX_TOTAL = 2**28  # METIS sums weights in 32-bit integers: keep every total well below 2**31


def metis_available() -> bool:
    """Whether ``pymetis`` can be imported."""
    try:
        import pymetis  # noqa: F401, PLC0415 - optional extra
    except ImportError:
        return False
    return True


def neuron_graph(net: Network, w: np.ndarray) -> sp.csr_array:
    """Symmetric weighted adjacency (no diagonal) of the clique-net expansion (module docstring)."""
    pattern = sp.csr_array(net.synapse_pattern(), dtype=np.float64)
    pattern.setdiag(0)
    pattern.eliminate_zeros()
    fanout = np.diff(pattern.indptr)
    scaled = sp.diags_array(np.asarray(w, np.float64) / np.maximum(fanout, 1)) @ pattern
    graph = sp.csr_array(scaled + scaled.T)
    graph.eliminate_zeros()  # silent neurons (w = 0) carry no traffic
    graph.sort_indices()
    return graph


def _integer_weights(x: np.ndarray, top: float) -> np.ndarray:
    """Positive integers proportional to ``x`` (> 0), the largest about ``top``, the total bounded."""
    if x.size == 0:
        return x.astype(np.int64)
    scale = min(top / float(x.max()), _MAX_TOTAL / float(x.sum()))
    return np.maximum(np.rint(x * scale), 1).astype(np.int64)


def vertex_weights(net: Network, cap_n: int, cap_syn: int) -> np.ndarray:
    """Per neuron: the larger of 1 / ``cap_n`` and fan-in / ``cap_syn``, as integers."""
    share = np.maximum(1.0 / cap_n, net.fan_in.astype(np.float64) / cap_syn)
    return _integer_weights(share, 64.0 * share.max() / share.min() if share.size else 1.0)


def metis_parts(net: Network, w: np.ndarray, k: int, *, cap_n: int, cap_syn: int, seed: int = 0) -> np.ndarray:
    """Part (0..k-1) of every neuron: METIS k-way partition of :func:`neuron_graph`, balanced on
    :func:`vertex_weights`. Raises :class:`MappingError` naming the install command when
    ``pymetis`` is missing."""
    try:
        import pymetis  # noqa: PLC0415 - optional extra
    except ImportError:
        raise MappingError(f"partition: method='metis' needs pymetis, which is not installed; {INSTALL}") from None
    n = net.n_neurons
    if k <= 1 or n <= 1:
        return np.zeros(n, np.int64)
    graph = neuron_graph(net, w)
    xadj, adjncy = graph.indptr.astype(np.int64), graph.indices.astype(np.int64)
    csr = getattr(pymetis, "CSRAdjacency", None)  # pymetis >= 2025; older ones take xadj, adjncy
    given = {"adjacency": csr(xadj, adjncy)} if csr is not None else {"xadj": xadj, "adjncy": adjncy}
    _, parts = pymetis.part_graph(
        int(k),
        **given,
        vweights=vertex_weights(net, cap_n, cap_syn),
        eweights=_integer_weights(graph.data, 1000.0) if graph.nnz else None,
        options=pymetis.Options(seed=int(seed) % 2**31),
    )
    return np.asarray(parts, np.int64)
