"""The paper's per-frame metrics of a whole run (Koopman et al., TMLR 2025, arXiv 2408.05098;
asynctorch's ``SpikesToOutputMonitor``), beside the hardware's latency and energy.

Definitions (docs/paper-metrics.md): per sample and frame, the *network spikes* (spikes emitted
by non-input neurons) of the frame up to and including the forward step of its first output spike
(any class) and of the first spike of the target class, the index of that step, the forward steps
of the frame and its spike density. The simulator records them per sample
(:class:`neurosim.sim.counters.FrameMetrics`, built from the spike log by
:meth:`neurosim.sim.readout.SpikeLog.frame_metrics`); :func:`paper_metrics` pools the frames of
every sample, as the monitor flattens frames x samples. Frames without such a spike are left out
of the means and medians (their share is reported). A non-spiking output (membrane readout) has
no output spike: every output and target figure is None ("n/a"), never 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurosim.sim.counters import FrameMetrics, RunResult
from neurosim.sim.readout import step_kind

#: the keys of :func:`paper_metrics`, in order
PAPER_METRICS = (
    "step_kind",
    "spiking_output",
    "neurons",
    "frames",
    "network_spikes_per_frame_mean",
    "spike_density",
    "steps_per_frame_mean",
    "steps_per_frame_median",
    "frames_with_output_fraction",
    "spikes_to_first_output_mean",
    "spikes_to_first_output_median",
    "steps_to_first_output_mean",
    "steps_to_first_output_median",
    "frames_with_target_fraction",
    "spikes_to_target_mean",
    "spikes_to_target_median",
    "steps_to_target_mean",
    "steps_to_target_median",
    "accuracy",
    "latency_per_inference_s",
    "energy_per_inference_j",
)


def _stat(values: np.ndarray, how) -> float | None:
    return float(how(values)) if values.size else None


def pooled(frames: list[FrameMetrics]) -> dict[str, np.ndarray]:
    """The per-frame arrays of several samples, concatenated (frames of sample 0 first)."""
    keys = ("network_spikes", "steps", "first_output_step", "spikes_to_first_output", "target_step", "spikes_to_target")
    return {k: np.concatenate([getattr(f, k) for f in frames] + [np.zeros(0, np.int64)]) for k in keys}


def frame_figures(frames: list[FrameMetrics], neurons: int, spiking_output: bool) -> dict[str, Any]:
    """The pooled figures of :func:`paper_metrics` (without the headline) over the frames of
    ``frames`` (one :class:`FrameMetrics` per sample)."""
    p = pooled(frames)
    n = int(p["steps"].size)
    out: dict[str, Any] = {
        "neurons": int(neurons),
        "frames": n,
        "network_spikes_per_frame_mean": _stat(p["network_spikes"], np.mean),
        "spike_density": float(p["network_spikes"].sum() / (max(neurons, 1) * n)) if n else None,
        "steps_per_frame_mean": _stat(p["steps"], np.mean),
        "steps_per_frame_median": _stat(p["steps"], np.median),
    }
    for key, label in (("first_output", "output"), ("target", "target")):
        steps = p["first_output_step" if key == "first_output" else "target_step"]
        has = steps >= 0
        ok = spiking_output and n > 0
        out[f"frames_with_{label}_fraction"] = float(has.mean()) if ok else None
        spikes = p[f"spikes_to_{key}"][has] if spiking_output else np.zeros(0)
        hit = steps[has] if spiking_output else np.zeros(0)
        out[f"spikes_to_{key}_mean"] = _stat(spikes, np.mean)
        out[f"spikes_to_{key}_median"] = _stat(spikes, np.median)
        out[f"steps_to_{key}_mean"] = _stat(hit, np.mean)
        out[f"steps_to_{key}_median"] = _stat(hit, np.median)
    return out


def paper_metrics(res: RunResult) -> dict[str, Any]:
    """The run's paper metrics (keys :data:`PAPER_METRICS`, documented in docs/paper-metrics.md),
    pooled over every simulated frame of every sample, beside the headline accuracy, latency (s)
    and energy (J) per inference. Samples without recorded frame metrics (an engine that does not
    record forward steps) are left out; with none at all, every per-frame figure is None."""
    opts = res.options or {}
    net = res.network
    neurons = int(net.n_neurons - net.by_name[net.input].size) if net is not None else 0
    frames = [s.frames for s in res.samples if s.frames is not None]
    spiking = frames[0].spiking_output if frames else "readout" not in opts
    head = res.headline()
    out: dict[str, Any] = {
        "step_kind": frames[0].step_kind if frames else step_kind(res.mode, opts.get("scope", "global")),
        "spiking_output": bool(spiking),
        **frame_figures(frames, neurons, bool(spiking)),
        "accuracy": head["accuracy"],
        "latency_per_inference_s": head["latency_per_inference_s"],
        "energy_per_inference_j": head["energy_per_inference_j"],
    }
    return {k: out[k] for k in PAPER_METRICS}
