"""Cores that read the projections' rows in place (:mod:`neurosim.sim.row_blocks`) against the store
of their own synapses (:mod:`neurosim.sim.block_cut`): the same currents in the same float32 order,
hence the same spikes, counters, cycles and membranes in every mode that integrates on the cores;
no copy of the synapses; and the networks and mappings that keep the store."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from core_scope import assert_same_chip, setup
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.describe.network import Network, Population, Projection
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.sim import async_core_frames, async_global_fast, batched, block_cut, row_blocks
from neurosim.sim import chip as chip_module
from neurosim.sim.chip import Chip
from neurosim.sim.row_blocks import RowBlock

pytest.importorskip("numba")

MODES = {
    "sync": {"mode": "sync"},
    "timestep": {"mode": "timestep"},
    "async-core": {"mode": "async", "scope": "core", "policy": "fifo"},
    "async-global": {"mode": "async", "scope": "global", "policy": "momentum", "group_size": 2},
}


@pytest.fixture
def large(monkeypatch):
    """Every network counts as large (the projections' paths), every mode on the cores' blocks."""
    monkeypatch.setattr(block_cut, "CUT_ABOVE", 0)
    for module in (batched, async_core_frames, async_global_fast):
        monkeypatch.setattr(module, "ENABLED", False)
    return monkeypatch


def chip_run(mp, rows: bool, hw, net, mapping, stim, **opts) -> Chip:
    mp.setattr(chip_module, "ROW_BLOCKS", rows)
    chip = Chip(hw, net, mapping)
    blocks = [b for c in chip.cores.values() for b in c.blocks]
    assert blocks and all(isinstance(b, RowBlock) == rows for b in blocks)
    chip.configure(**opts)
    chip.run_sample(stim, index=1)
    return chip


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("noc", ["contention-free", "contention"])
@pytest.mark.parametrize("seed,npc,extended,on_grid", [(0, 3, True, True), (1, 4, True, False), (2, 5, False, False)])
def test_rows_equal_the_store(large, mode, noc, seed, npc, extended, on_grid):
    hw, net, mapping = setup(seed, noc, npc, extended, on_grid)
    stim = np.random.default_rng(seed).random((5, 9)) < 0.5
    new = chip_run(large, True, hw, net, mapping, stim, **MODES[mode])
    old = chip_run(large, False, hw, net, mapping, stim, **MODES[mode])
    assert sum(e[2].size for e in old.spike_log) > 0
    assert_same_chip(new, old)


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), npc=st.integers(2, 6), mode=st.sampled_from(list(MODES)), on_grid=st.booleans())
def test_rows_equal_the_store_random(seed, npc, mode, on_grid):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(block_cut, "CUT_ABOVE", 0)
        for module in (batched, async_core_frames, async_global_fast):
            mp.setattr(module, "ENABLED", False)
        hw, net, mapping = setup(seed, "contention-free", npc, True, on_grid)
        stim = np.random.default_rng(seed).random((4, 9)) < 0.6
        new = chip_run(mp, True, hw, net, mapping, stim, **MODES[mode])
        assert_same_chip(new, chip_run(mp, False, hw, net, mapping, stim, **MODES[mode]))


def test_the_blocks_are_the_projections_arrays(large):
    """Nothing per synapse: every block holds the projection's own arrays."""
    hw, net, mapping = setup(0, "contention-free", 3)
    large.setattr(chip_module, "ROW_BLOCKS", True)
    chip = Chip(hw, net, mapping)
    arrays = {id(pr.weights.data) for pr in net.projections} | {id(pr.weights.indices) for pr in net.projections}
    for core in chip.cores.values():
        for b in core.blocks:
            assert id(b.data) in arrays and id(b.indices) in arrays


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_msgs=st.integers(0, 30), lo=st.integers(0, 20), width=st.integers(1, 25))
def test_sums_are_the_store_rows_summed_in_message_order(seed, n_msgs, lo, width):
    """A batch of messages (repeats and any order): the block's column sums are those of the
    store's rows summed in message order (:func:`neurosim.sim.core.row_sums`), bit for bit."""
    from neurosim.sim.core import row_sums

    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1, (12, 50)).astype(np.float32) * (rng.random((12, 50)) < 0.5)
    m = sp.csr_array(w)
    hi = min(lo + width, 50)
    blk = RowBlock(Projection("a", "b", m), 100, lo, hi, 0, False)
    src = rng.integers(95, 115, n_msgs)  # some from sources outside the projection
    counts = np.zeros(n_msgs, np.int64)
    got = blk.sums(src, counts)
    inside = (src >= 100) & (src < 112)
    rows = src[inside] - 100
    want = row_sums(sp.csr_array(w[:, lo:hi]), rows) if rows.size else np.zeros(hi - lo, np.float32)
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(counts[inside], (w[rows, lo:hi] != 0).sum(axis=1))
    assert not counts[~inside].any()


def plan_of(net, mapping, n_cores):
    order = np.argsort(mapping.core_of, kind="stable")
    per_core = np.bincount(mapping.core_of, minlength=n_cores)
    return row_blocks.row_plan(net, block_cut.cut_plan(net), mapping.core_of, order, per_core)


def test_the_store_stays_where_rows_cannot_serve(large):
    hw, net, mapping = setup(0, "contention-free", 3)
    assert plan_of(net, mapping, hw.n_cores) is not None
    # a mapping whose cores hold scattered neurons
    scattered = map_network(net, hw, "random", n_cores=12)
    assert plan_of(net, scattered, hw.n_cores) is None
    # a projection with unsorted rows (a Projection sorts its rows: only a later change unsorts them)
    pr = dataclasses.replace(net.projections[0])
    w = pr.weights.copy()
    w.indices[:2] = w.indices[:2][::-1].copy()
    w.has_sorted_indices = False
    object.__setattr__(pr, "weights", w)
    bad = dataclasses.replace(net, projections=(pr, *net.projections[1:]))
    assert plan_of(bad, mapping, hw.n_cores) is None
    # two projections of one key into one population (one core would sum two rows of a message)
    pops = (
        Population("in", "input", (6,)),
        Population("a", "lif", (5,), NeuronParams.uniform(5)),
        Population("t", "lif", (4,), NeuronParams.uniform(4)),
    )
    ones = lambda a, b: sp.csr_array(np.ones((a, b), np.float32))  # noqa: E731
    projs = (
        Projection("in", "a", ones(6, 5), delay=1),
        Projection("in", "t", ones(6, 4)),
        Projection("a", "t", ones(5, 4)),
    )
    two = Network("two", pops, projs, "in", "t")
    m2 = map_network(two, hw, neurons_per_core=2)
    assert block_cut.cut_plan(two) is not None and plan_of(two, m2, hw.n_cores) is None
    # numba missing
    large.setattr(row_blocks, "_kernel", lambda: None)
    assert plan_of(net, mapping, hw.n_cores) is None


def test_a_run_on_rows_builds_no_message_table(large):
    """Sync mode on every core's work items: the mapping's check, the chip and the run read the
    rows; the message table (``Chip.dest``), built afterwards, has the rows' messages."""
    from neurosim.describe import mapping as mapping_module
    from neurosim.describe import sparse_kernels

    large.setattr(sparse_kernels, "COMPILE_ABOVE", 0)
    large.setattr(chip_module, "ROW_BLOCKS", True)
    hw, net, _ = setup(2, "contention-free", 4, extended=False)
    mapping = map_network(net, hw, neurons_per_core=4)
    chip = Chip(hw, net, mapping)
    chip.configure(mode="sync")
    chip.run_sample(np.random.default_rng(2).random((4, 9)) < 0.6)
    assert sum(e[2].size for e in chip.spike_log) > 0
    assert "dest" not in chip.__dict__ and mapping not in mapping_module._TABLES
    gids = np.random.default_rng(3).permutation(net.n_neurons)[:30]  # of every population, in any order
    counts, dst, syn = chip._messages_from_rows(gids)
    d = chip.dest
    np.testing.assert_array_equal(counts, d.indptr[gids + 1] - d.indptr[gids])
    pos = np.concatenate([np.arange(d.indptr[g], d.indptr[g + 1]) for g in gids])
    np.testing.assert_array_equal(dst, d.indices[pos])
    np.testing.assert_array_equal(syn, d.data[pos])
    np.testing.assert_array_equal(chip.synops_of, np.asarray(d.sum(axis=1)).ravel())
