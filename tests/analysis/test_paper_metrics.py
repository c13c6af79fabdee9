"""The paper's per-frame metrics (docs/paper-metrics.md): hand-built spike logs with answers
worked out by hand, and whole runs in every mode (summary, samples.csv rows, report)."""

import numpy as np
import pytest
from builders import mlp

from neurosim.analysis.paper_metrics import PAPER_METRICS, paper_metrics
from neurosim.analysis.summary import samples_csv_rows, summarize
from neurosim.describe.network import Network, Population
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.report.markdown import render_markdown
from neurosim.sim.counters import PAPER_SAMPLE_COLUMNS, SAMPLE_COLUMNS
from neurosim.sim.engine import simulate
from neurosim.sim.readout import frame_metrics

# (frame, step, output class or -1) of every network spike of one sample, in emission order
LOG = [
    # frame 0: 5 hidden spikes in steps 1-3, class 2 at step 3, one hidden at 4, class 1 at 5
    (0, 1, -1),
    (0, 1, -1),
    (0, 2, -1),
    (0, 2, -1),
    (0, 3, -1),
    (0, 3, 2),
    (0, 4, -1),
    (0, 5, 1),
    (0, 5, -1),
    # frame 1: two hidden spikes, no output
    (1, 2, -1),
    (1, 1, -1),
    # frame 2: class 1 and two hidden spikes, all in step 1
    (2, 1, -1),
    (2, 1, 1),
    (2, 1, -1),
]


def hand_metrics(spiking_output=True, target=1):
    f, s, c = (np.array(col) for col in zip(*LOG))
    return frame_metrics(f, s, c, np.array([6, 3, 2]), target, neurons=10, spiking_output=spiking_output)


def test_hand_built_log_per_frame():
    m = hand_metrics()
    assert m.network_spikes.tolist() == [9, 2, 3]
    assert m.first_output_step.tolist() == [3, -1, 1]
    # up to and including step 3: the five hidden spikes and the output spike itself
    assert m.spikes_to_first_output.tolist() == [6, -1, 3]
    assert m.target_step.tolist() == [5, -1, 1]
    assert m.spikes_to_target.tolist() == [9, -1, 3]
    assert m.density().tolist() == [0.9, 0.2, 0.3]


def test_hand_built_log_per_sample():
    fig = hand_metrics().sample_figures()
    assert list(fig) == list(PAPER_SAMPLE_COLUMNS)
    assert fig == {
        "spike_density": 14 / 30,
        "steps_per_frame": 11 / 3,
        "spikes_to_first_output": 4.5,  # frames 0 and 2: (6 + 3) / 2
        "steps_to_first_output": 2.0,  # (3 + 1) / 2
        "frames_without_output": 1,
        "spikes_to_target": 6.0,  # (9 + 3) / 2
        "steps_to_target": 3.0,  # (5 + 1) / 2
        "frames_without_target": 1,
    }
    # another target: class 2 spikes only in frame 0
    other = hand_metrics(target=2).sample_figures()
    assert (other["spikes_to_target"], other["steps_to_target"], other["frames_without_target"]) == (6.0, 3.0, 2)
    # a target that never spikes
    none = hand_metrics(target=0).sample_figures()
    assert none["spikes_to_target"] is None and none["steps_to_target"] is None and none["frames_without_target"] == 3


def test_non_spiking_output_reports_none_not_zero():
    fig = hand_metrics(spiking_output=False).sample_figures()
    assert fig["spike_density"] == 14 / 30 and fig["steps_per_frame"] == 11 / 3
    for k in PAPER_SAMPLE_COLUMNS[2:]:
        assert fig[k] is None, k


def test_empty_log_and_frames_without_spikes():
    z = np.zeros(0, np.int64)
    m = frame_metrics(z, z, z, np.array([0, 0]), 0, neurons=4)
    assert m.network_spikes.tolist() == [0, 0] and m.spikes_to_first_output.tolist() == [-1, -1]
    fig = m.sample_figures()
    assert fig["spike_density"] == 0.0 and fig["spikes_to_first_output"] is None
    assert fig["frames_without_output"] == 2


@pytest.fixture(scope="module")
def setting():
    net, _ = mlp([16, 24, 12, 5], seed=2)
    stim = np.random.default_rng(0).random((3, 8, 16)) < 0.4
    return net, stim, np.array([0, 3, 4])


def run(roomy_hw, setting, **kw):
    net, stim, labels = setting
    return simulate(roomy_hw, net, map_network(net, roomy_hw, neurons_per_core=7), stim, labels, **kw)


def test_sync_run_steps_are_phases(roomy_hw, setting):
    res = run(roomy_hw, setting)
    for s in res.samples:
        m = s.frames
        assert m.step_kind == "phase" and m.neurons == 41 and m.frames == 8
        assert (m.steps == 3).all()
        has = m.first_output_step >= 0
        assert has.any() and (m.first_output_step[has] == 3).all()
        # the output is the last phase: every network spike of the frame comes before it
        np.testing.assert_array_equal(m.spikes_to_first_output[has], m.network_spikes[has])
        assert m.network_spikes.sum() == s.spikes
    pm = paper_metrics(res)
    assert list(pm) == list(PAPER_METRICS)
    assert pm["steps_per_frame_mean"] == 3.0 and pm["steps_to_first_output_median"] == 3.0
    assert pm["frames"] == 24 and pm["spike_density"] == pytest.approx(sum(s.spikes for s in res.samples) / (41 * 24))


def test_async_global_run_counts_send_steps(roomy_hw, setting):
    wide = run(roomy_hw, setting, mode="async", group_size=64)
    sync = run(roomy_hw, setting)
    narrow = run(roomy_hw, setting, mode="async", group_size=2, policy="momentum")
    for w, s, n in zip(wide.samples, sync.samples, narrow.samples):
        assert w.frames.step_kind == "send step"
        # F above every neuron: the same spikes as sync, each layer in its own send step
        np.testing.assert_array_equal(w.frames.network_spikes, s.frames.network_spikes)
        np.testing.assert_array_equal(w.frames.first_output_step, s.frames.first_output_step)
        assert n.frames.steps.sum() == n.extra["steps"]
        has = n.frames.first_output_step >= 0
        # at most F = 2 spikes per send step
        assert (n.frames.spikes_to_first_output[has] <= 2 * n.frames.first_output_step[has]).all()
        assert (n.frames.spikes_to_first_output[has] >= n.frames.first_output_step[has]).all()


def test_async_core_and_timestep_runs(roomy_hw, setting):
    core = run(roomy_hw, setting, mode="async", scope="core")
    for s in core.samples:
        m = s.frames
        assert m.step_kind == "issue" and m.network_spikes.sum() == s.spikes
        has = m.first_output_step >= 0
        assert (m.first_output_step[has] >= 1).all() and (m.first_output_step[has] <= m.steps[has]).all()
    ts = run(roomy_hw, setting, mode="timestep")
    for s in ts.samples:
        assert s.frames.step_kind == "timestep" and (s.frames.steps == 1).all()
        has = s.frames.first_output_step >= 0
        np.testing.assert_array_equal(s.frames.spikes_to_first_output[has], s.frames.network_spikes[has])


def test_summary_csv_and_report_carry_them(roomy_hw, setting):
    res = run(roomy_hw, setting, mode="async", group_size=3)
    summary = summarize(res)
    assert summary["paper_metrics"] == paper_metrics(res)
    rows = samples_csv_rows(res)
    assert tuple(rows[0]) == SAMPLE_COLUMNS and SAMPLE_COLUMNS[-len(PAPER_SAMPLE_COLUMNS) :] == PAPER_SAMPLE_COLUMNS
    for row, s in zip(rows, res.samples):
        assert {k: row[k] for k in PAPER_SAMPLE_COLUMNS} == s.frames.sample_figures()
    md = render_markdown(summary, {})
    assert "## Per frame (the paper's metrics)" in md and "a send step of the global scheduler" in md


def test_non_spiking_output_run_says_na(roomy_hw, setting):
    net, stim, labels = setting
    pops = list(net.populations)
    out = pops[-1]
    pops[-1] = Population(out.name, "lif", out.shape, NeuronParams.uniform(5, decay=0.9, threshold=1.0, spiking=False))
    li = Network("mlp_li", pops, list(net.projections), "in", out.name, dt=1e-3)
    res = simulate(roomy_hw, li, map_network(li, roomy_hw), stim, labels)
    pm = paper_metrics(res)
    assert pm["spiking_output"] is False and pm["spike_density"] > 0
    assert pm["spikes_to_first_output_mean"] is None and pm["frames_with_output_fraction"] is None
    md = render_markdown(summarize(res), {})
    assert "n/a (non-spiking output)" in md


def test_text_view(roomy_hw, setting):
    from neurosim.report.text import describe_paper_metrics

    pm = paper_metrics(run(roomy_hw, setting))
    text = describe_paper_metrics(pm)
    assert "one step = phase" in text and f"{pm['spikes_to_first_output_mean']:.4g} (median" in text
    none = dict(pm, spiking_output=False, spikes_to_first_output_mean=None, frames_with_output_fraction=None)
    assert "n/a (non-spiking output) of frames" in describe_paper_metrics(none)
