"""NoC report figures and the critical path (neurosim.report.figures.noc)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from neurosim.analysis.critical_path import PhaseRecord, critical_path, format_critical_path
from neurosim.analysis.tiles import tile_energy_j
from neurosim.io.hardware_file import load_hardware, preset_path
from neurosim.report.figures import noc as npl
from neurosim.sim.noc.mesh import Mesh


@pytest.fixture
def traffic():
    hw = load_hardware(preset_path("small"), {"chips.width": 2, "router.buffer_depth_msgs": 1})
    m = Mesh(hw)
    rng = np.random.default_rng(0)
    src, dst = rng.integers(0, hw.n_cores, 400), rng.integers(0, hw.n_cores, 400)
    d = m.deliver_detailed(src, dst, np.sort(rng.integers(0, 50, 400)))
    return hw, m, d, src, dst


def test_link_figures_draw(traffic):
    hw, m, d, _, _ = traffic
    st = m.link_stats()
    for fig in (
        npl.plot_link_utilisation(hw, st, int(d.arrival.max())),
        npl.plot_link_stalls(hw, st),
        npl.plot_link_metric(hw, st, "peak_occupancy"),
    ):
        assert isinstance(fig, Figure)
    with pytest.raises(ValueError, match="cycles"):
        npl.link_values(st, "utilisation")
    with pytest.raises(ValueError, match="metric"):
        npl.link_values(st, "nonsense")
    np.testing.assert_allclose(npl.link_values(st, "utilisation", 100), st["busy_cycles"] / 100)


def test_large_mesh_falls_back_to_a_heatmap(monkeypatch, traffic):
    hw, m, _, _, _ = traffic
    monkeypatch.setattr(npl, "MAX_ARROWS", 4)
    assert isinstance(npl.plot_link_metric(hw, m.link_stats(), "messages"), Figure)


def test_tile_energy_by_hand():
    hw = load_hardware(preset_path("small"))  # 1 pJ per synop and per E-W hop, 2 pJ per N-S hop
    m = Mesh(hw)
    m.deliver([0, 0, 0], [2, 4, 1], [0, 0, 0])  # (0,0)->(1,0) E, (0,0)->(0,1) S, local
    core = {"synop": np.array([0, 0, 5, 0, 0, 0, 0, 3])}
    e = tile_energy_j(hw, core, m.link_stats()["messages"], m.tile_stats()["local"])
    # tile 0: 1 E hop (1 pJ) + 1 S hop (2 pJ) + 1 local (1 pJ); tile 1: 5 synops; tile 3: 3 synops
    np.testing.assert_allclose(e, np.array([4.0, 5.0, 0.0, 3.0]) * 1e-12)
    assert isinstance(npl.plot_tile_energy(hw, e), Figure)


def test_critical_path_names_the_slowest_frame_its_last_cores_and_busiest_links():
    busy = np.zeros(16, np.int64)
    busy[5] = 30
    stall = np.zeros(16, np.int64)
    stall[8] = 50
    recs = [
        dict(frame=0, phase="l0", start=0, end=100, core_end={0: 100}, barrier_cycles=10),
        dict(
            frame=1,
            phase="l0",
            start=200,
            end=260,
            core_end={0: 240, 3: 260, 1: 260},
            link_busy=busy,
            barrier_cycles=10,
        ),
        PhaseRecord(
            frame=1,
            phase="l1",
            start=270,
            end=400,
            core_end={2: 390},
            link_busy=busy,
            link_stall=stall,
            barrier_cycles=10,
        ),
    ]
    cp = critical_path(recs)
    assert (cp.frame, cp.start, cp.end, cp.cycles) == (1, 200, 410, 210)
    s0, s1 = cp.steps
    assert (s0.phase, s0.core, s0.core_cycles, s0.link, s0.link_busy, s0.cycles) == ("l0", 1, 60, 5, 30, 70)
    assert (s1.core, s1.core_cycles, s1.link, s1.link_busy, s1.link_stall) == (2, 120, 8, 0, 50)
    assert cp.cores == [1, 2] and cp.links == [5, 8]
    assert sum(s.cycles for s in cp.steps) == cp.cycles
    hw = load_hardware(preset_path("small"))
    text = format_critical_path(cp, hw)
    assert "frame 1, 210 cycles" in text and "core 2 on tile (1, 0)" in text and "(0,2)E" not in text
    assert "(1,0)W" in text and "(0,1)E" in text  # links 5 = tile 1 W, 8 = tile 2 E
    assert isinstance(npl.plot_critical_path(cp, hw), Figure)
    with pytest.raises(ValueError):
        critical_path([])


def _quiver_norm_vmax(fig) -> float:
    q = [c for c in fig.axes[0].collections if c.get_array() is not None]
    return float(q[0].norm.vmax)


def test_link_utilisation_scale_is_the_data_max(traffic):
    hw, m, d, _, _ = traffic
    st = m.link_stats()
    cycles = 1000 * int(d.arrival.max())  # utilisations of a few per mille, as in real runs
    util = st["busy_cycles"] / cycles
    fig = npl.plot_link_utilisation(hw, st, cycles)
    assert util.max() < 0.01
    assert _quiver_norm_vmax(fig) == pytest.approx(util.max())
    assert f"0..max {util.max():.3g}" in fig.axes[1].get_ylabel()


def test_big_mesh_zooms_to_the_links_in_use_and_draws_them_as_arrows():
    hw = load_hardware(preset_path("small"), {"chips.width": 16, "chips.height": 16})
    W, H = npl.grid_size(hw)
    st = {k: np.zeros(W * H * 4, np.int64) for k in ("messages", "busy_cycles")}
    st["busy_cycles"][(1 * W + 2) * 4 + 0] = 5  # tile (2, 1) east -> (3, 1)
    fig = npl.plot_link_utilisation(hw, st, 100)
    ax = fig.axes[0]
    assert W * H * 4 > npl.MAX_ARROWS
    assert ax.get_xlim() == (0.5, 4.5) and ax.get_ylim() == (2.5, -0.5)  # tiles x 1..4, y 0..2
    assert "zoomed to tiles x 1..4, y 0..2" in ax.get_title()
    assert _quiver_norm_vmax(fig) == pytest.approx(0.05)
    assert not ax.images[1:]  # arrows, not the per-tile heatmap


def _overlaps(boxes) -> list[tuple[int, int]]:
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]


def test_critical_path_has_a_time_axis_and_labels_that_do_not_overlap():
    hw = load_hardware(preset_path("small"))
    # 12 phases: many on one core's tile, most of them short; one long phase
    recs = [
        dict(frame=0, phase=f"p{k}", start=10 * k, end=10 * k + 8, core_end={0: 10 * k + 5}, barrier_cycles=2)
        for k in range(11)
    ]
    recs.append(dict(frame=0, phase="long", start=110, end=400, core_end={5: 300}, barrier_cycles=10))
    cp = critical_path(recs)
    fig = npl.plot_critical_path(cp, hw)
    mesh, tl = fig.axes[:2]
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    labels = [t for t in mesh.texts + tl.texts if t.get_text()]
    assert _overlaps([t.get_window_extent(r) for t in labels]) == []
    assert "1-11" in [t.get_text() for t in mesh.texts]  # one label per tile, its phases joined
    assert [t.get_text() for t in tl.texts] == ["12 long"]  # only phases of >= 8 % of the frame
    assert "µs" in tl.get_xlabel()
    assert tl.get_xlim() == pytest.approx((0.0, cp.cycles * hw.cycle_s * 1e6))
    assert npl.phase_numbers([1, 2, 3, 5, 7, 8]) == "1-3,5,7,8"
