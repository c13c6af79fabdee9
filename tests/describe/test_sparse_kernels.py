"""The compiled set-up loops give the arrays of the numpy and scipy paths: the sources of every
neuron and the message table, on networks of disjoint projections (one source population with
two projections, a recurrent one, cores in and out of neuron order)."""

import numpy as np
import pytest
import scipy.sparse as sp

from neurosim.describe import sparse_kernels
from neurosim.describe.mapping import message_table
from neurosim.describe.network import Network, Population, Projection
from neurosim.neuron import NeuronParams

pytest.importorskip("numba")


def network(seed: int) -> Network:
    rng = np.random.default_rng(seed)
    sizes = {"in": 30, "a": 50, "b": 40}
    pops = [Population("in", "input", (30,))] + [
        Population(k, "lif", (sizes[k],), NeuronParams.uniform(sizes[k], decay=0.9, threshold=1.0)) for k in "ab"
    ]

    def rnd(s, t, p):
        return sp.csr_array((rng.random((sizes[s], sizes[t])) < p).astype(np.float32) * 0.5)

    projs = [
        Projection("in", "a", rnd("in", "a", 0.3)),
        Projection("in", "b", rnd("in", "b", 0.2)),  # a second projection of "in"
        Projection("a", "b", rnd("a", "b", 0.4)),
        Projection("b", "a", rnd("b", "a", 0.1), delay=1),
        Projection("a", "a", rnd("a", "a", 0.1)),
    ]
    return Network("k", tuple(pops), tuple(projs), "in", "b")


def both(monkeypatch, fn):
    """``fn()`` with the compiled loops and without."""
    monkeypatch.setattr(sparse_kernels, "COMPILE_ABOVE", 0)
    fast = fn()
    monkeypatch.setattr(sparse_kernels, "COMPILE_ABOVE", 10**12)
    return fast, fn()


@pytest.mark.parametrize("seed", [0, 1])
def test_compiled_sources_are_the_numpy_ones(monkeypatch, seed):
    net = network(seed)
    (p1, i1), (p2, i2) = both(monkeypatch, net.sources_of)
    for a, b in ((p1, p2), (i1, i2)):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", [0, 1])
def test_compiled_message_table_is_the_scipy_one(monkeypatch, seed):
    net = network(seed)
    rng = np.random.default_rng(seed)
    for core_of in (np.arange(net.n_neurons) // 7, rng.integers(0, 12, net.n_neurons)):
        t1, t2 = both(monkeypatch, lambda c=core_of: message_table(net, c, 12))
        for a in ("indptr", "indices", "data"):
            x, y = getattr(t1, a), getattr(t2, a)
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)
