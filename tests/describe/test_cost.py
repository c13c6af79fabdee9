"""Re-costing a run's counters on other hardware (:func:`neurosim.describe.cost.energy_breakdown`)."""

from __future__ import annotations

import numpy as np
import pytest

import neurosim as ns
from neurosim.describe.cost import OPS, energy_breakdown, energy_per_op_pj
from neurosim.paths import DEFAULT_MODEL, HW_DIR


@pytest.fixture(scope="module")
def loihi_run():
    hw = ns.load_hardware(HW_DIR / "loihi.yaml")
    net = ns.load_network(DEFAULT_MODEL)
    data = ns.load_dataset("digits", "test", limit=2)
    return ns.simulate(hw, net, ns.map_network(net, hw), data.inputs, data.labels)


def test_recosting_on_the_same_hardware_reproduces_the_run(loihi_run):
    hw = loihi_run.hardware
    for s in loihi_run.samples:
        again = energy_breakdown(
            s.ops, hw, s.cycles, static_w=loihi_run.static_w, barrier_tiles=loihi_run.barrier_tiles, cycle_s=hw.cycle_s
        )
        assert again == loihi_run.energy(s)


def test_recosting_a_loihi_run_on_seneca_uses_the_run_duration_in_seconds(loihi_run):
    seneca = ns.load_hardware(HW_DIR / "seneca.yaml")
    loihi = loihi_run.hardware
    assert seneca.cycle_s != loihi.cycle_s  # else the test could not tell the clocks apart
    s = loihi_run.samples[0]
    seconds = s.cycles * loihi.cycle_s  # hand-computed duration of the Loihi run
    parts = energy_breakdown(s.ops, seneca, s.cycles, cycle_s=loihi.cycle_s)
    assert parts["static"] == pytest.approx(seneca.static_power_w() * seconds, rel=1e-12)
    per = energy_per_op_pj(seneca)
    for op in OPS:
        assert parts[op] == pytest.approx(s.ops.get(op, 0) * per[op] * 1e-12, rel=1e-12)
    assert parts["total"] == pytest.approx(sum(v for k, v in parts.items() if k != "total"), rel=1e-12)
    # without the clock the cycles would be read in SENECA's clock: a different, wrong duration
    wrong = energy_breakdown(s.ops, seneca, s.cycles)["static"]
    assert not np.isclose(wrong, parts["static"])
