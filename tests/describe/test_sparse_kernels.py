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


def one_projection_each(seed: int) -> Network:
    """Every source population with one outgoing projection (a recurrent and a backward one too):
    a row of the message table is a row of one projection."""
    net = network(seed)
    keep = [pr for pr in net.projections if (pr.source, pr.target) in {("in", "a"), ("a", "b"), ("b", "a")}]
    return Network("one", net.populations, tuple(keep), "in", "b")


@pytest.mark.parametrize("seed", [0, 1])
def test_axons_from_the_rows_are_the_table_entries(monkeypatch, seed):
    """The fan-in axons of every core counted from the rows (no table) equal the table's entries
    per core; networks whose rows are not the table's take the table."""
    from neurosim.describe.mapping import axons_from_rows, core_loads, rows_countable

    monkeypatch.setattr(sparse_kernels, "COMPILE_ABOVE", 0)
    net = one_projection_each(seed)
    assert rows_countable(net) is not None and rows_countable(network(seed)) is None
    rng = np.random.default_rng(seed)
    for core_of in (np.arange(net.n_neurons) // 10, rng.integers(0, 12, net.n_neurons)):
        table = message_table(net, core_of, 12)
        want = np.bincount(table.indices, minlength=12)
        np.testing.assert_array_equal(axons_from_rows(net, core_of, 12), want)
        np.testing.assert_array_equal(core_loads(net, core_of, 12)["axons"], want)
    assert axons_from_rows(network(seed), core_of, 12) is None


@pytest.mark.parametrize("seed", [0, 1])
def test_messages_of_rows_are_the_table_rows(monkeypatch, seed):
    """The entries of some rows (any order, repeats) listed from the projection: the table's."""
    monkeypatch.setattr(sparse_kernels, "COMPILE_ABOVE", 0)
    net = one_projection_each(seed)
    k = sparse_kernels.kernels(net.n_synapses)
    rng = np.random.default_rng(seed)
    for core_of in (np.arange(net.n_neurons) // 10, rng.integers(0, 12, net.n_neurons)):
        table = message_table(net, core_of, 12)
        for pr in net.projections:
            w, span = pr.weights, net.span(pr.source)
            rows = rng.integers(0, w.shape[0], 25)
            cores = core_of[net.span(pr.target)].astype(np.int32)
            room = int(np.diff(w.indptr)[rows].sum())
            idx, cnt, counts = np.empty(room, np.int32), np.empty(room, np.int64), np.empty(rows.size, np.int64)
            at = k["rows_messages"](rows, w.indptr, w.indices, cores, idx, cnt, counts, np.empty(room, np.int32))
            g = rows + span.start
            lo, hi = table.indptr[g], table.indptr[g + 1]
            np.testing.assert_array_equal(counts, hi - lo)
            sel = np.concatenate([np.arange(a, b) for a, b in zip(lo, hi)]).astype(np.int64)
            np.testing.assert_array_equal(idx[:at], table.indices[sel])
            np.testing.assert_array_equal(cnt[:at], table.data[sel])
