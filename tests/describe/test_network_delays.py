"""Synaptic delays in the network description, and the presets' costs of the extended model."""

import numpy as np
import pytest
import scipy.sparse as sp
import yaml

from neurosim.describe.cost import CORE_OPS, energy_per_op_pj
from neurosim.describe.network import Network, Population, Projection
from neurosim.errors import NetworkError
from neurosim.io.hardware_file import load_hardware
from neurosim.neuron import NeuronParams
from neurosim.paths import HW_DIR

PRESETS = ["loihi", "loihi_2chip", "seneca", "small", "truenorth"]
EXTENDED = ("synaptic_current", "delay_write", "delay_read", "membrane_read")


def net_with_delays():
    lif = lambda n: NeuronParams.uniform(n)  # noqa: E731
    pops = [Population("in", "input", (2,)), Population("a", "lif", (3,), lif(3)), Population("b", "lif", (2,), lif(2))]
    w = lambda a, b, v: sp.csr_array(np.full((a, b), v, np.float32))  # noqa: E731
    projs = [
        Projection("in", "a", w(2, 3, 0.5)),
        Projection("a", "b", w(3, 2, 0.25), delay=2),
        Projection("in", "b", w(2, 2, 0.125), delay=0),
        Projection("b", "a", w(2, 3, 1.0)),  # recurrent, delay 0 -> 1
        Projection("b", "b", w(2, 2, 2.0), delay=3),  # recurrent, delay 3
    ]
    return Network("d", pops, projs, "in", "b")


def test_weights_by_delay_splits_projections_by_delivery_frame():
    net = net_with_delays()
    by = net.weights_by_delay()
    assert sorted(by) == [0, 1, 2, 3] and net.max_delay == 3
    assert [net.delay_of(pr) for pr in net.projections] == [0, 2, 0, 1, 3]
    assert by[0].nnz == 6 + 4 and by[1].nnz == 6 and by[2].nnz == 6 and by[3].nnz == 4
    assert by[2][net.span("a"), net.span("b")].toarray().tolist() == [[0.25, 0.25]] * 3
    np.testing.assert_array_equal(net.weights.toarray(), by[0].toarray())  # same-frame only
    np.testing.assert_array_equal(net.recurrent_weights.toarray(), (by[1] + by[2] + by[3]).toarray())
    assert net.declared_delay_weights.nnz == 6 + 4  # a->b and b->b declare a delay; b->a does not
    # every synapse is counted in the fan-in and the pattern, whatever its delay
    assert net.fan_in.tolist() == [0, 0, 2 + 2, 2 + 2, 2 + 2, 3 + 2 + 2, 3 + 2 + 2]
    assert int(net.synapse_pattern().sum()) == net.n_synapses == 6 + 6 + 4 + 6 + 4
    assert "(delay 2)" in net.describe() and "(delay 3)" in net.describe()


def test_a_network_without_delays_has_only_frames_0_and_1():
    pops = [Population("in", "input", (1,)), Population("a", "lif", (1,), NeuronParams.uniform(1))]
    one = sp.csr_array(np.ones((1, 1), np.float32))
    net = Network("n", pops, [Projection("in", "a", one), Projection("a", "a", one)], "in", "a")
    assert sorted(net.weights_by_delay()) == [0, 1] and net.max_delay == 1
    assert net.declared_delay_weights.nnz == 0


@pytest.mark.parametrize("bad", [-1, 1.5, True, "2"])
def test_a_delay_must_be_a_whole_number_of_frames(bad):
    with pytest.raises(NetworkError, match="delay must be a whole number of frames"):
        Projection("in", "a", sp.csr_array(np.ones((1, 1), np.float32)), delay=bad)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_gives_the_extended_costs_explicitly(name):
    """Each preset names the latency and energy of the cuba current update, the ring-buffer write
    and read and the membrane read-out (not left to the schema's default 0)."""
    raw = yaml.safe_load((HW_DIR / f"{name}.yaml").read_text())
    for op in EXTENDED:
        assert f"latency_{op}_cycles" in raw["core"] and f"energy_{op}_pj" in raw["core"], (name, op)
    hw = load_hardware(HW_DIR / f"{name}.yaml")
    per = energy_per_op_pj(hw)
    assert set(EXTENDED) <= set(CORE_OPS) and all(per[op] == getattr(hw.core, f"energy_{op}_pj") for op in EXTENDED)


def test_loihi_cuba_current_is_in_its_neuron_update_and_readout_is_a_soma_access():
    hw = load_hardware(HW_DIR / "loihi.yaml")
    assert hw.core.energy_synaptic_current_pj == 0 and hw.core.latency_synaptic_current_cycles == 0
    assert hw.core.energy_membrane_read_pj == 51.2 and hw.core.latency_membrane_read_cycles == 60  # 6.0 ns
    text = (HW_DIR / "loihi.yaml").read_text()
    assert "CUBA natively" in text
