"""Event-count stimuli (a count k is k input spikes: k times the weights) in the numpy reference
and in the spike-rate profiling, against the simulator."""

import numpy as np
from builders import random_network

from neurosim.analysis.profiling import profile_rates
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.paths import HW_DIR
from neurosim.sim.engine import simulate
from neurosim.sim.reference import forward_sync


def _case():
    net = random_network([6, 10, 4], seed=5)
    counts = np.random.default_rng(5).integers(0, 4, (1, 12, 6)).astype(np.int64)
    return net, counts


def test_reference_takes_counts_as_the_simulator_does():
    net, counts = _case()
    hw = load_hardware(HW_DIR / "small.yaml")
    res = simulate(hw, net, map_network(net, hw), counts, np.zeros(1, np.int64), raster_sample=0)
    r = res.raster
    sim = np.zeros((counts.shape[1], net.n_neurons), bool)
    sim[r.frame, r.neuron] = True
    ref = forward_sync(net, counts[0])
    lif = np.arange(6, net.n_neurons)
    np.testing.assert_array_equal(ref[:, lif], sim[:, lif])
    assert not np.array_equal(ref[:, lif], forward_sync(net, counts[0] > 0)[:, lif])  # the counts matter
    assert res.samples[0].input_spikes == int(counts.sum())


def test_profiled_rates_count_every_input_event():
    net, counts = _case()
    hw = load_hardware(HW_DIR / "small.yaml")
    rates = profile_rates(net, hw, counts)
    np.testing.assert_array_equal(rates[:6], counts[0].sum(axis=0))
    assert not np.array_equal(rates, profile_rates(net, hw, counts > 0))
