"""Loihi's cost and arithmetic options of the hardware file (core.update_rule, the per-fired-neuron
spike cost, core.membrane_grid): each changes exactly what it should, on hand-computed networks."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from builders import random_network

from neurosim.describe.mapping import Mapping
from neurosim.describe.network import Network, Population, Projection
from neurosim.errors import ConfigError
from neurosim.io.hardware_file import load_hardware, preset_path
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams, frame_start, to_grid
from neurosim.sim.chip import Chip
from neurosim.sim.engine import simulate
from neurosim.sim.reference import forward_sync, membranes_sync

MODES = [("sync", "global"), ("async", "global"), ("async", "core")]
PJ = 1e-12


def hw(**over):
    return load_hardware(preset_path("small"), {f"core.{k}": v for k, v in over.items()})


def three_neurons(decay=0.5, w0=0.75) -> Network:
    """in -> a (3 neurons): a0 gets ``w0`` from the input, a1 has a bias of 0.25, a2 nothing."""
    a = NeuronParams.uniform(3, decay=decay, threshold=1.0, bias=np.array([0.0, 0.25, 0.0]))
    w = sp.csr_array(np.array([[w0, 0.0, 0.0]], np.float32))
    return Network("three", (Population("in", "input", (1,)), Population("a", "lif", (3,), a)),
                   (Projection("in", "a", w),), "in", "a", dt=1e-3)  # fmt: skip


def run(h, net, stim, mode="sync", scope="global", mapping=None):
    m = mapping if mapping is not None else Mapping(np.zeros(net.n_neurons, np.int64))
    return simulate(h, net, m, stim[None], np.zeros(1, np.int64), mode=mode, scope=scope, group_size=64)


STIM3 = np.array([[True], [False], [False]])


# ---- 1. which neurons pay the active update ---------------------------------------------------
# frame 0: a0 takes 0.75 (input), a1 = 0.25 (bias); frames 1, 2: a0 and a1 leak, no input.
@pytest.mark.parametrize("mode,scope", MODES)
@pytest.mark.parametrize("rule,active", [("input_or_spike", 1), ("nonzero_state", 6), ("all", 9)])
def test_update_rule_counts_by_hand(mode, scope, rule, active):
    s = run(hw(update_rule=rule), three_neurons(), STIM3, mode, scope).samples[0]
    assert (s.ops["neuron_update_active"], s.ops["neuron_update_idle"]) == (active, 9 - active)


def test_update_rule_changes_only_the_update_split_and_its_cost():
    h0, h1 = hw(), hw(update_rule="nonzero_state")
    net = random_network([8, 12, 8, 3], seed=2)
    stim = np.random.default_rng(2).random((6, 8)) < 0.5
    stim[2:] = False  # silent input: leaking membranes pay the active update under nonzero_state only
    m = map_network(net, h0)
    a, b = (run(h, net, stim, mapping=m).samples[0] for h in (h0, h1))
    diff = {k for k in a.ops if a.ops[k] != b.ops[k]}
    assert diff == {"neuron_update_active", "neuron_update_idle"}
    moved = b.ops["neuron_update_active"] - a.ops["neuron_update_active"]
    assert moved > 0 and b.ops["neuron_update_idle"] == a.ops["neuron_update_idle"] - moved
    assert (a.spikes, a.synops) == (b.spikes, b.synops)


# ---- 2. a per-fired-neuron spike cost beside the per-message one -------------------------------
def chain() -> Network:
    """in -> a (1 neuron, fires every frame with input) -> b (2 neurons on two cores)."""
    lif = lambda n: NeuronParams.uniform(n, decay=1.0, threshold=1.0)  # noqa: E731
    return Network(
        "chain",
        (Population("in", "input", (1,)), Population("a", "lif", (1,), lif(1)), Population("b", "lif", (2,), lif(2))),
        (
            Projection("in", "a", sp.csr_array(np.array([[1.5]], np.float32))),
            Projection("a", "b", sp.csr_array(np.array([[0.25, 0.25]], np.float32))),
        ),
        "in",
        "b",
        dt=1e-3,
    )


CHAIN_MAP = Mapping(np.array([0, 0, 0, 1]))  # in, a, b0 on core 0; b1 on core 1: a sends 2 messages


@pytest.mark.parametrize("mode,scope", MODES)
def test_spike_fired_counts_spiking_neurons_and_costs_per_neuron(mode, scope):
    stim = np.array([[True], [True], [False]])
    base = run(hw(), chain(), stim, mode, scope, CHAIN_MAP)
    cost = run(hw(energy_spike_fired_pj=5.0), chain(), stim, mode, scope, CHAIN_MAP)
    s0, s1 = base.samples[0], cost.samples[0]
    assert s0.ops == s1.ops
    assert s1.ops["spike_fired"] == 2  # a fires in frames 0 and 1; the input spikes are not counted
    assert s1.ops["spike_out"] == 6  # one per input spike (to a), two per spike of a (to b0, b1)
    e0, e1 = base.energy(s0), cost.energy(s1)
    assert e0["spike_fired"] == 0.0 and e1["spike_fired"] == pytest.approx(2 * 5.0 * PJ)
    assert e1["total"] - e0["total"] == pytest.approx(10.0 * PJ)


def test_spike_fired_latency_adds_to_the_firing_neurons_update_in_sync_mode():
    stim = np.array([[True], [True], [False]])
    c0 = run(hw(), chain(), stim, mapping=CHAIN_MAP).samples[0].cycles
    c1 = run(hw(latency_spike_fired_cycles=7), chain(), stim, mapping=CHAIN_MAP).samples[0].cycles
    assert c1 - c0 == 2 * 7  # one firing neuron on the critical path in each of two frames


@pytest.mark.parametrize("mode,scope", MODES[1:])
def test_spike_fired_latency_delays_async_spikes(mode, scope):
    stim = np.array([[True], [True], [False]])
    c0 = run(hw(), chain(), stim, mode, scope, CHAIN_MAP).samples[0].cycles
    c1 = run(hw(latency_spike_fired_cycles=7), chain(), stim, mode, scope, CHAIN_MAP).samples[0].cycles
    assert c1 - c0 == 2 * 7


# ---- 3. membrane rounding to the grid after the leak --------------------------------------------
def test_to_grid_truncates_toward_zero():
    v = np.array([0.45, -0.45, 0.5, 1e30, 0.01], np.float32)
    out = to_grid(v, 2.0**-6)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out * 64, np.array([28, -28, 32, 6.4e31, 0], np.float32))


@pytest.mark.parametrize("bad", [0.3, 2.0, 3.0, -0.25])
def test_membrane_grid_must_be_a_power_of_two_at_most_one(bad):
    with pytest.raises(ConfigError, match="membrane_grid"):
        hw(membrane_grid=bad)


def membranes(h, net, stim, mode, scope):
    chip = Chip(h, net, Mapping(np.zeros(net.n_neurons, np.int64)))
    chip.configure(mode=mode, scope=scope, group_size=64)
    chip.run_sample(stim)
    return np.array(chip.readout_v)


@pytest.mark.parametrize("mode,scope", MODES)
def test_membrane_grid_by_hand_in_every_mode_and_the_reference(mode, scope):
    # decay 0.9: a0 = 0.5, then 0.9 * 0.5 = 0.45 -> 28/64 = 0.4375, then 0.9 * 0.4375 = 0.39375 -> 25/64
    net = three_neurons(decay=0.9, w0=0.5)
    v = membranes(hw(membrane_grid=2.0**-6), net, STIM3, mode, scope)
    np.testing.assert_array_equal(v[:, 0] * 64, [32, 28, 25])
    np.testing.assert_array_equal(v, membranes_sync(net, STIM3, 2.0**-6)[:, 1:])
    off = membranes(hw(), net, STIM3, mode, scope)
    assert off[1, 0] == np.float32(0.9) * np.float32(0.5)  # no rounding by default


def test_membrane_grid_spikes_equal_the_reference_and_differ_from_no_grid():
    net = random_network([8, 12, 8, 3], seed=3)
    stim = np.random.default_rng(3).random((20, 8)) < 0.6
    h = hw(membrane_grid=2.0**-6)
    res = simulate(h, net, map_network(net, h), stim[None], np.zeros(1, np.int64), raster_sample=0)
    r = res.raster
    spikes = np.zeros((stim.shape[0], net.n_neurons), bool)
    spikes[r.frame, r.neuron] = True
    ref = forward_sync(net, stim, 2.0**-6)
    lif = ~np.isin(np.arange(net.n_neurons), np.arange(8))
    np.testing.assert_array_equal(spikes[:, lif], ref[:, lif])
    assert not np.array_equal(membranes_sync(net, stim, 2.0**-6), membranes_sync(net, stim))  # it rounds


def test_membrane_grid_truncates_the_exact_leak_product():
    """float32(0.9) * 10/64 lies just below 9/64; the float32 product would round up onto 9/64, the
    exact one (SANA-FE's float64 leak then int(v * 64) / 64) truncates to 8/64."""
    p = NeuronParams.uniform(2, decay=0.9)
    v = np.array([10 / 64, -10 / 64], np.float32)
    assert np.float32(0.9) * v[0] == np.float32(9 / 64)
    want = [int(float(np.float32(0.9)) * x * 64) / 64 for x in v.astype(float)]
    np.testing.assert_array_equal(frame_start(v, p, 2.0**-6), np.array(want, np.float32))
    np.testing.assert_array_equal(frame_start(v, p, 2.0**-6) * 64, [8, -8])
