"""A run result in a notebook: a one-line repr, a small HTML table, one DataFrame row per sample
(the rows of samples.csv) and the summary as a dict."""

import dataclasses
import sys

import numpy as np
import pandas as pd
import pytest
from builders import random_network

import neurosim as ns
from neurosim.analysis.summary import CSV_COLUMNS, samples_csv_rows
from neurosim.errors import NeurosimError
from neurosim.sim.counters import SAMPLE_COLUMNS
from neurosim.units import fmt_si


@pytest.fixture(scope="module")
def result():
    hw = ns.load_hardware("hw_configs/small.yaml")
    net = random_network([64, 16, 10], seed=1, name="net<1>")
    data = ns.load_dataset("digits", "test", limit=3)
    return ns.simulate(hw, net, ns.map_network(net, hw), data.inputs, data.labels)


def test_repr_is_one_short_line_with_the_headline_figures(result):
    text = repr(result)
    summary = ns.summarize(result)
    assert "\n" not in text and len(text) < 200
    assert text == (
        "RunResult(network='net<1>', hardware='small', mode='sync', samples=3, "
        f"accuracy={summary['accuracy']:.4g}, "
        f"energy/inference={fmt_si(summary['energy_per_inference_j'], 'J')}, "
        f"latency/inference={fmt_si(summary['latency_per_inference_s'], 's')})"
    )
    # the dataclass repr it replaces prints every counter array: over 30 times as long
    fields = ", ".join(f"{f.name}={getattr(result, f.name)!r}" for f in dataclasses.fields(result))
    assert len(fields) > 30 * len(text)


def test_the_headline_figures_are_the_summary_s(result):
    h, summary = result.headline(), ns.summarize(result)
    for key in ("accuracy", "energy_per_inference_j", "latency_per_inference_s", "latency_per_inference_cycles"):
        assert h[key] == pytest.approx(summary[key], rel=1e-12)
    assert h["spikes_per_inference"] == summary["spikes_per_inference"]
    assert h["synops_per_inference"] == summary["synops_per_inference"]
    assert h["samples"] == summary["run"]["samples"] == 3


def test_html_is_a_small_escaped_table(result):
    text = result._repr_html_()
    h = result.headline()
    assert text.startswith("<table>") and len(text) < 2000
    assert "net&lt;1&gt;" in text and "net<1>" not in text
    assert "<th style='text-align:left'>samples</th><td>3</td>" in text
    assert f"<td>{fmt_si(h['energy_per_inference_j'], 'J')}</td>" in text
    assert f"<td>{h['synops_per_inference']:.6g}</td>" in text


def test_a_result_without_samples_says_so(result):
    empty = dataclasses.replace(result, samples=[])
    assert repr(empty).endswith("mode='sync', no samples)")
    assert "<td>n/a</td>" in empty._repr_html_()
    assert empty.to_pandas().shape == (0, len(SAMPLE_COLUMNS))


def test_to_pandas_is_samples_csv_one_row_per_sample(result):
    df = result.to_pandas()
    rows = samples_csv_rows(result)
    assert tuple(df.columns) == CSV_COLUMNS == SAMPLE_COLUMNS
    assert len(df) == len(result.samples) == 3
    expected = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    pd.testing.assert_frame_equal(df, expected)
    assert df["energy_j"].tolist() == [result.energy(s)["total"] for s in result.samples]
    assert df["synops"].tolist() == [s.synops for s in result.samples]
    assert df["correct"].dtype == bool


def test_to_pandas_without_pandas_is_one_line(result, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # import pandas now fails
    with pytest.raises(NeurosimError, match=r"^RunResult.to_pandas needs pandas: pip install") as e:
        result.to_pandas()
    assert "\n" not in str(e.value)


def test_a_sample_s_repr_leaves_out_the_output_counts(result):
    s = result.samples[0]
    assert isinstance(s.output_counts, np.ndarray)
    assert "output_counts" not in repr(s) and f"index={s.index}" in repr(s)
