"""Per-link and per-tile counters of the mesh, accumulated over :meth:`Mesh.deliver` calls.

Per directed link: ``messages`` (traversals), ``busy_cycles`` (messages x service time),
``wait_cycles`` (sum over messages of request-to-start delay), ``stall_cycles`` (cycles the link
was free, had a message waiting, but its buffer was full), ``peak_occupancy`` (most messages in
its buffer at once). Per tile: ``local`` deliveries. Per run: hops by kind and local deliveries
(``ops``), and how many batches each timing model timed (``models``).
"""

from __future__ import annotations

import numpy as np

from neurosim.sim.noc.timing import MODELS, Timed

HOP_OPS = ("hop_ew", "hop_ns", "hop_chip")
LINK_COUNTERS = ("messages", "busy_cycles", "wait_cycles", "stall_cycles", "peak_occupancy")

_I64 = np.int64


class NocCounters:
    """The counters of one mesh of ``n_links`` directed links and ``n_tiles`` tiles."""

    def __init__(self, n_links: int, n_tiles: int):
        self.n_links, self.n_tiles = n_links, n_tiles
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.counters = {k: np.zeros(self.n_links, _I64) for k in LINK_COUNTERS}
        self.tile_local = np.zeros(self.n_tiles, _I64)
        self.ops = {op: 0 for op in HOP_OPS + ("local",)}
        self.models = {m: 0 for m in MODELS}

    def add_local(self, tiles: np.ndarray) -> None:
        """One local delivery on each of ``tiles`` (repeats count)."""
        self.tile_local += np.bincount(tiles, minlength=self.n_tiles)

    def add_traversals(self, link: np.ndarray, svc: np.ndarray) -> None:
        """Messages and busy cycles of link traversals (``svc``: their service times)."""
        c = self.counters
        c["messages"] += np.bincount(link, minlength=self.n_links)
        c["busy_cycles"] += np.bincount(link, weights=svc, minlength=self.n_links).astype(_I64)

    def add_timing(self, link: np.ndarray, timed: Timed) -> None:
        """Wait and stall cycles and peak occupancy of the traversals over ``link``, as timed."""
        c = self.counters
        if timed.stall is not None:
            c["stall_cycles"] += timed.stall
        if timed.ready is not None:
            wait = np.bincount(link, weights=timed.entry - timed.ready, minlength=self.n_links)
            c["wait_cycles"] += wait.astype(_I64)
        if timed.peak is not None:
            np.maximum(c["peak_occupancy"], timed.peak, out=c["peak_occupancy"])

    def add_batch(self, ops: dict[str, int], model: str) -> None:
        """The hop and local-delivery counts of one batch and the model that timed it."""
        for op in ops:
            self.ops[op] += ops[op]
        self.models[model] += 1
