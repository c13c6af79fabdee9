"""Whole per-core async frames in one compiled call (:mod:`neurosim.sim.async_core_frames`) against
the SimPy processes they replace: the same spike log (neuron, frame, cycle, forward step, entry
order), per-core and per-link counters, hops, tile pairs, frame ends, membranes, cycles and energy,
on small random networks (cuba, delays, recurrence, shared cores, step caps, early stops) in both
NoC models the compiled loop takes; and the runs it leaves to the processes."""

import dataclasses

import numpy as np
import pytest
from core_scope import assert_same_chip, count_input_runs_agree, dense, network, setup
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.paths import HW_DIR
from neurosim.sim import async_core_frames
from neurosim.sim.async_global_kernels import AVAILABLE
from neurosim.sim.chip import Chip

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="the compiled frames need numba (the fast extra)")


def chip_run(mp, compiled: bool, hw, net, mapping, stim, **opts) -> Chip:
    """One sample on the compiled frames or on the SimPy processes; checks which one ran."""
    mp.setattr(async_core_frames, "ENABLED", compiled)
    chip = Chip(hw, net, mapping)
    chip.configure(mode="async", scope="core", **opts)
    chip.run_sample(stim, index=1)
    assert (chip in async_core_frames._FRAMES) == compiled
    return chip


def compare(mp, hw, net, mapping, stim, **opts) -> Chip:
    new = chip_run(mp, True, hw, net, mapping, stim, **opts)
    old = chip_run(mp, False, hw, net, mapping, stim, **opts)
    assert_same_chip(new, old)
    return old


@pytest.mark.parametrize("noc", ["contention-free", "contention"])
@pytest.mark.parametrize("policy", ["fifo", "momentum"])
@pytest.mark.parametrize(
    "seed,npc,core,opts",
    [
        (0, 4, {}, {}),
        (5, 2, {"core.issue_width": 2}, {"on_grid": False}),
        (1, 3, {"core.issue_width": 2}, {"max_steps": 2}),
        (2, 5, {"core.issue_width": 3, "core.latency_spike_fired_cycles": 2}, {}),
        (3, None, {"core.issue_width": 1}, {"stop_on_output": 1, "max_steps": 3}),
        (4, 6, {"core.latency_neuron_update_idle_cycles": 0, "core.latency_message_in_cycles": 0}, {}),
        (6, 3, {"core.latency_spike_out_cycles": 0, "core.latency_message_in_cycles": 0}, {"on_grid": False}),
    ],
)
def test_frames_equal_processes(monkeypatch, noc, policy, seed, npc, core, opts):
    opts = dict(opts)
    hw, net, mapping = setup(seed, noc, npc, on_grid=opts.pop("on_grid", True), **core)
    stim = np.random.default_rng(seed + 7).random((6, 9)) < 0.5
    old = compare(monkeypatch, hw, net, mapping, stim, policy=policy, seed=seed, **opts)
    assert sum(e[2].size for e in old.spike_log) > 0


@pytest.mark.parametrize("noc", ["contention-free", "contention"])
@pytest.mark.parametrize("policy,opts", [("fifo", {}), ("momentum", {"max_steps": 20})])
def test_dense_equal_cycle_order(monkeypatch, noc, policy, opts):
    """Dense layers, ``issue_width`` 4: many events of one cycle on several cores, whose order
    (SimPy's: the cycle, then the order of scheduling, wake-ups and ``any_of`` conditions
    included) sets the forward steps and the entry order of the spike log."""
    hw = load_hardware(HW_DIR / "loihi.yaml", {"router.contention": noc == "contention", "core.issue_width": 4})
    net = dense(3)
    mapping = map_network(net, hw, neurons_per_core=4)
    stim = np.random.default_rng(3).random((3, 48)) < 0.2
    old = compare(monkeypatch, hw, net, mapping, stim, policy=policy, **opts)
    assert sum(e[2].size for e in old.spike_log) > 20
    assert len(set(old.spike_steps)) >= 10


def test_synapse_units(monkeypatch):
    """Projections naming synapse units (their own synop latency and counter)."""
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
    old = compare(monkeypatch, hw, net, mapping, stim, policy="momentum")
    assert old.counters.ops["synop@x"].sum() > 0


def test_results_and_energy(monkeypatch):
    """Event-count input (a count k: k messages), two samples through :func:`simulate`: the same
    result records, energy, per-core and per-link figures and raster."""
    count_input_runs_agree(lambda on: monkeypatch.setattr(async_core_frames, "ENABLED", on), "contention")


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    noc=st.sampled_from(["contention-free", "contention"]),
    width=st.integers(1, 4),
    npc=st.integers(2, 6),
    policy=st.sampled_from(["fifo", "momentum"]),
    extended=st.booleans(),
    on_grid=st.booleans(),
    fired=st.integers(0, 2),
    cap=st.sampled_from([None, None, 1, 3]),
)
def test_frames_equal_processes_random(seed, noc, width, npc, policy, extended, on_grid, fired, cap):
    core = {"core.issue_width": width, "core.latency_spike_fired_cycles": fired}
    hw, net, mapping = setup(seed, noc, npc, extended, on_grid, **core)
    stim = np.random.default_rng(seed).random((4, 9)) < 0.6
    with pytest.MonkeyPatch.context() as mp:
        compare(mp, hw, net, mapping, stim, policy=policy, seed=seed, max_steps=cap)


@pytest.mark.parametrize(
    "noc,opts",
    [
        ("contention-free", {"policy": "random"}),
        ("contention-free", {"policy": "momentum", "momentum_noise": 0.5}),
        ("contention-free", {"policy": "fifo", "refrac_dropout": 0.3, "max_steps": 6}),
        ("multicast", {"policy": "fifo"}),
    ],
)
def test_other_runs_take_the_processes(monkeypatch, noc, opts):
    """Random choices (their draws come from each core's generator in event order), momentum
    noise, refractory dropout and multicast run on the SimPy processes."""
    hw, net, mapping = setup(1, noc, 3)
    stim = np.random.default_rng(1).random((3, 9)) < 0.5
    chip = Chip(hw, net, mapping)
    chip.configure(mode="async", scope="core", **opts)
    assert not async_core_frames.applies(chip)
    chip.run_sample(stim)
    assert chip not in async_core_frames._FRAMES


def test_zero_latency_links_take_the_processes():
    """Links of zero cycles are timed by the NoC's event loop (the compiled pass would tie
    differently), so those runs take the processes."""
    hw, net, mapping = setup(1, "contention", 3, **{"router.latency_hop_ew_cycles": 0})
    chip = Chip(hw, net, mapping)
    chip.configure(mode="async", scope="core", policy="fifo")
    assert not async_core_frames.applies(chip)


def test_without_numba_the_processes_run(monkeypatch):
    monkeypatch.setattr(async_core_frames, "AVAILABLE", False)
    hw, net, mapping = setup(1, "contention-free", 3)
    chip = Chip(hw, net, mapping)
    chip.configure(mode="async", scope="core", policy="fifo")
    assert not async_core_frames.applies(chip)


@pytest.mark.parametrize("policy", ["fifo", "momentum"])
def test_zero_cycle_ports_and_links(monkeypatch, policy):
    """Ports, links and service of no latency (contention-free): messages arrive in the cycle they
    leave, a core sends again without waiting, and many events share one cycle."""
    zero = {
        "core.latency_spike_out_cycles": 0,
        "core.latency_message_in_cycles": 0,
        "core.latency_synop_cycles": 0,
        "core.latency_neuron_update_idle_cycles": 0,
        "router.latency_hop_ew_cycles": 0,
        "router.latency_hop_ns_cycles": 0,
        "router.latency_local_cycles": 0,
    }
    hw, net, mapping = setup(7, "contention-free", 2, **zero)
    stim = np.random.default_rng(7).random((4, 9)) < 0.6
    old = compare(monkeypatch, hw, net, mapping, stim, policy=policy, seed=7)
    assert sum(e[2].size for e in old.spike_log) > 0
