"""Reports: summary figures checked by hand on a tiny synthetic run, the CSV, the plots, the
Markdown and the atomic writer."""

from __future__ import annotations

import csv
import dataclasses
import json
import sys
import types

import matplotlib
import numpy as np
import pytest
import scipy.sparse as sp
from matplotlib.figure import Figure

import neurosim
from neurosim.analysis.summary import CSV_COLUMNS, samples_csv_rows, summarize, timing
from neurosim.describe import cost
from neurosim.describe.cost import CORE_OPS, OPS
from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.network import Network, Population, Projection
from neurosim.errors import SimulationError
from neurosim.neuron import NeuronParams
from neurosim.report.figures import run as plots_mod
from neurosim.report.figures.run import plot_core_heatmap, plot_energy_breakdown, plot_latency_per_sample, plot_raster
from neurosim.report.markdown import fmt_count, render_markdown
from neurosim.report.writer import write_report
from neurosim.sim.counters import Raster, RunResult, SampleRecord
from neurosim.units import fmt_si

matplotlib.use("Agg")

PJ = 1e-12


def make_hw(width=2, height=1, cores_per_tile=1) -> HardwareSpec:
    # costs chosen so every op has a distinct, hand-checkable energy; 100 MHz -> 10 ns per cycle;
    # 1 mW of chip static power -> 10 pJ per cycle
    return HardwareSpec.model_validate(
        {
            "format": "neurosim-hardware/1",
            "name": "tiny-test",
            "mesh": {"width": width, "height": height, "cores_per_tile": cores_per_tile},
            "core": {
                "max_neurons": 8,
                "max_fan_in": 16,
                "clock_mhz": 100,
                "latency_message_in_cycles": 1,
                "latency_synop_cycles": 1,
                "latency_neuron_update_active_cycles": 2,
                "latency_neuron_update_idle_cycles": 1,
                "latency_spike_out_cycles": 1,
                "energy_message_in_pj": 1.0,
                "energy_synop_pj": 2.0,
                "energy_neuron_update_active_pj": 3.0,
                "energy_neuron_update_idle_pj": 0.5,
                "energy_spike_out_pj": 4.0,
            },
            "router": {
                "latency_hop_ew_cycles": 1,
                "latency_hop_ns_cycles": 2,
                "energy_hop_ew_pj": 5.0,
                "energy_hop_ns_pj": 6.0,
                "latency_local_cycles": 1,
                "energy_local_pj": 7.0,
            },
            "barrier": {"latency_cycles": [[1, 10]], "energy_pj": 10.0},
            "chip": {"static_power_mw": 1.0},
        }
    )


def make_network() -> Network:
    return Network(
        name="tiny-net",
        populations=(Population("in", "input", (1,)), Population("out", "lif", (2,), NeuronParams.uniform(2))),
        projections=(Projection("in", "out", sp.csr_array(np.array([[1.0, 0.5]]))),),
        input="in",
        output="out",
    )


# the extended neuron model's operations (cuba current, delay ring buffer, membrane read-out) and the
# per-fired-neuron spike cost: none here
EXTENDED_NONE = {"synaptic_current": 0, "delay_write": 0, "delay_read": 0, "membrane_read": 0, "spike_fired": 0}


def ops(message_in, synop, active, idle, spike_out, hop_ew, hop_ns, local, barrier, hop_chip=0):
    return {
        **EXTENDED_NONE,
        "message_in": message_in,
        "synop": synop,
        "neuron_update_active": active,
        "neuron_update_idle": idle,
        "spike_out": spike_out,
        "hop_ew": hop_ew,
        "hop_ns": hop_ns,
        "hop_chip": hop_chip,
        "local": local,
        "barrier": barrier,
    }


def make_samples():
    s0 = SampleRecord(
        index=0,
        label=1,
        prediction=1,
        cycles=100,
        ops=ops(2, 4, 3, 3, 2, 1, 0, 1, 2),
        spikes=2,
        input_spikes=1,
        messages_sent=3,
        messages_received=3,
        first_output_cycle=40,
        decision_cycle=60,
    )
    s1 = SampleRecord(
        index=1,
        label=0,
        prediction=1,
        cycles=50,
        ops=ops(1, 2, 1, 5, 1, 0, 1, 0, 2),
        spikes=1,
        input_spikes=1,
        messages_sent=1,
        messages_received=1,
        first_output_cycle=None,
        decision_cycle=None,
    )
    return [s0, s1]


def make_result(*, hw=None, raster=True, mapping=None, samples=None) -> RunResult:
    hw = hw or make_hw()
    n = hw.n_cores
    core = {op: np.zeros(n, np.int64) for op in CORE_OPS}
    # totals over both samples: message_in 3, synop 6, active 4, idle 8, spike_out 3
    for op, (c0, c1) in zip(CORE_OPS, [(1, 2), (2, 4), (2, 2), (4, 4), (1, 2)]):
        core[op][0], core[op][1] = c0, c1
    core["busy_cycles"] = np.zeros(n, np.int64)
    core["busy_cycles"][:2] = [60, 90]
    core["spikes"] = np.zeros(n, np.int64)
    core["spikes"][:2] = [1, 2]
    tp = np.zeros((hw.n_tiles, hw.n_tiles), np.int64)
    tp[:2, :2] = [[1, 2], [0, 1]]
    from neurosim.sim.noc.mesh import Mesh

    links = Mesh(hw).link_stats()  # two messages over the east link of tile (0, 0)
    links["messages"][0 * 4 + 0] = 2
    links["busy_cycles"][0 * 4 + 0] = 2
    links["peak_occupancy"][0 * 4 + 0] = 1
    return RunResult(
        name="tiny-run",
        mode="sync",
        hardware=hw,
        network=make_network(),
        mapping=mapping if mapping is not None else types.SimpleNamespace(strategy="sequential", used_cores=[0, 1]),
        dataset="synthetic",
        frames=2,
        samples=make_samples() if samples is None else samples,
        core=core,
        tile_pairs=tp,
        raster=Raster(sample=0, frame=np.array([0, 0, 1]), neuron=np.array([0, 1, 2]), cycle=np.array([5, 20, 40]))
        if raster
        else None,
        spikes_per_population={"in": 2, "out": 3},
        options={"seed": np.int64(3), "policy": "fifo"},
        wall_s=0.25,
        links=links,
    )


# energies by hand (pJ)
S0_DYN = 2 * 1 + 4 * 2 + 3 * 3 + 3 * 0.5 + 2 * 4 + 1 * 5 + 0 * 6 + 1 * 7 + 2 * 10  # 60.5
S1_DYN = 1 * 1 + 2 * 2 + 1 * 3 + 5 * 0.5 + 1 * 4 + 0 * 5 + 1 * 6 + 0 * 7 + 2 * 10  # 40.5
S0_TOTAL = S0_DYN + 100 * 10  # 1060.5 pJ
S1_TOTAL = S1_DYN + 50 * 10  # 540.5 pJ


# ---- summary ---------------------------------------------------------------------------------
def test_summary_headline_numbers_by_hand():
    s = summarize(make_result())
    assert S0_DYN == 60.5 and S1_DYN == 40.5
    assert s["schema"] == "neurosim-summary/1"
    assert s["accuracy"] == 0.5
    assert s["energy_per_inference_j"] == pytest.approx(800.5 * PJ, rel=1e-12)
    assert s["latency_per_inference_cycles"] == 75
    assert s["latency_per_inference_s"] == pytest.approx(750e-9, rel=1e-12)
    assert s["edp_per_inference_js"] == pytest.approx((S0_TOTAL * PJ * 1e-6 + S1_TOTAL * PJ * 0.5e-6) / 2, rel=1e-12)
    assert s["edp_per_inference_js"] == pytest.approx(0.665375e-15, rel=1e-12)
    assert s["spikes_per_inference"] == 1.5
    assert s["input_spikes_per_inference"] == 1.0
    assert s["synops_per_inference"] == 3.0
    assert s["messages_per_inference"] == 2.0
    assert s["hops_per_inference"] == 1.0  # s0: 1 east-west, s1: 1 north-south
    assert s["time_to_first_output_s"] == pytest.approx(400e-9)  # only s0 has an output spike
    assert s["samples_with_first_output"] == 1
    assert s["time_to_decision_s"] == pytest.approx(600e-9)
    assert s["samples_with_decision"] == 1


def test_summary_energy_breakdown_and_ops():
    s = summarize(make_result())
    bd = s["energy_breakdown_per_inference_j"]
    assert set(bd) == {"static", "total", *OPS}
    assert bd["static"] == pytest.approx(750 * PJ)  # (1000 + 500) / 2 pJ
    assert bd["synop"] == pytest.approx((4 + 2) * 2.0 / 2 * PJ)
    assert bd["neuron_update_idle"] == pytest.approx((3 + 5) * 0.5 / 2 * PJ)
    assert bd["hop_ns"] == pytest.approx(6.0 / 2 * PJ)
    assert bd["barrier"] == pytest.approx(20 * PJ)
    assert bd["total"] == pytest.approx(800.5 * PJ)
    assert sum(v for k, v in bd.items() if k != "total") == pytest.approx(bd["total"], rel=1e-12)
    assert s["ops_per_inference"] == {
        **EXTENDED_NONE,
        "message_in": 1.5,
        "synop": 3.0,
        "neuron_update_active": 2.0,
        "neuron_update_idle": 4.0,
        "spike_out": 1.5,
        "hop_ew": 0.5,
        "hop_ns": 0.5,
        "hop_chip": 0.0,
        "local": 0.5,
        "barrier": 2.0,
    }


def test_summary_run_block():
    run = summarize(make_result())["run"]
    assert run["name"] == "tiny-run" and run["mode"] == "sync" and run["dataset"] == "synthetic"
    assert run["frames"] == 2 and run["samples"] == 2
    assert run["hardware"]["name"] == "tiny-test" and run["hardware"]["source"] is None
    assert run["hardware"]["cycle_s"] == pytest.approx(1e-8)
    assert run["network"] == {"name": "tiny-net", "neurons": 3, "synapses": 2}
    assert run["mapping"]["strategy"] == "sequential"
    assert run["options"] == {"seed": 3, "policy": "fifo"}
    assert run["neurosim_version"] == neurosim.__version__
    # wall-clock figures are kept apart (timing.json), so that identical runs give identical summaries
    assert "wall_s" not in run
    assert timing(make_result()) == {"schema": "neurosim-timing/1", "wall_s": 0.25}


def test_summary_per_core_populations_traffic():
    s = summarize(make_result())
    c0, c1 = s["per_core"]
    assert c0["core"] == 0 and c0["tile"] == [0, 0]
    assert c1["core"] == 1 and c1["tile"] == [1, 0]
    assert c0["ops_per_inference"] == {
        **EXTENDED_NONE,
        "message_in": 0.5,
        "synop": 1.0,
        "neuron_update_active": 1.0,
        "neuron_update_idle": 2.0,
        "spike_out": 0.5,
    }
    assert c0["busy_cycles_per_inference"] == 30 and c1["busy_cycles_per_inference"] == 45
    assert c0["utilisation"] == pytest.approx(0.4) and c1["utilisation"] == pytest.approx(0.6)
    assert c0["spikes_per_inference"] == 0.5 and c1["spikes_per_inference"] == 1.0
    # core 0: 1*1 + 2*2 + 2*3 + 4*0.5 + 1*4 = 17 pJ over 2 samples; core 1: 2+8+6+2+8 = 26 pJ
    assert c0["energy_dynamic_per_inference_j"] == pytest.approx(8.5 * PJ)
    assert c1["energy_dynamic_per_inference_j"] == pytest.approx(13 * PJ)
    assert s["per_population_spikes_per_inference"] == {"in": 1.0, "out": 1.5}
    assert sorted(map(json.dumps, s["tile_traffic"])) == sorted(
        map(
            json.dumps,
            [
                {"src": [0, 0], "dst": [0, 0], "messages": 0.5},
                {"src": [0, 0], "dst": [1, 0], "messages": 1.0},
                {"src": [1, 0], "dst": [1, 0], "messages": 0.5},
            ],
        )
    )
    assert s["per_link"] == [
        {
            "src": [0, 0],
            "dst": [1, 0],
            "direction": "E",
            "chip_link": False,
            "messages_per_inference": 1.0,
            "busy_cycles_per_inference": 1.0,
            "stall_cycles_per_inference": 0.0,
            "peak_buffer_occupancy": 1,
            "utilisation": pytest.approx(1 / 75),
        }
    ]


def test_summary_conservation():
    cons = summarize(make_result())["conservation"]
    assert cons["messages_balanced"] is True
    assert cons["messages_sent"] == 4 and cons["messages_received"] == 4
    assert cons["unbalanced_samples"] == []
    assert cons["energy_parts_sum_to_total"] is True
    assert cons["core_counters_match_samples"] is True

    samples = make_samples()
    samples[1].messages_received = 0
    cons = summarize(make_result(samples=samples))["conservation"]
    assert cons["messages_balanced"] is False and cons["unbalanced_samples"] == [1]
    assert cons["messages_received"] == 3


def test_energy_parts_not_summing_raises(monkeypatch):
    real = cost.energy_breakdown

    def broken(ops, hw, cycles, **kw):
        parts = real(ops, hw, cycles, **kw)
        parts["total"] *= 1 + 1e-6
        return parts

    monkeypatch.setattr(cost, "energy_breakdown", broken)
    with pytest.raises(SimulationError, match="energy parts"):
        summarize(make_result())


def test_used_cores_fallback_to_nonzero_counters():
    hw = make_hw(width=2, height=2, cores_per_tile=1)  # 4 cores, only 0 and 1 have counters
    s = summarize(make_result(hw=hw, mapping=types.SimpleNamespace()))
    assert [c["core"] for c in s["per_core"]] == [0, 1]
    assert s["run"]["mapping"]["strategy"] is None
    s = summarize(make_result(hw=hw, mapping=types.SimpleNamespace(strategy="x", used_cores=np.array([1, 3]))))
    assert [c["core"] for c in s["per_core"]] == [1, 3]
    assert s["per_core"][1]["tile"] == [1, 1]


def test_summary_is_strict_json_and_empty_run():
    json.dumps(summarize(make_result()), allow_nan=False)
    s = summarize(make_result(samples=[]))
    json.dumps(s, allow_nan=False)
    assert s["accuracy"] is None and s["energy_per_inference_j"] is None
    assert s["latency_per_inference_s"] is None and s["per_core"][0]["utilisation"] is None


# ---- CSV -------------------------------------------------------------------------------------
def test_samples_csv_rows():
    rows = samples_csv_rows(make_result())
    assert len(rows) == 2
    r0, r1 = rows
    assert list(r0) == list(CSV_COLUMNS)
    assert (r0["index"], r0["label"], r0["prediction"], r0["correct"]) == (0, 1, 1, True)
    assert r1["correct"] is False
    assert r0["cycles"] == 100 and r0["latency_s"] == pytest.approx(1e-6)
    assert r0["energy_j"] == pytest.approx(S0_TOTAL * PJ) and r1["energy_j"] == pytest.approx(S1_TOTAL * PJ)
    assert (r0["spikes"], r0["input_spikes"], r0["synops"], r0["messages"], r0["hops"]) == (2, 1, 4, 3, 1)
    assert r0["first_output_s"] == pytest.approx(400e-9) and r0["decision_s"] == pytest.approx(600e-9)
    assert r1["first_output_s"] is None and r1["decision_s"] is None
    assert {op: r1[op] for op in OPS} == ops(1, 2, 1, 5, 1, 0, 1, 0, 2)


# ---- plots -----------------------------------------------------------------------------------
@pytest.mark.parametrize("with_ax", [False, True])
def test_plots_return_figures(with_ax):
    import matplotlib.pyplot as plt

    res = make_result()
    s = summarize(res)
    hw = res.hardware

    def ax():
        if not with_ax:
            return None
        fig, a = plt.subplots()
        return a

    figs = []
    for make in (
        lambda a: plot_energy_breakdown(s, ax=a),
        lambda a: plot_core_heatmap(s, hw, ax=a),
        lambda a: plot_core_heatmap(res, hw, metric="energy", ax=a),
        lambda a: plot_core_heatmap(s, hw, metric="utilisation", ax=a),
        lambda a: plot_raster(res.raster, res.network, cycle_s=hw.cycle_s, ax=a),
        lambda a: plot_raster(res.raster, res.network, ax=a, x="frame"),
        lambda a: plot_latency_per_sample(res.samples, hw.cycle_s, ax=a),
    ):
        a = ax()
        fig = make(a)
        assert isinstance(fig, Figure)
        if a is not None:
            assert fig is a.figure
        fig.canvas.draw()
        figs.append(fig)
    for f in figs:
        plt.close(f)


def test_core_heatmap_subgrid_and_per_tile():
    hw = make_hw(width=2, height=2, cores_per_tile=4)  # 16 cores: 2x2 sub-grid per tile
    res = make_result(hw=hw)
    fig = plot_core_heatmap(res, hw, metric="synop")
    title = fig.axes[0].get_title()
    assert "2x2 grid of its 4 cores" in title
    img = fig.axes[0].images[0].get_array()
    assert img.shape == (4, 4)
    assert img[0, 0] == 1.0 and img[0, 1] == 2.0 and np.ma.is_masked(img[3, 3])
    fig = plot_core_heatmap(summarize(res), hw, metric="busy_cycles", per_tile=True)
    assert "sum of its 4 cores" in fig.axes[0].get_title()
    img = fig.axes[0].images[0].get_array()
    assert img.shape == (2, 2) and img[0, 0] == 75.0 and np.ma.is_masked(img[1, 1])
    with pytest.raises(ValueError, match="unknown core metric"):
        plot_core_heatmap(res, hw, metric="nope")


def test_energy_plot_units_readable():
    fig = plot_energy_breakdown(summarize(make_result()))
    top, ax = fig.axes[:2]
    assert ax.get_xlabel() == "dynamic energy per inference (pJ)"
    assert "800.5 pJ" in top.get_title()


def test_energy_plot_dynamic_part_on_its_own_panel():
    # mean per inference: static (1000 + 500) / 2 = 750 pJ, dynamic (60.5 + 40.5) / 2 = 50.5 pJ
    fig = plot_energy_breakdown(summarize(make_result()))
    top, ax = fig.axes[:2]
    assert [round(p.get_width(), 6) for p in top.patches] == [750.0, 50.5]
    texts = " ".join(t.get_text() for t in top.texts)
    assert "static 750 pJ (93.7 %)" in texts and "dynamic 50.5 pJ (6.3 %)" in texts
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert "static" not in names and len(names) == len(OPS)
    widths = dict(zip(names, (p.get_width() for p in ax.patches)))
    assert widths["barrier"] == pytest.approx(20.0) and widths["synop"] == pytest.approx(6.0)
    assert sum(widths.values()) == pytest.approx(50.5)
    assert ax.get_xlim()[1] < 100  # scaled to the dynamic part, not to the 750 pJ static one
    assert any("39.6 % of dyn." in t.get_text() for t in ax.texts)  # barrier 20 / 50.5


def test_utilisation_map_scale_is_the_data_max():
    # busy per inference 30 and 45 cycles over a mean latency of 75: utilisation 0.4 and 0.6
    fig = plot_core_heatmap(summarize(make_result()), make_hw(), metric="utilisation")
    im = fig.axes[0].images[0]
    assert im.get_clim() == pytest.approx((0.0, 0.6))
    assert "utilisation" in fig.axes[1].get_ylabel()


def test_core_heatmap_zooms_to_the_used_tiles_and_thins_ticks():
    hw = make_hw(width=64, height=64)
    fig = plot_core_heatmap(make_result(hw=hw), hw, metric="synop")
    ax = fig.axes[0]
    fig.canvas.draw()
    # cores 0 and 1 on tiles (0, 0), (1, 0); one tile of margin
    assert ax.get_xlim() == (-0.5, 2.5) and ax.get_ylim() == (1.5, -0.5)
    assert "zoomed to tiles x 0..2, y 0..1 of the 64x64 mesh" in ax.get_title()
    fig, ax = plots_mod.figure_axes(None)
    ax.imshow(np.zeros((64, 64)))
    assert plots_mod.zoom_to_used(ax, np.ones((64, 64), bool)) == ""  # all used: no zoom, but thin ticks
    fig.canvas.draw()
    assert ax.get_xlim() == (-0.5, 63.5) and 4 <= len(ax.get_xticks()) <= 11 and len(ax.get_yticks()) <= 11
    assert plots_mod.used_box(np.zeros((8, 8), bool)) is None


def test_latency_distribution_counts_sum_to_the_samples():
    samples = make_samples()
    fig = plots_mod.plot_latency_distribution(samples, 10e-9)
    ax = fig.axes[0]
    assert sum(p.get_height() for p in ax.patches) == len(samples)
    cdf = fig.axes[1].lines[0]
    assert cdf.get_ydata()[-1] == 1.0 and list(cdf.get_xdata()) == pytest.approx([0.5, 1.0])
    same = [dataclasses.replace(s, cycles=100) for s in samples * 3]
    fig = plots_mod.plot_latency_distribution(same, 10e-9)
    assert [p.get_height() for p in fig.axes[0].patches] == [6]
    assert "every sample takes 1 µs" in fig.axes[0].get_title()


def test_energy_vs_latency_points_are_the_samples():
    samples = make_samples()
    e = [S0_TOTAL * PJ, S1_TOTAL * PJ]
    fig = plots_mod.plot_energy_vs_latency(samples, e, 10e-9, static_w=1e-3)
    ax = fig.axes[0]
    pts = np.concatenate([c.get_offsets() for c in ax.collections])
    np.testing.assert_allclose(pts, [[1.0, 1.0605], [0.5, 0.5405]])  # nJ; correct first, then wrong
    assert ax.get_ylabel() == "energy per inference (nJ)"
    assert ax.get_ylim()[0] > 0.4 and ax.get_xlim()[0] > 0.4  # limits from the data, not from 0
    static = ax.lines[0]
    assert list(static.get_ydata()) == pytest.approx([0.5, 1.0])  # 1 mW x 0.5 and 1 µs
    with pytest.raises(ValueError, match="one per sample"):
        plots_mod.plot_energy_vs_latency(samples, e[:1], 10e-9)


def test_activity_per_frame_by_hand():
    res = make_result()
    frames, counts = plots_mod.activity_per_frame(res.raster, res.network, n_frames=3)
    assert frames.tolist() == [0, 1, 2]
    assert counts.tolist() == [[1, 0, 0], [1, 1, 0]]  # neuron 0 is "in", 1 and 2 are "out"
    fig = plots_mod.plot_activity_per_frame(res.raster, res.network, n_frames=3)
    ax = fig.axes[0]
    assert [list(line.get_ydata()) for line in ax.lines] == [[1, 0, 0], [1, 1, 0]]
    assert "sample 0" in ax.get_title()


# ---- markdown --------------------------------------------------------------------------------
def test_fmt_si():
    assert fmt_si(800.5e-12, "J") == "800.5 pJ"
    assert fmt_si(1.0606e-9, "J") == "1.061 nJ"
    assert fmt_si(750e-9, "s") == "750 ns"
    assert fmt_si(0.665375e-15, "J·s") == "665.4 aJ·s"
    assert fmt_si(0, "J") == "0 J"
    assert fmt_si(None, "J") == "n/a"
    assert fmt_si(2.5e-3, "W") == "2.5 mW"
    assert fmt_count(3.0) == "3" and fmt_count(1234567.0) == "1,234,567" and fmt_count(1.5) == "1.5"


def test_render_markdown():
    s = summarize(make_result())
    md = render_markdown(s, {"energy": "fig_energy.png", "cores": "fig_cores.png"})
    assert md.startswith("# neurosim report: tiny-run")
    for text in (
        "50.0 %",
        "800.5 pJ",
        "750 ns",
        "665.4 aJ·s",
        "400 ns",
        "| static |",
        "![Energy per inference by part (static and each dynamic operation)](fig_energy.png)",
        "(fig_cores.png)",
        "Conservation checks",
        "sequential",
        "| **all 2** |",
    ):
        assert text in md, text
    assert "FAILED" not in md


# ---- writer ----------------------------------------------------------------------------------
def test_samples_parquet_holds_the_csv_rows_typed_and_is_reproducible(tmp_path):
    import pandas as pd

    out = write_report(make_result(), tmp_path / "a")
    frame = pd.read_parquet(out / "samples.parquet")
    assert list(frame.columns) == list(CSV_COLUMNS)
    pd.testing.assert_frame_equal(frame, make_result().to_pandas())
    assert frame["correct"].dtype == bool and frame["cycles"].dtype == "int64"
    assert frame["first_output_s"].isna().tolist() == [False, True]  # missing time: null, not ""
    again = write_report(make_result(), tmp_path / "b")
    assert (again / "samples.parquet").read_bytes() == (out / "samples.parquet").read_bytes()


def test_without_pyarrow_there_is_no_parquet_and_the_rest_is_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now fails
    out = write_report(make_result(), tmp_path / "rep")
    assert not (out / "samples.parquet").exists()
    assert (out / "samples.csv").is_file() and (out / "summary.json").is_file()


def _leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_write_report_creates_all_files(tmp_path):
    out = write_report(make_result(), tmp_path / "rep")
    assert out == tmp_path / "rep"
    names = {p.name for p in out.iterdir()}
    assert names == {
        "summary.json",
        "samples.csv",
        "samples.parquet",  # pandas and pyarrow are in the test extra; without them it is left out
        "report.md",
        "fig_energy.png",
        "fig_cores.png",
        "fig_raster.png",
        "fig_latency.png",
        "fig_latency_dist.png",
        "fig_energy_latency.png",
        "fig_activity.png",
        "fig_utilisation.png",
        "fig_links.png",
        "fig_tiles.png",
        "timing.json",
        ".neurosim-report",
    }
    assert json.loads((out / "timing.json").read_text()) == {"schema": "neurosim-timing/1", "wall_s": 0.25}
    assert (out / ".neurosim-report").read_text() == "report\n"
    for png in ("fig_energy.png", "fig_cores.png", "fig_raster.png", "fig_latency.png", "fig_links.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = json.loads((out / "summary.json").read_text())
    assert summary["energy_per_inference_j"] == pytest.approx(800.5 * PJ)
    with open(out / "samples.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and rows[1]["first_output_s"] == "" and rows[0]["correct"] == "True"
    assert list(rows[0]) == list(CSV_COLUMNS)
    md = (out / "report.md").read_text()
    for png in (
        "fig_energy.png",
        "fig_cores.png",
        "fig_raster.png",
        "fig_latency.png",
        "fig_latency_dist.png",
        "fig_energy_latency.png",
        "fig_activity.png",
        "fig_utilisation.png",
    ):
        assert f"]({png})" in md
    assert _leftovers(tmp_path) == []


def test_write_report_without_raster(tmp_path):
    out = write_report(make_result(raster=False), tmp_path / "rep")
    assert not (out / "fig_raster.png").exists()
    assert "fig_raster.png" not in (out / "report.md").read_text()


def test_write_report_replaces_previous(tmp_path):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    (out / ".neurosim-report").write_text("report\n")  # a previous report (neurosim's own)
    write_report(make_result(), out)
    assert not (out / "stale.txt").exists() and (out / "summary.json").exists()
    assert _leftovers(tmp_path) == []


def test_write_report_failure_is_atomic(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("plot failed")

    monkeypatch.setattr(plots_mod, "plot_core_heatmap", boom)
    # no previous report: nothing is left behind
    with pytest.raises(RuntimeError, match="plot failed"):
        write_report(make_result(), tmp_path / "rep")
    assert list(tmp_path.iterdir()) == []
    # a previous report stays intact
    out = tmp_path / "rep"
    out.mkdir()
    (out / "summary.json").write_text("previous")
    (out / ".neurosim-report").write_text("report\n")
    with pytest.raises(RuntimeError, match="plot failed"):
        write_report(make_result(), out)
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]
    assert sorted(p.name for p in out.iterdir()) == [".neurosim-report", "summary.json"]
    assert (out / "summary.json").read_text() == "previous"


def test_write_report_failure_when_swapping_restores_previous(tmp_path, monkeypatch):
    import os

    from neurosim import atomic
    from neurosim.report import writer

    out = tmp_path / "rep"
    out.mkdir()
    (out / "summary.json").write_text("previous")
    (out / ".neurosim-report").write_text("report\n")
    monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)  # the two-rename swap
    real = os.replace
    calls = []

    def flaky(src, dst):
        calls.append((src, dst))
        if len(calls) == 2:  # moving the new report into place fails
            raise OSError("disk gone")
        return real(src, dst)

    monkeypatch.setattr(writer.os, "replace", flaky)
    with pytest.raises(OSError, match="disk gone"):
        write_report(make_result(), out)
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]
    assert (out / "summary.json").read_text() == "previous"


# ---- schema document -------------------------------------------------------------------------
def test_schema_doc_names_every_key():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "report-schema.md").read_text(encoding="utf-8")
    s = summarize(make_result())
    names = set(s) | {f"run.{k}" for k in s["run"]} | {f"run.hardware.{k}" for k in s["run"]["hardware"]}
    names |= {f"conservation.{k}" for k in s["conservation"]}
    names |= {f"per_core[].{k}" for k in s["per_core"][0]} | {f"per_link[].{k}" for k in s["per_link"][0]}
    missing = sorted(n for n in names if f"`{n}`" not in doc and f"`{n}." not in doc)
    assert not missing, missing
    for col in CSV_COLUMNS:
        assert f"`{col}`" in doc, col
