"""The paper's per-frame metrics (Koopman et al., TMLR 2025, arXiv 2408.05098; asynctorch's
``SpikesToOutputMonitor``) of a recorded trainer forward, under the simulator's definitions
(docs/paper-metrics.md): per sample and frame, the network spikes (spikes sent by the neurons,
every layer, the input channels not counted) up to and including the step of the first output
spike (any class) and of the first spike of the target class, the index of that step, the steps
of the frame and the spike density.

A step is the simulator's: in ``layered`` mode one per layer (layer ``l``'s spikes are step
``l``, 1-based, as the ``sync`` mode's population phases; every frame has ``L`` steps); in
``unlayered`` mode the send step (``ForwardResult.send_steps``; step 0 delivers the input, so
every spike has step >= 1; the frame's steps are ``ForwardResult.steps``), as the ``async`` mode
with a global scheduler. ``tests/train/test_metrics.py`` checks both against the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: the per-sample figures of :meth:`FrameTable.sample_figures`, as the simulator's
#: ``neurosim.sim.counters.PAPER_SAMPLE_COLUMNS`` (the trainer does not import the simulator;
#: tests/train/test_metrics.py checks the two are equal)
SAMPLE_FIGURES = (
    "spike_density",
    "steps_per_frame",
    "spikes_to_first_output",
    "steps_to_first_output",
    "frames_without_output",
    "spikes_to_target",
    "steps_to_target",
    "frames_without_target",
)


@dataclass(repr=False)
class FrameTable:
    """Per sample and frame ``(B, T)`` int64 arrays: ``network_spikes``, ``steps`` (the index of
    the frame's last step), ``first_output_step`` / ``target_step`` (-1 without such a spike) and
    ``spikes_to_first_output`` / ``spikes_to_target`` (network spikes up to and including that
    step, -1 without); ``neurons``: the network's neurons (input channels excluded)."""

    network_spikes: np.ndarray
    steps: np.ndarray
    first_output_step: np.ndarray
    spikes_to_first_output: np.ndarray
    target_step: np.ndarray
    spikes_to_target: np.ndarray
    neurons: int

    def sample_figures(self, b: int) -> dict[str, float | int | None]:
        """Sample ``b``'s aggregates (:data:`SAMPLE_FIGURES`): spike density (network spikes /
        (neurons x frames)), mean steps per frame and, per kind of first spike, the means over
        the frames that have one (None if none) and the number of frames without."""
        n = int(self.steps.shape[1])
        out: dict[str, float | int | None] = {
            "spike_density": float(self.network_spikes[b].sum() / (max(self.neurons, 1) * n)) if n else None,
            "steps_per_frame": float(self.steps[b].mean()) if n else None,
        }
        for key, label, steps, spikes in (
            ("first_output", "output", self.first_output_step[b], self.spikes_to_first_output[b]),
            ("target", "target", self.target_step[b], self.spikes_to_target[b]),
        ):
            has = steps >= 0
            out[f"spikes_to_{key}"] = float(spikes[has].mean()) if has.any() else None
            out[f"steps_to_{key}"] = float(steps[has].mean()) if has.any() else None
            out[f"frames_without_{label}"] = int(n - has.sum())
        return {k: out[k] for k in SAMPLE_FIGURES}


def spike_steps(result, sizes, mode: str) -> np.ndarray:
    """``(B, T, N)`` int64: the step at which each neuron spiked in each frame, 0 when it did not
    (``layered``: its layer, 1-based; ``unlayered``: its send step)."""
    if result.spikes is None:
        raise ValueError("paper metrics need a recorded forward: call it with record=True")
    spikes = result.spikes.detach().cpu().numpy().astype(np.int64)
    if mode == "layered":
        layer = np.repeat(np.arange(1, len(sizes), dtype=np.int64), [int(n) for n in sizes[1:]])
        return spikes * layer
    if mode == "unlayered":
        if result.send_steps is None:
            raise ValueError(
                "paper metrics of an unlayered forward need its send steps: record it with the default "
                "backward='replay'"
            )
        return result.send_steps.detach().cpu().numpy().astype(np.int64) * (spikes > 0)
    raise ValueError(f"unknown mode {mode!r}; use 'layered' or 'unlayered'")


def _first(step: np.ndarray) -> np.ndarray:
    """The smallest nonzero step over the last axis, -1 where none."""
    big = np.iinfo(np.int64).max
    first = np.where(step > 0, step, big).min(axis=-1, initial=big)
    return np.where(first == big, -1, first)


def _up_to(step: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Spikes (nonzero steps) with step <= ``limit`` per sample and frame, -1 where limit is -1."""
    count = ((step > 0) & (step <= limit[..., None])).sum(axis=-1)
    return np.where(limit < 0, -1, count).astype(np.int64)


def frame_table(result, labels, sizes, mode: str) -> FrameTable:
    """The paper's metrics per sample and frame of a forward recorded with ``record=True``
    (``sizes``: ``[n_in, h_1, ..., n_out]``; ``labels``: the target class of each sample)."""
    step = spike_steps(result, sizes, mode)
    B, T, N = step.shape
    n_out = int(sizes[-1])
    out = step[:, :, N - n_out :]
    labels = np.asarray(labels, np.int64).reshape(B)
    tgt = np.take_along_axis(out, np.broadcast_to(labels[:, None, None], (B, T, 1)), axis=2)
    first, target = _first(out), _first(tgt)
    if mode == "layered":
        steps = np.full((B, T), len(sizes) - 1, np.int64)
    else:
        steps = result.steps.detach().cpu().numpy().astype(np.int64)
    return FrameTable(
        network_spikes=(step > 0).sum(axis=-1).astype(np.int64),
        steps=steps,
        first_output_step=first,
        spikes_to_first_output=_up_to(step, first),
        target_step=target,
        spikes_to_target=_up_to(step, target),
        neurons=N,
    )
