"""Scheduling policies of asynchronous execution: which ready neurons send their spike next.

A neuron that crosses threshold becomes *ready*; each step a scheduler sends at most ``F`` of
the ready neurons (``F`` = forward group size: the network's for the global scheduler, the
core's issue width for a per-core scheduler).

* ``fifo``: in the order thresholds were crossed (crossing sequence number), ties by index;
* ``random``: uniformly at random among the ready neurons (a seeded generator);
* ``momentum``: highest membrane potential at threshold crossing first, ties broken by the
  lower global neuron index (a stable sort on ``-priority`` over neurons in index order, which
  is exactly what the trainer does).
"""

from __future__ import annotations

import numpy as np

POLICIES = ("fifo", "random", "momentum")


def select(
    ready: np.ndarray,
    k: int,
    policy: str,
    *,
    priority: np.ndarray | None = None,
    sequence: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Choose at most ``k`` of the ``ready`` neuron ids (sorted ascending). Returns the chosen ids
    (ascending). ``priority``/``sequence`` are indexed by neuron id."""
    if ready.size <= k:
        return ready
    if policy == "momentum":
        order = np.argsort(-priority[ready], kind="stable")
    elif policy == "fifo":
        order = np.lexsort((ready, sequence[ready]))
    elif policy == "random":
        order = rng.permutation(ready.size)
    else:
        raise ValueError(f"unknown scheduling policy {policy!r}; choose from {POLICIES}")
    return np.sort(ready[order[:k]])
