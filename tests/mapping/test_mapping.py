"""Mapping: capacity, the YAML round trip, malformed mapping files."""

import numpy as np
import pytest
from builders import random_network

from neurosim.describe.mapping import Mapping, check_mapping, core_loads
from neurosim.errors import ConfigError, MappingError
from neurosim.io.mapping_file import load_mapping, save_mapping
from neurosim.mapping.registry import map_network


def test_sequential_respects_capacity_and_starts_each_layer_on_a_new_core(roomy_hw):
    net = random_network([10, 20, 9, 4], seed=1)
    m = map_network(net, roomy_hw, neurons_per_core=6)
    loads = core_loads(net, m.core_of, roomy_hw.n_cores)
    assert loads["neurons"].max() <= 6
    for pop in net.populations:  # no core mixes two populations
        cores = set(m.core_of[net.span(pop.name)].tolist())
        others = set(np.delete(m.core_of, np.arange(net.span(pop.name).start, net.span(pop.name).stop)).tolist())
        assert not cores & others
    assert len(m.used_cores) == 2 + 4 + 2 + 1


def test_fan_in_capacity_splits_cores(small_hw):
    from neurosim.io.hardware_file import load_hardware
    from neurosim.paths import HW_DIR

    hw = load_hardware(HW_DIR / "small.yaml", {"core.max_synapses": 40, "mesh.width": 4})
    net = random_network([10, 12], seed=0)  # each target neuron has fan-in 10
    m = map_network(net, hw)
    assert core_loads(net, m.core_of, hw.n_cores)["synapses"].max() <= 40
    assert np.bincount(m.core_of[10:]).max() == 4


def test_infeasible_mapping_reports_the_numbers(small_hw):
    net = random_network([10, 200, 4], seed=0)  # 200 neurons need 4 cores of 64 + others
    with pytest.raises(MappingError, match=r"needs \d+ cores, hardware 'small' has 8"):
        map_network(net, small_hw, neurons_per_core=8)
    bad = Mapping(np.zeros(net.n_neurons, np.int64))
    with pytest.raises(MappingError, match=r"core 0 \(tile \(0, 0\)\): 214 neurons needed, capacity is 64"):
        check_mapping(net, small_hw, bad)


def test_yaml_round_trip(tmp_path, roomy_hw):
    net = random_network([10, 20, 9, 4], seed=1)
    m = map_network(net, roomy_hw, neurons_per_core=7)
    path = save_mapping(m, net, roomy_hw, tmp_path / "m.yaml")
    back = load_mapping(path, net, roomy_hw)
    np.testing.assert_array_equal(back.core_of, m.core_of)
    assert back.strategy == "sequential"


MALFORMED = {
    "format": (
        "format: neurosim-mapping/9\ncores:\n  - {core: 0, neurons: [{population: in, start: 0, stop: 10}]}\n",
        1,
        "format",
    ),
    "unknown population": (
        "format: neurosim-mapping/1\ncores:\n  - core: 0\n    neurons:\n"
        "      - {population: nope, start: 0, stop: 10}\n",
        5,
        "population 'nope'",
    ),
    "range beyond": (
        "format: neurosim-mapping/1\ncores:\n  - core: 0\n    neurons:\n      - {population: in, start: 0, stop: 99}\n",
        5,
        "beyond population",
    ),
    "missing neurons": (
        "format: neurosim-mapping/1\ncores:\n  - core: 0\n    neurons:\n      - {population: in, start: 0, stop: 10}\n",
        2,
        "not mapped",
    ),
    "mapped twice": (
        "format: neurosim-mapping/1\ncores:\n  - core: 0\n    neurons:\n"
        "      - {population: in, start: 0, stop: 10}\n  - core: 1\n    neurons:\n"
        "      - {population: in, start: 5, stop: 6}\n",
        8,
        "mapped twice",
    ),
    "core beyond chip": (
        "format: neurosim-mapping/1\ncores:\n  - core: 99\n    neurons:\n"
        "      - {population: in, start: 0, stop: 10}\n",
        3,
        "does not exist",
    ),
    "wrong tile": (
        "format: neurosim-mapping/1\ncores:\n  - core: 2\n    tile: [0, 0]\n    neurons:\n"
        "      - {population: in, start: 0, stop: 10}\n",
        4,
        "is on tile [1, 0]",
    ),
    "negative start": (
        "format: neurosim-mapping/1\ncores:\n  - core: 0\n    neurons:\n"
        "      - {population: in, start: -1, stop: 10}\n",
        5,
        "greater than or equal to 0",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_mapping_files(tmp_path, small_hw, case):
    text, line, words = MALFORMED[case]
    net = random_network([10, 5], seed=0)
    f = tmp_path / "m.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_mapping(f, net, small_hw)
    msg = str(exc.value)
    assert "\n" not in msg and str(f) in msg and words in msg
    assert exc.value.line == line


def test_over_capacity_mapping_file(tmp_path, small_hw):
    net = random_network([10, 100], seed=0)
    f = tmp_path / "m.yaml"
    f.write_text(
        "format: neurosim-mapping/1\ncores:\n  - core: 0\n    neurons:\n"
        "      - {population: in, start: 0, stop: 10}\n      - {population: l0, start: 0, stop: 100}\n"
    )
    with pytest.raises(MappingError, match=r"m.yaml: core 0 .*110 neurons needed, capacity is 64"):
        load_mapping(f, net, small_hw)
