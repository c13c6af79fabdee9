"""The network-on-chip: a 2-D mesh of routers with dimension-order (XY) routing, links with a
bandwidth and finite buffers, unicast or multicast delivery, optionally several chips.

Geometry
--------
Tiles are numbered row-major over the *global* mesh (all chips; ``tile = y * W + x`` with
``W = hw.grid_width``); ``y`` grows southwards. Directed links are numbered ``tile * 4 + d`` with
d in E, W, S, N (the link *leaving* ``tile`` in that direction); links off the mesh edge do not
exist. A link joining tiles of two chips is a *chip link*; the others are *router links*.

A message from a core to a core of the same tile is a *local* delivery (``latency_local_cycles``,
``energy_local_pj``; it uses no link and meets no contention). Across tiles it travels first
along x, then along y. Each link traversal (a *hop*) costs, by the kind of link:

=========  ==========================  =====================  ===================================
kind       latency ``L``               energy                 service time ``S`` (cycles)
=========  ==========================  =====================  ===================================
east-west  ``latency_hop_ew_cycles``   ``energy_hop_ew_pj``   ``ceil(1 / link_bandwidth_msgs_..)``
north-sth  ``latency_hop_ns_cycles``   ``energy_hop_ns_pj``   same
chip link  ``chips.link_latency_..``   ``chips.link_energy``  ``ceil(1 / chips.link_bandwidth..)``
=========  ==========================  =====================  ===================================

counted as the operations ``hop_ew``, ``hop_ns`` and ``hop_chip`` (``local`` for local deliveries).

The timing model (:meth:`Mesh.deliver`)
---------------------------------------
Messages are single-flit packets. Each directed link is a server with an input buffer of
``B = router.buffer_depth_msgs`` messages at its far end (credit-based flow control):

1. A message that is at router ``r`` at cycle ``t`` (injected by its source core at its send
   cycle, or arrived over the previous link) *requests* the next link ``l`` of its route at ``t``.
2. The link serves requests first-come first-served, by request cycle; equal request cycles are
   served in batch order (the position of the message, or of the first message of its multicast
   group, in the batch). It starts a message at the first cycle ``s >= t`` at which (a) it is
   free (it is busy for ``S`` cycles after each start) and (b) its buffer holds fewer than ``B``
   messages. Starting reserves a buffer place.
3. The message reaches the next router at ``s + L``. It holds its place in the buffer of ``l``
   until it *starts* on its next link (or, for a multicast copy, until every branch has started),
   or, at its destination tile, until it arrives (ejection into the core is immediate: the core's
   input queue is modelled by the core).
4. While a message waits for (b) alone (the link is free but its buffer is full) that link
   records *stall cycles*; the waiting message keeps its place in the buffer it is in, so
   back-pressure propagates upstream, and at the first hop it stalls the sending core (its
   *injection* cycle, :attr:`Delivery.inject`, is later than its send cycle).

A message's arrival cycle at its destination core is ``s_last + L_last``; without any waiting it
is ``send + sum of L over the route``, the contention-free latency. XY routing is deadlock-free:
links are only ever requested in the order E/W (along x) then S/N (along y), so no cycle of
buffer waits can form; for multicast trees too (branches only add requests further along x or y).

Multicast: messages sharing a ``group`` id (one source, one send cycle: the group is injected at
the earliest send cycle of its messages) form one XY tree, the union of the XY routes from the
source tile to each destination tile; each tree link is traversed once, and a copy is made where
the tree branches. Destination cores on the tree's tiles receive the copy on its arrival there.

Three ways of computing the same model (chosen per batch, fastest first):

* *contention-free*: if no link is requested by two messages less than ``S`` cycles apart and no
  buffer would ever hold ``B`` messages, arrival = send + route latency (vectorised);
* *FIFO sweep*: otherwise, with infinite buffers links are FIFO servers whose requests depend
  only on links earlier in XY order, so links are swept in that order (all links of one column or
  row at once, a segmented max-plus recurrence); if the resulting buffer occupancy never reaches
  ``B`` at a start, the result is exact;
* *event simulation*: otherwise, a discrete-event loop over (link, message) starts that enforces
  the buffer limits (the only Python loop per hop; used only when back-pressure occurs).

With ``router.contention: false`` every message takes the contention-free latency and only the
per-link message and busy counts are kept.

Ties with zero-latency hops (``L = 0``) under back-pressure may be served in processing order
rather than batch order; with ``L >= 1`` the three agree exactly (tested).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.topology import KIND_CHIP, KIND_EW, KIND_NS
from neurosim.sim.noc import event as noc_event

HOP_OPS = ("hop_ew", "hop_ns", "hop_chip")
LINK_COUNTERS = ("messages", "busy_cycles", "wait_cycles", "stall_cycles", "peak_occupancy")

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
    description (built once per run)."""

    def __init__(self, hw: HardwareSpec):
        self.hw = hw
        W, H, cpt = hw.grid_width, hw.grid_height, hw.mesh.cores_per_tile
        self.width, self.height = W, H
        self.n_tiles = W * H
        self.n_links = self.n_tiles * 4
        self.tile_of_core = np.arange(hw.n_cores, dtype=_I64) // cpt
        tx, ty = np.arange(self.n_tiles, dtype=_I64) % W, np.arange(self.n_tiles, dtype=_I64) // W
        self.tile_x, self.tile_y = tx, ty
        cw, ch = hw.mesh.width, hw.mesh.height
        r, c = hw.router, hw.chips
        self.buffer_depth = r.buffer_depth_msgs
        self.contention = r.contention
        self.multicast = r.delivery == "multicast"
        self.latency_local = r.latency_local_cycles
        # ---- per link: existence, far end, kind, latency, service time, energy, sweep step
        lx, ly = np.repeat(tx, 4), np.repeat(ty, 4)
        d = np.tile(np.arange(4), self.n_tiles)
        self.link_src = np.repeat(np.arange(self.n_tiles, dtype=_I64), 4)
        self.link_dir = d
        self.link_x, self.link_y = lx, ly
        dx = np.array([1, -1, 0, 0])[d]
        dy = np.array([0, 0, 1, -1])[d]
        nx, ny = lx + dx, ly + dy
        self.link_exists = (nx >= 0) & (nx < W) & (ny >= 0) & (ny < H)
        self.link_dst = np.where(self.link_exists, ny * W + nx, -1)
        crosses = self.link_exists & ((lx // cw != nx // cw) | (ly // ch != ny // ch))
        self.link_kind = np.where(crosses, KIND_CHIP, np.where(d < 2, KIND_EW, KIND_NS))
        lat = np.array([r.latency_hop_ew_cycles, r.latency_hop_ns_cycles, c.link_latency_cycles or 0], _I64)
        svc = np.array([r.service_cycles, r.service_cycles, c.service_cycles or 1], _I64)
        pj = np.array([r.energy_hop_ew_pj, r.energy_hop_ns_pj, c.link_energy_pj or 0.0])
        self.kind_latency, self.kind_service = lat, svc
        self.link_latency = lat[self.link_kind]
        self.link_service = svc[self.link_kind]
        self.link_energy_pj = np.where(self.link_exists, pj[self.link_kind], 0.0)
        # XY dependency order: a link is requested only after links of smaller step
        self.link_step = np.select([d == 0, d == 1, d == 2], [lx, W - 1 - lx, W - 1 + ly], W - 1 + H - 1 - ly)
        self.n_steps = max(W - 1 + H - 1, 1)
        self._chip_w, self._chip_h = cw, ch
        self.use_compiled = True  # numba event simulation when available
        self.reset_counters()
        self.reset_state()

    # ---- counters -------------------------------------------------------------------------------
    def reset_counters(self) -> None:
        """Zero the per-link and per-tile counters (call per sample, or per run)."""
        self.counters = {k: np.zeros(self.n_links, _I64) for k in LINK_COUNTERS}
        self.tile_local = np.zeros(self.n_tiles, _I64)
        self.ops = {op: 0 for op in HOP_OPS + ("local",)}
        self.models = {m: 0 for m in ("local", "off", "contention-free", "fifo", "backpressure")}

    def reset_state(self) -> None:
        """Forget link busy-until times carried between :meth:`deliver` calls (``keep_state``)."""
        self.link_free_at = np.zeros(self.n_links, _I64)

    def link_stats(self) -> dict[str, np.ndarray]:
        """Per directed link (index ``tile * 4 + d``), accumulated since :meth:`reset_counters`:
        ``messages`` (traversals), ``busy_cycles`` (messages x service time), ``wait_cycles`` (sum
        over messages of request-to-start delay), ``stall_cycles`` (cycles the link was free, had
        a message waiting, but its buffer was full), ``peak_occupancy`` (most messages in its
        buffer at once); and the geometry: ``src_tile``, ``dst_tile`` (-1: no link), ``direction``
        (0..3 = E, W, S, N), ``kind`` (0 east-west, 1 north-south, 2 chip link), ``exists``,
        ``latency_cycles``, ``service_cycles``, ``energy_pj``."""
        out = {k: v.copy() for k, v in self.counters.items()}
        out.update(
            src_tile=self.link_src.copy(),
            dst_tile=self.link_dst.copy(),
            direction=self.link_dir.copy(),
            kind=self.link_kind.copy(),
            exists=self.link_exists.copy(),
            latency_cycles=self.link_latency.copy(),
            service_cycles=self.link_service.copy(),
            energy_pj=self.link_energy_pj.copy(),
        )
        return out

    def tile_stats(self) -> dict[str, np.ndarray]:
        """Per tile: ``local`` deliveries (between cores of the tile) since :meth:`reset_counters`."""
        return {"local": self.tile_local.copy()}

    def op_counts(self) -> dict[str, int]:
        """Hops by kind (``hop_ew``, ``hop_ns``, ``hop_chip``) and ``local`` deliveries of every
        :meth:`deliver` call since :meth:`reset_counters` (multicast: tree links once)."""
        return dict(self.ops)

    # ---- contention-free latency ------------------------------------------------------------------
    def _hops(self, st, dt):
        """(east-west hops, north-south hops, chip-link hops) between tiles (vectorised)."""
        st, dt = np.asarray(st, _I64), np.asarray(dt, _I64)
        x0, y0, x1, y1 = self.tile_x[st], self.tile_y[st], self.tile_x[dt], self.tile_y[dt]
        cx = np.abs(x1 // self._chip_w - x0 // self._chip_w)
        cy = np.abs(y1 // self._chip_h - y0 // self._chip_h)
        return np.abs(x1 - x0) - cx, np.abs(y1 - y0) - cy, cx + cy

    def _route_latency(self, st, dt):
        ew, ns, chip = self._hops(st, dt)
        lat = self.kind_latency
        return ew * lat[KIND_EW] + ns * lat[KIND_NS] + chip * lat[KIND_CHIP]

    def tile_latency(self, st, dt) -> np.ndarray:
        """Contention-free latency (cycles) from tile(s) ``st`` to tile(s) ``dt``: the sum of the
        hop latencies of the XY route, or ``latency_local_cycles`` within a tile."""
        st, dt = np.asarray(st, _I64), np.asarray(dt, _I64)
        return np.where(st == dt, self.latency_local, self._route_latency(st, dt))

    def core_latency(self, src_core, dst_core) -> np.ndarray:
        """Contention-free delivery latency (cycles) of messages between physical cores."""
        return self.tile_latency(self.tile_of_core[src_core], self.tile_of_core[dst_core])

    @property
    def latency_cycles(self) -> np.ndarray:
        """Dense (n_tiles x n_tiles) contention-free latency table (built on first use; n_tiles^2
        entries: prefer :meth:`tile_latency` on large meshes)."""
        if getattr(self, "_latency_table", None) is None:
            t = np.arange(self.n_tiles)
            self._latency_table = self.tile_latency(t[:, None], t[None, :])
        return self._latency_table

    # ---- routes -----------------------------------------------------------------------------------
    def route(self, src_tile: int, dst_tile: int) -> list[int]:
        """Directed link ids on the XY route from ``src_tile`` to ``dst_tile``."""
        _, _, links = self._expand(np.array([src_tile], _I64), np.array([dst_tile], _I64))
        return links.tolist()

    def multicast_tree(self, src_tile: int, dst_tiles) -> np.ndarray:
        """Directed link ids (sorted) of the XY multicast tree from ``src_tile`` to ``dst_tiles``:
        the union of the XY routes, each link once."""
        dst = np.unique(np.asarray(dst_tiles, _I64).ravel())
        _, _, links = self._expand(np.full(dst.size, src_tile, _I64), dst)
        return np.unique(links)

    def _expand(self, st: np.ndarray, dt: np.ndarray):
        """XY routes of ``st[i] -> dt[i]`` flattened: (owner i, hop index k, link id) per hop."""
        W = self.width
        x0, y0, x1, y1 = self.tile_x[st], self.tile_y[st], self.tile_x[dt], self.tile_y[dt]
        nx, ny = np.abs(x1 - x0), np.abs(y1 - y0)
        h = nx + ny
        total = int(h.sum())
        owner = np.repeat(np.arange(st.size, dtype=_I64), h)
        k = np.arange(total, dtype=_I64) - np.repeat(np.cumsum(h) - h, h)
        nxo = nx[owner]
        in_x = k < nxo
        sx, sy = np.sign(x1 - x0)[owner], np.sign(y1 - y0)[owner]
        x = np.where(in_x, x0[owner] + sx * k, x1[owner])
        y = np.where(in_x, y0[owner], y0[owner] + sy * (k - nxo))
        d = np.where(in_x, np.where(sx > 0, 0, 1), np.where(sy > 0, 2, 3))
        return owner, k, (y * W + x) * 4 + d

    @staticmethod
    def _pairs(tile_pairs):
        """(src tiles, dst tiles, counts) of the non-zero entries of a dense or sparse matrix."""
        m = sp.coo_array(tile_pairs)
        keep = m.data != 0
        return m.row[keep].astype(_I64), m.col[keep].astype(_I64), m.data[keep].astype(_I64)

    def link_counts(self, tile_pairs) -> np.ndarray:
        """Messages over each directed link, from a (n_tiles x n_tiles) matrix (dense or sparse)
        of unicast message counts."""
        src, dst, n = self._pairs(tile_pairs)
        keep = src != dst
        src, dst, n = src[keep], dst[keep], n[keep]
        owner, _, links = self._expand(src, dst)
        return np.bincount(links, weights=n[owner], minlength=self.n_links).astype(_I64)

    def hop_counts(self, tile_pairs) -> dict[str, int]:
        """East-west, north-south and chip-link hops and local deliveries of a tile-pair count
        matrix (dense or sparse) of unicast messages."""
        src, dst, n = self._pairs(tile_pairs)
        ew, ns, chip = self._hops(src, dst)
        return {
            "hop_ew": int((n * ew).sum()),
            "hop_ns": int((n * ns).sum()),
            "hop_chip": int((n * chip).sum()),
            "local": int(n[src == dst].sum()),
        }

    # ---- delivery -------------------------------------------------------------------------------
    def deliver(self, src_core, dst_core, send_cycle, group=None, *, keep_state: bool = False) -> np.ndarray:
        """Arrival cycle at its destination core of every message of a batch (see the module
        docstring for the model). ``src_core``, ``dst_core``, ``send_cycle``: int arrays, one entry
        per message (any order; equal request cycles are served in batch order). ``group``:
        optional int array of multicast group ids (messages of one group share a source core and
        travel as one XY tree); ``None`` delivers every message on its own (unicast). With
        ``keep_state`` a link is busy until its last start of earlier calls plus its service
        time (buffers are taken as drained between calls). Counters accumulate in the mesh."""
        return self.deliver_detailed(src_core, dst_core, send_cycle, group, keep_state=keep_state).arrival

    def deliver_detailed(
        self, src_core, dst_core, send_cycle, group=None, *, keep_state: bool = False, method: str = "auto"
    ) -> Delivery:
        """As :meth:`deliver`, returning a :class:`Delivery` (arrival, injection cycles, model used,
        hop counts of the batch). ``method="event"`` skips the fast paths and always runs the event
        simulation (the reference; for tests and benchmarks)."""
        if method not in ("auto", "event"):
            raise ValueError(f"method must be 'auto' or 'event', got {method!r}")
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
        st, dt = self.tile_of_core[src_core], self.tile_of_core[dst_core]
        arrival = send + self.latency_local
        inject = send.copy()
        local = st == dt
        ops = {op: 0 for op in HOP_OPS}
        ops["local"] = int(local.sum())
        if ops["local"]:
            np.add.at(self.tile_local, st[local], 1)
        remote = np.flatnonzero(~local)
        model = "local"
        if remote.size:
            units = self._units(remote, st, dt, send, group, src_core)
            model, entry = self._time(units, keep_state, method == "event")
            t_link, lat = units["link"], units["lat"]
            last, first = units["last"], units["first"]
            arrival[remote] = entry[last] + lat[last]
            inject[remote] = entry[first]
            kinds = np.bincount(self.link_kind[t_link], minlength=3)
            for op, k in zip(HOP_OPS, kinds):
                ops[op] = int(k)
        for op in ops:
            self.ops[op] += ops[op]
        self.models[model] += 1
        return Delivery(arrival, inject, model, ops)

    def _units(self, remote, st, dt, send, group, src_core) -> dict:
        """Link traversals of the remote messages: for unicast one chain per message, for
        multicast one tree per group. Returns per traversal ``link``, ``lat``, ``svc``, ``parent``
        (traversal index, -1 at the root), ``send`` (of its unit) and ``order`` (tie-break key);
        per remote message the traversal of its ``first`` and ``last`` hop; ``unicast``."""
        rs, rd = st[remote], dt[remote]
        owner, k, link = self._expand(rs, rd)
        h = np.bincount(owner, minlength=remote.size)
        last_of_msg = np.cumsum(h) - 1
        first_of_msg = last_of_msg - h + 1
        if group is None:
            parent = np.arange(link.size, dtype=_I64) - 1
            parent[first_of_msg] = -1
            u = {
                "link": link,
                "parent": parent,
                "send": send[remote][owner],
                "order": remote[owner],
                "first": first_of_msg,
                "last": last_of_msg,
                "unicast": True,
            }
        else:
            g = np.asarray(group, _I64).ravel()
            # groups: one source core each; the group's send is its earliest, order its first message
            gid, ginv = np.unique(g, return_inverse=True)
            ng = gid.size
            src_min = np.full(ng, np.iinfo(_I64).max)
            src_max = np.full(ng, -1)
            np.minimum.at(src_min, ginv, src_core)
            np.maximum.at(src_max, ginv, src_core)
            if np.any(src_min != src_max):
                bad = int(gid[np.flatnonzero(src_min != src_max)[0]])
                raise ValueError(f"multicast group {bad} has messages from several source cores")
            gsend = np.full(ng, np.iinfo(_I64).max)
            np.minimum.at(gsend, ginv, send)
            gorder = np.full(ng, np.iinfo(_I64).max)
            np.minimum.at(gorder, ginv, np.arange(g.size, dtype=_I64))
            unit_of_hop = ginv[remote][owner]
            key = unit_of_hop * self.n_links + link
            ukey, hop_to_t = np.unique(key, return_inverse=True)
            t_unit, t_link = ukey // self.n_links, ukey % self.n_links
            g_src_tile = np.empty(ng, _I64)
            g_src_tile[ginv] = st
            pl = self._parent_link(g_src_tile[t_unit], t_link)
            pkey = t_unit * self.n_links + pl
            parent = np.where(pl >= 0, np.searchsorted(ukey, pkey), -1)
            u = {
                "link": t_link,
                "parent": parent,
                "send": gsend[t_unit],
                "order": gorder[t_unit],
                "first": hop_to_t[first_of_msg],
                "last": hop_to_t[last_of_msg],
                "unicast": False,
            }
        u["lat"] = self.link_latency[u["link"]]
        u["svc"] = self.link_service[u["link"]]
        return u

    def _parent_link(self, src_tile, link):
        """The link before ``link`` on XY routes from ``src_tile`` (-1: ``link`` leaves the source)."""
        W = self.width
        t, d = link // 4, link % 4
        x, y = t % W, t // W
        sx, sy = src_tile % W, src_tile // W
        tile = lambda xx, yy: yy * W + xx  # noqa: E731
        xpar = np.where(x > sx, tile(x - 1, sy) * 4 + 0, tile(x + 1, sy) * 4 + 1)  # the X link into (x, sy)
        xpar = np.where(x == sx, -1, xpar)
        return np.select(
            [d == 0, d == 1, d == 2, d == 3],
            [
                np.where(x == sx, -1, tile(x - 1, y) * 4 + 0),
                np.where(x == sx, -1, tile(x + 1, y) * 4 + 1),
                np.where(y == sy, xpar, tile(x, y - 1) * 4 + 2),
                np.where(y == sy, xpar, tile(x, y + 1) * 4 + 3),
            ],
        )

    # ---- the timing engines ---------------------------------------------------------------------
    def _time(self, u: dict, keep_state: bool, force_event: bool = False) -> tuple[str, np.ndarray]:
        link, lat, svc, parent, send = u["link"], u["lat"], u["svc"], u["parent"], u["send"]
        c = self.counters
        c["messages"] += np.bincount(link, minlength=self.n_links)
        c["busy_cycles"] += np.bincount(link, weights=svc, minlength=self.n_links).astype(_I64)
        if not self.contention:
            entry = self._free_entry(u)
            self._note_free_at(link, entry, svc)
            return "off", entry
        entry = self._free_entry(u)
        free_at = self.link_free_at if keep_state else None
        model = "contention-free"
        ok, peak = (False, None) if force_event else self._free_ok(u, entry, free_at)
        if not ok:
            model = "fifo"
            if not force_event:
                entry = self._sweep(u, free_at)
                peak, ok = self._occupancy(link, entry, self._leave(u, entry))
            if not ok:
                model = "backpressure"
                entry, stall = self._event_sim(u, free_at)
                peak, _ = self._occupancy(link, entry, self._leave(u, entry))
                c["stall_cycles"] += stall
            ready = np.where(parent >= 0, entry[parent] + lat[parent], send)
            c["wait_cycles"] += np.bincount(link, weights=entry - ready, minlength=self.n_links).astype(_I64)
        np.maximum(c["peak_occupancy"], peak, out=c["peak_occupancy"])
        self._note_free_at(link, entry, svc)
        return model, entry

    def _note_free_at(self, link, entry, svc):
        np.maximum.at(self.link_free_at, link, entry + svc)

    def _free_entry(self, u):
        """Start cycle of every traversal when nothing waits: send + latency of the route prefix."""
        link = u["link"]
        if u["unicast"]:
            lat = u["lat"]
            cum = np.cumsum(lat) - lat  # latency before each hop, over the batch
            return u["send"] + cum - cum[self._root_of(u)]
        # a tree link leaving tile T is reached over the XY route from the source to T
        root = self._root_of(u)
        src_tile = self.link_src[link[root]]
        return u["send"] + self._route_latency(src_tile, self.link_src[link])

    @staticmethod
    def _root_of(u):
        """Index of the root traversal of each traversal's chain/tree."""
        if u["unicast"]:
            is_root = u["parent"] < 0
            return np.flatnonzero(is_root)[np.cumsum(is_root) - 1]
        root = np.arange(u["parent"].size)
        p = u["parent"]
        # trees are shallow (at most W + H - 2 levels): pointer jumping
        while True:
            nxt = np.where(p[root] >= 0, p[root], root)
            if np.array_equal(nxt, root):
                return root
            root = nxt

    def _free_ok(self, u, entry, free_at) -> tuple[bool, np.ndarray | None]:
        """Whether the contention-free timing is the model's answer: no link is requested twice
        within its service time, none before it is free (``keep_state``), and no buffer fills.
        Returns (ok, peak occupancy per link or None when not ok)."""
        link, svc, lat = u["link"], u["svc"], u["lat"]
        if free_at is not None and np.any(entry < free_at[link]):
            return False, None
        lo_t = int(entry.min())
        span = int(entry.max()) - lo_t + 1
        key = link * span + (entry - lo_t)  # sorts by link, then start cycle
        o = np.argsort(key)
        ks = key[o]
        gap = np.diff(ks)
        same = link[o][1:] == link[o][:-1]
        if np.any(same & (gap < svc[o][1:])):
            return False, None
        # without waiting a message holds the buffer during [start, start + L): just after start k
        # it holds the messages of the link started in (e_k - L, e_k]
        n = ks.size
        first = np.empty(n, bool)
        first[0] = True
        first[1:] = ~same
        seg_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
        lo = np.maximum(np.searchsorted(ks, ks - lat[o], side="right"), seg_start)
        occ = np.arange(n) - lo + 1
        peak = np.zeros(self.n_links, _I64)
        starts = np.flatnonzero(first)
        peak[link[o][starts]] = np.maximum.reduceat(occ, starts)
        return bool(peak.max() <= self.buffer_depth), peak

    def _leave(self, u, entry):
        """Cycle each traversal leaves the buffer at the end of its link: its arrival, or the
        latest start of its continuations."""
        leave = entry + u["lat"]
        p = u["parent"]
        has = p >= 0
        if u["unicast"]:
            leave[p[has]] = entry[has]
        else:
            np.maximum.at(leave, p[has], entry[has])
        return leave

    def _occupancy(self, link, entry, leave):
        """Peak buffer occupancy per link and whether it stays within the buffer depth: a start
        needs fewer than B messages in the buffer; a place freed at cycle t is free at t."""
        n = link.size
        t = np.concatenate((leave, entry))
        lo_t = int(t.min())
        span = 2 * (int(t.max()) - lo_t + 1)
        ll = np.concatenate((link, link))
        # sort by link, then cycle, leaves before starts at one cycle
        key = ll * span + 2 * (t - lo_t) + np.repeat(np.array([0, 1], _I64), n)
        o = np.argsort(key)
        occ = np.cumsum(np.where(o >= n, 1, -1))  # every link's events net to zero
        lo_sorted = ll[o]
        starts = np.flatnonzero(np.concatenate(([True], lo_sorted[1:] != lo_sorted[:-1])))
        peak = np.zeros(self.n_links, _I64)
        peak[lo_sorted[starts]] = np.maximum.reduceat(occ, starts)
        return peak, bool(peak.max(initial=0) <= self.buffer_depth)

    def _sweep(self, u, free_at):
        """FIFO links with infinite buffers, swept in XY dependency order (a segmented max-plus
        recurrence per step): start = max(request, previous start on the link + S)."""
        link, lat, svc, parent, send, order = u["link"], u["lat"], u["svc"], u["parent"], u["send"], u["order"]
        entry = np.zeros(link.size, _I64)
        step = self.link_step[link]
        by_step = np.argsort(step, kind="stable")
        bounds = np.searchsorted(step[by_step], np.arange(self.n_steps + 1))
        for s in range(self.n_steps):
            idx = by_step[bounds[s] : bounds[s + 1]]
            if idx.size == 0:
                continue
            p = parent[idx]
            ready = np.where(p >= 0, entry[p] + lat[p], send[idx])
            if free_at is not None:
                ready = np.maximum(ready, free_at[link[idx]])
            li = link[idx]
            o = np.lexsort((order[idx], ready, li))
            entry[idx[o]] = segmented_fifo(li[o], ready[o], svc[idx][o])
        return entry

    def _event_sim(self, u, free_at):
        """Discrete-event simulation of the model with finite buffers. Returns start cycles and
        stall cycles per link. Compiled (:mod:`neurosim.sim.noc.event`) when numba is installed;
        :meth:`_event_sim_py` is the same loop in Python (the fallback and the reference)."""

        if noc_event.AVAILABLE and self.use_compiled:
            return noc_event.event_sim(u, free_at, self.n_links, self.buffer_depth)
        return self._event_sim_py(u, free_at)

    def _event_sim_py(self, u, free_at):
        """The finite-buffer event simulation in plain Python (see :meth:`_event_sim`)."""
        link = u["link"].tolist()
        lat = u["lat"].tolist()
        svc = u["svc"].tolist()
        par = u["parent"].tolist()
        order = u["order"].tolist()
        n = len(link)
        B = self.buffer_depth
        parent = u["parent"]
        kids_n = np.bincount(parent[parent >= 0], minlength=n)
        co = np.argsort(parent, kind="stable")
        co = co[parent[co] >= 0]
        ptr = np.concatenate(([0], np.cumsum(kids_n))).tolist()
        kids = co.tolist()
        pending = kids_n.tolist()
        entry = [0] * n
        busy: dict[int, int] = {}
        if free_at is not None:
            for l in set(link):
                busy[l] = int(free_at[l])
        occ: dict[int, int] = {}
        stall: dict[int, int] = {}
        blocked: dict[int, int] = {}
        queues: dict[int, list] = {}
        # events: (cycle, kind, order, x); kind 0: buffer place freed (x: link), 1: request (x:
        # traversal), 2: link free (x: link)
        send = u["send"].tolist()
        events = [(send[i], 1, order[i], i) for i in range(n) if par[i] < 0]
        heapq.heapify(events)
        push, pop = heapq.heappush, heapq.heappop
        while events:
            t = events[0][0]
            work = set()
            while events and events[0][0] == t:
                _, kind, o, x = pop(events)
                if kind == 1:
                    l = link[x]
                    q = queues.get(l)
                    if q is None:
                        q = queues[l] = []
                    push(q, (t, o, x))
                    work.add(l)
                elif kind == 0:
                    occ[x] -= 1
                    work.add(x)
                else:
                    work.add(x)
            while work:
                l = work.pop()
                q = queues.get(l)
                if not q or busy.get(l, 0) > t:
                    continue
                if occ.get(l, 0) >= B:
                    if l not in blocked:
                        blocked[l] = t
                    continue
                _, _, i = pop(q)
                if l in blocked:
                    stall[l] = stall.get(l, 0) + t - blocked.pop(l)
                entry[i] = t
                busy[l] = t + svc[i]
                occ[l] = occ.get(l, 0) + 1
                push(events, (t + svc[i], 2, 0, l))
                p = par[i]
                if p >= 0:
                    pending[p] -= 1
                    if pending[p] == 0:
                        lp = link[p]
                        occ[lp] -= 1
                        work.add(lp)
                arrive = t + lat[i]
                if pending[i] == 0:  # no continuation: leaves on arrival
                    push(events, (arrive, 0, 0, l))
                else:
                    for c in kids[ptr[i] : ptr[i + 1]]:
                        push(events, (arrive, 1, order[c], c))
        st = np.zeros(self.n_links, _I64)
        for l, v in stall.items():
            st[l] = v
        return np.array(entry, _I64), st


def segmented_fifo(seg: np.ndarray, ready: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """Start cycles of FIFO single servers, one per run of equal ``seg`` values (jobs sorted by
    server, then service order): ``start_k = max(ready_k, start_{k-1} + cost_{k-1})`` within a
    server. Unrolled as in :mod:`neurosim.sim.maxplus`, with each server's values lifted above
    the previous servers' so one ``maximum.accumulate`` serves all of them."""
    n = ready.size
    if n == 0:
        return ready
    C = np.cumsum(cost)
    before = C - cost
    val = ready - before
    new = np.empty(n, bool)
    new[0] = True
    new[1:] = seg[1:] != seg[:-1]
    sid = np.cumsum(new) - 1
    span = int(val.max() - val.min()) + 1
    lift = sid * span
    acc = np.maximum.accumulate(val + lift) - lift
    return before + acc
