"""The layered-vs-unlayered study: runs every model x mode x policy and writes its outputs."""

import csv

import numpy as np
import scipy.sparse as sp
from builders import grid

from neurosim.describe.network import Network, Population, Projection
from neurosim.experiments.study import findings, run_study, write_study
from neurosim.io.nir_write import save_network
from neurosim.neuron import NeuronParams
from neurosim.paths import HW_DIR


def model(path, mode, scheduler, seed):
    rng = np.random.default_rng(seed)
    sizes = [64, 32, 10]
    pops = [Population("input", "input", (64,))]
    projs = []
    for i, n in enumerate(sizes[1:], start=1):
        pops.append(Population(f"lif{i}", "lif", (n,), NeuronParams.uniform(n, decay=0.9)))
        projs.append(
            Projection(
                pops[i - 1].name, pops[i].name, sp.csr_array(grid(rng.normal(0.15, 0.3, (sizes[i - 1], n)), 128))
            )
        )
    meta = {
        "neurosim": {
            "mode": mode,
            "scheduler": scheduler,
            "group_size": 8,
            "dataset": "digits",
            "encoding": {"frames": 8, "seed": 0},
        }
    }
    save_network(Network(path.stem, pops, projs, "input", "lif2", dt=1e-3, metadata=meta), path)
    return path


def test_study_writes_table_findings_and_plots(tmp_path):
    models = [
        model(tmp_path / "lay.nir", "layered", "none", 0),
        model(tmp_path / "unl.nir", "unlayered", "momentum", 1),
    ]
    rows = run_study(models, HW_DIR / "small.yaml", samples=6)
    assert len(rows) == 2 * 4
    out = write_study(rows, tmp_path / "study")
    with open(out / "table.csv") as f:
        table = list(csv.DictReader(f))
    assert {(r["model"], r["mode"], r["policy"]) for r in table} == {(m, "sync", "-") for m in ("lay", "unl")} | {
        (m, "async", p) for m in ("lay", "unl") for p in ("fifo", "random", "momentum")
    }
    for name in ("table.md", "findings.md", "fig_accuracy_vs_decision.png", "fig_spikes.png", "fig_cut_early.png"):
        assert (out / name).stat().st_size > 0
    text = (out / "findings.md").read_text()
    for claim in ("(a)", "(b)", "(c)", "(d)"):
        assert claim in text
    verdicts = findings([r.metrics() for r in rows])
    assert len(verdicts) == 4 and all(v in (True, False, "weak") for _, v, _ in verdicts)


def test_cut_early_accuracy_is_monotone_to_the_final_accuracy(tmp_path):
    rows = run_study([model(tmp_path / "lay.nir", "layered", "none", 0)], HW_DIR / "small.yaml", samples=8)
    r = rows[0]
    t_end = max(s.cycles for s in r.result.samples) * r.result.hardware.cycle_s * 1e6
    acc = r.accuracy_at(np.array([0.0, t_end]))
    assert acc[0] == 0.0
    # at the end every sample's counts are complete (a sample without output spikes counts as wrong)
    want = np.mean([s.output_counts.sum() > 0 and s.correct for s in r.result.samples])
    assert acc[1] == want


def _row(training, mode, policy, accuracy, spikes, decision):
    return {
        "training": training,
        "mode": mode,
        "policy": policy,
        "accuracy": accuracy,
        "spikes": spikes,
        "decision_us": decision,
    }


def test_findings_verdicts_follow_the_numbers():
    base = [_row("layered", "sync", "-", 0.90, 100, 10), _row("layered", "async", "momentum", 0.85, 100, 10)]
    paper = base + [_row("unlayered-momentum", "async", "momentum", 0.91, 55, 5)]
    assert [v for _, v, _ in findings(paper)] == [True, True, True, True]
    weak = base + [_row("unlayered-momentum", "async", "momentum", 0.80, 98, 9.5)]
    assert [v for _, v, _ in findings(weak)] == [True, "weak", "weak", False]
    worse = base + [_row("unlayered-momentum", "async", "momentum", 0.90, 120, 12)]
    assert [v for _, v, _ in findings(worse)][1:3] == [False, False]
    gains = [
        _row("layered", "sync", "-", 0.80, 100, 10),
        _row("layered", "async", "fifo", 0.90, 100, 10),
        _row("unlayered-fifo", "async", "fifo", 0.9, 90, 8),
    ]
    assert findings(gains)[0][1] is False  # (a): the layered model gained 10 points when run async
