"""Mapping strategies: capacity and coverage on random networks and chips (hypothesis), the cut
traffic of ``partition`` against ``sequential``, and ``mapping_quality`` against simulated runs."""

import numpy as np
import pytest
import scipy.sparse as sp
from builders import grid, random_network
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from neurosim.analysis.profiling import profile_rates, spike_counts
from neurosim.analysis.summary import summarize
from neurosim.cli.main import main
from neurosim.describe.mapping import Mapping, check_mapping, core_loads
from neurosim.describe.network import Network, Population, Projection
from neurosim.errors import MappingError
from neurosim.io.hardware_file import load_hardware
from neurosim.io.nir_read import load_network
from neurosim.io.nir_write import save_network
from neurosim.mapping.partition import traffic
from neurosim.mapping.quality import mapping_quality
from neurosim.mapping.registry import map_network, registry
from neurosim.neuron import NeuronParams
from neurosim.paths import HW_DIR, MODELS_DIR
from neurosim.sim.engine import simulate
from neurosim.sim.reference import forward_sync

STRATEGY_NAMES = ("sequential", "balanced", "partition", "random")
SMALL = HW_DIR / "small.yaml"


# ---- generators ----------------------------------------------------------------------------------


@st.composite
def chips(draw):
    over = {
        "mesh.width": draw(st.integers(1, 4)),
        "mesh.height": draw(st.integers(1, 4)),
        "mesh.cores_per_tile": draw(st.integers(1, 3)),
        "core.max_neurons": draw(st.integers(1, 64)),
        "core.max_fan_in": draw(st.integers(1, 160)),
        "core.max_synapses": draw(st.one_of(st.none(), st.integers(1, 2000))),
    }
    return load_hardware(SMALL, over)


def sparse_network(seed: int, n_pops: int, density: float) -> Network:
    """Random sparse projections between any populations: skips, backward (recurrent) edges and
    self-connections (with the diagonal) included."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 25, n_pops)
    pops = [Population("in", "input", (int(sizes[0]),))]
    for i, n in enumerate(sizes[1:]):
        pops.append(Population(f"p{i}", "lif", (int(n),), NeuronParams.uniform(int(n), decay=0.9, threshold=1.0)))
    projs = []
    for a in range(n_pops):
        for b in range(1, n_pops):
            if (a < b and (b == a + 1 or rng.random() < 0.4)) or (a >= b and rng.random() < 0.3):
                w = grid(rng.normal(0.3, 0.5, (sizes[a], sizes[b])))
                w[rng.random(w.shape) > density] = 0
                if a == b:
                    np.fill_diagonal(w, 0.5)
                projs.append(Projection(pops[a].name, pops[b].name, sp.csr_array(w)))
    return Network(f"sparse{seed}", pops, projs, "in", pops[-1].name)


@st.composite
def networks(draw):
    seed = draw(st.integers(0, 10_000))
    if draw(st.booleans()):
        sizes = draw(st.lists(st.integers(1, 40), min_size=2, max_size=4))
        return random_network(
            sizes, seed=seed, recurrent=draw(st.booleans()), density=draw(st.sampled_from([1.0, 0.5, 0.1]))
        )
    return sparse_network(seed, draw(st.integers(2, 5)), draw(st.sampled_from([0.5, 0.2, 0.05])))


def assert_fits(net, hw, m, neurons_per_core=None):
    """Every neuron mapped exactly once, onto an existing core, every capacity respected."""
    assert m.core_of.shape == (net.n_neurons,)
    assert m.core_of.dtype.kind == "i"
    assert m.core_of.min() >= 0 and m.core_of.max() < hw.n_cores
    loads = core_loads(net, m.core_of, hw.n_cores)
    assert loads["neurons"].sum() == net.n_neurons
    assert loads["neurons"].max() <= min(hw.core.max_neurons, neurons_per_core or hw.core.max_neurons)
    assert loads["axons"].max() <= hw.core.max_fan_in
    if hw.core.max_synapses is not None:
        assert loads["synapses"].max() <= hw.core.max_synapses
    check_mapping(net, hw, m)


# ---- properties ----------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    net=networks(),
    hw=chips(),
    rates_seed=st.one_of(st.none(), st.integers(0, 100)),
    npc=st.one_of(st.none(), st.integers(1, 8)),
)
def test_every_strategy_respects_capacity_and_maps_each_neuron_once(net, hw, rates_seed, npc):
    rates = None if rates_seed is None else np.random.default_rng(rates_seed).random(net.n_neurons) * 3
    feasible = {}
    for name in STRATEGY_NAMES:
        opts = {"neurons_per_core": npc}
        if rates is not None and name in ("balanced", "partition"):
            opts["rates"] = rates
        try:
            m = map_network(net, hw, name, **opts)
        except MappingError:
            feasible[name] = False
            continue
        feasible[name] = True
        assert_fits(net, hw, m, npc)
        assert m.strategy == name
    # partition starts from sequential: whatever sequential maps, partition maps too
    if feasible["sequential"]:
        assert feasible["partition"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(), hw=chips(), rates_seed=st.one_of(st.none(), st.integers(0, 100)))
def test_partition_never_cuts_more_traffic_than_sequential(net, hw, rates_seed):
    rates = None if rates_seed is None else np.random.default_rng(rates_seed).random(net.n_neurons) * 3
    try:
        seq = map_network(net, hw, "sequential")
    except MappingError:
        return
    part = map_network(net, hw, "partition", **({} if rates is None else {"rates": rates}))
    a, b = traffic(net, seq.core_of, rates, hw.n_cores), traffic(net, part.core_of, rates, hw.n_cores)
    tol = 1e-9 * max(a["messages"], 1)
    assert b["cut_traffic"] <= a["cut_traffic"] + tol
    assert b["messages"] <= a["messages"] + tol


@pytest.mark.parametrize("density,recurrent", [(1.0, False), (0.3, True), (0.1, False), (0.05, True)])
def test_partition_cuts_traffic_on_random_networks(roomy_hw, density, recurrent):
    net = random_network([64, 100, 30, 10], seed=1, density=density, recurrent=recurrent)
    stim = np.random.default_rng(0).random((4, 10, 64)) < 0.3
    rates = profile_rates(net, roomy_hw, stim)
    for r in (None, rates):
        seq = mapping_quality(net, roomy_hw, map_network(net, roomy_hw), r)
        part = mapping_quality(
            net, roomy_hw, map_network(net, roomy_hw, "partition", **({} if r is None else {"rates": r})), r
        )
        assert part["cut_traffic"] <= seq["cut_traffic"] + 1e-9
        assert part["messages"] <= seq["messages"] + 1e-9
    if density < 1:  # sparse nets have locality to exploit
        assert part["cut_traffic"] < seq["cut_traffic"]


def test_partition_greedy_only_and_bad_options(roomy_hw):
    net = random_network([20, 30, 10], seed=2, density=0.2)
    seq = traffic(net, map_network(net, roomy_hw).core_of)
    greedy = traffic(net, map_network(net, roomy_hw, "partition", method="greedy").core_of)
    assert greedy["cut_traffic"] <= seq["cut_traffic"]
    with pytest.raises(MappingError, match="method"):
        map_network(net, roomy_hw, "partition", method="spectral")
    with pytest.raises(MappingError, match="not understood"):
        map_network(net, roomy_hw, "sequential", colour="blue")
    with pytest.raises(MappingError, match="unknown mapping strategy"):
        map_network(net, roomy_hw, "clever")
    with pytest.raises(MappingError, match="rates have shape"):
        map_network(net, roomy_hw, "balanced", rates=np.ones(3))
    with pytest.raises(MappingError, match="n_cores"):
        map_network(net, roomy_hw, "random", n_cores=roomy_hw.n_cores + 1)


def shipped_models():
    return sorted(MODELS_DIR.glob("*.nir"))


@pytest.mark.skipif(not shipped_models(), reason="no models/*.nir shipped yet")
@pytest.mark.parametrize("path", shipped_models(), ids=lambda p: p.stem)
def test_partition_never_cuts_more_than_sequential_on_shipped_models(path):
    from neurosim.experiments.runner import dataset_for

    net = load_network(path)
    data = dataset_for(net, samples=4)
    for hw in (load_hardware(HW_DIR / "loihi.yaml"), load_hardware(SMALL, {"mesh.width": 8, "mesh.height": 8})):
        try:
            seq = map_network(net, hw)
        except MappingError:
            continue
        rates = profile_rates(net, hw, data.inputs, mapping=seq)
        for r in (None, rates):
            part = map_network(net, hw, "partition", **({} if r is None else {"rates": r}))
            assert_fits(net, hw, part)
            a, b = traffic(net, seq.core_of, r, hw.n_cores), traffic(net, part.core_of, r, hw.n_cores)
            assert b["cut_traffic"] <= a["cut_traffic"] * (1 + 1e-9)
            assert b["messages"] <= a["messages"] * (1 + 1e-9)


# ---- balanced and random ---------------------------------------------------------------------------


def test_balanced_evens_out_synaptic_work(roomy_hw):
    net = random_network([64, 100, 30, 10], seed=4, density=0.5)
    seq = mapping_quality(net, roomy_hw, map_network(net, roomy_hw))
    bal_map = map_network(net, roomy_hw, "balanced")
    bal = mapping_quality(net, roomy_hw, bal_map)
    assert bal["cores_used"] == seq["cores_used"]
    assert bal["max_load"] < seq["max_load"]
    assert bal["load_imbalance"] < 1.1 < seq["load_imbalance"]
    # every layer is spread over all cores (each has at least as many neurons as cores)
    for pop in ("l0", "l1"):
        assert np.unique(bal_map.core_of[net.span(pop)]).size == bal["cores_used"]
    more = map_network(net, roomy_hw, "balanced", n_cores="all")
    assert np.unique(more.core_of).size == roomy_hw.n_cores


def test_random_is_seeded(roomy_hw):
    net = random_network([30, 40, 10], seed=5, density=0.5)
    a = map_network(net, roomy_hw, "random", seed=7)
    b = map_network(net, roomy_hw, "random", seed=7)
    c = map_network(net, roomy_hw, "random", seed=8)
    np.testing.assert_array_equal(a.core_of, b.core_of)
    assert not np.array_equal(a.core_of, c.core_of)
    assert_fits(net, roomy_hw, c)


def test_infeasible_fan_in_raises_for_every_strategy(small_hw):
    net = random_network([300, 4], seed=1)  # fan-in 300 > max_fan_in 256
    for name in STRATEGY_NAMES:
        with pytest.raises(MappingError, match="fan-in"):
            map_network(net, small_hw, name)


def test_registry_lists_every_strategy_and_placement():
    strategies, placements = registry()
    assert set(STRATEGY_NAMES) <= set(strategies)
    assert {"row-major", "traffic-aware"} <= set(placements)


# ---- quality and spike rates against the simulator ------------------------------------------------


def test_spike_counts_and_profile_rates_match_the_reference(roomy_hw):
    net = random_network([12, 20, 9, 4], seed=3, recurrent=True)
    stim = np.random.default_rng(1).random((3, 8, 12)) < 0.4
    want = np.mean([forward_sync(net, s).sum(axis=0) for s in stim], axis=0)
    np.testing.assert_allclose(profile_rates(net, roomy_hw, stim), want)
    log = [(0, 0, np.array([1, 2]), np.array([5, 6])), (1, 1, np.array([2]), np.array([9]))]
    np.testing.assert_array_equal(spike_counts(log, 4), [0, 1, 2, 0])
    assert spike_counts([], 3).tolist() == [0, 0, 0]


def test_profile_rates_on_a_chip_too_small_for_the_network(small_hw):
    net = random_network([64, 300, 10], seed=1, density=0.3)  # 374 neurons > what fits row by row
    stim = np.random.default_rng(1).random((2, 5, 64)) < 0.4
    want = np.mean([forward_sync(net, s).sum(axis=0) for s in stim], axis=0)
    np.testing.assert_allclose(profile_rates(net, small_hw, stim), want)


@pytest.mark.parametrize(
    "strategy,placement",
    [
        ("sequential", "row-major"),
        ("balanced", "traffic-aware"),
        ("partition", "traffic-aware"),
        ("random", "row-major"),
    ],
)
def test_mapping_quality_predicts_the_simulated_traffic(roomy_hw, strategy, placement):
    """With the run's own spike rates, predicted messages, hops and tile-local deliveries equal
    the simulator's counts."""
    net = random_network([24, 40, 16, 6], seed=9, density=0.4, recurrent=True)
    stim = np.random.default_rng(2).random((4, 8, 24)) < 0.35
    rates = profile_rates(net, roomy_hw, stim)
    m = map_network(
        net, roomy_hw, strategy, placement, **({"rates": rates} if strategy in ("balanced", "partition") else {})
    )
    q = mapping_quality(net, roomy_hw, m, rates)
    s = summarize(simulate(roomy_hw, net, m, stim, np.zeros(4, np.int64)))
    assert q["messages"] == pytest.approx(s["messages_per_inference"], rel=1e-12)
    assert q["hops"] == pytest.approx(s["hops_per_inference"], rel=1e-12)
    assert q["messages"] - q["tile_traffic"] == pytest.approx(s["ops_per_inference"]["local"], rel=1e-12)
    assert q["cut_traffic"] <= q["messages"]
    assert q["cores_used"] == np.unique(m.core_of).size
    assert 0 < q["max_load_frac"] <= 1


def test_traffic_definitions_by_hand():
    """in -> a (2 neurons); the input neuron and a[0] share core 0, a[1] is on core 1.
    The input spikes once: messages to cores 0 and 1 = 2; one leaves its core."""
    pops = [
        Population("in", "input", (1,)),
        Population("a", "lif", (2,), NeuronParams.uniform(2, decay=0.5, threshold=1.0)),
    ]
    net = Network("hand", pops, [Projection("in", "a", sp.csr_array(np.array([[1.0, 1.0]], np.float32)))], "in", "a")
    core_of = np.array([0, 0, 1])
    assert traffic(net, core_of) == {"messages": 2.0, "cut_traffic": 1.0}
    assert traffic(net, core_of, rates=np.array([3.0, 9.0, 9.0])) == {"messages": 6.0, "cut_traffic": 3.0}
    hw = load_hardware(SMALL)  # cores 0, 1 share tile (0, 0)
    q = mapping_quality(net, hw, Mapping(core_of))
    assert (q["tile_traffic"], q["hops"], q["mean_hops"]) == (0.0, 0.0, 0.0)
    q = mapping_quality(net, hw, Mapping(np.array([0, 0, 2])))  # core 2: tile (1, 0), one hop
    assert (q["tile_traffic"], q["hops"], q["mean_hops"]) == (1.0, 1.0, 0.5)


# ---- CLI ---------------------------------------------------------------------------------------------


def test_cli_run_with_strategy_and_placement(tmp_path, capsys):
    model = tmp_path / "m.nir"
    save_network(random_network([64, 40, 10], seed=1, density=0.3), model)
    rc = main(
        [
            "run",
            str(model),
            "--hw",
            str(SMALL),
            "--strategy",
            "partition",
            "--placement",
            "traffic-aware",
            "--samples",
            "3",
            "--out",
            str(tmp_path / "rep"),
            "--save-mapping",
            str(tmp_path / "map.yaml"),
            "-q",
        ]
    )
    assert rc == 0, capsys.readouterr().err
    assert "strategy: partition" in (tmp_path / "map.yaml").read_text()
    rc = main(
        [
            "run",
            str(model),
            "--hw",
            str(SMALL),
            "--strategy",
            "clever",
            "--samples",
            "1",
            "--out",
            str(tmp_path / "rep2"),
            "-q",
        ]
    )
    err = capsys.readouterr().err
    assert rc == 2 and "unknown mapping strategy 'clever'" in err and len(err.strip().splitlines()) == 1
