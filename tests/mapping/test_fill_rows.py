"""The sequential fill read straight from the projections' sorted rows (large networks, numba)
gives the cores of the fill over the transposed pattern, for every capacity and window (a
window too narrow is widened), and names the same neuron no core takes."""

import numpy as np
import pytest
import scipy.sparse as sp

from neurosim.describe.network import Network, Population, Projection
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping import fill, strategies
from neurosim.neuron import NeuronParams
from neurosim.paths import HW_DIR

pytest.importorskip("numba")


def network(seed: int, local: bool = False) -> Network:
    """Five populations, one without inputs besides the input, two projections into one population
    from different sources, a recurrent and a delayed one; ``local``: targets near the source's
    own index (many synapses whose row's previous target is close)."""
    rng = np.random.default_rng(seed)
    sizes = {"in": 120, "a": 150, "b": 90, "c": 60, "d": 40}
    pops = [Population("in", "input", (120,))] + [
        Population(k, "lif", (n,), NeuronParams.uniform(n, decay=0.9, threshold=1.0))
        for k, n in sizes.items()
        if k != "in"
    ]

    def rnd(s, t, p):
        m = rng.random((sizes[s], sizes[t])) < p
        if local:
            i, j = np.indices(m.shape)
            m &= np.abs(i * sizes[t] / sizes[s] - j) < 12
        return sp.csr_array((m * rng.normal(0.3, 0.2, m.shape)).astype(np.float32))

    projs = [
        Projection("in", "a", rnd("in", "a", 0.3 if not local else 0.8)),
        Projection("a", "b", rnd("a", "b", 0.2)),
        Projection("in", "b", rnd("in", "b", 0.1)),
        Projection("b", "b", rnd("b", "b", 0.1)),
        Projection("b", "c", rnd("b", "c", 0.3), delay=2),
        Projection("c", "a", rnd("c", "a", 0.05), delay=1),
    ]  # d: no inputs
    return Network("rows", tuple(pops), tuple(projs), "in", "c")


def old_fill(net: Network, caps) -> tuple[np.ndarray, int]:
    indptr, indices = net.sources_of()
    starts = np.zeros(net.n_neurons, bool)
    starts[net.offsets[:-1][np.diff(net.offsets) > 0]] = True
    return fill.sequential_fill(indptr, indices, starts, *caps, compiled=False)


@pytest.mark.parametrize("local", [False, True])
@pytest.mark.parametrize(
    "caps", [(16, 10**6, 10**9), (64, 100, 10**9), (64, 10**6, 300), (200, 90, 500), (3, 120, 200)]
)
def test_the_rows_give_the_cores_of_the_transposed_pattern(monkeypatch, caps, local):
    net = network(sum(caps) % 13, local)
    monkeypatch.setattr(fill, "COMPILE_ABOVE", 0)
    assert fill.rows_apply(net)
    want, bad = old_fill(net, caps)
    assert bad == -1
    for window in (1, 2, 5, 64, 10**6):  # narrow ones start over wider
        got, bad2 = fill.fill_from_rows(net, *caps, window=window)
        assert bad2 == -1
        np.testing.assert_array_equal(got, want)
    assert want.max() + 1 > len(net.populations), "the capacities should split the populations"


def test_the_strategy_takes_the_rows_and_names_the_neuron_no_core_takes(monkeypatch):
    net = network(3)
    hw = load_hardware(HW_DIR / "small.yaml", {"core.max_neurons": 16, "mesh.width": 8, "mesh.height": 8})
    old = strategies.sequential(net, hw)  # small: the transposed pattern
    monkeypatch.setattr(fill, "COMPILE_ABOVE", 0)
    called = []
    monkeypatch.setattr(strategies, "fill_from_rows", lambda *a: called.append(1) or fill.fill_from_rows(*a))
    np.testing.assert_array_equal(strategies.sequential(net, hw), old)
    assert called
    fan = net.fan_in
    caps = (16, int(fan.max()) - 1, 10**9)
    want = old_fill(net, caps)[1]
    assert want >= 0 and fill.fill_from_rows(net, *caps)[1] == want


def test_unsorted_or_shared_rows_take_the_transposed_pattern(monkeypatch):
    monkeypatch.setattr(fill, "COMPILE_ABOVE", 0)
    net = network(0)
    w = net.projections[0].weights
    flipped = sp.csr_array((w.data[::-1].copy(), w.indices[::-1].copy(), w.nnz - w.indptr[::-1]), shape=w.shape)
    rows = Projection("in", "a", w)  # a projection sorts its rows: unsort them after
    object.__setattr__(rows, "weights", flipped)
    assert not flipped.has_sorted_indices
    unsorted = Network("u", net.populations, (rows,) + net.projections[1:], "in", "c")
    assert not fill.rows_apply(unsorted)
    shared = Network("s", net.populations, net.projections + (Projection("in", "a", w),), "in", "c")
    assert not fill.rows_apply(shared)
