"""One :class:`RunResult` from the results of contiguous shards of a run's samples.

Samples are independent: the chip is reset before each one and every random choice is seeded
from (seed, sample index) (:func:`neurosim.sim.engine.simulate`, ``first_sample``). What a run
accumulates over its samples is integer (per-core operation counters and busy cycles, tile-pair
and per-link message counts, spikes per population) or an ordered list (the sample records), and
the raster and phase timing belong to one sample. So the merge of the shards, in sample order, is
exactly the run simulated in one process: integer sums do not depend on their order, and every
figure computed from the records (means, energy) sees the same records in the same order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from neurosim.errors import SimulationError
from neurosim.sim.counters import RunResult
from neurosim.sim.noc.counters import LINK_COUNTERS

#: fields every shard of one run must agree on
_SAME = ("name", "mode", "dataset", "frames", "options", "static_w", "barrier_tiles")


def merge_results(parts: Sequence[RunResult], *, wall_s: float | None = None) -> RunResult:
    """The run whose samples are those of ``parts`` (shards of one run, any order, each a
    contiguous range of sample indices, together a contiguous range). ``wall_s``: the wall time of
    the whole run (default: the sum of the shards'). Raises :class:`SimulationError` when the
    shards are not of one run or leave a gap."""
    parts = sorted((p for p in parts if p.samples), key=lambda p: p.samples[0].index)
    if not parts:
        raise SimulationError("no samples to merge")
    _check_shards(parts)
    first = parts[0]
    recorded = [p for p in parts if p.raster is not None or p.phases is not None]
    if len(recorded) > 1:
        raise SimulationError(f"{len(recorded)} shards recorded a raster; a run records one sample")
    return dataclasses.replace(
        first,
        samples=[s for p in parts for s in p.samples],
        core={k: np.sum([p.core[k] for p in parts], axis=0, dtype=first.core[k].dtype) for k in first.core},
        tile_pairs=_sum_sparse([p.tile_pairs for p in parts]),
        raster=recorded[0].raster if recorded else None,
        phases=recorded[0].phases if recorded else None,
        links=_merge_links([p.links for p in parts]),
        spikes_per_population={
            k: int(sum(p.spikes_per_population[k] for p in parts)) for k in first.spikes_per_population
        },
        wall_s=float(sum(p.wall_s for p in parts)) if wall_s is None else float(wall_s),
    )


def _check_shards(parts: list[RunResult]) -> None:
    """Each shard a contiguous range of indices following the previous one; the same run settings."""
    expected = parts[0].samples[0].index
    for p in parts:
        idx = [s.index for s in p.samples]
        if idx != list(range(expected, expected + len(idx))):
            raise SimulationError(
                f"shard of samples {idx[0]}..{idx[-1]}: expected indices from {expected} on, in order"
            )
        expected += len(idx)
        for f in _SAME:
            if getattr(p, f) != getattr(parts[0], f):
                raise SimulationError(f"shards disagree on {f}: {getattr(parts[0], f)!r} vs {getattr(p, f)!r}")


def _sum_sparse(mats: list):
    total = mats[0].copy()
    for m in mats[1:]:
        total = total + m
    return total


def _merge_links(links: list[dict | None]) -> dict | None:
    """Per-link counters summed over the shards (peak occupancy: the maximum); the geometry
    (the other keys) is that of the first shard."""
    if links[0] is None:
        if any(x is not None for x in links):
            raise SimulationError("some shards have per-link counters and some do not")
        return None
    acc = {k: v.copy() for k, v in links[0].items()}
    for x in links[1:]:
        if x is None:
            raise SimulationError("some shards have per-link counters and some do not")
        for k in LINK_COUNTERS:
            acc[k] = np.maximum(acc[k], x[k]) if k == "peak_occupancy" else acc[k] + x[k]
    return acc
