"""Mapping files record what they were made on (hardware, its overrides, strategy, placement,
their options, seed) and refuse other hardware; ``prepare`` applies recorded overrides."""

import numpy as np
import pytest
import yaml
from builders import random_network

from neurosim.errors import ConfigError, NeurosimError
from neurosim.experiments.runner import prepare
from neurosim.io.hardware_file import load_hardware
from neurosim.io.mapping_file import load_mapping, recorded_overrides, save_mapping
from neurosim.io.nir_write import save_network
from neurosim.mapping.registry import map_network
from neurosim.paths import HW_DIR

SMALL = HW_DIR / "small.yaml"
WIDE = {"mesh.width": 4, "core.max_neurons": 16}


@pytest.fixture
def net():
    return random_network([64, 24, 10], seed=1, density=0.3, name="tiny")


@pytest.fixture
def saved(tmp_path, net):
    """A mapping made on the small chip widened to 4x2 tiles, 16 neurons per core, spread over
    12 cores by ``random`` and placed by ``traffic-aware``: cores beyond the plain chip's 8."""
    hw = load_hardware(SMALL, WIDE)
    m = map_network(net, hw, "random", "traffic-aware", n_cores=12, seed=5)
    assert m.core_of.max() >= 8  # only exists on the widened chip
    return save_mapping(m, net, hw, tmp_path / "m.yaml", overrides=WIDE, seed=5), m


def test_file_records_what_the_mapping_was_made_on(saved):
    path, _ = saved
    doc = yaml.safe_load(path.read_text())
    assert doc["hardware"] == "small" and doc["hardware_overrides"] == WIDE
    assert (doc["strategy"], doc["strategy_options"]) == ("random", {"n_cores": 12, "seed": 5})
    assert (doc["placement"], doc["placement_options"]) == ("traffic-aware", {"seed": 5})
    assert doc["seed"] == 5
    assert recorded_overrides(path) == WIDE


def test_load_keeps_the_record_and_the_mapping(saved, net):
    path, m = saved
    back = load_mapping(path, net, load_hardware(SMALL, WIDE))
    np.testing.assert_array_equal(back.core_of, m.core_of)
    assert (back.strategy, back.placement) == ("random", "traffic-aware")
    assert back.meta["hardware_overrides"] == WIDE and back.meta["strategy_options"]["n_cores"] == 12
    assert back.meta["seed"] == 5


@pytest.mark.parametrize(
    "overrides,words",
    [
        (None, "the hardware has mesh.width=2, core.max_neurons=64"),
        ({"mesh.width": 4}, "the hardware has core.max_neurons=64"),
        ({"mesh.width": 4, "core.max_neurons": 32}, "core.max_neurons=32"),
    ],
)
def test_other_overrides_are_refused_in_one_line(saved, net, overrides, words):
    path, _ = saved
    with pytest.raises(ConfigError) as e:
        load_mapping(path, net, load_hardware(SMALL, overrides))
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and "hardware_overrides" in msg
    assert "made under mesh.width=4, core.max_neurons=16" in msg and words in msg, msg


def test_other_hardware_is_refused(saved, net):
    path, _ = saved
    with pytest.raises(ConfigError, match=r"made for hardware 'small', not 'loihi'"):
        load_mapping(path, net, load_hardware("loihi"))


def test_a_bad_recorded_override_key_is_refused(saved, net):
    path, _ = saved
    path.write_text(path.read_text().replace("core.max_neurons", "core.max_neuron"))
    with pytest.raises(ConfigError, match=r"hardware_overrides.core.max_neuron: not a hardware key"):
        load_mapping(path, net, load_hardware(SMALL, WIDE))


def test_a_file_without_a_record_still_loads(tmp_path, net, small_hw):
    f = tmp_path / "hand.yaml"
    f.write_text(
        "format: neurosim-mapping/1\ncores:\n  - core: 0\n    neurons:\n      - {population: in, start: 0, stop: 64}\n"
        "  - core: 1\n    neurons:\n      - {population: l0, start: 0, stop: 24}\n"
        "      - {population: l1, start: 0, stop: 10}\n"
    )
    m = load_mapping(f, net, small_hw)
    assert m.meta["hardware_overrides"] is None and m.strategy == "file"
    assert recorded_overrides(f) is None


def test_prepare_applies_recorded_overrides_and_refuses_conflicts(tmp_path, saved, net):
    path, m = saved
    model = tmp_path / "tiny.nir"
    save_network(net, model)
    setup = prepare(model, SMALL, mapping=path, samples=2)
    assert setup.overrides == WIDE and setup.overrides_from == str(path)
    assert (setup.hardware.mesh.width, setup.hardware.core.max_neurons) == (4, 16)
    np.testing.assert_array_equal(setup.mapping.core_of, m.core_of)
    same = prepare(model, SMALL, mapping=path, samples=2, overrides=dict(WIDE))
    assert same.overrides_from is None  # given, not taken from the file
    with pytest.raises(ConfigError, match="core.max_neurons=64"):
        prepare(model, SMALL, mapping=path, samples=2, overrides={"mesh.width": 4, "core.max_neurons": 64})
    with pytest.raises(NeurosimError, match="n_cores"):
        prepare(model, SMALL, mapping=path, samples=2, mapping_options={"n_cores": 4})
