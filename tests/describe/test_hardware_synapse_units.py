"""``core.synapse_units`` in the hardware file and its JSON Schema: the figures load, bad input is
refused in one line naming the key, a projection's unit name is checked, the energy books each
unit's count at its own figure."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from neurosim.describe.cost import core_energy_pj, energy_breakdown, synop_energy_pj, unit_synops
from neurosim.describe.hardware_schema import hardware_schema
from neurosim.describe.network import Projection
from neurosim.errors import ConfigError, NetworkError
from neurosim.io.hardware_file import load_hardware, preset_path

DENSE = {"energy_synop_pj": 35.5, "latency_synop_cycles": 38}
CONV = {"energy_synop_pj": 24.0, "latency_synop_cycles": 31}


def loihi(units):
    return load_hardware(preset_path("loihi"), {"core.synapse_units": units})


def test_units_load_with_their_figures_and_default_to_none():
    assert load_hardware(preset_path("loihi")).core.synapse_units == {}
    u = loihi({"dense": DENSE, "conv": CONV}).core.synapse_units
    assert (u["dense"].energy_synop_pj, u["dense"].latency_synop_cycles) == (35.5, 38)
    assert (u["conv"].energy_synop_pj, u["conv"].latency_synop_cycles) == (24.0, 31)


def test_units_in_a_file(tmp_path):
    text = (
        preset_path("small")
        .read_text()
        .replace(
            "  synapse_units: {}",
            "  synapse_units:\n    dense: {energy_synop_pj: 35.5, latency_synop_cycles: 38}\n  #",
        )
    )
    f = tmp_path / "hw.yaml"
    f.write_text(text)
    assert load_hardware(f).core.synapse_units["dense"].latency_synop_cycles == 38
    f.write_text(text.replace("latency_synop_cycles: 38", "latency_synop_cycles: 3.5"))
    with pytest.raises(ConfigError, match=r"hw.yaml:\d+: core.synapse_units.dense.latency_synop_cycles") as e:
        load_hardware(f)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    "units,reason",
    [
        ({"dense": {"energy_synop_pj": 35.5}}, "dense.latency_synop_cycles: required key is missing"),
        ({"dense": {**DENSE, "area": 1}}, "dense.area: unknown key"),
        ({"dense": {**DENSE, "energy_synop_pj": -1.0}}, "dense.energy_synop_pj: input should be greater"),
        ({"dense": {**DENSE, "energy_synop_pj": 2e9}}, "dense.energy_synop_pj: over the limit of 1e+09 pJ"),
        ({"dense": {**DENSE, "latency_synop_cycles": True}}, "dense.latency_synop_cycles"),
        ({"a@b": DENSE}, "synapse unit name 'a@b'"),
        ({"a b": DENSE}, "synapse unit name 'a b'"),
        ({"": DENSE}, "synapse unit name ''"),
        ([DENSE], "input should be a valid dictionary"),
        ({f"u{i}": DENSE for i in range(1001)}, "at most 1000"),
    ],
)
def test_bad_units_are_refused_in_one_line_naming_the_key(units, reason):
    with pytest.raises(ConfigError) as e:
        loihi(units)
    msg = str(e.value)
    assert "core.synapse_units" in msg and reason in msg and "\n" not in msg, msg


def test_projection_unit_must_be_a_name():
    w = sp.csr_array(np.ones((1, 1), np.float32))
    assert Projection("a", "b", w, synapse_unit="dense").synapse_unit == "dense"
    for bad in ("", 3):
        with pytest.raises(NetworkError, match=r"projection a->b: synapse_unit must be a unit name or None"):
            Projection("a", "b", w, synapse_unit=bad)  # type: ignore[arg-type]


def test_schema_describes_the_units():
    schema = hardware_schema()
    core = schema["$defs"]["CoreSpec"]["properties"]["synapse_units"]
    unit = schema["$defs"][core["additionalProperties"]["$ref"].split("/")[-1]]
    assert set(unit["required"]) == {"energy_synop_pj", "latency_synop_cycles"}
    assert unit["additionalProperties"] is False
    assert core["default"] == {} and "Projection.synapse_unit" in core["description"]


def test_energy_books_each_unit_at_its_figure():
    hw = loihi({"dense": DENSE, "conv": CONV})
    ops = {"synop": 100, "synop@dense": 30, "synop@conv": 50}
    assert unit_synops(ops) == {"dense": 30, "conv": 50}
    assert synop_energy_pj(ops, hw) == pytest.approx(20 * 23.6 + 30 * 35.5 + 50 * 24.0)
    parts = energy_breakdown(ops, hw, 0)
    assert parts["synop"] == pytest.approx((20 * 23.6 + 30 * 35.5 + 50 * 24.0) * 1e-12)
    assert parts["total"] == pytest.approx(sum(v for k, v in parts.items() if k != "total"))
    # without unit counts: the core's figure, bit for bit as before
    assert energy_breakdown({"synop": 100}, hw, 0)["synop"] == 100 * 23.6 * 1e-12
    with pytest.raises(ConfigError, match="core.synapse_units lacks conv"):
        synop_energy_pj(ops, loihi({"dense": DENSE}))


def test_core_energy_books_units_for_one_core():
    """The per-core dynamic energy (summary, tile maps): every core op at its figure, synops by unit."""
    hw = loihi({"dense": DENSE})
    c = hw.core
    ops = {"synop": 10.0, "synop@dense": 4.0, "message_in": 3.0, "neuron_update_idle": 2.5, "spike_out": 1.0}
    want = (
        6 * 23.6 + 4 * 35.5 + 3 * c.energy_message_in_pj + 2.5 * c.energy_neuron_update_idle_pj + c.energy_spike_out_pj
    )
    assert core_energy_pj(ops, hw) == pytest.approx(want, rel=1e-12)
