"""The batched ``sync`` / ``timestep`` path (:mod:`neurosim.sim.batched`) against the per-core
SimPy path it replaces: the same spikes, per-core and per-link counters, cycles, energy, raster
and phase timing on random networks (cuba, delays, recurrence, shared cores) in every NoC model
and with every update rule. Weights on a 1/64 grid take the order-free sums, weights off it the
path that sums in the cores' service order."""

import numpy as np
import pytest
import scipy.sparse as sp
from builders import grid

from neurosim.describe.mapping import Mapping
from neurosim.describe.network import Network, Population, Projection
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.paths import HW_DIR
from neurosim.sim import async_global_fast, batched, batched_kernels
from neurosim.sim.batched import exact_sums
from neurosim.sim.batched_kernels import lane_fifo
from neurosim.sim.chip import Chip
from neurosim.sim.engine import simulate
from neurosim.sim.maxplus import lane_finish_times
from neurosim.sim.reference import forward_sync
from neurosim.sim.timestep import delayed_network

NOCS = {
    "contention-free": {"router.contention": False},
    "contention": {"router.contention": True, "router.buffer_depth_msgs": 2},
    "multicast": {"router.delivery": "multicast"},
}


def network(seed: int, on_grid: bool = True, sizes=(9, 13, 11, 5), spiking_out: bool = True) -> Network:
    """Random layers of mixed neurons (cuba, subtractive and delayed resets, fire at equality),
    random delays, a delayed skip, a delay-0 and a delayed recurrent projection."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", "input", (sizes[0],))]
    for k, n in enumerate(sizes[1:]):
        cuba = rng.random(n) < 0.5
        p = NeuronParams.uniform(
            n,
            decay=rng.choice([0.5, 0.75, 0.9, 1.0], n),
            threshold=grid(rng.uniform(0.5, 1.0, n), 8),
            subtract=rng.random(n) < 0.5,
            syn_decay=rng.choice([0.0, 0.5], n),
            cuba=cuba,
            current_lag=cuba & (rng.random(n) < 0.5),
            delayed_reset=rng.random(n) < 0.3,
            fire_equal=rng.random(n) < 0.3,
            spiking=np.full(n, spiking_out or k < len(sizes) - 2),
        )
        pops.append(Population(f"l{k}", "lif", (n,), p))

    def weights(a, b, mean):
        w = rng.normal(mean, 0.45, (a, b)).astype(np.float32)
        w = grid(w) if on_grid else w
        w[rng.random(w.shape) > 0.6] = 0
        return sp.csr_array(w)

    projs = [
        Projection(pops[k].name, pops[k + 1].name, weights(sizes[k], sizes[k + 1], 0.35), delay=int(rng.integers(0, 2)))
        for k in range(len(sizes) - 1)
    ]
    projs.append(Projection("in", "l1", weights(sizes[0], sizes[2], 0.2), delay=2))
    projs.append(Projection("l1", "l0", weights(sizes[2], sizes[1], 0.0)))
    projs.append(Projection("l2", "l2", weights(sizes[3], sizes[3], 0.0), delay=1))
    return Network(f"mixed{seed}", pops, projs, "in", pops[-1].name, dt=1e-3)


def run(monkeypatch, on: bool, hw, net, mapping, stim, mode):
    monkeypatch.setattr(batched, "ENABLED", on)
    return simulate(hw, net, mapping, stim, np.zeros(stim.shape[0], np.int64), mode=mode, raster_sample=1)


def assert_same(a, b):
    for sa, sb in zip(a.samples, b.samples, strict=True):
        assert (sa.cycles, sa.ops, sa.spikes, sa.messages_sent, sa.first_output_cycle, sa.decision_cycle) == (
            sb.cycles,
            sb.ops,
            sb.spikes,
            sb.messages_sent,
            sb.first_output_cycle,
            sb.decision_cycle,
        )
        np.testing.assert_array_equal(sa.output_counts, sb.output_counts)
        assert repr(sa.extra) == repr(sb.extra)
        assert a.energy(sa) == b.energy(sb)
    for k in a.core:
        np.testing.assert_array_equal(a.core[k], b.core[k], err_msg=k)
    np.testing.assert_array_equal(a.tile_pairs.toarray(), b.tile_pairs.toarray())
    for k in a.links:
        np.testing.assert_array_equal(a.links[k], b.links[k], err_msg=k)
    for x, y in zip(
        (a.raster.frame, a.raster.neuron, a.raster.cycle), (b.raster.frame, b.raster.neuron, b.raster.cycle)
    ):
        np.testing.assert_array_equal(x, y)
    assert repr(a.phases) == repr(b.phases)
    assert a.spikes_per_population == b.spikes_per_population


@pytest.mark.parametrize("noc", list(NOCS))
@pytest.mark.parametrize("mode", ["sync", "timestep"])
@pytest.mark.parametrize(
    "seed,npc,on_grid,core",
    [
        (0, 4, True, {"core.membrane_grid": 2.0**-6}),
        (1, None, True, {"core.update_rule": "all", "core.issue_width": 2}),
        (2, 3, False, {"core.update_rule": "nonzero_state", "core.latency_spike_fired_cycles": 2}),
        (3, 5, False, {"core.issue_width": 3, "chip.frame_period_cycles": 300}),
    ],
)
def test_batched_equals_per_core(monkeypatch, noc, mode, seed, npc, on_grid, core):
    hw = load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4, **NOCS[noc], **core})
    net = network(seed, on_grid, spiking_out=seed != 3)  # seed 3: read out by membranes
    assert exact_sums(net) == on_grid
    mapping = map_network(net, hw, neurons_per_core=npc)
    stim = np.random.default_rng(seed + 7).random((2, 8, 9)) < 0.5
    new = run(monkeypatch, True, hw, net, mapping, stim, mode)
    old = run(monkeypatch, False, hw, net, mapping, stim, mode)
    assert sum(s.spikes for s in new.samples) > 0
    assert_same(new, old)


@pytest.mark.parametrize("noc,mode", [("contention-free", "timestep"), ("contention", "sync"), ("multicast", "sync")])
def test_numpy_and_compiled_kernels_agree(monkeypatch, noc, mode):
    """The message-level loops compiled by numba and their numpy form (numba is optional)."""
    pytest.importorskip("numba")
    hw = load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4, **NOCS[noc], "core.issue_width": 2})
    net = network(5, on_grid=mode == "sync")
    mapping = map_network(net, hw, neurons_per_core=3)
    stim = np.random.default_rng(5).random((2, 8, 9)) < 0.5
    monkeypatch.setattr(batched_kernels, "USE_COMPILED", True)
    compiled = run(monkeypatch, True, hw, net, mapping, stim, mode)
    monkeypatch.setattr(batched_kernels, "USE_COMPILED", False)
    assert_same(compiled, run(monkeypatch, True, hw, net, mapping, stim, mode))


@pytest.mark.parametrize("noc", ["contention", "multicast"])
def test_shared_cores_run_batched_in_sync_and_per_core_in_timestep(monkeypatch, noc):
    """Neurons dealt round-robin over 6 cores (every core holds several populations, in no
    order): a sync phase still batches, a time-stepped step does not (its update passes follow
    one another on a core); both equal the per-core path."""
    hw = load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4, **NOCS[noc]})
    net = network(4)
    mapping = Mapping(np.arange(net.n_neurons) % 6 * 2)
    shared = Chip(hw, net, mapping)
    assert all(len(c.groups) > 1 for c in shared.cores.values())
    assert batched.applies(shared, "sync") and not batched.applies(shared, "timestep")
    assert not batched.applies(shared, "async")
    stim = np.random.default_rng(3).random((2, 8, 9)) < 0.5
    assert_same(
        run(monkeypatch, True, hw, net, mapping, stim, "sync"), run(monkeypatch, False, hw, net, mapping, stim, "sync")
    )
    shared.configure(mode="timestep")  # per core, each delivery one step later (Core.deliver)
    shared.run_sample(stim[0])
    got = np.zeros((8, net.n_neurons), bool)
    for f, _, ids, _ in shared.spike_log:
        got[f, ids] = True
    np.testing.assert_array_equal(got, forward_sync(delayed_network(net), stim[0]))


def test_lane_fifo_is_the_per_core_port_model():
    rng = np.random.default_rng(0)
    seg = np.sort(rng.integers(0, 4, 40))
    ready = rng.integers(0, 30, 40)
    for k in np.unique(seg):  # ready times sorted within a core, as an update pass makes them
        ready[seg == k] = np.sort(ready[seg == k])
    for lanes in (1, 2, 3):
        got = lane_fifo(seg, ready, 4, lanes)
        want = np.concatenate([lane_finish_times(ready[seg == k], 4, lanes) for k in np.unique(seg)])
        np.testing.assert_array_equal(got, want)


def test_exact_sums_needs_a_grid_and_a_bounded_fan_in():
    net = network(0)
    assert exact_sums(net)
    pops = [Population("in", "input", (2,)), Population("o", "lif", (1,), NeuronParams.uniform(1))]
    big = Network(
        "big", pops, [Projection("in", "o", sp.csr_array(np.array([[2.0**20], [2.0**-6]], np.float32)))], "in", "o"
    )
    assert not exact_sums(big)  # 2**20 + 2**-6 needs 27 bits


@pytest.mark.parametrize("mode", ["sync", "timestep"])
def test_event_counts_and_early_stop(monkeypatch, mode):
    """Input event counts (a count k: k messages) and, time-stepped, the stop K steps after the
    first output spike."""
    hw = load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4, "core.issue_width": 2})
    net = network(6)
    mapping = map_network(net, hw, neurons_per_core=4)
    stim = np.random.default_rng(6).integers(0, 3, (2, 8, 9))
    labels = np.zeros(2, np.int64)
    kw = {"mode": mode, "raster_sample": 1, "stop_on_output": 1 if mode == "timestep" else None}
    monkeypatch.setattr(batched, "ENABLED", True)
    new = simulate(hw, net, mapping, stim, labels, **kw)
    monkeypatch.setattr(batched, "ENABLED", False)
    assert_same(new, simulate(hw, net, mapping, stim, labels, **kw))
    assert new.samples[0].input_spikes > stim[0].astype(bool).sum()


@pytest.mark.parametrize("mode", ["sync", "timestep", "async"])
def test_one_neuron_core_sums_row_after_row(monkeypatch, mode):
    """A core holding one neuron sums its messages' off-grid weights one after the other, as a
    wider core does (numpy sums a one-column block pairwise from 8 rows on, which made the
    per-core path part from the batched one in the last bit): batched (or compiled) and per-core
    paths agree on a one-neuron output core that gets 8 or more messages in a phase."""
    rng = np.random.default_rng(2)
    n_in, n_h = 30, int(rng.integers(1, 12))
    w1 = sp.csr_array(rng.normal(0.2, 0.3, (n_in, n_h)).astype(np.float32))
    w2 = sp.csr_array(rng.normal(0.3, 0.3, (n_h, 1)).astype(np.float32))
    npc = int(rng.choice([1, 2, 4, 8]))
    pops = [
        Population("in", "input", (n_in,)),
        Population("h", "lif", (n_h,), NeuronParams.uniform(n_h, decay=0.9, threshold=1.0)),
        Population("o", "lif", (1,), NeuronParams.uniform(1, decay=1.0, threshold=100.0)),
    ]
    net = Network("one", pops, [Projection("in", "h", w1), Projection("h", "o", w2)], "in", "o", dt=1e-3)
    hw = load_hardware(HW_DIR / "loihi.yaml")
    mapping = map_network(net, hw, neurons_per_core=npc)
    stim = rng.random((5, n_in)) < 0.5
    assert not exact_sums(net)
    membranes = []
    for on in (True, False):
        monkeypatch.setattr(async_global_fast, "ENABLED", on)
        monkeypatch.setattr(batched, "ENABLED", on)
        chip = Chip(hw, net, mapping)
        chip.configure(mode=mode)
        chip.run_sample(stim)
        membranes.append(np.array(chip.readout_v))
        hidden = sum(int(ids.size) for _, g, ids, _ in chip.spike_log if g == 1)
        assert hidden >= 8  # the output core got 8 messages or more
    np.testing.assert_array_equal(membranes[0], membranes[1])
