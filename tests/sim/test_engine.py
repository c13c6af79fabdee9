"""The sync engine against the numpy reference, conservation, and a hand-computed case."""

import numpy as np
import pytest
import scipy.sparse as sp
from builders import random_network

from neurosim.describe.cost import energy_breakdown
from neurosim.describe.mapping import Mapping
from neurosim.describe.network import Network, Population, Projection
from neurosim.errors import SimulationError
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.sim.chip import Chip
from neurosim.sim.engine import simulate
from neurosim.sim.reference import forward_sync


def per_frame_spikes(res_chip_log, n, frames):
    out = np.zeros((frames, n), bool)
    for f, _, ids, _ in res_chip_log:
        out[f, ids] = True
    return out


@pytest.mark.parametrize(
    "recurrent,subtract,density,npc",
    [(False, False, 1.0, None), (True, False, 1.0, 7), (False, True, 0.3, 5), (True, True, 0.5, 3)],
)
def test_sync_equals_reference_per_neuron_per_frame(roomy_hw, recurrent, subtract, density, npc):
    net = random_network([12, 20, 9, 4], seed=3, recurrent=recurrent, subtract=subtract, density=density)
    m = map_network(net, roomy_hw, neurons_per_core=npc)
    rng = np.random.default_rng(1)
    stim = rng.random((3, 10, 12)) < 0.4
    chip = Chip(roomy_hw, net, m)
    for i in range(3):
        chip.run_sample(stim[i])
        got = per_frame_spikes(chip.spike_log, net.n_neurons, 10)
        want = forward_sync(net, stim[i])
        np.testing.assert_array_equal(got, want)
    assert want[:, net.span("l2")].any(), "the test network should reach its output"


def test_conservation_and_accuracy_bookkeeping(roomy_hw):
    small_hw = roomy_hw
    net = random_network([12, 20, 9, 4], seed=5, recurrent=True)
    m = map_network(net, small_hw, neurons_per_core=6)
    stim = np.random.default_rng(2).random((4, 6, 12)) < 0.5
    res = simulate(small_hw, net, m, stim, np.array([0, 1, 2, 3]))
    for s in res.samples:
        assert s.messages_sent == s.messages_received == s.ops["spike_out"] == s.ops["message_in"]
        assert s.ops["hop_ew"] + s.ops["hop_ns"] + s.ops["local"] >= s.messages_sent  # every message travels
        e = energy_breakdown(s.ops, small_hw, s.cycles)
        assert abs(sum(v for k, v in e.items() if k != "total") - e["total"]) < 1e-18
        assert s.prediction == int(np.argmax(s.output_counts))
    assert res.core["spike_out"].sum() == sum(s.messages_sent for s in res.samples)
    assert res.tile_pairs.sum() == sum(s.messages_sent for s in res.samples)


def test_conservation_violation_is_detected(small_hw, monkeypatch):
    net = random_network([6, 5, 3], seed=1)
    m = map_network(net, small_hw)
    stim = np.ones((1, 3, 6), bool)
    monkeypatch.setattr("neurosim.sim.batched.ENABLED", False)  # the per-core path, whose deliver is patched
    from neurosim.sim import core as core_mod

    real = core_mod.Core.deliver

    def lossy(self, item, t0):  # drop the last message of every batch
        from neurosim.sim.core import Deliver

        return real(self, Deliver(item.src[:-1], item.synops[:-1], item.arrival[:-1]), t0)

    monkeypatch.setattr(core_mod.Core, "deliver", lossy)
    with pytest.raises(SimulationError, match="messages sent"):
        simulate(small_hw, net, m, stim, np.zeros(1, np.int64))


def three_neuron_net():
    pops = [
        Population("in", "input", (1,)),
        Population("out", "lif", (2,), NeuronParams.uniform(2, decay=0.5, threshold=1.0)),
    ]
    w = sp.csr_array(np.array([[1.25, 0.5]], np.float32))
    return Network("three", pops, [Projection("in", "out", w)], "in", "out", dt=1e-3)


def test_hand_computed_two_cores_three_neurons(small_hw):
    """Input neuron on core 0 (tile (0,0)), the two LIF neurons on core 2 (tile (1,0)).

    Frame 0, input phase from t=0: spike out 1 cycle -> sent at 1; one E-W hop (1 cycle) -> arrives
    at 2; message in (1) + 2 synops (1 each) -> done at 5. Barrier over 2 tiles: interpolated
    between (1, 10) and (4, 40) -> 20 cycles -> 25. LIF phase: two active updates (2 cycles each)
    -> 29; neuron 0 reaches v = 1.25 > 1 and spikes (no targets: no message). Barrier -> 49.
    Energy: spike out 1 + hop 1 + message in 1 + synops 2 + active updates 2x2 + barriers 2x10
    = 29 pJ dynamic; static 1 mW x 49 cycles x 10 ns = 490 pJ; total 519 pJ.
    """
    net = three_neuron_net()
    m = Mapping(np.array([0, 2, 2]))
    res = simulate(small_hw, net, m, np.ones((1, 1, 1), bool), np.zeros(1, np.int64))
    s = res.samples[0]
    assert s.cycles == 49
    expected = {
        "message_in": 1,
        "synop": 2,
        "neuron_update_active": 2,
        "neuron_update_idle": 0,
        "spike_out": 1,
        "spike_fired": 1,  # neuron 0 fires (free on the small preset)
        "hop_ew": 1,
        "hop_ns": 0,
        "local": 0,
        "barrier": 2,
    }
    assert {k: s.ops[k] for k in expected} == expected
    assert all(v == 0 for k, v in s.ops.items() if k not in expected)
    assert s.first_output_cycle == 27
    np.testing.assert_array_equal(s.output_counts, [1, 0])
    e = energy_breakdown(s.ops, small_hw, s.cycles)
    assert e["total"] == pytest.approx(519e-12, rel=1e-12)
    assert e["static"] == pytest.approx(490e-12, rel=1e-12)
    assert res.core["busy_cycles"][0] == 1 and res.core["busy_cycles"][2] == 3 + 4  # served, not waited


def test_hand_computed_contention_free_ns_route_and_idle_update(small_hw):
    """Same network, LIF neurons on core 6 (tile (1,1)): 1 E-W + 1 N-S hop = 3 cycles; second frame
    without input: both updates idle (1 cycle each)."""
    net = three_neuron_net()
    res = simulate(small_hw, net, Mapping(np.array([0, 6, 6])), np.array([[[True], [False]]]), np.zeros(1, np.int64))
    s = res.samples[0]
    # frame 0: sent 1, arrive 4, served by 7, barrier 20 -> 27; updates 2+2 -> 31; barrier -> 51
    # frame 1: input phase empty -> barrier -> 71; idle updates 1+1 -> 73; barrier -> 93
    assert s.cycles == 93
    assert (s.ops["hop_ew"], s.ops["hop_ns"], s.ops["neuron_update_idle"], s.ops["barrier"]) == (1, 1, 2, 4)


def test_stimulus_shape_is_checked(small_hw):
    net = three_neuron_net()
    with pytest.raises(SimulationError, match="expects"):
        simulate(small_hw, net, Mapping(np.array([0, 2, 2])), np.ones((1, 1, 3), bool), np.zeros(1))


def test_a_fixed_frame_period_stretches_every_frame(small_hw):
    """With chip.frame_period_cycles (a timestep tick) a frame lasts at least the period."""
    from neurosim.io.hardware_file import load_hardware
    from neurosim.paths import HW_DIR

    net = three_neuron_net()
    stim = np.array([[[True], [False]]])
    ticked = load_hardware(HW_DIR / "small.yaml", {"chip.frame_period_cycles": 100})
    for mode in ("sync", "async"):
        for scope in ("global", "core"):
            free = simulate(small_hw, net, Mapping(np.array([0, 2, 2])), stim, np.zeros(1), mode=mode, scope=scope)
            tick = simulate(ticked, net, Mapping(np.array([0, 2, 2])), stim, np.zeros(1), mode=mode, scope=scope)
            assert free.samples[0].cycles < 200 and tick.samples[0].cycles == 200
            assert tick.samples[0].ops == free.samples[0].ops


def test_multicast_sends_one_message_per_spike_and_saves_link_traversals():
    from builders import random_network

    from neurosim.io.hardware_file import load_hardware
    from neurosim.paths import HW_DIR

    net = random_network([12, 30, 9, 4], seed=3)
    stim = np.random.default_rng(0).random((2, 6, 12)) < 0.4
    runs = {}
    for delivery in ("unicast", "multicast"):
        hw = load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4, "router.delivery": delivery})
        m = map_network(net, hw, neurons_per_core=5)
        runs[delivery] = simulate(hw, net, m, stim, np.zeros(2, np.int64))
    for u, mc in zip(runs["unicast"].samples, runs["multicast"].samples):
        np.testing.assert_array_equal(u.output_counts, mc.output_counts)  # same spikes
        assert mc.messages_sent == mc.messages_received == u.messages_sent  # same copies delivered
        assert mc.ops["spike_out"] < u.ops["spike_out"]  # one port operation per spike
        assert mc.hops < u.hops  # shared XY-tree prefixes


def test_first_output_is_the_earliest_over_all_output_cores(roomy_hw):
    from builders import random_network

    net = random_network([12, 20, 16], seed=4)
    m = map_network(net, roomy_hw, neurons_per_core=4)  # the output spans 4 cores
    stim = np.random.default_rng(3).random((3, 6, 12)) < 0.5
    res = simulate(roomy_hw, net, m, stim, np.zeros(3, np.int64), raster_sample=None)
    for s in res.samples:
        cyc, _ = s.extra["output_events"]
        assert s.first_output_cycle == int(cyc.min())
