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
from neurosim.sim import chip as chip_module
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
    monkeypatch.setattr(chip_module, "ROW_BLOCKS", False)  # the store (tests/sim/test_row_blocks.py: the rows)
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


def feed_forward(seed: int = 0) -> Network:
    """Three populations, two feed-forward projections: every projection in one key."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", "input", (80,))] + [
        Population(k, "lif", (n,), NeuronParams.uniform(n, decay=0.9, threshold=1.0)) for k, n in (("a", 90), ("b", 50))
    ]

    def rnd(s, t, p):
        m = (rng.random((s, t)) < p) * rng.normal(0.3, 0.5, (s, t))
        return sp.csr_array(m.astype(np.float32))

    projs = (Projection("in", "a", rnd(80, 90, 0.3)), Projection("a", "b", rnd(90, 50, 0.3)))
    return Network("ff", tuple(pops), projs, "in", "b")


def _local_of(core_of: np.ndarray, n_cores: int) -> np.ndarray:
    order = np.argsort(core_of, kind="stable")
    per_core = np.bincount(core_of, minlength=n_cores)
    local = np.empty(core_of.size, np.int32)
    local[order] = np.arange(core_of.size, dtype=np.int32) - np.repeat(np.cumsum(per_core) - per_core, per_core)
    return local


@pytest.mark.parametrize("make", [layered, feed_forward])
@pytest.mark.parametrize("at_a_time", [1, 3, 512])
def test_the_store_cut_by_core_ranges_is_the_scattered_one(monkeypatch, hw, make, at_a_time):
    """A sequential mapping (cores rising with the neurons): the store is written a range of cores
    at a time, from each row's next synapse; the same arrays as the synapse-by-synapse scatter."""
    net = make()
    monkeypatch.setattr(block_cut, "CUT_ABOVE", 0)
    m = map_network(net, hw)
    local = _local_of(m.core_of, hw.n_cores)
    rising = block_cut._rising
    for prs in block_cut.cut_plan(net).values():
        assert rising(net, prs, m.core_of)
        monkeypatch.setattr(block_cut, "CORES_AT_A_TIME", at_a_time)
        monkeypatch.setattr(block_cut, "_rising", rising)
        by_range = block_cut.cut_store(net, prs, m.core_of, local, hw.n_cores)
        monkeypatch.setattr(block_cut, "_rising", lambda *a: False)
        scattered = block_cut.cut_store(net, prs, m.core_of, local, hw.n_cores)
        for a, b in zip(by_range, scattered):
            same(a, b)
    shuffled = np.random.default_rng(0).permutation(hw.n_cores)[m.core_of]
    assert not all(rising(net, prs, shuffled) for prs in block_cut.cut_plan(net).values())


def test_one_key_takes_its_counts_from_the_mapping_loads(monkeypatch, hw):
    """Every projection in one key: the chip passes the mapping's loads (synapses and distinct
    sources per core) as the store's counts, which are those the store counts itself."""
    from neurosim.describe.mapping import mapping_loads

    net = feed_forward(1)
    monkeypatch.setattr(block_cut, "CUT_ABOVE", 0)
    monkeypatch.setattr(chip_module, "ROW_BLOCKS", False)  # the store
    for strategy in ("sequential", "random"):
        m = map_network(net, hw, strategy)
        local = _local_of(m.core_of, hw.n_cores)
        ((_, prs),) = block_cut.cut_plan(net).items()
        loads = mapping_loads(net, m, hw.n_cores)
        given = block_cut.cut_store(net, prs, m.core_of, local, hw.n_cores, (loads["synapses"], loads["axons"]))
        for a, b in zip(given, block_cut.cut_store(net, prs, m.core_of, local, hw.n_cores)):
            same(a, b)
        seen = []
        real = block_cut.cut_store
        monkeypatch.setattr("neurosim.sim.chip.cut_store", lambda *a, s=seen, f=real: s.append(a[5]) or f(*a))
        Chip(hw, net, m)
        assert len(seen) == 1 and seen[0] is not None


def test_message_table_counts_are_int32_and_their_row_sums_int64():
    from neurosim.describe.mapping import table_row_sums

    net = layered(3)
    for core_of in (np.arange(net.n_neurons) // 9, np.random.default_rng(1).integers(0, 20, net.n_neurons)):
        for twin in (net, global_path(net)):
            t = message_table(twin, core_of, 20)
            assert t.data.dtype == np.int32 and t.indices.dtype == np.int32
            want = np.asarray(t.astype(np.int64).sum(axis=1)).ravel()
            for rows in (1, 7, 16384):
                same(table_row_sums(t, rows), want)
