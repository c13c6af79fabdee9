"""Operation counters and run results. Counters are separate from costs: :mod:`neurosim.describe.cost`
turns them into energy and time for any hardware costs, so a run can be re-costed without
re-simulating.

Operation names (``OPS``) match the cost names of the hardware description:
``message_in``, ``synop``, ``neuron_update_active``, ``neuron_update_idle``, ``spike_out``,
``synaptic_current``, ``delay_write``, ``delay_read``, ``membrane_read``, ``spike_fired`` (per
core; the four before the last belong to cuba neurons, delayed projections and non-spiking
read-outs, ``spike_fired`` is one per spiking neuron per frame beside ``spike_out`` per message;
see :data:`neurosim.describe.cost.CORE_OPS`), ``hop_ew``, ``hop_ns``, ``hop_chip`` (a hop over a
chip-to-chip link), ``local`` (per router) and ``barrier`` (per chip).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurosim.describe.cost import CORE_OPS, OPS, energy_breakdown
from neurosim.errors import NeurosimError
from neurosim.units import fmt_si

#: the paper's per-frame metrics of a sample (docs/paper-metrics.md, :meth:`FrameMetrics.sample_figures`)
PAPER_SAMPLE_COLUMNS = (
    "spike_density",
    "steps_per_frame",
    "spikes_to_first_output",
    "steps_to_first_output",
    "frames_without_output",
    "spikes_to_target",
    "steps_to_target",
    "frames_without_target",
)

#: the columns of one row per sample (``samples.csv``, :meth:`RunResult.to_pandas`), in order;
#: the operation counts follow in ``OPS`` order, then :data:`PAPER_SAMPLE_COLUMNS`
SAMPLE_COLUMNS = (
    (
        "index",
        "label",
        "prediction",
        "correct",
        "cycles",
        "latency_s",
        "energy_j",
        "spikes",
        "input_spikes",
        "synops",
        "messages",
        "hops",
        "first_output_s",
        "decision_s",
        "spikes_to_decision",
        "synops_to_decision",
    )
    + OPS
    + PAPER_SAMPLE_COLUMNS
)


class CoreCounters:
    """Per physical core, per operation counts plus busy cycles (int64 arrays)."""

    def __init__(self, n_cores: int):
        self.ops = {op: np.zeros(n_cores, np.int64) for op in CORE_OPS}
        self.busy_cycles = np.zeros(n_cores, np.int64)
        self.spikes = np.zeros(n_cores, np.int64)

    def snapshot(self) -> dict[str, np.ndarray]:
        out = {op: a.copy() for op, a in self.ops.items()}
        out["busy_cycles"] = self.busy_cycles.copy()
        out["spikes"] = self.spikes.copy()
        return out


@dataclass(repr=False)
class FrameMetrics:
    """The paper's metrics (Koopman et al., arXiv 2408.05098; asynctorch's
    ``SpikesToOutputMonitor``) of one sample, per simulated frame (docs/paper-metrics.md).

    Network spikes are the spikes *emitted* by non-input neurons; a step is the mode's forward
    step (:func:`neurosim.sim.readout.step_kind`), numbered from 0 within each frame (0: the input delivery). Per
    frame: ``network_spikes``; ``steps``, the index of the frame's last step; the step of the
    first output spike of any class (``first_output_step``) and of the target class
    (``target_step``), -1 without one; and the network spikes emitted in the frame up to and
    including that step (``spikes_to_first_output``, ``spikes_to_target``; -1 without one). A
    non-spiking output (``spiking_output`` False) has no output spikes: its output figures are
    None, not 0."""

    network_spikes: np.ndarray  # (frames,) int64
    steps: np.ndarray
    first_output_step: np.ndarray
    spikes_to_first_output: np.ndarray
    target_step: np.ndarray
    spikes_to_target: np.ndarray
    neurons: int  # non-input neurons
    spiking_output: bool = True
    step_kind: str = "send step"

    @property
    def frames(self) -> int:
        return int(self.network_spikes.size)

    def density(self) -> np.ndarray:
        """Spike density of each frame: network spikes / neurons."""
        return self.network_spikes / max(self.neurons, 1)

    def sample_figures(self) -> dict[str, float | int | None]:
        """The sample's aggregates (:data:`PAPER_SAMPLE_COLUMNS`): spike density (network spikes
        / (neurons x frames)), mean steps per frame, and per kind of first spike (any output,
        target) the means over the frames that have one and the number of frames without."""
        n = self.frames
        out: dict[str, float | int | None] = {
            "spike_density": float(self.network_spikes.sum() / (max(self.neurons, 1) * n)) if n else None,
            "steps_per_frame": float(self.steps.mean()) if n else None,
        }
        for key, steps, spikes in (
            ("first_output", self.first_output_step, self.spikes_to_first_output),
            ("target", self.target_step, self.spikes_to_target),
        ):
            has = steps >= 0
            ok = self.spiking_output and bool(has.any())
            out[f"spikes_to_{key}"] = float(spikes[has].mean()) if ok else None
            out[f"steps_to_{key}"] = float(steps[has].mean()) if ok else None
            label = "output" if key == "first_output" else "target"
            out[f"frames_without_{label}"] = int(n - has.sum()) if self.spiking_output else None
        return {k: out[k] for k in PAPER_SAMPLE_COLUMNS}


@dataclass
class SampleRecord:
    """What one inference did: counts, timing and the decision."""

    index: int
    label: int
    prediction: int
    cycles: int
    ops: dict[str, int]  # OPS -> count
    spikes: int  # neuron spikes (input spikes excluded)
    input_spikes: int
    messages_sent: int
    messages_received: int
    first_output_cycle: int | None  # cycle of the first output spike (None: no output spike)
    decision_cycle: int | None = None  # cycle from which the arg-max stays the label (async)
    output_counts: np.ndarray | None = field(default=None, repr=False)  # spikes per output neuron
    # (a non-spiking output has none: its prediction is the arg-max of extra["readout"], the
    # reduced membranes at frame ends, and its decision the end of the frame from which it holds)
    extra: dict[str, Any] = field(default_factory=dict)
    frames: FrameMetrics | None = field(default=None, repr=False)  # the paper's metrics per frame

    @property
    def correct(self) -> bool:
        return self.prediction == self.label

    @property
    def synops(self) -> int:
        return self.ops["synop"]

    @property
    def hops(self) -> int:
        return self.ops["hop_ew"] + self.ops["hop_ns"] + self.ops.get("hop_chip", 0)


@dataclass
class Raster:
    """Spikes of one sample: frame, global neuron index and the cycle of emission."""

    sample: int
    frame: np.ndarray
    neuron: np.ndarray
    cycle: np.ndarray


@dataclass(repr=False)
class RunResult:
    """Everything a run measured. ``core`` holds per-physical-core totals over all samples;
    ``tile_pairs[i, j]`` counts messages from tile i to tile j (routes are deterministic, so
    per-link counts follow from it, see :meth:`neurosim.sim.noc.Mesh.link_counts`).

    In a notebook: ``repr(result)`` is one line (network, hardware, mode, samples, accuracy,
    energy and latency per inference), the HTML view a small table of the same figures, and
    :meth:`to_pandas` one row per sample (the columns of ``samples.csv``). Every figure of a
    report, as data: ``neurosim.summarize(result)`` (the dict written to ``summary.json``)."""

    name: str
    mode: str
    hardware: Any
    network: Any
    mapping: Any
    dataset: str
    frames: int
    samples: list[SampleRecord]
    core: dict[str, np.ndarray]
    tile_pairs: np.ndarray
    raster: Raster | None
    spikes_per_population: dict[str, int]
    options: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    links: dict[str, np.ndarray] | None = None  # per-link NoC counters (Mesh.link_stats), summed
    static_w: float | None = None  # static power (power gating applied), watts
    barrier_tiles: int | None = None  # tiles taking part in each barrier
    phases: list[dict] | None = None  # per-phase timing of the raster sample (critical path)

    def energy(self, sample: SampleRecord) -> dict[str, float]:
        """Energy parts of one inference (joules), with this run's static power and barrier size."""

        return energy_breakdown(
            sample.ops, self.hardware, sample.cycles, static_w=self.static_w, barrier_tiles=self.barrier_tiles
        )

    @property
    def accuracy(self) -> float:
        return float(np.mean([s.correct for s in self.samples])) if self.samples else float("nan")

    def total(self, op: str) -> int:
        return int(sum(s.ops.get(op, 0) for s in self.samples))

    # ---- notebook views ----------------------------------------------------------------------
    def sample_rows(self) -> list[dict[str, Any]]:
        """One flat row per sample, columns :data:`SAMPLE_COLUMNS` (missing times are None):
        the rows of ``samples.csv``. Energy is :meth:`energy`'s total; times are cycles x
        ``hardware.cycle_s``."""
        cyc = self.hardware.cycle_s
        rows = []
        for s in self.samples:
            row = {
                "index": int(s.index),
                "label": int(s.label),
                "prediction": int(s.prediction),
                "correct": bool(s.correct),
                "cycles": int(s.cycles),
                "latency_s": s.cycles * cyc,
                "energy_j": self.energy(s)["total"],
                "spikes": int(s.spikes),
                "input_spikes": int(s.input_spikes),
                "synops": int(s.synops),
                "messages": int(s.messages_sent),
                "hops": int(s.hops),
                "first_output_s": None if s.first_output_cycle is None else s.first_output_cycle * cyc,
                "decision_s": None if s.decision_cycle is None else s.decision_cycle * cyc,
                "spikes_to_decision": s.extra.get("spikes_to_decision"),
                "synops_to_decision": s.extra.get("synops_to_decision"),
            }
            row.update({op: int(s.ops.get(op, 0)) for op in OPS})
            paper = s.frames.sample_figures() if s.frames is not None else {}
            row.update({k: paper.get(k) for k in PAPER_SAMPLE_COLUMNS})
            rows.append(row)
        return rows

    def to_pandas(self):
        """A ``pandas.DataFrame`` with one row per sample, columns :data:`SAMPLE_COLUMNS` (as in
        ``samples.csv``; missing times are NaN). Needs pandas (the ``explore`` extra)."""
        try:
            import pandas as pd  # noqa: PLC0415 - optional extra
        except ImportError as e:
            raise NeurosimError("RunResult.to_pandas needs pandas: pip install 'neurosim-hw[explore]'") from e
        return pd.DataFrame(self.sample_rows(), columns=list(SAMPLE_COLUMNS))

    def headline(self) -> dict[str, Any]:
        """The figures of the short views: network, hardware, mode, samples, accuracy, and the
        means per inference of energy (J), latency (s, cycles), spikes and synaptic operations
        (None without samples)."""
        n = len(self.samples)

        def mean(values) -> float | None:
            return float(np.mean(values)) if n else None

        cycles = mean([s.cycles for s in self.samples])
        return {
            "network": getattr(self.network, "name", None),
            "hardware": getattr(self.hardware, "name", None),
            "mode": self.mode,
            "samples": n,
            "accuracy": self.accuracy if n else None,
            "energy_per_inference_j": mean([self.energy(s)["total"] for s in self.samples]),
            "latency_per_inference_s": None if cycles is None else cycles * self.hardware.cycle_s,
            "latency_per_inference_cycles": cycles,
            "spikes_per_inference": mean([s.spikes for s in self.samples]),
            "synops_per_inference": mean([s.synops for s in self.samples]),
        }

    def __repr__(self) -> str:
        h = self.headline()
        figures = "no samples"
        if h["samples"]:
            figures = (
                f"samples={h['samples']}, accuracy={h['accuracy']:.4g}, "
                f"energy/inference={fmt_si(h['energy_per_inference_j'], 'J')}, "
                f"latency/inference={fmt_si(h['latency_per_inference_s'], 's')}"
            )
        return f"RunResult(network={h['network']!r}, hardware={h['hardware']!r}, mode={h['mode']!r}, {figures})"

    def _repr_html_(self) -> str:
        h = self.headline()
        rows = [
            ("network", h["network"]),
            ("hardware", h["hardware"]),
            ("mode", h["mode"]),
            ("dataset", self.dataset),
            ("samples", h["samples"]),
            ("accuracy", None if h["accuracy"] is None else f"{h['accuracy']:.4g}"),
            ("energy per inference", fmt_si(h["energy_per_inference_j"], "J")),
            ("latency per inference", fmt_si(h["latency_per_inference_s"], "s")),
            ("latency per inference (cycles)", _num(h["latency_per_inference_cycles"])),
            ("spikes per inference", _num(h["spikes_per_inference"])),
            ("synops per inference", _num(h["synops_per_inference"])),
        ]
        cell = "<tr><th style='text-align:left'>{}</th><td>{}</td></tr>"
        body = "".join(cell.format(html.escape(k), html.escape("n/a" if v is None else str(v))) for k, v in rows)
        return (
            f"<table><caption>RunResult {html.escape(str(self.name))}</caption>{body}</table>"
            "<p><small>per sample: <code>result.to_pandas()</code>; every figure: "
            "<code>neurosim.summarize(result)</code></small></p>"
        )


def _num(x: float | None) -> str | None:
    return None if x is None else f"{x:.6g}"
