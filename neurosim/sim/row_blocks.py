"""Incoming weight blocks that read the network's own rows: no copy of the synapses for the cores.

A core's block of a key (delivery delay, through the delay ring) is, in the store layout of
:mod:`neurosim.sim.block_cut`, a copy of the synapses into its neurons (16 bytes a synapse with
its row index). Where every core holds one range of consecutive neurons of one population and
each row of a projection is sorted by target, the synapses of source ``r`` into a core are one
run of ``r``'s row in the projection itself: two binary searches find it. A :class:`RowBlock` is
that view (a few references, nothing per synapse or per row), used when the network is large
(:func:`row_plan`). Summing a batch of messages adds each message's run in message order, one
value after the other in float32: the order in which :func:`neurosim.sim.core.row_sums` sums a
store block's rows, so both layouts give the same currents (tests/sim/test_row_blocks.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurosim.describe.network import Network, Projection
from neurosim.neuron import DTYPE

_compiled: dict[str, Any] = {}


def row_plan(
    net: Network, plan: dict[tuple[int, bool], list[Projection]] | None, core_of: np.ndarray, order: np.ndarray,
    per_core: np.ndarray,
) -> dict[tuple[int, bool], list[Projection]] | None:  # fmt: skip
    """The projections of every key (``plan``, :func:`neurosim.sim.block_cut.cut_plan`) when
    every core can read them in place: numba imports, each row sorted, at most one projection a
    key into any population, and every core's neurons consecutive ids of one population (``order``:
    the neurons core by core, ``per_core`` their counts); else None."""
    if plan is None or _kernel() is None:
        return None
    for prs in plan.values():
        if len({pr.target for pr in prs}) < len(prs):
            return None
        if not all(pr.weights.has_sorted_indices for pr in prs):
            return None
    used = per_core > 0
    ends = np.cumsum(per_core)
    first, last = order[(ends - per_core)[used]], order[ends[used] - 1]
    if np.any(last - first + 1 != per_core[used]):
        return None
    pop = net.population_of
    if np.any(pop[first] != pop[last]):
        return None
    return plan


def core_blocks(net: Network, plan: dict[tuple[int, bool], list[Projection]], first: int, size: int) -> list:
    """The blocks of the core holding neurons ``first .. first + size - 1`` (one population): per
    key, in ``plan``'s order, the :class:`RowBlock` of the projection into its population."""
    g = int(net.population_of[first])
    target = net.populations[g].name
    lo = first - int(net.offsets[g])
    out = []
    for (delay, ring), prs in plan.items():
        for pr in prs:
            if pr.target == target:
                out.append(RowBlock(pr, int(net.offsets[net.index[pr.source]]), lo, lo + size, delay, ring))
    return out


class RowBlock:
    """The synapses of projection ``pr`` into the targets ``lo .. hi - 1`` of its population (the
    core's neurons): its rows, read in place. ``src0``: the global id of the projection's first
    source; ``delay``: the block's delivery delay; ``ring``: its synapses go through the delay
    ring buffer."""

    __slots__ = ("indptr", "indices", "data", "src0", "n_rows", "lo", "hi", "delay", "ring")

    def __init__(self, pr: Projection, src0: int, lo: int, hi: int, delay: int, ring: bool):
        w = pr.weights
        self.indptr, self.indices, self.data = w.indptr, w.indices, w.data
        self.src0, self.n_rows, self.lo, self.hi = src0, w.shape[0], lo, hi
        self.delay, self.ring = delay, ring

    def sums(self, src: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """The column sums of the messages from sources ``src`` (in their order, float32, one
        value after the other); adds each message's synapses in the block to ``counts``."""
        out = np.zeros(self.hi - self.lo, DTYPE)
        _kernel()(
            np.ascontiguousarray(src, np.int64), self.indptr, self.indices, self.data, self.src0, self.n_rows,
            self.lo, self.hi, out, counts,
        )  # fmt: skip
        return out


def _gather(src, indptr, indices, data, src0, n_rows, lo, hi, out, counts):  # pragma: no cover - numba
    """:meth:`RowBlock.sums`' loop: each message's run of its row (targets ``lo .. hi - 1``, two
    binary searches) added to ``out`` in message order."""
    for k in range(src.size):
        r = src[k] - src0
        if r < 0 or r >= n_rows:
            continue
        a, b = indptr[r], indptr[r + 1]
        row = indices[a:b]
        s = a + np.searchsorted(row, lo)
        e = a + np.searchsorted(row, hi)
        for q in range(s, e):
            out[indices[q] - lo] += data[q]
        counts[k] += e - s


def _kernel():
    """The compiled loop, or None when numba does not import."""
    if "gather" not in _compiled:
        try:
            import numba  # noqa: PLC0415 - optional extra
        except ImportError:
            _compiled["gather"] = None
        else:
            _compiled["gather"] = numba.njit(cache=True)(_gather)
    return _compiled["gather"]
