"""Placement: traffic-aware is never worse than row-major on its objective, keeps the partition,
is seeded, and its objective agrees with the mapping-quality figures."""

import numpy as np
import pytest
from builders import random_network
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.errors import MappingError
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.capacity import compact
from neurosim.mapping.placement import COSTS, distance_matrix, placement_cost
from neurosim.mapping.quality import core_traffic, mapping_quality
from neurosim.mapping.registry import map_network
from neurosim.paths import HW_DIR

SMALL = HW_DIR / "small.yaml"


def logical_and_physical(m):
    """The logical partition (compact numbering) and the physical core of each logical core."""
    logical = compact(m.core_of)
    physical = np.zeros(logical.max() + 1, np.int64)
    physical[logical] = m.core_of
    return logical, physical


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    sizes=st.lists(st.integers(2, 30), min_size=2, max_size=5),
    seed=st.integers(0, 1000),
    density=st.sampled_from([1.0, 0.3, 0.1]),
    w=st.integers(1, 5),
    h=st.integers(1, 4),
    cpt=st.integers(1, 3),
    npc=st.integers(2, 16),
    strategy=st.sampled_from(["sequential", "random", "partition"]),
    cost=st.sampled_from(COSTS),
    with_rates=st.booleans(),
)
def test_traffic_aware_is_never_worse_than_row_major(sizes, seed, density, w, h, cpt, npc, strategy, cost, with_rates):
    hw = load_hardware(SMALL, {"mesh.width": w, "mesh.height": h, "mesh.cores_per_tile": cpt})
    net = random_network(sizes, seed=seed, density=density, recurrent=len(sizes) > 2)
    rates = np.random.default_rng(seed).random(net.n_neurons) * 4 if with_rates else None
    extra = {"rates": rates} if with_rates else {}
    try:
        rm = map_network(
            net,
            hw,
            strategy,
            "row-major",
            neurons_per_core=npc,
            seed=seed,
            **({"rates": rates} if with_rates and strategy == "partition" else {}),
        )
    except MappingError:
        return
    ta = map_network(net, hw, strategy, "traffic-aware", neurons_per_core=npc, cost=cost, seed=seed, **extra)
    lr, pr = logical_and_physical(rm)
    lt, pt = logical_and_physical(ta)
    np.testing.assert_array_equal(lr, lt)  # same partition, only moved
    assert np.unique(pt).size == pt.size and pt.max() < hw.n_cores
    t = core_traffic(net, lr, int(lr.max()) + 1, rates)
    assert placement_cost(t, pt, hw, cost) <= placement_cost(t, pr, hw, cost) + 1e-9 * max(t.sum(), 1)


def test_traffic_aware_improves_a_spread_out_network():
    hw = load_hardware(SMALL, {"mesh.width": 4, "mesh.height": 4, "mesh.cores_per_tile": 1})
    net = random_network([16, 16, 16, 12, 4], seed=3, density=0.5)
    rm = map_network(net, hw, "sequential", neurons_per_core=4)
    ta = map_network(net, hw, "sequential", "traffic-aware", neurons_per_core=4, seed=1)
    q_rm, q_ta = mapping_quality(net, hw, rm), mapping_quality(net, hw, ta)
    assert q_ta["hops"] < q_rm["hops"]
    assert q_ta["messages"] == q_rm["messages"]  # placement moves cores, not messages
    # the objective in hops is the quality figure `hops`
    logical, physical = logical_and_physical(ta)
    t = core_traffic(net, logical, int(logical.max()) + 1)
    assert placement_cost(t, physical, hw) == pytest.approx(q_ta["hops"])


def test_traffic_aware_is_seeded_and_takes_its_options():
    hw = load_hardware(SMALL, {"mesh.width": 4, "mesh.height": 4, "mesh.cores_per_tile": 1})
    net = random_network([16, 16, 16, 4], seed=4, density=0.5)
    a = map_network(net, hw, "sequential", "traffic-aware", neurons_per_core=4, seed=5)
    b = map_network(net, hw, "sequential", "traffic-aware", neurons_per_core=4, seed=5)
    np.testing.assert_array_equal(a.core_of, b.core_of)
    same = map_network(net, hw, "sequential", "traffic-aware", neurons_per_core=4, iterations=0)
    np.testing.assert_array_equal(same.core_of, map_network(net, hw, neurons_per_core=4).core_of)
    with pytest.raises(MappingError, match="cost must be one of"):
        map_network(net, hw, "sequential", "traffic-aware", cost="distance")
    with pytest.raises(MappingError, match="unknown placement"):
        map_network(net, hw, "sequential", "snake")


def test_distance_matrix_by_cost(small_hw):
    """small: 2x2 tiles of 2 cores; hop e-w 1 pJ / 1 cycle, n-s 2 pJ / 2 cycles, local 1 / 1."""
    hops, energy, latency = (distance_matrix(small_hw, c) for c in ("hops", "energy", "latency"))
    # core 0: tile (0,0); core 1: same tile; core 2: tile (1,0); core 4: tile (0,1); core 6: tile (1,1)
    assert hops[0, [0, 1, 2, 4, 6]].tolist() == [0, 0, 1, 1, 2]
    assert energy[0, [0, 1, 2, 4, 6]].tolist() == [1.0, 1.0, 1.0, 2.0, 3.0]
    assert latency[0, [0, 1, 2, 4, 6]].tolist() == [1.0, 1.0, 1.0, 2.0, 3.0]
    for d in (hops, energy, latency):
        np.testing.assert_array_equal(d, d.T)


def two_chips():
    from neurosim.describe.hardware import HardwareSpec

    if "chips" not in HardwareSpec.model_fields:
        pytest.skip("hardware without chip grids")
    return load_hardware(
        SMALL,
        {
            "chips.width": 2,
            "chips.link_latency_cycles": 7,
            "chips.link_energy_pj": 5.0,
            "chips.link_bandwidth_msgs_per_cycle": 0.5,
        },
    )


def test_distance_matrix_agrees_with_the_noc_model_across_chips():
    from neurosim.sim.noc.mesh import Mesh

    hw = two_chips()
    cores = np.arange(hw.n_cores)
    src, dst = np.repeat(cores, hw.n_cores), np.tile(cores, hw.n_cores)
    want = Mesh(hw).core_latency(src, dst).reshape(hw.n_cores, hw.n_cores)
    np.testing.assert_array_equal(distance_matrix(hw, "latency"), want)
    # core 0 (tile (0,0), chip 0) to core 4 (tile (2,0), chip 1): one east-west hop, one chip link
    assert distance_matrix(hw, "energy")[0, 4] == 1.0 + 5.0
    assert distance_matrix(hw, "hops")[0, 4] == 2


def test_mapping_quality_predicts_simulated_hops_across_chips():
    from neurosim.analysis.profiling import profile_rates
    from neurosim.analysis.summary import summarize
    from neurosim.sim.engine import simulate

    hw = two_chips()
    net = random_network([24, 40, 16, 6], seed=9, density=0.4)
    stim = np.random.default_rng(2).random((3, 6, 24)) < 0.35
    rates = profile_rates(net, hw, stim)
    m = map_network(net, hw, "random", "traffic-aware", seed=1, rates=rates, cost="latency")
    q = mapping_quality(net, hw, m, rates)
    s = summarize(simulate(hw, net, m, stim, np.zeros(3, np.int64)))
    assert q["messages"] == pytest.approx(s["messages_per_inference"], rel=1e-12)
    assert q["hops"] == pytest.approx(s["hops_per_inference"], rel=1e-12)
