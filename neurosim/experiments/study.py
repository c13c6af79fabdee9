"""The layered-vs-unlayered study (Koopman et al., TMLR 2025, arXiv 2408.05098).

Every model (default: the shipped digits models) runs over its test split under ``sync`` and under
``async`` with each scheduling policy (global scheduler, forward group size F), on one hardware
description. Writes ``reports/study/``: ``table.csv`` and ``table.md`` (accuracy, spikes, synops,
latency to decision, energy, EDP per model x mode x policy), ``findings.md`` (which of the
paper's findings reproduce here, with the numbers), and three plots.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from neurosim import atomic
from neurosim.analysis.summary import per_inference_means
from neurosim.experiments.runner import prepare
from neurosim.paths import DEFAULT_HW, MODELS_DIR
from neurosim.sim.counters import RunResult
from neurosim.sim.scheduler import POLICIES

DEFAULT_MODELS = ("digits_layered.nir", "digits_unlayered_random.nir", "digits_unlayered_momentum.nir")

COLUMNS = (
    "model",
    "training",
    "mode",
    "policy",
    "samples",
    "accuracy",
    "spikes",
    "synops",
    "latency_us",
    "decision_us",
    "decided",
    "spikes_to_decision",
    "energy_uj",
    "edp_uj_us",
)


@dataclass
class Row:
    model: str
    training: str
    mode: str
    policy: str
    result: RunResult

    def metrics(self) -> dict:
        res = self.result
        s = res.samples
        us = res.hardware.cycle_s * 1e6
        means = per_inference_means(res)
        dec = [x.decision_cycle * us for x in s if x.decision_cycle is not None]
        to_dec = [x.extra["spikes_to_decision"] for x in s if x.decision_cycle is not None]
        return {
            "model": self.model,
            "training": self.training,
            "mode": self.mode,
            "policy": self.policy,
            "samples": len(s),
            "accuracy": res.accuracy,
            "spikes": means["spikes"],
            "synops": means["synops"],
            "latency_us": means["latency_us"],
            "decision_us": float(np.mean(dec)) if dec else float("nan"),
            "decided": len(dec) / len(s),
            "spikes_to_decision": float(np.mean(to_dec)) if to_dec else float("nan"),
            "energy_uj": means["energy_uj"],
            "edp_uj_us": _edp_uj_us(res),
        }

    def accuracy_at(self, cutoffs_us: np.ndarray) -> np.ndarray:
        """Accuracy when every inference is cut at each time (output spikes before it only)."""
        us = self.result.hardware.cycle_s * 1e6
        acc = np.zeros(cutoffs_us.size)
        for x in self.result.samples:
            cyc, ids = x.extra["output_events"]
            if x.output_counts is None:
                raise ValueError(f"sample {x.index} of {self.result.name} has no output counts")
            n_out = x.output_counts.size
            for k, t in enumerate(cutoffs_us):
                seen = ids[cyc * us <= t]
                if seen.size and int(np.argmax(np.bincount(seen, minlength=n_out))) == x.label:
                    acc[k] += 1
        return acc / len(self.result.samples)


def _edp_uj_us(res: RunResult) -> float:
    """Mean over the samples of energy (µJ) x latency (µs)."""
    energy = np.array([res.energy(x)["total"] for x in res.samples])
    lat = np.array([x.cycles for x in res.samples]) * (res.hardware.cycle_s * 1e6)
    return float(np.mean(energy * 1e6 * lat))


def run_study(
    models=None,
    hw=DEFAULT_HW,
    samples: int | None = None,
    group_size: int = 8,
    scope: str = "global",
    seed: int = 0,
    progress=None,
) -> list[Row]:
    """Every (model, mode, policy) run. ``progress``: None, or a factory given the total number of
    samples over all runs and returning one wrapper for every run's samples (with ``label(text)``
    naming the run under way and ``close()``, both optional): one overall bar, not one per run."""
    paths = [Path(m) for m in models] if models else [MODELS_DIR / m for m in DEFAULT_MODELS]
    setups = [(path, prepare(path, hw, samples=samples)) for path in paths]
    runs = [("sync", "-")] + [("async", p) for p in POLICIES]
    bar = progress(len(runs) * sum(len(s.data) for _, s in setups)) if progress is not None else None
    rows = []
    try:
        for path, setup in setups:
            meta = setup.network.metadata.get("neurosim", {})
            training = str(meta.get("mode", "unknown"))
            if training == "unlayered":
                training = f"unlayered-{meta.get('scheduler')}"
            for mode, policy in runs:
                getattr(bar, "label", lambda _text: None)(f"{path.stem} {mode} {policy}")
                res = setup.simulate(
                    mode=mode,
                    scope=scope,
                    policy=policy if mode == "async" else "fifo",
                    group_size=group_size,
                    seed=seed,
                    name=f"{path.stem}-{mode}-{policy}",
                    raster_sample=None,
                    progress=bar,
                )
                rows.append(Row(path.stem, training, mode, policy, res))
    finally:
        getattr(bar, "close", lambda: None)()
    return rows


def _md_table(table: list[dict]) -> str:
    head = [
        "model",
        "training",
        "mode",
        "policy",
        "accuracy",
        "spikes/inf",
        "synops/inf",
        "latency (µs)",
        "to decision (µs)",
        "decided",
        "energy (µJ)",
        "EDP (µJ·µs)",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table:
        lines.append(
            f"| {r['model']} | {r['training']} | {r['mode']} | {r['policy']} | {r['accuracy']:.4f} | "
            f"{r['spikes']:.1f} | {r['synops']:.0f} | {r['latency_us']:.2f} | {r['decision_us']:.2f} | "
            f"{r['decided']:.2f} | {r['energy_uj']:.4f} | {r['edp_uj_us']:.4f} |"
        )
    return "\n".join(lines)


#: an effect this small is within the noise of a few hundred test samples
MARGIN = {"spikes": 0.05, "decision": 0.10, "accuracy": 0.02}


#: a finding: the claim, whether it reproduces (True, False, ``"weak"``, None: not tested), the numbers
Finding = tuple[str, bool | str | None, str]
#: a pair of rows: an unlayered-trained model and the layered one, under the same async policy
Pair = tuple[dict, dict]


def _verdict(effects: list[float], margin: float) -> bool | str:
    """True if every effect (> 0 favours the paper) exceeds ``margin``; ``"weak"`` if every one
    is positive but not all exceed it; else False."""
    if all(e > margin for e in effects):
        return True
    return "weak" if all(e > 0 for e in effects) else False


def _async_accuracy_finding(sync_l: dict, async_l: list[dict]) -> Finding:
    return (
        "(a) layered-trained models lose accuracy or gain nothing when run asynchronously",
        all(r["accuracy"] <= sync_l["accuracy"] + MARGIN["accuracy"] for r in async_l),
        "layered sync accuracy {:.4f}; async {}".format(
            sync_l["accuracy"], ", ".join(f"{r['policy']} {r['accuracy']:.4f}" for r in async_l)
        ),
    )


def _fewer_spikes_finding(pairs: list[Pair]) -> Finding:
    fewer = [1 - u["spikes"] / l["spikes"] for u, l in pairs]
    return (
        "(b) unlayered-trained models use fewer spikes (paper: up to 50% fewer)",
        _verdict(fewer, MARGIN["spikes"]),
        "; ".join(
            f"{u['training']} vs layered, both under async {u['policy']}: {u['spikes']:.1f} vs "
            f"{l['spikes']:.1f} spikes/inference ({x * 100:+.1f}% fewer)"
            for (u, l), x in zip(pairs, fewer)
        ),
    )


def _sooner_decision_finding(pairs: list[Pair]) -> Finding:
    speed = [l["decision_us"] / u["decision_us"] for u, l in pairs]
    return (
        "(c) unlayered-trained models reach a correct decision sooner (paper: up to 2x)",
        _verdict([x - 1 for x in speed], MARGIN["decision"]),
        "; ".join(
            f"{u['training']}: {u['decision_us']:.2f} µs vs layered {l['decision_us']:.2f} µs ({x:.2f}x sooner)"
            for (u, l), x in zip(pairs, speed)
        ),
    )


def _competitive_accuracy_finding(pairs: list[Pair], layered: list[dict]) -> Finding:
    best_l = max(r["accuracy"] for r in layered)
    return (
        "(d) with competitive or better accuracy",
        all(u["accuracy"] >= best_l - MARGIN["accuracy"] for u, _ in pairs),
        "; ".join(f"{u['training']} async {u['policy']}: {u['accuracy']:.4f}" for u, _ in pairs)
        + f"; best layered (any mode): {best_l:.4f}",
    )


def findings(table: list[dict]) -> list[Finding]:
    """The paper's four findings: whether each reproduces here (True, False, or ``"weak"`` when
    the direction holds but the effect is within :data:`MARGIN`) and the numbers."""
    by = {(r["training"], r["mode"], r["policy"]): r for r in table}
    layered = [r for r in table if r["training"] == "layered"]
    unl = [
        r
        for r in table
        if r["training"].startswith("unlayered") and r["mode"] == "async" and r["training"].endswith(r["policy"])
    ]
    sync_l = by.get(("layered", "sync", "-"))
    if not layered or not unl or sync_l is None:
        return [("study needs a layered and an unlayered model", None, "")]
    async_l = [r for r in layered if r["mode"] == "async"]
    pairs = [(u, by[("layered", "async", u["policy"])]) for u in unl if ("layered", "async", u["policy"]) in by]
    return [
        _async_accuracy_finding(sync_l, async_l),
        _fewer_spikes_finding(pairs),
        _sooner_decision_finding(pairs),
        _competitive_accuracy_finding(pairs, layered),
    ]


VERDICTS = {
    True: "reproduces",
    False: "does NOT reproduce",
    None: "not tested",
    "weak": "direction reproduces, but the effect is within the margin of this data",
}


def write_study(rows: list[Row], out: str | Path) -> Path:
    """Write the table, the findings and the plots atomically into ``out`` (a new or empty folder, or a
    previous study: :func:`neurosim.atomic.check_out`)."""

    matplotlib.use("Agg")

    out = Path(out)
    with atomic.folder(out, "study") as tmp:
        table = [r.metrics() for r in rows]
        with open(tmp / "table.csv", "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS)
            w.writeheader()
            w.writerows(table)
        (tmp / "table.md").write_text(_md_table(table) + "\n")
        found = findings(table)
        hw = rows[0].result.hardware
        text = [
            f"# Layered vs unlayered: findings on {rows[0].result.dataset} ({table[0]['samples']} test samples, "
            f"{hw.name}, async = global scheduler, F = {rows[0].result.options['group_size']})",
            "",
        ]
        for claim, ok, detail in found:
            text += [f"- **{claim}**: {VERDICTS[ok]}. {detail}", ""]
        text += [
            f"Margins: spikes {MARGIN['spikes']:.0%} fewer, decisions {MARGIN['decision']:.0%} sooner, "
            f"accuracy {MARGIN['accuracy']:.0%}; smaller effects are reported as within the margin.",
            "",
        ]
        text += [
            "## Table",
            "",
            _md_table(table),
            "",
            "![accuracy vs decision](fig_accuracy_vs_decision.png)",
            "",
            "![spikes](fig_spikes.png)",
            "",
            "![cut early](fig_cut_early.png)",
            "",
        ]
        (tmp / "findings.md").write_text("\n".join(text))
        (tmp / "table.json").write_text(json.dumps(table, indent=1, default=float))
        _plots(rows, table, tmp, plt)
    return out


def _label(r: dict) -> str:
    return f"{r['training']} / {r['mode']}{'' if r['mode'] == 'sync' else ' ' + r['policy']}"


def _plots(rows, table, tmp: Path, plt) -> None:
    colors = {t: c for t, c in zip(sorted({r["training"] for r in table}), plt.cm.tab10.colors)}
    markers = {"-": "s", "fifo": "o", "random": "^", "momentum": "D"}
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for r in table:
        ax.scatter(
            r["decision_us"],
            r["accuracy"],
            color=colors[r["training"]],
            marker=markers[r["policy"]],
            s=60,
            label=_label(r),
        )
    ax.set_xlabel("mean time to a correct decision (µs)")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy vs latency to decision")
    ax.margins(0.08)  # limits from the data, with room for the markers
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)  # outside: hides no point
    fig.tight_layout()
    fig.savefig(tmp / "fig_accuracy_vs_decision.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(8, 4.5))
    spikes = np.array([r["spikes"] for r in table], float)
    bars = ax.barh([_label(r) for r in table], spikes, color=[colors[r["training"]] for r in table])
    ax.bar_label(bars, [f" {v:.4g}" for v in spikes], fontsize=7)
    # the axis from the data, not from 0: the differences between the runs are what the study is about
    lo, hi = float(spikes.min()), float(spikes.max())
    pad = 0.1 * (hi - lo) or 0.05 * hi or 1.0
    ax.set_xlim(max(lo - pad, 0.0), hi + 2 * pad)
    ax.set_xlabel("spikes per inference (axis does not start at 0)")
    ax.invert_yaxis()
    ax.set_title("Spikes per inference")
    fig.tight_layout()
    fig.savefig(tmp / "fig_spikes.png", dpi=120)
    plt.close(fig)

    t_max = max(r["latency_us"] for r in table)
    cut = np.linspace(0, t_max, 60)
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    for row, r in zip(rows, table):
        ax.plot(
            cut,
            row.accuracy_at(cut),
            color=colors[r["training"]],
            linestyle="--" if r["mode"] == "sync" else "-",
            label=_label(r),
            alpha=0.85,
        )
    ax.set_xlabel("inference cut at (µs)")
    ax.set_ylabel("accuracy of the output counts so far")
    ax.set_title("Accuracy as decisions are cut early")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(tmp / "fig_cut_early.png", dpi=120)
    plt.close(fig)
