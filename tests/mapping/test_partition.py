"""The ``partition`` strategy really partitions: on a conv net and on sparse random nets, over core
counts that are not powers of two, METIS and Kernighan-Lin each cut far less traffic than
``sequential``, within every capacity (neurons, fan-in axons, synapses); KL's halves keep their
intended sizes; a missing ``pymetis`` is refused (``metis``) or stood in for (``auto``)."""

import json
import sys

import numpy as np
import pytest
from builders import random_network

import neurosim.mapping.partition as partition_module
from neurosim.cli.main import main
from neurosim.describe.mapping import check_mapping, core_loads
from neurosim.errors import MappingError
from neurosim.experiments.synthetic import conv_network, sparse_network
from neurosim.io.hardware_file import load_hardware
from neurosim.io.mapping_file import load_mapping
from neurosim.io.nir_read import load_network
from neurosim.io.nir_write import save_network
from neurosim.mapping.metis import metis_available
from neurosim.mapping.partition import traffic
from neurosim.mapping.quality import mapping_quality
from neurosim.mapping.registry import map_network
from neurosim.paths import HW_DIR

needs_metis = pytest.mark.skipif(
    not metis_available(), reason="pymetis not installed (pip install 'neurosim-hw[metis]')"
)


# ---- networks ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conv():
    return conv_network()


@pytest.fixture(scope="module")
def loihi128():
    """Loihi with cores of 128 neurons: the conv net needs 25 of its 128 cores."""
    return load_hardware(HW_DIR / "loihi.yaml", {"core.max_neurons": 128})


def assert_within_capacity(net, hw, m):
    check_mapping(net, hw, m)
    loads = core_loads(net, m.core_of, hw.n_cores)
    assert loads["neurons"].sum() == net.n_neurons
    assert loads["neurons"].max() <= hw.core.max_neurons
    assert loads["axons"].max() <= hw.core.max_fan_in
    assert hw.core.max_synapses is None or loads["synapses"].max() <= hw.core.max_synapses
    return loads


def cut_ratio(net, hw, **options):
    """Cut traffic of ``partition`` over that of ``sequential``, and the partition mapping."""
    seq = map_network(net, hw)
    part = map_network(net, hw, "partition", **options)
    assert_within_capacity(net, hw, part)
    return traffic(net, part.core_of)["cut_traffic"] / traffic(net, seq.core_of)["cut_traffic"], part


# ---- the cut -------------------------------------------------------------------------------------


def test_conv_net_needs_a_core_count_that_is_not_a_power_of_two(conv, loihi128):
    assert (conv.n_neurons, conv.n_synapses) == (3082, 52932)
    assert np.unique(map_network(conv, loihi128).core_of).size == 25


@pytest.mark.parametrize(
    "method,passes",
    [pytest.param("metis", 8, marks=needs_metis), pytest.param("metis", 0, marks=needs_metis), ("kl", 0)],
)
def test_partition_cuts_a_conv_net_far_below_sequential(conv, loihi128, method, passes):
    """Measured: sequential 13,440 messages, all cut; METIS 2,337 (0.17x) as it splits, 2,307
    refined; KL 2,764 (0.21x) as it splits. ``passes=0``: no refinement to make up for the split."""
    ratio, m = cut_ratio(conv, loihi128, method=method, passes=passes)
    assert ratio < 0.3
    found = m.meta["strategy_result"]
    assert found["method"] == method and found["chosen"] == method
    assert found["candidates"][method]["cores"] == np.unique(m.core_of).size <= 26
    q = mapping_quality(conv, loihi128, m)
    assert q["cut_traffic"] == found["candidates"][method]["cut_traffic"]


@pytest.mark.parametrize(
    "method,seed", [pytest.param("metis", 0, marks=needs_metis), pytest.param("metis", 1, marks=needs_metis), ("kl", 1)]
)
def test_partition_finds_hidden_communities_of_a_sparse_random_net(loihi128, method, seed):
    """25 cores; measured 0.20x - 0.21x of sequential's cut for both methods (KL unrefined)."""
    net = sparse_network(seed)
    assert np.unique(map_network(net, loihi128).core_of).size == 25
    ratio, m = cut_ratio(net, loihi128, method=method, passes=8 if method == "metis" else 0)
    assert ratio < 0.35
    assert m.meta["strategy_result"]["chosen"] == method


@pytest.mark.parametrize(
    "method", [pytest.param("metis", marks=needs_metis), pytest.param("kl", marks=pytest.mark.slow)]
)
def test_partition_cuts_a_uniform_sparse_random_net(loihi128, method):
    """No structure but low degree, 26 cores; measured METIS 0.48x, KL 0.54x."""
    net = random_network([400, 1000, 1000, 600, 100], seed=2, density=0.003)
    ratio, _ = cut_ratio(net, loihi128, method=method)
    assert ratio < 0.65


@pytest.mark.parametrize("k", [3, 5, 7])
def test_kl_halves_keep_their_sizes_on_uneven_splits(k):
    """Cores of exactly n / k neurons: only KL parts of exactly the intended sizes fit without
    repair (networkx returns the halves of an uneven split in the opposite order)."""
    net = sparse_network(3, sizes=(105, 210, 105), groups=k)
    roomy = {"core.max_neurons": 420, "core.max_fan_in": 4096, "core.max_synapses": None}
    hw = load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4, **roomy})
    m = map_network(net, hw, "partition", method="kl", n_cores=k, neurons_per_core=420 // k, passes=0)
    found = m.meta["strategy_result"]
    assert found["repair_moves"] == 0
    assert np.bincount(m.core_of).tolist() == [420 // k] * k
    seq = map_network(net, hw, neurons_per_core=420 // k)
    assert traffic(net, m.core_of)["cut_traffic"] < 0.6 * traffic(net, seq.core_of)["cut_traffic"]


# ---- capacity --------------------------------------------------------------------------------------


@needs_metis
def test_metis_respects_fan_in_and_synapse_capacity(conv):
    """Cores of 128 neurons but at most 2,500 synapses and 1,100 fan-in axons: the dense layer's
    neurons (fan-in 1,024) fit two to a core, and METIS's split, balanced on the larger of each
    neuron's neuron and synapse share, needs the repair for the axons. Measured: sequential
    23,416 on 35 cores, METIS 10,307 (0.44x) on 35 cores after 59 repair moves."""
    hw = load_hardware(
        HW_DIR / "loihi.yaml", {"core.max_neurons": 128, "core.max_synapses": 2500, "core.max_fan_in": 1100}
    )
    ratio, m = cut_ratio(conv, hw, method="metis")
    loads = assert_within_capacity(conv, hw, m)
    assert ratio < 0.6
    assert loads["synapses"].max() > 0.9 * 2500  # the synapse capacity binds
    found = m.meta["strategy_result"]
    assert found["chosen"] == "metis" and found["repair_moves"] > 0


@needs_metis
def test_metis_respects_a_tight_fan_in_axon_capacity(conv):
    hw = load_hardware(HW_DIR / "loihi.yaml", {"core.max_neurons": 128, "core.max_fan_in": 1024 + 40})
    ratio, m = cut_ratio(conv, hw, method="metis", n_cores=40)
    loads = assert_within_capacity(conv, hw, m)
    assert loads["axons"].max() > 0.9 * (1024 + 40)
    assert m.meta["strategy_result"]["chosen"] == "metis"


# ---- methods and the choice ----------------------------------------------------------------------------


def test_missing_pymetis_is_refused_for_metis_and_stood_in_for_by_auto(conv, loihi128, monkeypatch):
    monkeypatch.setitem(sys.modules, "pymetis", None)  # import pymetis -> ImportError
    assert not metis_available()
    with pytest.raises(MappingError) as exc:
        map_network(conv, loihi128, "partition", method="metis")
    assert "pip install 'neurosim-hw[metis]'" in str(exc.value) and "\n" not in str(exc.value)
    small = sparse_network(4, sizes=(100, 110, 100), groups=5)
    m = map_network(small, loihi128, "partition")
    assert m.meta["strategy_result"]["method"] == "kl"


@needs_metis
def test_auto_is_metis_when_pymetis_is_installed(loihi128):
    net = sparse_network(4, sizes=(100, 110, 100), groups=5)
    m = map_network(net, loihi128, "partition")
    assert m.meta["strategy_result"]["method"] == "metis"
    assert m.meta["strategy_options"] == {}


@pytest.mark.parametrize("method", [pytest.param("metis", marks=needs_metis), "kl"])
def test_the_choice_of_sequential_is_recorded(method):
    """A dense net on 3 small cores: the method's split sends twice the messages (measured 200
    against 100), so the refined sequential mapping is used, and the record says so."""
    net = random_network([40, 60, 20], seed=3, density=1.0)
    hw = load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4})
    m = map_network(net, hw, "partition", method=method)
    found = m.meta["strategy_result"]
    assert found["method"] == method and found["chosen"] == "sequential"
    assert set(found["candidates"]) == {"sequential", method}
    seq, other = found["candidates"]["sequential"], found["candidates"][method]
    assert seq["refined"] is True and other["messages"] > seq["messages"]
    got = traffic(net, m.core_of)
    assert (got["cut_traffic"], got["messages"]) == (seq["cut_traffic"], seq["messages"])


def test_n_cores_spreads_the_partition(conv, loihi128):
    m = map_network(conv, loihi128, "partition", n_cores=31)
    assert_within_capacity(conv, loihi128, m)
    assert np.unique(m.core_of).size == 31
    found = m.meta["strategy_result"]
    assert set(found["candidates"]) == {found["method"]} and found["chosen"] == found["method"]
    with pytest.raises(MappingError, match="n_cores"):
        map_network(conv, loihi128, "partition", n_cores=129)


@pytest.mark.parametrize("k", [6, 10])
def test_n_cores_spreads_a_small_net_over_a_roomy_chip(loihi_hw, k):
    """Loihi's cores take 1,024 neurons: without the spread cap the refinement would gather the
    310 neurons on one or two cores."""
    net = sparse_network(4, sizes=(100, 110, 100), groups=5)
    m = map_network(net, loihi_hw, "partition", n_cores=k)
    assert np.unique(m.core_of).size == k
    assert np.bincount(m.core_of).max() <= -(-310 // k) == m.meta["strategy_result"]["neurons_per_core"]


def test_kl_warns_on_large_nets(loihi128, monkeypatch):
    monkeypatch.setattr(partition_module, "KL_SLOW_SYNAPSES", 100)
    net = sparse_network(4, sizes=(100, 110, 100), groups=5)
    with pytest.warns(UserWarning, match="Kernighan-Lin.*minutes.*neurosim-hw\\[metis\\]"):
        map_network(net, loihi128, "partition", method="kl")


# ---- reported -----------------------------------------------------------------------------------------


def test_run_reports_the_mapping_and_its_traffic(tmp_path, capsys):
    """``neurosim run`` writes the mapping block (strategy, placement, options, how partition
    chose, traffic with one spike per neuron) to summary.json and report.md."""
    model = tmp_path / "m.nir"
    save_network(sparse_network(5, sizes=(64, 80, 40), groups=4), model)
    out = tmp_path / "rep"
    args = ["run", str(model), "--hw", str(HW_DIR / "small.yaml"), "--strategy", "partition"]
    args += ["--placement", "traffic-aware", "--samples", "2", "--out", str(out), "-q"]
    assert main([*args, "--save-mapping", str(tmp_path / "map.yaml")]) == 0, capsys.readouterr().err
    block = json.loads((out / "summary.json").read_text())["mapping"]
    net, hw = load_network(model), load_hardware(HW_DIR / "small.yaml")
    q = mapping_quality(net, hw, load_mapping(tmp_path / "map.yaml", net, hw))
    assert (block["strategy"], block["placement"]) == ("partition", "traffic-aware")
    for key in ("messages", "cut_traffic", "tile_traffic", "hops", "cores_used", "tiles_used"):
        assert block[key] == pytest.approx(q[key], rel=1e-12), key
    found = block["strategy_result"]
    assert found["candidates"][found["chosen"]]["cut_traffic"] == q["cut_traffic"]
    report = (out / "report.md").read_text()
    assert "| placement | traffic-aware |" in report
    assert f"{q['messages']:,.0f} messages, {q['cut_traffic']:,.0f} leave their core" in report
    assert f"| partition | method {found['method']}, chose {found['chosen']} (" in report
