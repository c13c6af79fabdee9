"""The timing model of the mesh (:meth:`neurosim.sim.noc.mesh.Mesh.deliver`) and its three ways
of computing it.

The timing model
----------------
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
  the buffer limits (:mod:`neurosim.sim.noc.event`; the only Python loop per hop; used only when
  back-pressure occurs).

With ``router.contention: false`` every message takes the contention-free latency and only the
per-link message and busy counts are kept.

These three are the reference. When numba is installed and every link has ``L >= 1`` and
``S >= 1``, :meth:`neurosim.sim.noc.mesh.Mesh.deliver_detailed` times a batch instead in one
compiled pass (:mod:`neurosim.sim.noc.fast`, switch :data:`neurosim.sim.noc.fast.ENABLED`) that
gives the same cycles, counters and model names (tested against this module).

Ties with zero-latency hops (``L = 0``) under back-pressure may be served in processing order
rather than batch order; with ``L >= 1`` the three agree exactly (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.sim.noc import event as noc_event
from neurosim.sim.noc.routes import Routes

MODELS = ("local", "off", "contention-free", "fifo", "backpressure")

_I64 = np.int64


@dataclass
class Traversals:
    """The link traversals of a batch's remote messages: for unicast one chain per message, for
    multicast one tree per group. Per traversal ``link``, ``lat``, ``svc`` (its link's latency
    and service time), ``parent`` (traversal index, -1 at the root), ``send`` (of its unit) and
    ``order`` (tie-break key); per remote message the traversal of its ``first`` and ``last``
    hop; ``unicast``."""

    link: np.ndarray
    lat: np.ndarray
    svc: np.ndarray
    parent: np.ndarray
    send: np.ndarray
    order: np.ndarray
    first: np.ndarray
    last: np.ndarray
    unicast: bool


@dataclass
class Timed:
    """How one batch's traversals were timed: ``model`` (``"off"``, ``"contention-free"``,
    ``"fifo"``, ``"backpressure"``), ``entry`` (start cycle of each traversal); for the counters
    ``ready`` (request cycle of each traversal; None where waits are not counted), ``peak`` (peak
    buffer occupancy per link) and ``stall`` (stall cycles per link), None where not counted."""

    model: str
    entry: np.ndarray
    ready: np.ndarray | None = None
    peak: np.ndarray | None = None
    stall: np.ndarray | None = None


def traversals(routes: Routes, remote, st, dt, send, group, src_core) -> Traversals:
    """The :class:`Traversals` of the messages ``remote`` (indices into the batch arrays: source
    and destination tiles ``st``, ``dt``, ``send`` cycles, ``src_core``) of a batch; ``group``:
    multicast group ids of the batch or None (unicast)."""
    rs, rd = st[remote], dt[remote]
    owner, _, link = routes.expand(rs, rd)
    h = np.bincount(owner, minlength=remote.size)
    last_of_msg = np.cumsum(h) - 1
    first_of_msg = last_of_msg - h + 1
    if group is None:
        parent = np.arange(link.size, dtype=_I64) - 1
        parent[first_of_msg] = -1
        t_send, t_order, first, last = send[remote][owner], remote[owner], first_of_msg, last_of_msg
    else:
        ginv, gsend, gorder = _groups(group, send, src_core)
        unit_of_hop = ginv[remote][owner]
        key = unit_of_hop * routes.n_links + link
        ukey, hop_to_t = np.unique(key, return_inverse=True)
        t_unit, link = ukey // routes.n_links, ukey % routes.n_links
        g_src_tile = np.empty(gsend.size, _I64)
        g_src_tile[ginv] = st
        pl = routes.parent_link(g_src_tile[t_unit], link)
        pkey = t_unit * routes.n_links + pl
        parent = np.where(pl >= 0, np.searchsorted(ukey, pkey), -1)
        t_send, t_order, first, last = gsend[t_unit], gorder[t_unit], hop_to_t[first_of_msg], hop_to_t[last_of_msg]
    return Traversals(
        link=link,
        lat=routes.link_latency[link],
        svc=routes.link_service[link],
        parent=parent,
        send=t_send,
        order=t_order,
        first=first,
        last=last,
        unicast=group is None,
    )


def _groups(group, send, src_core) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(group index of each message, send cycle of each group, order of each group) of a
    multicast batch: one source core per group; a group's send is its earliest, its order that of
    its first message."""
    g = np.asarray(group, _I64).ravel()
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
    return ginv, gsend, gorder


class Timing:
    """The timing model of one mesh: its routes, buffer depth, whether contention is modelled,
    and the link busy-until times carried between batches (``keep_state``)."""

    def __init__(self, routes: Routes, buffer_depth: int, contention: bool):
        self.routes = routes
        self.buffer_depth = buffer_depth
        self.contention = contention
        self.reset_state()

    def reset_state(self) -> None:
        """Forget the link busy-until times carried between batches."""
        self.link_free_at = np.zeros(self.routes.n_links, _I64)

    def time(self, u: Traversals, keep_state: bool, force_event: bool = False, compiled: bool = True) -> Timed:
        """Start cycle of every traversal of a batch, by the fastest exact way (``force_event``:
        the event simulation; ``compiled``: its numba version when installed). With
        ``keep_state`` a link is busy until its last start of earlier batches plus its service
        time."""
        if not self.contention:
            timed = Timed("off", free_entry(self.routes, u))
        else:
            timed = self._contended(u, self.link_free_at if keep_state else None, force_event, compiled)
        np.maximum.at(self.link_free_at, u.link, timed.entry + u.svc)
        return timed

    def _contended(self, u: Traversals, free_at: np.ndarray | None, force_event: bool, compiled: bool) -> Timed:
        n_links, B = self.routes.n_links, self.buffer_depth
        if not force_event:
            entry = free_entry(self.routes, u)
            ok, peak = free_ok(u, entry, free_at, n_links, B)
            if ok:
                return Timed("contention-free", entry, peak=peak)
            entry = sweep(self.routes, u, free_at)
            peak, ok = occupancy(u.link, entry, leave(u, entry), n_links, B)
            if ok:
                return Timed("fifo", entry, ready_cycles(u, entry), peak)
        entry, stall = noc_event.event_sim(
            u.link, u.lat, u.svc, u.parent, u.order, u.send, free_at, n_links, B, compiled=compiled
        )
        peak, _ = occupancy(u.link, entry, leave(u, entry), n_links, B)
        return Timed("backpressure", entry, ready_cycles(u, entry), peak, stall)


def ready_cycles(u: Traversals, entry: np.ndarray) -> np.ndarray:
    """Request cycle of every traversal: its unit's send at the root, else its parent's arrival."""
    p = u.parent
    return np.where(p >= 0, entry[p] + u.lat[p], u.send)


def free_entry(routes: Routes, u: Traversals) -> np.ndarray:
    """Start cycle of every traversal when nothing waits: send + latency of the route prefix."""
    link = u.link
    if u.unicast:
        lat = u.lat
        cum = np.cumsum(lat) - lat  # latency before each hop, over the batch
        return u.send + cum - cum[root_of(u)]
    # a tree link leaving tile T is reached over the XY route from the source to T
    root = root_of(u)
    src_tile = routes.link_src[link[root]]
    return u.send + routes.route_latency(src_tile, routes.link_src[link])


def root_of(u: Traversals) -> np.ndarray:
    """Index of the root traversal of each traversal's chain/tree."""
    if u.unicast:
        is_root = u.parent < 0
        return np.flatnonzero(is_root)[np.cumsum(is_root) - 1]
    root = np.arange(u.parent.size)
    p = u.parent
    # trees are shallow (at most W + H - 2 levels): pointer jumping
    while True:
        nxt = np.where(p[root] >= 0, p[root], root)
        if np.array_equal(nxt, root):
            return root
        root = nxt


def free_ok(u: Traversals, entry, free_at, n_links: int, B: int) -> tuple[bool, np.ndarray | None]:
    """Whether the contention-free timing is the model's answer: no link is requested twice
    within its service time, none before it is free (``free_at``, or None), and no buffer of depth
    ``B`` fills. Returns (ok, peak occupancy per link or None when not ok)."""
    link, svc, lat = u.link, u.svc, u.lat
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
    peak = np.zeros(n_links, _I64)
    starts = np.flatnonzero(first)
    peak[link[o][starts]] = np.maximum.reduceat(occ, starts)
    return bool(peak.max() <= B), peak


def leave(u: Traversals, entry: np.ndarray) -> np.ndarray:
    """Cycle each traversal leaves the buffer at the end of its link: its arrival, or the
    latest start of its continuations."""
    out = entry + u.lat
    p = u.parent
    has = p >= 0
    if u.unicast:
        out[p[has]] = entry[has]
    else:
        np.maximum.at(out, p[has], entry[has])
    return out


def occupancy(link, entry, leave, n_links: int, B: int) -> tuple[np.ndarray, bool]:
    """Peak buffer occupancy per link and whether it stays within the buffer depth ``B``: a start
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
    peak = np.zeros(n_links, _I64)
    peak[lo_sorted[starts]] = np.maximum.reduceat(occ, starts)
    return peak, bool(peak.max(initial=0) <= B)


def sweep(routes: Routes, u: Traversals, free_at) -> np.ndarray:
    """FIFO links with infinite buffers, swept in XY dependency order (a segmented max-plus
    recurrence per step): start = max(request, previous start on the link + S)."""
    link, lat, svc, parent, send, order = u.link, u.lat, u.svc, u.parent, u.send, u.order
    entry = np.zeros(link.size, _I64)
    step = routes.link_step[link]
    by_step = np.argsort(step, kind="stable")
    bounds = np.searchsorted(step[by_step], np.arange(routes.n_steps + 1))
    for s in range(routes.n_steps):
        idx = by_step[bounds[s] : bounds[s + 1]]
        if idx.size == 0:
            continue
        p = parent[idx]
        request = np.where(p >= 0, entry[p] + lat[p], send[idx])
        li = link[idx]
        # served by request cycle, also while a link is busy from an earlier batch (``free_at``)
        ready = request if free_at is None else np.maximum(request, free_at[li])
        o = np.lexsort((order[idx], request, li))
        entry[idx[o]] = segmented_fifo(li[o], ready[o], svc[idx][o])
    return entry


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
