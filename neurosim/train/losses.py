"""The trainer's losses, on what a forward returns (:class:`neurosim.train.model.ForwardResult`).

``T`` frames, ``y[b, t, k]`` the spikes of output neuron ``k`` in frame ``t`` (0 or 1: one spike
per neuron per frame), ``c[b, k] = sum_t y[b, t, k]`` the summed counts, ``s`` = ``loss_scale``:

* ``ce-count`` (the default, the trainer's loss until now): cross-entropy of the summed counts,
  ``CE(s * c, label)``, mean over the batch; with ``s = 1`` this is snnTorch's
  ``snntorch.functional.ce_count_loss`` (``snntorch/functional/loss.py``, ``class ce_count_loss``:
  ``log_softmax(torch.sum(spk_out, 0))``, then ``NLLLoss``).
* ``ce-rate``: cross-entropy at every frame, averaged over the frames,
  ``(1/T) sum_t CE(s * y[:, t], label)``: the loss asynctorch trains with (its notebooks, e.g.
  ``examples/tutorial_training_mixed_arch.ipynb`` of RoelMK/asynctorch: ``loss_fn =
  SF.ce_rate_loss()`` on ``y = torch.stack(ys)``, the output spikes of every frame), i.e.
  snnTorch's ``ce_rate_loss`` (``snntorch/functional/loss.py``, ``class ce_rate_loss``,
  ``_compute_loss``: ``for step in range(num_steps): loss += loss_fn(log_p_y[step], targets)``,
  ``return loss / num_steps``), equal to it for ``s = 1``.
* ``first-spike``: cross-entropy of the negated first-spike frames, ``CE(-s * f, label)`` with
  ``f[b, k]`` the first frame (0-based) in which output ``k`` spikes, ``T - 1`` when it never
  does: snnTorch's ``ce_temporal_loss`` (``inverse='negate'``, the default; ``snntorch/functional/
  loss.py``, ``class ce_temporal_loss`` and ``SpikeTime.FirstSpike``: "override element 0 (no
  spike) with shadow spike @ final time step"), equal to it for ``s = 1``, with its gradient, a
  sign estimator: ``d f[b, k] / d y[b, t, k] = -1`` at ``t = f[b, k]``, 0 elsewhere. (The paper
  reports time to the first output spike as a metric; neither it nor asynctorch trains on it.)
* spike-count penalty (``spike_penalty = lam``, added to any of them): ``lam`` times the hidden
  spikes per sample (all hidden neurons, all frames; mean over the batch), through the surrogate
  gradient of every hidden spike (and the ghost pass's zeros, as the layered forward's silent
  neurons): ``lam * mean_b sum_{t, hidden n} spikes[b, t, n]``.

The readout (prediction, accuracy, the simulator's) stays the argmax of the summed counts
whatever the loss. Only ``ce-count`` without penalty needs nothing beyond the summed counts; the others need a
forward run with ``track=True``.
"""

from __future__ import annotations

import torch

LOSSES = ("ce-count", "ce-rate", "first-spike")
"""The names of ``--loss``."""

DESCRIPTIONS = {
    "ce-count": "cross_entropy(loss_scale * output spike counts)",
    "ce-rate": "mean over frames of cross_entropy(loss_scale * output spikes of the frame) (snntorch ce_rate_loss)",
    "first-spike": "cross_entropy(-loss_scale * first output spike frame, T-1 if none) (snntorch ce_temporal_loss)",
}
"""What each loss computes, as the exported metadata records it (``ce-count``'s text is the one
the trainer recorded before the other losses existed)."""


def ce_count_loss(counts: torch.Tensor, labels: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``CE(scale * counts, labels)``, mean over the batch; ``counts`` ``(B, n_out)``."""
    return torch.nn.functional.cross_entropy(counts * scale, labels)


def ce_rate_loss(frame_counts: torch.Tensor, labels: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``(1/T) sum_t CE(scale * y[:, t], labels)``, ``frame_counts`` = ``y`` ``(B, T, n_out)``."""
    B, T, n = frame_counts.shape
    if T == 0:
        raise ValueError("ce-rate loss: the forward has no frames")
    logits = (frame_counts * scale).reshape(B * T, n)
    per = torch.nn.functional.cross_entropy(logits, labels.repeat_interleave(T), reduction="none")
    return per.reshape(B, T).mean(dim=0).sum() / T


def first_spike_frames(frame_counts: torch.Tensor) -> torch.Tensor:
    """``f[b, k]``: the first frame in which output ``k`` spikes (``T - 1`` if never), float32,
    with the sign-estimator gradient ``-1`` to ``frame_counts[b, f[b, k], k]``."""
    B, T, n = frame_counts.shape
    if T == 0:
        raise ValueError("first-spike loss: the forward has no frames")
    fired = frame_counts.detach() > 0
    t = torch.arange(T, device=frame_counts.device).view(1, T, 1).expand(B, T, n)
    never = torch.full_like(t, T - 1)
    first = torch.where(fired, t, torch.full_like(t, T)).amin(dim=1)  # (B, n), T = never
    first = torch.where(first == T, never[:, 0], first)
    at_first = (t == first.unsqueeze(1)).to(frame_counts.dtype)
    picked = (frame_counts * at_first).sum(dim=1)  # the spikes at the first frame (grad -1 below)
    return first.to(frame_counts.dtype) - (picked - picked.detach())


def first_spike_loss(frame_counts: torch.Tensor, labels: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """``CE(-scale * f, labels)``, ``f`` = :func:`first_spike_frames`, mean over the batch."""
    return torch.nn.functional.cross_entropy(-scale * first_spike_frames(frame_counts), labels)


def spike_penalty(hidden_spikes: torch.Tensor, lam: float) -> torch.Tensor:
    """``lam * mean_b hidden_spikes[b]`` (``hidden_spikes`` ``(B,)``, per sample)."""
    return lam * hidden_spikes.mean()


def needs_tracking(loss: str, penalty: float) -> bool:
    """Whether the loss needs the forward's ``frame_counts`` / ``hidden_spikes`` (``track=True``)."""
    return loss != "ce-count" or penalty > 0


def total_loss(result, labels: torch.Tensor, loss: str, scale: float = 1.0, penalty: float = 0.0) -> torch.Tensor:
    """The training loss of a forward ``result``: ``loss`` (one of :data:`LOSSES`) plus the
    spike-count penalty when ``penalty`` > 0."""
    if loss == "ce-count":
        out = ce_count_loss(result.counts, labels, scale)
    elif loss in ("ce-rate", "first-spike"):
        if result.frame_counts is None:
            raise ValueError(f"loss {loss!r} needs the per-frame outputs: run the forward with track=True")
        fn = ce_rate_loss if loss == "ce-rate" else first_spike_loss
        out = fn(result.frame_counts, labels, scale)
    else:
        raise ValueError(f"unknown loss {loss!r}; use one of {', '.join(LOSSES)}")
    if penalty > 0:
        if result.hidden_spikes is None:
            raise ValueError("the spike penalty needs the hidden spikes: run the forward with track=True")
        out = out + spike_penalty(result.hidden_spikes, penalty)
    return out
