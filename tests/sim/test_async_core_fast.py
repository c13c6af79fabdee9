"""The lean per-core async send and arrival path (:mod:`neurosim.sim.async_core_fast`) against the
general routing path it replaces: the same spike log (neuron, frame, cycle, forward step), per-core
and per-link counters, hops, frame ends, cycles and energy, on small random networks (cuba, delays,
recurrence, shared cores) in every NoC model, scheduling policy and asynctorch option the per-core
scope takes."""

import dataclasses
import gc
import weakref

import numpy as np
import pytest
import scipy.sparse as sp
from builders import grid
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.describe.network import Network, Population, Projection
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.paths import HW_DIR
from neurosim.sim import async_core_fast
from neurosim.sim.chip import Chip
from neurosim.sim.engine import simulate

NOCS = {
    "contention-free": {"router.contention": False},
    "contention": {"router.contention": True, "router.buffer_depth_msgs": 2},
    "multicast": {"router.delivery": "multicast"},
}


def network(seed: int, sizes=(9, 13, 11, 5), extended: bool = True, on_grid: bool = True) -> Network:
    """Random layers (cuba, subtractive and delayed resets, biases, random delays, a delayed skip
    and a recurrent projection when ``extended``); weights on a 1/64 grid (order-free sums) or off
    it (the sums depend on the order in which a core integrates its messages)."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", "input", (sizes[0],))]
    for k, n in enumerate(sizes[1:]):
        cuba = (rng.random(n) < 0.5) & extended
        p = NeuronParams.uniform(
            n,
            decay=rng.choice([0.5, 0.75, 1.0], n),
            threshold=grid(rng.uniform(0.5, 1.0, n), 8),
            subtract=rng.random(n) < 0.5,
            syn_decay=rng.choice([0.0, 0.5], n),
            cuba=cuba,
            delayed_reset=(rng.random(n) < 0.3) & extended,
            bias=grid(rng.uniform(0.0, 0.2, n)) * extended,
        )
        pops.append(Population(f"l{k}", "lif", (n,), p))

    def weights(a, b, mean):
        w = rng.normal(mean, 0.45, (a, b)).astype(np.float32)
        w = grid(w) if on_grid else w
        w[rng.random(w.shape) > 0.6] = 0
        return sp.csr_array(w)

    delay = (lambda: int(rng.integers(0, 2))) if extended else (lambda: 0)
    projs = [
        Projection(pops[k].name, pops[k + 1].name, weights(sizes[k], sizes[k + 1], 0.4), delay=delay())
        for k in range(len(sizes) - 1)
    ]
    if extended:
        projs.append(Projection("in", "l1", weights(sizes[0], sizes[2], 0.2), delay=2))
        projs.append(Projection("l1", "l0", weights(sizes[2], sizes[1], 0.0)))
    return Network(f"mixed{seed}", pops, projs, "in", pops[-1].name, dt=1e-3)


def chip_run(monkeypatch, on: bool, hw, net, mapping, stim, **opts) -> Chip:
    monkeypatch.setattr(async_core_fast, "ENABLED", on)
    chip = Chip(hw, net, mapping)
    chip.configure(mode="async", scope="core", **opts)
    chip.run_sample(stim, index=1)
    return chip


def assert_same_chip(a: Chip, b: Chip):
    assert len(a.spike_log) == len(b.spike_log)
    for x, y in zip(a.spike_log, b.spike_log, strict=True):
        assert x[:2] == y[:2]
        np.testing.assert_array_equal(x[2], y[2])
        np.testing.assert_array_equal(x[3], y[3])
    assert a.spike_steps == b.spike_steps
    assert a.frame_end == b.frame_end
    assert a.first_output == b.first_output
    assert (a.step, a.copies_sent, a.counters_barrier) == (b.step, b.copies_sent, b.counters_barrier)
    np.testing.assert_array_equal(a.counters.busy_cycles, b.counters.busy_cycles)
    np.testing.assert_array_equal(a.counters.spikes, b.counters.spikes)
    assert a.counters.ops.keys() == b.counters.ops.keys()
    for k in a.counters.ops:
        np.testing.assert_array_equal(a.counters.ops[k], b.counters.ops[k], err_msg=k)
    for k in a.mesh.counters:
        np.testing.assert_array_equal(a.mesh.counters[k], b.mesh.counters[k], err_msg=k)
    np.testing.assert_array_equal(a.tile_pairs.toarray(), b.tile_pairs.toarray())
    assert a.noc_ops() == b.noc_ops()
    for x, y in zip(a.readout_v, b.readout_v, strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.state.v, b.state.v)


def setup(seed, noc, npc, extended=True, on_grid=True, **core):
    hw = load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4, **NOCS[noc], **core})
    net = network(seed, extended=extended, on_grid=on_grid)
    return hw, net, map_network(net, hw, neurons_per_core=npc)


@pytest.mark.parametrize("noc", ["contention-free", "contention"])  # multicast: the general path (below)
@pytest.mark.parametrize("policy", ["fifo", "random", "momentum"])
@pytest.mark.parametrize(
    "seed,npc,core,opts",
    [
        (0, 4, {}, {}),
        (5, 2, {"core.issue_width": 2}, {"on_grid": False}),
        (1, 3, {"core.issue_width": 2}, {"refrac_dropout": 0.3, "max_steps": 6}),
        (2, 5, {"core.issue_width": 3, "core.latency_spike_fired_cycles": 2}, {"momentum_noise": 0.5}),
        (3, None, {"core.issue_width": 1}, {"stop_on_output": 1, "max_steps": 3}),
    ],
)
def test_fast_equals_general(monkeypatch, noc, policy, seed, npc, core, opts):
    opts = dict(opts)
    hw, net, mapping = setup(seed, noc, npc, on_grid=opts.pop("on_grid", True), **core)
    stim = np.random.default_rng(seed + 7).random((6, 9)) < 0.5
    new = chip_run(monkeypatch, True, hw, net, mapping, stim, policy=policy, seed=seed, **opts)
    old = chip_run(monkeypatch, False, hw, net, mapping, stim, policy=policy, seed=seed, **opts)
    assert sum(e[2].size for e in old.spike_log) > 0
    assert_same_chip(new, old)


def test_multicast_takes_the_general_path(monkeypatch):
    hw, net, mapping = setup(1, "multicast", 3, **{"core.issue_width": 2})
    assert not async_core_fast.applies(Chip(hw, net, mapping))
    stim = np.random.default_rng(1).random((5, 9)) < 0.5
    new = chip_run(monkeypatch, True, hw, net, mapping, stim, policy="momentum")
    assert_same_chip(new, chip_run(monkeypatch, False, hw, net, mapping, stim, policy="momentum"))


def test_count_input_and_results(monkeypatch):
    """Event-count input (a count k: k messages), two samples through :func:`simulate`: the same
    result records, energy included."""
    hw, net, mapping = setup(4, "contention-free", 3, **{"core.issue_width": 2})
    stim = np.random.default_rng(4).integers(0, 3, (2, 5, 9))
    res = {}
    for on in (True, False):
        monkeypatch.setattr(async_core_fast, "ENABLED", on)
        res[on] = simulate(
            hw, net, mapping, stim, np.zeros(2, np.int64), mode="async", scope="core", policy="fifo", raster_sample=1
        )
    a, b = res[True], res[False]
    for sa, sb in zip(a.samples, b.samples, strict=True):
        assert (sa.cycles, sa.ops, sa.spikes, sa.messages_sent) == (sb.cycles, sb.ops, sb.spikes, sb.messages_sent)
        assert repr(sa.extra) == repr(sb.extra)
        assert a.energy(sa) == b.energy(sb)
    for k in a.core:
        np.testing.assert_array_equal(a.core[k], b.core[k], err_msg=k)
    for k in a.links:
        np.testing.assert_array_equal(a.links[k], b.links[k], err_msg=k)
    np.testing.assert_array_equal(a.raster.cycle, b.raster.cycle)
    np.testing.assert_array_equal(a.raster.neuron, b.raster.neuron)
    assert sum(s.spikes for s in a.samples) > 0


@settings(max_examples=8, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    noc=st.sampled_from(["contention-free", "contention"]),
    width=st.integers(1, 4),
    npc=st.integers(2, 6),
    policy=st.sampled_from(["fifo", "random", "momentum"]),
    extended=st.booleans(),
    on_grid=st.booleans(),
    dropout=st.sampled_from([0.0, 0.0, 0.5]),
)
def test_fast_equals_general_random(seed, noc, width, npc, policy, extended, on_grid, dropout):
    hw, net, mapping = setup(seed, noc, npc, extended, on_grid, **{"core.issue_width": width})
    stim = np.random.default_rng(seed).random((4, 9)) < 0.6
    opts = {"refrac_dropout": dropout, "max_steps": 8} if dropout else {}
    chips = []
    with pytest.MonkeyPatch.context() as mp:
        for on in (True, False):
            chips.append(chip_run(mp, on, hw, net, mapping, stim, policy=policy, seed=seed, **opts))
    assert_same_chip(*chips)


def dense(seed: int, sizes=(48, 48, 32, 8)) -> Network:
    """Dense random LIF layers on a 1/64 grid: every message to a core reaches as many synapses,
    so equal-cycle events on several cores are common (the order SimPy serves them in shows)."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", "input", (sizes[0],))]
    projs = []
    for i, n in enumerate(sizes[1:], start=1):
        pops.append(Population(f"l{i}", "lif", (n,), NeuronParams.uniform(n, decay=0.9, threshold=1.0)))
        w = grid(rng.normal(0.0, 1.0, (sizes[i - 1], n)) / np.sqrt(sizes[i - 1] * 0.1))
        w[w == 0] = 1 / 64
        projs.append(Projection(pops[i - 1].name, pops[i].name, sp.csr_array(w)))
    return Network("dense", pops, projs, "in", pops[-1].name, dt=1e-3)


@pytest.mark.parametrize("noc", ["contention-free", "contention"])
@pytest.mark.parametrize("policy,opts", [("fifo", {}), ("momentum", {"refrac_dropout": 0.3, "max_steps": 20})])
def test_dense_equal_cycle_order(monkeypatch, noc, policy, opts):
    """Wide issues (``issue_width`` 4: messages leave in fours, arrive together): the cores woken
    by one issue must be woken in the order the general path wakes them."""
    hw = load_hardware(HW_DIR / "loihi.yaml", {"router.contention": noc == "contention", "core.issue_width": 4})
    net = dense(3)
    mapping = map_network(net, hw, neurons_per_core=4)
    stim = np.random.default_rng(3).random((3, 48)) < 0.2
    new = chip_run(monkeypatch, True, hw, net, mapping, stim, policy=policy, **opts)
    old = chip_run(monkeypatch, False, hw, net, mapping, stim, policy=policy, **opts)
    assert sum(e[2].size for e in old.spike_log) > 20
    assert_same_chip(new, old)


def test_synapse_units_take_the_general_delivery(monkeypatch):
    """Projections naming synapse units (their own synop latency): the same counters and cycles."""
    units = {
        "x": {"energy_synop_pj": 5.0, "latency_synop_cycles": 7},
        "y": {"energy_synop_pj": 0.25, "latency_synop_cycles": 3},
    }
    hw = load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4, "core.synapse_units": units})
    net = network(6, extended=False)
    named = [dataclasses.replace(p, synapse_unit=u) for p, u in zip(net.projections, ["x", None, "y"], strict=True)]
    net = dataclasses.replace(net, projections=tuple(named))
    mapping = map_network(net, hw, neurons_per_core=3)
    stim = np.random.default_rng(6).random((5, 9)) < 0.6
    new = chip_run(monkeypatch, True, hw, net, mapping, stim, policy="momentum")
    old = chip_run(monkeypatch, False, hw, net, mapping, stim, policy="momentum")
    assert new.counters.ops["synop@x"].sum() > 0
    assert_same_chip(new, old)


def test_message_lists_do_not_keep_a_chip_alive():
    hw, net, mapping = setup(0, "contention-free", 3)
    chip = Chip(hw, net, mapping)
    chip.configure(mode="async", scope="core")
    chip.run_sample(np.ones((2, 9), bool))
    assert chip in async_core_fast._ROUTES
    ref = weakref.ref(chip)
    del chip
    gc.collect()
    assert ref() is None
