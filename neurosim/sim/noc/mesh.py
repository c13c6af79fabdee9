"""The network-on-chip: a 2-D mesh of routers with dimension-order (XY) routing, links with a
bandwidth and finite buffers, unicast or multicast delivery, optionally several chips.

:class:`Mesh` composes one part per job, each documented in its module:

* :mod:`neurosim.sim.noc.routes`: the geometry (tile and link numbering, kinds of hop and what
  each costs), the link table, XY routes, multicast trees, hop counts and contention-free
  latencies, built once per run;
* :mod:`neurosim.sim.noc.timing`: the timing model of :meth:`Mesh.deliver` (credit-based links
  with finite buffers, back-pressure) and its three ways of computing it (contention-free, FIFO
  sweep, event simulation, the last in :mod:`neurosim.sim.noc.event`), the reference of the
  one compiled pass :mod:`neurosim.sim.noc.fast` that times batches when numba is installed;
* :mod:`neurosim.sim.noc.counters`: the per-link and per-tile counters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.describe.hardware import HardwareSpec
from neurosim.sim.noc import fast as noc_fast
from neurosim.sim.noc.counters import HOP_OPS, LINK_COUNTERS, NocCounters
from neurosim.sim.noc.routes import Routes
from neurosim.sim.noc.timing import Timing, segmented_fifo, traversals

__all__ = ["HOP_OPS", "LINK_COUNTERS", "Delivery", "Mesh", "segmented_fifo"]

_I64 = np.int64


@dataclass
class Delivery:
    """The outcome of one :meth:`Mesh.deliver_detailed` call, aligned with the batch.

    ``arrival``: cycle each message reaches its destination core; ``inject``: cycle it left its
    source core into the network (its first link start; ``send`` for local messages and when
    nothing waits); ``model``: how the batch was timed (``"local"``, ``"off"`` for
    ``contention: false``, ``"contention-free"``, ``"fifo"``, ``"backpressure"``);
    ``ops``: hops by kind and local deliveries of this batch."""

    arrival: np.ndarray
    inject: np.ndarray
    model: str
    ops: dict


class Mesh:
    """Routing tables, link figures, the NoC timing model and per-link counters of one hardware
    description (built once per run): :attr:`routes`, :attr:`timing` and :attr:`stats`."""

    def __init__(self, hw: HardwareSpec):
        self.hw = hw
        r = self.routes = Routes(hw)
        self.timing = Timing(r, hw.router.buffer_depth_msgs, hw.router.contention)
        self.stats = NocCounters(r.n_links, r.n_tiles)
        self.multicast = hw.router.delivery == "multicast"
        self.use_compiled = True  # numba event simulation when available
        self._one_pass = noc_fast.figures_ok(r)  # the compiled one-pass path fits these links
        # the routing tables, by their names on the mesh
        self.width, self.height, self.n_tiles, self.n_links = r.width, r.height, r.n_tiles, r.n_links
        self.tile_of_core, self.tile_x, self.tile_y = r.tile_of_core, r.tile_x, r.tile_y
        self.latency_local = r.latency_local
        self.link_src, self.link_dst, self.link_dir = r.link_src, r.link_dst, r.link_dir
        self.link_x, self.link_y, self.link_exists, self.link_kind = r.link_x, r.link_y, r.link_exists, r.link_kind
        self.kind_latency, self.kind_service = r.kind_latency, r.kind_service
        self.link_latency, self.link_service, self.link_energy_pj = r.link_latency, r.link_service, r.link_energy_pj
        self.link_step, self.n_steps = r.link_step, r.n_steps

    @property
    def buffer_depth(self) -> int:
        """Messages the buffer at the far end of each link holds (``router.buffer_depth_msgs``)."""
        return self.timing.buffer_depth

    @property
    def contention(self) -> bool:
        """Whether links are timed with contention (``router.contention``)."""
        return self.timing.contention

    # ---- counters -------------------------------------------------------------------------------
    @property
    def counters(self) -> dict[str, np.ndarray]:
        """The per-link counters (by name, see :meth:`link_stats`), live."""
        return self.stats.counters

    @property
    def tile_local(self) -> np.ndarray:
        """Local deliveries per tile, live."""
        return self.stats.tile_local

    @property
    def ops(self) -> dict[str, int]:
        """Hops by kind and local deliveries, live (see :meth:`op_counts`)."""
        return self.stats.ops

    @property
    def models(self) -> dict[str, int]:
        """Batches timed by each model since :meth:`reset_counters`, live."""
        return self.stats.models

    @property
    def link_free_at(self) -> np.ndarray:
        """Cycle each link is free from, carried between :meth:`deliver` calls (``keep_state``)."""
        return self.timing.link_free_at

    def reset_counters(self) -> None:
        """Zero the per-link and per-tile counters (call per sample, or per run)."""
        self.stats.reset()

    def reset_state(self) -> None:
        """Forget link busy-until times carried between :meth:`deliver` calls (``keep_state``)."""
        self.timing.reset_state()

    def link_stats(self) -> dict[str, np.ndarray]:
        """Per directed link (index ``tile * 4 + d``), accumulated since :meth:`reset_counters`:
        ``messages`` (traversals), ``busy_cycles`` (messages x service time), ``wait_cycles`` (sum
        over messages of request-to-start delay), ``stall_cycles`` (cycles the link was free, had
        a message waiting, but its buffer was full), ``peak_occupancy`` (most messages in its
        buffer at once); and the geometry: ``src_tile``, ``dst_tile`` (-1: no link), ``direction``
        (0..3 = E, W, S, N), ``kind`` (0 east-west, 1 north-south, 2 chip link), ``exists``,
        ``latency_cycles``, ``service_cycles``, ``energy_pj``."""
        out = {k: v.copy() for k, v in self.stats.counters.items()}
        out.update(self.routes.geometry())
        return out

    def tile_stats(self) -> dict[str, np.ndarray]:
        """Per tile: ``local`` deliveries (between cores of the tile) since :meth:`reset_counters`."""
        return {"local": self.stats.tile_local.copy()}

    def op_counts(self) -> dict[str, int]:
        """Hops by kind (``hop_ew``, ``hop_ns``, ``hop_chip``) and ``local`` deliveries of every
        :meth:`deliver` call since :meth:`reset_counters` (multicast: tree links once)."""
        return dict(self.stats.ops)

    # ---- routes and contention-free latency (see :class:`Routes`) -------------------------------
    def tile_latency(self, st, dt) -> np.ndarray:
        """Contention-free latency (cycles) from tile(s) ``st`` to tile(s) ``dt``: the sum of the
        hop latencies of the XY route, or ``latency_local_cycles`` within a tile."""
        return self.routes.tile_latency(st, dt)

    def core_latency(self, src_core, dst_core) -> np.ndarray:
        """Contention-free delivery latency (cycles) of messages between physical cores."""
        return self.routes.core_latency(src_core, dst_core)

    @property
    def latency_cycles(self) -> np.ndarray:
        """Dense (n_tiles x n_tiles) contention-free latency table (built on first use; n_tiles^2
        entries: prefer :meth:`tile_latency` on large meshes)."""
        return self.routes.latency_cycles

    def route(self, src_tile: int, dst_tile: int) -> list[int]:
        """Directed link ids on the XY route from ``src_tile`` to ``dst_tile``."""
        return self.routes.route(src_tile, dst_tile)

    def multicast_tree(self, src_tile: int, dst_tiles) -> np.ndarray:
        """Directed link ids (sorted) of the XY multicast tree from ``src_tile`` to ``dst_tiles``:
        the union of the XY routes, each link once."""
        return self.routes.multicast_tree(src_tile, dst_tiles)

    def link_counts(self, tile_pairs) -> np.ndarray:
        """Messages over each directed link, from a (n_tiles x n_tiles) matrix (dense or sparse)
        of unicast message counts."""
        return self.routes.link_counts(tile_pairs)

    def hop_counts(self, tile_pairs) -> dict[str, int]:
        """East-west, north-south and chip-link hops and local deliveries of a tile-pair count
        matrix (dense or sparse) of unicast messages."""
        return self.routes.hop_counts(tile_pairs)

    # ---- delivery -------------------------------------------------------------------------------
    def deliver(self, src_core, dst_core, send_cycle, group=None, *, keep_state: bool = False) -> np.ndarray:
        """Arrival cycle at its destination core of every message of a batch (see
        :mod:`neurosim.sim.noc.timing` for the model). ``src_core``, ``dst_core``, ``send_cycle``:
        int arrays, one entry per message (any order; equal request cycles are served in batch
        order). ``group``: optional int array of multicast group ids (messages of one group share
        a source core and travel as one XY tree); ``None`` delivers every message on its own
        (unicast). With ``keep_state`` a link is busy until its last start of earlier calls plus
        its service time (buffers are taken as drained between calls). Counters accumulate in the
        mesh."""
        return self.deliver_detailed(src_core, dst_core, send_cycle, group, keep_state=keep_state).arrival

    def deliver_detailed(
        self, src_core, dst_core, send_cycle, group=None, *, keep_state: bool = False, method: str = "auto"
    ) -> Delivery:
        """As :meth:`deliver`, returning a :class:`Delivery` (arrival, injection cycles, model used,
        hop counts of the batch). ``method="event"`` skips the fast paths and always runs the event
        simulation (the reference; for tests and benchmarks)."""
        if method not in ("auto", "event"):
            raise ValueError(f"method must be 'auto' or 'event', got {method!r}")
        src_core, dst_core, send = self._checked(src_core, dst_core, send_cycle, group)
        st, dt = self.tile_of_core[src_core], self.tile_of_core[dst_core]
        one_pass = self._one_pass and self.use_compiled and noc_fast.on()
        if one_pass and group is None and self.contention and method == "auto":
            # a unicast batch in one compiled call, identical to the reference below
            arrival, inject, n_local, fmodel, kinds = noc_fast.deliver_unicast(self, st, dt, send, keep_state)
            ops = {op: int(k) for op, k in zip(HOP_OPS, kinds.tolist())}
            ops["local"] = int(n_local)
            model = "local" if fmodel is None else fmodel
            self.stats.add_batch(ops, model)
            return Delivery(arrival, inject, model, ops)
        arrival = send + self.latency_local
        inject = send.copy()
        local = st == dt
        ops = {op: 0 for op in HOP_OPS}
        ops["local"] = int(local.sum())
        if ops["local"]:
            self.stats.add_local(st[local])
        remote = np.flatnonzero(~local)
        model = "local"
        if remote.size and self.contention and method == "auto" and one_pass:
            # one compiled pass, identical to the reference below (neurosim.sim.noc.fast)
            model, arrival[remote], inject[remote], kinds = noc_fast.deliver(
                self, remote, st, dt, send, group, src_core, keep_state
            )
            for op, k in zip(HOP_OPS, kinds.tolist()):
                ops[op] = k
        elif remote.size:
            u = traversals(self.routes, remote, st, dt, send, group, src_core)
            self.stats.add_traversals(u.link, u.svc)
            timed = self.timing.time(u, keep_state, method == "event", self.use_compiled)
            self.stats.add_timing(u.link, timed)
            model, entry = timed.model, timed.entry
            arrival[remote] = entry[u.last] + u.lat[u.last]
            inject[remote] = entry[u.first]
            kinds = np.bincount(self.link_kind[u.link], minlength=3)
            for op, k in zip(HOP_OPS, kinds):
                ops[op] = int(k)
        self.stats.add_batch(ops, model)
        return Delivery(arrival, inject, model, ops)

    def _checked(self, src_core, dst_core, send_cycle, group) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The batch as flat int arrays, checked: one entry per message, cores on the mesh."""
        src_core = np.asarray(src_core, _I64).ravel()
        dst_core = np.asarray(dst_core, _I64).ravel()
        send = np.asarray(send_cycle, _I64).ravel()
        n = src_core.size
        if dst_core.size != n or send.size != n or (group is not None and np.size(group) != n):
            raise ValueError("src_core, dst_core, send_cycle (and group) must have one entry per message")
        nc = self.tile_of_core.size
        for name, a in (("src_core", src_core), ("dst_core", dst_core)):
            if n and (a.min() < 0 or a.max() >= nc):
                raise ValueError(f"{name} must lie in 0..{nc - 1}")
        return src_core, dst_core, send
