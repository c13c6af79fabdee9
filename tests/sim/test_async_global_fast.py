"""The batched global async step (:mod:`neurosim.sim.async_global_fast`) against the per-core
SimPy step it replaces: the same spike log (neuron, frame, step, cycle), steps per frame,
frame ends, read-out membranes, per-core and per-link counters, cycles, energy, raster and phase
records, on random networks (cuba, delays, recurrence, delayed and subtractive resets) under
every policy, NoC model and asynctorch option; shared cores (steps left to the per-core path)
too. Weights on a 1/64 grid and off it (the sums in the cores' service order)."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as hs
from test_batched_sync import NOCS, assert_same, network

from neurosim.describe.mapping import Mapping
from neurosim.describe.network import Network, Population, Projection
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.paths import HW_DIR
from neurosim.sim import async_global_fast
from neurosim.sim.async_global_kernels import AVAILABLE
from neurosim.sim.chip import Chip
from neurosim.sim.engine import simulate

pytestmark = pytest.mark.skipif(not AVAILABLE, reason="the batched async step needs numba (the fast extra)")

UNITS = {"x": {"energy_synop_pj": 5.0, "latency_synop_cycles": 7}}


def hardware(noc: str, **core):
    over = {"mesh.width": 4, "mesh.height": 4, **NOCS[noc], **{f"core.{k}": v for k, v in core.items()}}
    return load_hardware(HW_DIR / "small.yaml", over)


def chip_trace(chip: Chip) -> tuple:
    """Everything a sample leaves on the chip, for an exact comparison (the spike log spike by
    spike: frame, population, step, neuron, cycle)."""
    assert len(chip.spike_steps) == len(chip.spike_log)
    log = [  # per spike, in log order (the batched step writes one entry per population, not per core)
        (f, g, step, int(n), int(c))
        for (f, g, ids, cyc), step in zip(chip.spike_log, chip.spike_steps)
        for n, c in zip(ids.tolist(), cyc.tolist())
    ]
    return (
        log,
        list(chip.steps_per_frame),
        list(chip.frame_end),
        [v.tolist() for v in chip.readout_v],
        chip.first_output,
        chip.copies_sent,
        repr(chip.phases),
        {k: v.tolist() for k, v in chip.counters.snapshot().items()},
        chip.tile_pairs.toarray().tolist(),
        {k: v.tolist() for k, v in chip.mesh.link_stats().items()},
        chip.noc_ops(),
        chip.state.v.tolist(),
    )


def both(monkeypatch, hw, net, mapping, stim, **opts):
    """Run every sample of ``stim`` on a fresh chip with the batched step on, then off; returns
    the two traces (per sample) and, with it on, how many steps ran batched, how many were left
    to the per-core path and how many frames ran in one compiled call."""
    traces, used = [], {"batched": 0, "per-core": 0, "frames": 0}
    for on in (True, False):
        monkeypatch.setattr(async_global_fast, "ENABLED", on)
        chip = Chip(hw, net, mapping)
        chip.configure(mode="async", scope="global", **opts)
        if on:
            phase, run_frame = async_global_fast.FastSteps.phase, async_global_fast.FastSteps.run_frame

            def counted(self, gids, t0, phase=phase):
                out = phase(self, gids, t0)
                used["batched" if out is not None else "per-core"] += 1
                return out

            def frames(self, ss, t0, stimulus, run_frame=run_frame):
                used["frames"] += 1
                return run_frame(self, ss, t0, stimulus)

            monkeypatch.setattr(async_global_fast.FastSteps, "phase", counted)
            monkeypatch.setattr(async_global_fast.FastSteps, "run_frame", frames)
        out = []
        for i, x in enumerate(stim):
            chip.run_sample(x, index=i, record_phases=i == 1)
            out.append(chip_trace(chip))
        traces.append(out)
        monkeypatch.undo()
    return traces[0], traces[1], used


def interleaved(net: Network, cores_per_population: int = 2) -> Mapping:
    """Every population on its own cores, its neurons dealt round-robin over them: one work
    item per core, but no core's neurons consecutive and no source's synapses grouped by core."""
    core = np.zeros(net.n_neurons, np.int64)
    base = 0
    for p in net.populations:
        sl = net.span(p.name)
        core[sl] = base + np.arange(sl.stop - sl.start) % cores_per_population
        base += cores_per_population
    return Mapping(core)


CASES = [  # seed, neurons per core, on the grid, NoC, core settings, options
    (0, 4, True, "contention-free", {}, {"policy": "fifo", "group_size": 3}),
    (1, 3, True, "contention", {"issue_width": 2}, {"policy": "momentum", "group_size": 2}),
    (2, 5, False, "multicast", {"latency_spike_fired_cycles": 2}, {"policy": "random", "group_size": 4}),
    (3, None, False, "contention-free", {"update_rule": "nonzero_state"}, {"policy": "momentum", "group_size": 1}),
    (4, 4, True, "contention-free", {"membrane_grid": 2.0**-6}, {"policy": "fifo", "refrac_dropout": 0.5}),
    (5, 3, True, "contention", {}, {"policy": "momentum", "momentum_noise": 0.3, "group_size": 2}),
    (6, 4, True, "multicast", {"issue_width": 3}, {"policy": "fifo", "prioritize_input": False, "group_size": 2}),
    (7, 4, True, "contention-free", {}, {"policy": "momentum", "stop_on_output_frame": 1, "group_size": 2}),
    (8, 3, False, "contention-free", {"issue_width": 2}, {"policy": "random", "stop_on_output": 6}),
    (9, 4, True, "contention-free", {"latency_spike_fired_cycles": 1}, {"policy": "momentum", "max_steps": 3}),
    (10, 4, True, "contention", {"update_rule": "all"}, {"policy": "random", "refrac_dropout": 1.0, "max_steps": 40}),
]


@pytest.mark.parametrize("seed,npc,on_grid,noc,core,opts", CASES)
def test_batched_step_equals_per_core(monkeypatch, seed, npc, on_grid, noc, core, opts):
    hw = hardware(noc, **core)
    net = network(seed, on_grid)
    mapping = map_network(net, hw, neurons_per_core=npc)
    rng = np.random.default_rng(seed + 11)
    stim = rng.integers(0, 3, (2, 6, 9)) if seed % 3 == 0 else rng.random((2, 6, 9)) < 0.5  # event counts too
    fast, old, used = both(monkeypatch, hw, net, mapping, stim, **opts)
    assert used["batched"] + used["frames"] > 0
    assert sum(len(t[0]) for t in old) > 0
    for a, b in zip(fast, old, strict=True):
        assert a == b


def test_simulate_results_and_energy_are_equal(monkeypatch):
    """Through :func:`simulate`: the run's records, energy, raster and phases (sample 1)."""
    hw = hardware("contention", issue_width=2)
    net = network(12)
    mapping = map_network(net, hw, neurons_per_core=4)
    stim = np.random.default_rng(3).random((3, 6, 9)) < 0.5
    res = {}
    for on in (True, False):
        monkeypatch.setattr(async_global_fast, "ENABLED", on)
        labels = np.zeros(3, np.int64)
        res[on] = simulate(
            hw, net, mapping, stim, labels, mode="async", policy="momentum", group_size=2, raster_sample=1
        )
    assert res[True].phases and res[True].samples[1].spikes > 0
    assert_same(res[True], res[False])


def test_synapse_units_and_shared_cores(monkeypatch):
    """Projections naming a synapse unit (its latency and counters); and neurons dealt
    round-robin so every core holds several populations: steps with two work items on a core
    run on the per-core path, the others batched, the same results."""
    hw = load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4, "core.synapse_units": UNITS})
    base = network(13)
    projs = [dataclasses.replace(pr, synapse_unit="x" if k % 2 else None) for k, pr in enumerate(base.projections)]
    net = Network(base.name, list(base.populations), projs, base.input, base.output, dt=base.dt)
    stim = np.random.default_rng(4).random((2, 6, 9)) < 0.5
    for mapping in (map_network(net, hw, neurons_per_core=4), Mapping(np.arange(net.n_neurons) % 6 * 2)):
        fast, old, used = both(monkeypatch, hw, net, mapping, stim, policy="fifo", group_size=3)
        assert used["batched"] + used["frames"] > 0
        assert fast == old
    assert used["batched"] and used["per-core"]  # shared cores: both kinds of step


@pytest.mark.parametrize("policy", ["fifo", "momentum"])
@pytest.mark.parametrize("on_grid", [True, False])
def test_whole_frames_in_one_call(monkeypatch, policy, on_grid):
    """The common case (fifo or momentum, no asynctorch option, contention-free unicast, one
    work item per core) runs every frame in one compiled call, with consecutive neurons per
    core and with neurons dealt round-robin over a population's cores; queued input too."""
    hw = hardware("contention-free", issue_width=2, latency_spike_fired_cycles=1)
    net = network(14, on_grid)
    stim = np.random.default_rng(5).integers(0, 3, (3, 6, 9))
    for mapping in (map_network(net, hw, neurons_per_core=3), interleaved(net)):
        for queued in (False, True):
            fast, old, used = both(
                monkeypatch, hw, net, mapping, stim, policy=policy, group_size=2, prioritize_input=not queued
            )
            assert used["frames"] == 2 * 6  # samples 0 and 2 (sample 1 records its phases: step by step)
            assert used["batched"] > 0
            assert fast == old


@settings(max_examples=12, deadline=None)
@given(
    seed=hs.integers(0, 10_000),
    policy=hs.sampled_from(["fifo", "random", "momentum"]),
    F=hs.integers(1, 6),
    noc=hs.sampled_from(list(NOCS)),
    dropout=hs.sampled_from([0.0, 0.3]),
    lanes=hs.integers(1, 3),
)
def test_random_settings(seed, policy, F, noc, dropout, lanes):
    with pytest.MonkeyPatch.context() as mp:
        hw = hardware(noc, issue_width=lanes)
        net = network(seed, on_grid=seed % 2 == 0)
        mapping = map_network(net, hw, neurons_per_core=int(seed % 4) + 2)
        stim = np.random.default_rng(seed).random((2, 5, 9)) < 0.5
        opts = {"policy": policy, "group_size": F, "refrac_dropout": dropout}
        if dropout:
            opts["max_steps"] = 60
        fast, old, _ = both(mp, hw, net, mapping, stim, **opts)
        assert fast == old


def test_one_neuron_core_sums_as_numpy_does(monkeypatch):
    """A core holding one neuron: the per-core path sums its one-column block with numpy's
    pairwise reduction, not row after row; 200 messages at once (off the grid) take the same
    float32 sum on the batched path, which a sequential sum would miss."""
    rng = np.random.default_rng(0)
    w = rng.normal(0.0, 0.3, (200, 1)).astype(np.float32)
    seq = np.float32(0)
    for x in w[:, 0]:
        seq = np.float32(seq + x)
    assert seq != w.sum(axis=0)[0]  # the two orders differ for these weights
    pops = [
        Population("in", "input", (200,)),
        Population("o", "lif", (1,), NeuronParams.uniform(1, decay=0.5, threshold=1e6)),
    ]
    net = Network("one", pops, [Projection("in", "o", sp.csr_array(w))], "in", "o", dt=1e-3)
    stim = np.ones((1, 3, 200), bool)
    for noc in ("contention-free", "contention"):  # every frame in one call; step by step
        over = {"mesh.width": 4, "mesh.height": 4, "core.max_neurons": 256, **NOCS[noc]}
        hw = load_hardware(HW_DIR / "small.yaml", over)
        fast, old, used = both(monkeypatch, hw, net, Mapping(np.r_[np.zeros(200, np.int64), [3]]), stim)
        assert used["frames" if noc == "contention-free" else "batched"] == 3
        assert fast == old
