"""Scheduling policies of asynchronous execution: which ready neurons send their spike next.

A neuron that crosses threshold becomes *ready*; each step a scheduler sends at most ``F`` of
the ready neurons (``F`` = forward group size: the network's for the global scheduler, the
core's issue width for a per-core scheduler).

* ``fifo``: in the order thresholds were crossed (crossing sequence number), ties by index;
* ``random``: uniformly at random among the ready neurons (a seeded generator);
* ``momentum``: highest membrane potential at threshold crossing first, ties broken by the
  lower global neuron index (a stable sort on ``-priority`` over neurons in index order, which
  is exactly what the trainer does). With ``noise = lambda > 0`` the key is ``priority +
  U[0, 1) * lambda`` (float64, one draw per ready neuron from the seeded generator, only when
  more than ``k`` are ready): asynctorch's ``MomentumSpikeScheduler(lambda_)``
  (``asynctorch/simulator/spike_scheduler.py``), whose default lambda is 1e-6.

Queued input events (``prioritize_input=False``) are ready entries like neurons: their momentum
priority is 0 (asynctorch's input neurons never integrate, so their pre-spike membrane is 0) and
their fifo sequence is taken at the frame start, in channel order, before any crossing.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

_T = TypeVar("_T")

POLICIES = ("fifo", "random", "momentum")


def select(
    ready: np.ndarray,
    k: int,
    policy: str,
    *,
    priority: np.ndarray | None = None,
    sequence: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    noise: float = 0.0,
) -> np.ndarray:
    """Choose at most ``k`` of the ``ready`` neuron ids (sorted ascending). Returns the chosen ids
    (ascending). ``priority``/``sequence`` are indexed by neuron id; ``noise``: momentum's lambda
    (it needs ``rng``)."""
    if ready.size <= k:
        return ready
    if policy == "momentum" and noise > 0:
        key = _needed(priority, "priority", policy)[ready].astype(np.float64)
        key += _needed(rng, "rng", policy).random(ready.size) * noise
        order = np.argsort(-key, kind="stable")
    elif policy == "momentum":
        order = np.argsort(-_needed(priority, "priority", policy)[ready], kind="stable")
    elif policy == "fifo":
        order = np.lexsort((ready, _needed(sequence, "sequence", policy)[ready]))
    elif policy == "random":
        order = _needed(rng, "rng", policy).permutation(ready.size)
    else:
        raise ValueError(f"unknown scheduling policy {policy!r}; choose from {POLICIES}")
    return np.sort(ready[order[:k]])


def _needed(value: _T | None, name: str, policy: str) -> _T:
    """``value``, which policy ``policy`` needs (a ``ValueError`` when it is missing)."""
    if value is None:
        raise ValueError(f"scheduling policy {policy!r} needs {name}=")
    return value
