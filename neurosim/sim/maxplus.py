"""Vectorised timing of single-server queues (a core's input port, its spike output port).

A server that takes jobs in order, job ``k`` becoming available at ``ready[k]`` and taking
``cost[k]`` cycles, finishes job ``k`` at ``t[k] = max(t[k-1], ready[k]) + cost[k]``. Unrolled,
``t[k] = C[k] + max_{j<=k}(ready[j] - C[j-1])`` with ``C`` the running sum of costs, which numpy
computes with one ``maximum.accumulate``: no Python loop per message.
"""

from __future__ import annotations

import numpy as np


def finish_times(ready: np.ndarray, cost: np.ndarray | int, start: int = 0) -> np.ndarray:
    """Completion time of every job of a FIFO single server that is free from ``start`` on."""
    ready = np.maximum(np.asarray(ready, np.int64), start)
    n = ready.size
    if n == 0:
        return ready
    if np.ndim(cost) == 0:
        c = np.arange(1, n + 1, dtype=np.int64) * int(cost)
    else:
        c = np.cumsum(cost, dtype=np.int64)
    before = np.concatenate(([0], c[:-1]))
    return c + np.maximum.accumulate(ready - before)


def lane_finish_times(ready: np.ndarray, cost: int, lanes: int, start: int = 0) -> np.ndarray:
    """A server that completes ``lanes`` jobs together every ``cost`` cycles (a core's output
    port with ``issue_width`` lanes): jobs go in groups of ``lanes`` in order; a group starts
    when its last job is ready."""
    if lanes <= 1 or ready.size == 0:
        return finish_times(ready, cost, start)
    group = np.arange(ready.size) // lanes
    firsts = np.flatnonzero(np.diff(group, prepend=-1))
    group_ready = np.maximum.reduceat(np.asarray(ready, np.int64), firsts)
    return finish_times(group_ready, cost, start)[group]
