"""The chip's weight store: on a large network every core's block is a view of one store per
key, cut straight from the projections (no global matrix, no per-core copy of the synapses),
and the blocks, the message table and the set-up figures are those of the global-matrix path."""

import numpy as np
import pytest
import scipy.sparse as sp

from neurosim.describe.mapping import message_table
from neurosim.describe.network import Network, Population, Projection
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.paths import HW_DIR
from neurosim.sim import block_cut
from neurosim.sim.chip import Chip

pytest.importorskip("numba")


def layered(seed: int = 0, disjoint: bool = True) -> Network:
    """Four populations: feed-forward, a recurrent, a delayed and a delayed backward projection
    (with ``disjoint=False`` a second projection in -> l1)."""
    rng = np.random.default_rng(seed)
    sizes = {"in": 50, "l1": 70, "l2": 60, "l3": 40}
    pops = [Population("in", "input", (50,))] + [
        Population(k, "lif", (n,), NeuronParams.uniform(n, decay=0.9, threshold=1.0))
        for k, n in sizes.items()
        if k != "in"
    ]

    def rnd(a, b, p):
        m = (rng.random((sizes[a], sizes[b])) < p) * rng.normal(0.3, 0.5, (sizes[a], sizes[b]))
        return sp.csr_array(m.astype(np.float32))

    projs = [
        Projection("in", "l1", rnd("in", "l1", 0.3)),
        Projection("l1", "l2", rnd("l1", "l2", 0.3)),
        Projection("l2", "l3", rnd("l2", "l3", 0.4)),
        Projection("l2", "l2", rnd("l2", "l2", 0.1)),
        Projection("l1", "l3", rnd("l1", "l3", 0.2), delay=2),
        Projection("l3", "l1", rnd("l3", "l1", 0.1), delay=3),
    ]
    if not disjoint:
        projs.append(Projection("in", "l1", rnd("in", "l1", 0.1)))
    return Network("layered", tuple(pops), tuple(projs), "in", "l3")


def global_path(net: Network) -> Network:
    """The same network, read through its global matrices (as before the projection paths)."""
    twin = Network(net.name, net.populations, net.projections, net.input, net.output)
    twin.__dict__["disjoint"] = False
    return twin


def same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)


@pytest.fixture
def hw():
    return load_hardware(HW_DIR / "small.yaml", {"core.max_neurons": 16, "mesh.width": 4, "mesh.height": 4})


@pytest.mark.parametrize("strategy", ["sequential", "random"])
def test_blocks_from_the_projections_are_those_of_the_global_cut(monkeypatch, hw, strategy):
    net = layered()
    m = map_network(net, hw, strategy)
    monkeypatch.setattr(block_cut, "CUT_ABOVE", 0)
    before = dict(net._globals)  # the random strategy reads the global pattern
    store = Chip(hw, net, m)
    assert net._globals == before, "the cut from the projections builds no global matrix"
    assert strategy != "sequential" or not before, "nor does the sequential mapping"
    monkeypatch.setattr(block_cut, "CUT_ABOVE", 10**12)
    old = Chip(hw, global_path(net), m)
    same(store.ring_target, old.ring_target)
    for c, core in old.cores.items():
        assert len(store.cores[c].blocks) == len(core.blocks)
        for (s1, b1, d1, r1), (s2, b2, d2, r2) in zip(store.cores[c].blocks, core.blocks):
            same(s1, s2)
            assert d1 == d2 and (r1 is None) == (r2 is None)
            if r1 is not None:
                same(r1, r2)
            if isinstance(b2, np.ndarray):  # a dense block: the same matrix
                same(b1, b2)
                continue
            same(b1.data, b2.data)
            same(b1.indices, b2.indices)
            same(b1.indptr, b2.indptr)


def test_every_block_is_a_view_of_one_store_per_key(monkeypatch, hw):
    net = layered(1)
    monkeypatch.setattr(block_cut, "CUT_ABOVE", 0)
    chip = Chip(hw, net, map_network(net, hw, "random", n_cores=8))
    bases: dict = {}
    for core in chip.cores.values():
        for _, block, delay, ring in core.blocks:
            if isinstance(block, np.ndarray):
                continue
            assert block.data.dtype == np.float32 and block.indices.dtype == np.int32
            for name in ("data", "indices"):
                base = getattr(block, name).base
                assert base is not None, "a block's synapses are a view, not a copy"
                bases.setdefault((delay, ring is not None, name), set()).add(id(base))
    assert bases and all(len(ids) == 1 for ids in bases.values()), bases


@pytest.mark.parametrize("seed", [0, 1])
def test_set_up_figures_from_the_projections_are_the_global_ones(seed):
    net = layered(seed)
    old = global_path(net)
    same(net.fan_in, old.fan_in)
    same(net.ring_targets(), old.ring_targets())
    assert net.max_delay == old.max_delay == max(old.weights_by_delay())
    (p1, i1), (p2, i2) = net.sources_of(), old.sources_of()
    same(p1.astype(np.int64), p2.astype(np.int64))
    for j in range(net.n_neurons):  # the same sources (the projection path keeps projection order)
        np.testing.assert_array_equal(np.sort(i1[p1[j] : p1[j + 1]]), i2[p2[j] : p2[j + 1]])
    for core_of in (np.arange(net.n_neurons) // 9, np.random.default_rng(seed).integers(0, 20, net.n_neurons)):
        t1, t2 = message_table(net, core_of, 20), message_table(old, core_of, 20)
        for a in ("indptr", "indices", "data"):
            same(getattr(t1, a), getattr(t2, a))
    assert not net._globals, "the projection paths build no global matrix"


def test_projections_sharing_populations_take_the_global_path():
    net = layered(0, disjoint=False)
    assert not net.disjoint and block_cut.cut_plan(net) is None
    fan = np.zeros(net.n_neurons, np.int64)
    for m in net.weights_by_delay().values():
        fan += np.bincount(m.indices, minlength=net.n_neurons)
    same(net.fan_in, fan)


@pytest.mark.parametrize("mode", ["sync", "async", "timestep"])
def test_runs_on_the_store_count_what_runs_on_the_global_cut(monkeypatch, hw, mode):
    from neurosim.sim.engine import simulate

    net = layered(2)
    m = map_network(net, hw, "random", n_cores=12)
    stim = np.random.default_rng(3).random((2, 5, 50)) < 0.4
    runs = []
    for above in (0, 10**12):
        monkeypatch.setattr(block_cut, "CUT_ABOVE", above)
        runs.append(simulate(hw, net if above == 0 else global_path(net), m, stim, np.zeros(2, int), mode=mode))
    a, b = runs
    assert a.core.keys() == b.core.keys()
    for k in a.core:
        np.testing.assert_array_equal(a.core[k], b.core[k])
    assert [(s.cycles, s.ops) for s in a.samples] == [(s.cycles, s.ops) for s in b.samples]
    assert a.spikes_per_population == b.spikes_per_population and sum(a.spikes_per_population.values()) > 0
    for k in ("frame", "neuron", "cycle"):
        np.testing.assert_array_equal(getattr(a.raster, k), getattr(b.raster, k))
