"""Time-stepped execution (``mode="timestep"``): its spikes equal the layer-synchronous reference
on the network whose every projection is one frame slower, in every NoC model; a hand-computed
timing; one barrier per step and pipelined layers (a step is shorter than a sync frame).

Weights are on a 1/64 grid, so every float32 sum of currents is exact in any order."""

import numpy as np
import pytest
import scipy.sparse as sp
from builders import grid, random_network

from neurosim.describe.cost import energy_breakdown
from neurosim.describe.mapping import Mapping
from neurosim.describe.network import Network, Population, Projection
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.paths import HW_DIR
from neurosim.sim.chip import Chip
from neurosim.sim.engine import simulate
from neurosim.sim.reference import forward_sync, sync_states
from neurosim.sim.timestep import delayed_network, step_delay

NOCS = {
    "contention-free": {"router.contention": False},
    "contention": {"router.contention": True, "router.buffer_depth_msgs": 2},
    "multicast": {"router.delivery": "multicast"},
}


def hardware(noc: str):
    return load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4, **NOCS[noc]})


def mixed_network(seed: int, *, spiking_out: bool = True, sizes=(10, 14, 12, 6)) -> Network:
    """Random layers of mixed neurons (cuba with and without current lag, hard and subtractive,
    immediate and delayed resets, fire at equality), random delays, a delayed skip, a recurrent
    projection of delay 0 and a delayed recurrent one."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", "input", (sizes[0],))]
    for k, n in enumerate(sizes[1:]):
        cuba = rng.random(n) < 0.5
        out = k == len(sizes) - 2
        p = NeuronParams.uniform(
            n,
            decay=rng.choice([0.5, 0.75, 0.9, 1.0], n),
            threshold=grid(rng.uniform(0.5, 1.0, n), 8),
            v_reset=grid(rng.uniform(-0.25, 0.25, n), 8),
            subtract=rng.random(n) < 0.5,
            syn_decay=rng.choice([0.0, 0.5, 0.75], n),
            cuba=cuba,
            current_lag=cuba & (rng.random(n) < 0.5),
            delayed_reset=rng.random(n) < 0.3,
            fire_equal=rng.random(n) < 0.3,
            spiking=np.full(n, spiking_out or not out),
        )
        pops.append(Population(f"l{k}", "lif", (n,), p))

    def weights(a, b, mean):
        w = grid(rng.normal(mean, 0.45, (a, b)))
        w[rng.random(w.shape) > 0.6] = 0
        return sp.csr_array(w)

    projs = [
        Projection(pops[k].name, pops[k + 1].name, weights(sizes[k], sizes[k + 1], 0.35), delay=int(rng.integers(0, 3)))
        for k in range(len(sizes) - 1)
    ]
    projs.append(Projection("in", "l1", weights(sizes[0], sizes[2], 0.2), delay=2))  # a delayed skip
    projs.append(Projection("l1", "l0", weights(sizes[2], sizes[1], 0.0)))  # recurrent, delay 0
    projs.append(Projection("l2", "l2", weights(sizes[3], sizes[3], 0.0), delay=2))  # recurrent, delayed
    return Network(f"mixed{seed}", pops, projs, "in", pops[-1].name, dt=1e-3)


def logged_spikes(chip, frames: int) -> np.ndarray:
    out = np.zeros((frames, chip.net.n_neurons), bool)
    for f, _, ids, _ in chip.spike_log:
        out[f, ids] = True
    return out


def test_step_delay_is_the_declared_delay_plus_one():
    assert [step_delay(0, False), step_delay(1, False), step_delay(1, True), step_delay(3, True)] == [1, 1, 2, 4]
    net = delayed_network(random_network([4, 5, 3], recurrent=True, seed=1))
    assert [pr.delay for pr in net.projections] == [1, 1, 1]


@pytest.mark.parametrize("noc", list(NOCS))
@pytest.mark.parametrize("seed,npc,spiking_out", [(0, None, True), (1, 4, True), (2, 3, False), (3, 5, True)])
def test_spikes_equal_the_reference_with_every_delay_one_frame_longer(noc, seed, npc, spiking_out):
    """Per neuron and frame, with membranes and synaptic currents; the chip then runs sync mode
    unchanged (the time-stepped delays are the sample's only)."""
    hw = hardware(noc)
    net = mixed_network(seed, spiking_out=spiking_out)
    stim = np.random.default_rng(seed + 7).random((2, 14, 10)) < 0.5
    chip = Chip(hw, net, map_network(net, hw, neurons_per_core=npc))
    for sample in stim:
        chip.configure(mode="timestep")
        chip.run_sample(sample)
        got = logged_spikes(chip, 14)
        want = [(s.copy(), v.copy(), i.copy()) for s, v, i in sync_states(delayed_network(net), sample)]
        np.testing.assert_array_equal(got, np.array([s for s, _, _ in want]))
        np.testing.assert_array_equal(np.array(chip.readout_v), np.array([v[net.span(net.output)] for _, v, _ in want]))
        np.testing.assert_array_equal(chip.state.v, want[-1][1])
        np.testing.assert_array_equal(chip.state.i, want[-1][2])
        assert not np.array_equal(got, forward_sync(net, sample)), "the one-step delay should show"
        chip.configure(mode="sync")
        chip.run_sample(sample)
        np.testing.assert_array_equal(logged_spikes(chip, 14), forward_sync(net, sample))
    assert got[:, net.span("l2")].any() or not spiking_out, "the test network should reach its output"


def test_layered_networks_with_recurrence_and_subtraction_in_every_noc():
    for noc in NOCS:
        hw = hardware(noc)
        for seed, (recurrent, subtract) in enumerate([(False, False), (True, False), (True, True)]):
            net = random_network([12, 20, 9, 4], seed=seed, recurrent=recurrent, subtract=subtract, density=0.5)
            stim = np.random.default_rng(seed).random((3, 10, 12)) < 0.4
            res = simulate(hw, net, map_network(net, hw, neurons_per_core=5), stim, np.zeros(3), mode="timestep")
            ref = delayed_network(net)
            for k, s in enumerate(res.samples):
                want = forward_sync(ref, stim[k])
                np.testing.assert_array_equal(s.output_counts, want[:, net.span(net.output)].sum(axis=0))
                assert s.spikes == int(want.sum()) - int(stim[k].sum())


def two_layer_net():
    pops = [
        Population("in", "input", (1,)),
        Population("out", "lif", (2,), NeuronParams.uniform(2, decay=0.5, threshold=1.0)),
    ]
    w = sp.csr_array(np.array([[1.25, 0.5]], np.float32))
    return Network("three", pops, [Projection("in", "out", w)], "in", "out", dt=1e-3)


def test_hand_computed_steps(small_hw):
    """Input neuron on core 0 (tile (0,0)), the two LIF neurons on core 2 (tile (1,0)); the input
    spikes in frame 0 only.

    Step 0 from t=0: core 0 sends the spike (1 cycle) -> one E-W hop -> arrives at 2; core 2 runs
    its two idle updates (1 cycle each) -> 2, then integrates the message (1 + 2 synops) -> 5;
    barrier over 2 tiles (20) -> 25. Step 1: two active updates (2 each) -> 29, neuron 0 spikes
    at 27 (v = 1.25 > 1; no targets); barrier -> 49. Sync takes 91 for the same two frames (a
    barrier per population) and fires neuron 0 in frame 0."""
    net = two_layer_net()
    m = Mapping(np.array([0, 2, 2]))
    stim = np.array([[[True], [False]]])
    res = simulate(small_hw, net, m, stim, np.zeros(1, np.int64), mode="timestep")
    s = res.samples[0]
    assert s.cycles == 49
    want = {
        "message_in": 1,
        "synop": 2,
        "neuron_update_active": 2,
        "neuron_update_idle": 2,
        "spike_out": 1,
        "hop_ew": 1,
        "hop_ns": 0,
        "local": 0,
        "barrier": 2,
    }
    assert {k: s.ops[k] for k in want} == want
    assert s.first_output_cycle == 27
    assert res.raster.frame.tolist() == [0, 1] and res.raster.neuron.tolist() == [0, 1]
    e = energy_breakdown(s.ops, small_hw, s.cycles)
    assert abs(sum(v for k, v in e.items() if k != "total") - e["total"]) < 1e-18
    sync = simulate(small_hw, net, m, stim, np.zeros(1, np.int64)).samples[0]
    assert sync.cycles == 91 and sync.ops["barrier"] == 4
    # the scheduler scope does not apply; a fixed frame period stretches every step
    assert simulate(small_hw, net, m, stim, np.zeros(1), mode="timestep", scope="core").samples[0].cycles == 49
    ticked = load_hardware(HW_DIR / "small.yaml", {"chip.frame_period_cycles": 100})
    tick = simulate(ticked, net, m, stim, np.zeros(1), mode="timestep").samples[0]
    assert tick.cycles == 200 and tick.ops == s.ops


def test_stop_on_output_ends_k_steps_after_the_first_output_spike(small_hw):
    net = two_layer_net()
    stim = np.ones((1, 8, 1), bool)
    full = simulate(small_hw, net, Mapping(np.array([0, 2, 2])), stim, np.zeros(1), mode="timestep").samples[0]
    chip = Chip(small_hw, net, Mapping(np.array([0, 2, 2])))
    chip.configure(mode="timestep", stop_on_output=2)
    chip.run_sample(stim[0])
    assert len(chip.frame_end) == 4  # the first output spike is in step 1; steps 2 and 3 follow
    assert chip.frame_end[-1] < full.cycles


def test_a_step_is_shorter_than_a_sync_frame_and_conservation_holds(loihi_hw):
    """A dense-ish layered network: sync pays a barrier and a pass per population per frame, the
    time-stepped chip one of each per step, with every layer's work overlapping in the step."""
    net = random_network([48, 64, 64, 32, 10], seed=2, density=0.5)
    stim = np.random.default_rng(5).random((3, 12, 48)) < 0.3
    m = map_network(net, loihi_hw, neurons_per_core=16)
    runs = {mode: simulate(loihi_hw, net, m, stim, np.zeros(3), mode=mode) for mode in ("sync", "timestep")}
    n_pops = len(net.populations)
    for sy, ts in zip(runs["sync"].samples, runs["timestep"].samples):
        assert ts.cycles < sy.cycles
        assert ts.ops["barrier"] == 12 and sy.ops["barrier"] == 12 * n_pops
        assert ts.messages_sent == ts.messages_received == ts.ops["message_in"] > 0
        assert ts.ops["neuron_update_active"] + ts.ops["neuron_update_idle"] == 12 * (net.n_neurons - 48)
        e = energy_breakdown(ts.ops, loihi_hw, ts.cycles)
        assert abs(sum(v for k, v in e.items() if k != "total") - e["total"]) <= 1e-12 * e["total"]
    assert runs["timestep"].samples[0].spikes > 0
