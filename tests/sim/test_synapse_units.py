"""Synapse units (``core.synapse_units``, ``Projection.synapse_unit``): each unit's synaptic
operations are counted (``synop@<unit>``), cost the unit's energy and latency per synapse, and
leave every figure as it was when no projection names a unit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp
from builders import random_network

from neurosim.describe.cost import energy_breakdown
from neurosim.describe.mapping import Mapping
from neurosim.describe.network import Network, Population, Projection
from neurosim.errors import ConfigError
from neurosim.io.hardware_file import load_hardware, preset_path
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.sim import batched
from neurosim.sim.engine import simulate

MODES = [("sync", "global"), ("async", "global"), ("async", "core"), ("timestep", "global")]
PJ = 1e-12
UNITS = {
    "x": {"energy_synop_pj": 5.0, "latency_synop_cycles": 7},
    "y": {"energy_synop_pj": 0.25, "latency_synop_cycles": 3},
}


def hw(units=None, **over):
    extra = {} if units is None else {"core.synapse_units": units}
    return load_hardware(preset_path("small"), {**extra, **{f"core.{k}": v for k, v in over.items()}})


def fork(ux="x", uy="y") -> Network:
    """in (1) -> a (2 synapses, unit ``ux``) and in -> b (3 synapses, unit ``uy``), one core."""
    p2, p3 = NeuronParams.uniform(2, threshold=10.0), NeuronParams.uniform(3, threshold=10.0)
    pops = (Population("in", "input", (1,)), Population("a", "lif", (2,), p2), Population("b", "lif", (3,), p3))
    projs = (
        Projection("in", "a", sp.csr_array(np.full((1, 2), 0.5, np.float32)), synapse_unit=ux),
        Projection("in", "b", sp.csr_array(np.full((1, 3), 0.5, np.float32)), synapse_unit=uy),
    )
    return Network("fork", pops, projs, "in", "b", dt=1e-3)


def run(h, net, stim, mode="sync", scope="global", mapping=None):
    m = mapping if mapping is not None else Mapping(np.zeros(net.n_neurons, np.int64))
    return simulate(h, net, m, stim[None], np.zeros(1, np.int64), mode=mode, scope=scope, group_size=64)


STIM = np.array([[True], [True], [False], [True]])  # 3 input spikes, one message each


@pytest.mark.parametrize("mode,scope", MODES)
def test_two_units_on_one_core_count_energy_and_latency(mode, scope):
    h = hw(UNITS)
    res = run(h, fork(), STIM, mode, scope)
    s = res.samples[0]
    assert (s.ops["synop"], s.ops["synop@x"], s.ops["synop@y"]) == (15, 6, 9)
    parts = res.energy(s)
    assert parts["synop"] == pytest.approx((6 * 5.0 + 9 * 0.25) * PJ, rel=1e-12)
    # the busy cycles of the core: 3 messages of (1 + 2 x 7 + 3 x 3) cycles beside the same updates
    base = run(hw(), fork(None, None), STIM, mode, scope)
    busy = int(res.core["busy_cycles"][0]) - int(base.core["busy_cycles"][0])
    assert busy == 3 * (2 * (7 - 1) + 3 * (3 - 1))


def test_latency_per_synapse_per_unit_sets_the_frame_length():
    """A message reaching 2 synapses of x and 3 of y is served in 1 + 2 Lx + 3 Ly cycles: the
    sample's cycles grow by exactly that per message (one message per frame, served serially)."""
    stim = np.array([[True], [False], [False]])
    base = run(hw(), fork(None, None), stim).samples[0].cycles
    for lx, ly in ((7, 3), (20, 1), (1, 1)):
        units = {
            "x": {"energy_synop_pj": 1.0, "latency_synop_cycles": lx},
            "y": {"energy_synop_pj": 1.0, "latency_synop_cycles": ly},
        }
        got = run(hw(units), fork(), stim).samples[0].cycles
        assert got - base == 2 * (lx - 1) + 3 * (ly - 1)


def test_the_unit_figure_is_not_ignored():
    e = [run(hw({**UNITS, "x": {"energy_synop_pj": ex, "latency_synop_cycles": 1}}), fork(), STIM) for ex in (5.0, 9.0)]
    a, b = (r.energy(r.samples[0])["synop"] for r in e)
    assert b - a == pytest.approx(6 * 4.0 * PJ, rel=1e-9)


def test_default_figures_are_bit_identical():
    """Units defined but named by no projection, or named with the core's own figures: every count,
    cycle and energy part equals the run without units."""
    net = random_network([8, 12, 8, 3], seed=4)
    stim = np.random.default_rng(4).random((5, 8)) < 0.5
    h0 = hw()
    m = map_network(net, h0)
    same = {"u": {"energy_synop_pj": 1.0, "latency_synop_cycles": 1}}  # small's synop figures
    named = dataclasses.replace(
        net, projections=tuple(dataclasses.replace(p, synapse_unit="u") for p in net.projections)
    )
    ref = run(h0, net, stim, mapping=m).samples[0]
    for h, n in ((hw(same), net), (hw(same), named)):
        r = run(h, n, stim, mapping=m)
        s = r.samples[0]
        assert s.cycles == ref.cycles
        assert {k: v for k, v in s.ops.items() if "@" not in k} == ref.ops
        assert r.energy(s) == energy_breakdown(
            ref.ops, h0, ref.cycles, static_w=r.static_w, barrier_tiles=r.barrier_tiles
        )


@pytest.mark.parametrize("mode,scope", MODES)
def test_random_network_per_unit_energy_and_batched_equals_per_core(mode, scope, monkeypatch):
    net = random_network([10, 16, 12, 4], seed=7, density=0.6)
    units = ["x", None, "y"]
    net = dataclasses.replace(
        net, projections=tuple(dataclasses.replace(p, synapse_unit=u) for p, u in zip(net.projections, units))
    )
    h = hw(UNITS)
    m = map_network(net, h)
    stim = np.random.default_rng(7).random((6, 10)) < 0.6
    runs = []
    for enabled in (True, False):
        monkeypatch.setattr(batched, "ENABLED", enabled)
        runs.append(run(h, net, stim, mode, scope, m))
    for r in runs:
        s = r.samples[0]
        rest = s.ops["synop"] - s.ops["synop@x"] - s.ops["synop@y"]
        assert s.ops["synop@x"] > 0 and s.ops["synop@y"] > 0 and rest > 0
        want = (rest * 1.0 + s.ops["synop@x"] * 5.0 + s.ops["synop@y"] * 0.25) * PJ
        assert r.energy(s)["synop"] == pytest.approx(want, rel=1e-12)
        assert int(r.core["synop@x"].sum()) == s.ops["synop@x"]
    a, b = (r.samples[0] for r in runs)
    assert (a.ops, a.cycles) == (b.ops, b.cycles)
    assert np.array_equal(runs[0].core["busy_cycles"], runs[1].core["busy_cycles"])


def test_unit_missing_from_the_hardware_is_refused_naming_both():
    with pytest.raises(ConfigError, match=r"projection in->a: synapse_unit 'x' .*hardware 'small'") as e:
        run(hw({"y": UNITS["y"]}), fork(), STIM)
    assert "\n" not in str(e.value)


def test_recosting_on_hardware_without_the_unit_is_refused():
    r = run(hw(UNITS), fork(), STIM)
    s = r.samples[0]
    with pytest.raises(ConfigError, match="core.synapse_units lacks x, y"):
        energy_breakdown(s.ops, hw(), s.cycles)


def test_per_core_and_per_tile_energy_book_each_unit_at_its_figure():
    """The report's per-core and per-tile dynamic energies take the units' figures: on one core
    they equal the sample's dynamic core energy, which a single core-wide synop figure would miss."""
    from neurosim.analysis.summary import per_core_figures
    from neurosim.analysis.tiles import tile_energy_j
    from neurosim.describe.cost import CORE_OPS, core_energy_pj

    h = hw(UNITS)
    res = run(h, fork(), STIM)
    s = res.samples[0]
    want_pj = core_energy_pj(s.ops, h)
    assert want_pj != pytest.approx(core_energy_pj({op: s.ops[op] for op in CORE_OPS}, h))  # the units matter
    (row,) = per_core_figures(res, None)
    assert row["energy_dynamic_per_inference_j"] == pytest.approx(want_pj * PJ, rel=1e-12)
    assert tile_energy_j(h, res.core).sum() == pytest.approx(want_pj * PJ, rel=1e-12)
