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
from core_scope import assert_same_chip, count_input_runs_agree, dense, network, setup
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.paths import HW_DIR
from neurosim.sim import async_core_fast, async_core_frames
from neurosim.sim.chip import Chip


def chip_run(monkeypatch, on: bool, hw, net, mapping, stim, **opts) -> Chip:
    """A run on the SimPy processes (not the compiled frames), with the lean path ``on`` or off."""
    monkeypatch.setattr(async_core_fast, "ENABLED", on)
    monkeypatch.setattr(async_core_frames, "ENABLED", False)
    chip = Chip(hw, net, mapping)
    chip.configure(mode="async", scope="core", **opts)
    chip.run_sample(stim, index=1)
    return chip


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
    monkeypatch.setattr(async_core_frames, "ENABLED", False)
    count_input_runs_agree(lambda on: monkeypatch.setattr(async_core_fast, "ENABLED", on), "contention-free")


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


def test_message_lists_do_not_keep_a_chip_alive(monkeypatch):
    monkeypatch.setattr(async_core_frames, "ENABLED", False)
    hw, net, mapping = setup(0, "contention-free", 3)
    chip = Chip(hw, net, mapping)
    chip.configure(mode="async", scope="core")
    chip.run_sample(np.ones((2, 9), bool))
    assert chip in async_core_fast._ROUTES
    ref = weakref.ref(chip)
    del chip
    gc.collect()
    assert ref() is None
