"""One compiled pass per batch for the contention model of :mod:`neurosim.sim.noc.timing`: routes,
the finite-buffer link simulation, every counter and the name of the model the reference dispatch
would have used, with results identical to it (tested against it).

Why one pass gives the reference's answer. With every link latency ``L >= 1`` and service time
``S >= 1`` the three ways of :mod:`neurosim.sim.noc.timing` agree exactly, so the event
simulation alone times the batch; the model the reference reports follows from it: the batch is
``"contention-free"`` when no traversal waited (then the contention-free timing is the schedule
and fits the buffers), else ``"fifo"`` when no link ever stalled (a schedule that never waits for
a buffer place is the infinite-buffer FIFO schedule, and it fits the buffers), else
``"backpressure"``. The simulation itself, cheaper than the heap loop of
:mod:`neurosim.sim.noc.event` but the same model:

* every event is made at most ``D = max(L, S)`` cycles before it happens (a start frees its
  link ``S`` later and reaches the next router ``L`` later), so the events in flight lie in the
  next ``D`` cycles: a ring of per-cycle lists replaces the heap; the sends and the links busy
  from an earlier batch are sorted once;
* requests reach a link in cycle order, so a link's queue is a FIFO; requests of one cycle are
  placed in tie-break order as they arrive;
* within a cycle the links that can start start (a start never prevents another one), so the
  order of serving them does not matter; peak occupancy is read at the end of the cycle (places
  freed in a cycle are free in it, as :func:`neurosim.sim.noc.timing.occupancy` counts).

Used by :meth:`neurosim.sim.noc.mesh.Mesh.deliver_detailed` when :data:`ENABLED`, numba is
installed and the link figures allow it (:func:`usable`); otherwise the reference path runs.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from neurosim.sim.noc import event as noc_event
from neurosim.sim.noc.timing import traversals

#: the module switch: False runs the reference dispatch of :mod:`neurosim.sim.noc.timing`
ENABLED = True
AVAILABLE = importlib.util.find_spec("numba") is not None

_I64 = np.int64
NOT_BLOCKED = -(2**63)
_kernels: dict[str, Any] = {}


def figures_ok(routes) -> bool:
    """Whether the link figures allow the one-pass path: every existing link with latency and
    service time of at least one cycle (zero-latency hops may tie differently, see
    :mod:`neurosim.sim.noc.timing`)."""
    ex = routes.link_exists
    return bool(np.all(routes.link_latency[ex] >= 1) and np.all(routes.link_service[ex] >= 1))


def on() -> bool:
    """Whether the one-pass path is on: :data:`ENABLED` and numba installed (and not switched off
    for the event simulation, :data:`neurosim.sim.noc.event.AVAILABLE`, which runs the reference
    in the interpreter)."""
    return ENABLED and AVAILABLE and noc_event.AVAILABLE


def usable(routes) -> bool:
    """Whether the one-pass path times batches on these routes: :func:`on` and :func:`figures_ok`."""
    return on() and figures_ok(routes)


def deliver_unicast(mesh, st: np.ndarray, dt: np.ndarray, send: np.ndarray, keep_state: bool) -> tuple:
    """A whole unicast batch (source and destination tiles ``st``, ``dt``, ``send`` cycles; see
    :meth:`Mesh.deliver_detailed`) in one compiled call: updates the mesh's local-delivery and link
    counters and carried link state; returns (arrival, inject, local deliveries, model or None
    without remote messages, hops per kind of link)."""
    r, timing, c = mesh.routes, mesh.timing, mesh.stats.counters
    arrival, inject, n_local, n_remote, any_wait, any_stall, kinds = _compile()["unicast"](
        st,
        dt,
        send,
        np.int64(r.width),
        np.int64(r.latency_local),
        r.link_latency,
        r.link_service,
        r.link_kind,
        timing.link_free_at,
        keep_state,
        np.int64(timing.buffer_depth),
        mesh.stats.tile_local,
        c["peak_occupancy"],
        c["stall_cycles"],
        c["messages"],
        c["busy_cycles"],
        c["wait_cycles"],
    )
    model = None if n_remote == 0 else _model(any_wait, any_stall)
    return arrival, inject, n_local, model, kinds


def _model(any_wait: bool, any_stall: bool) -> str:
    """The model the reference dispatch reports (see the module doc)."""
    return "contention-free" if not any_wait else ("fifo" if not any_stall else "backpressure")


def _unicast_kernel(st, dt, send, W, lat_local, lat_l, svc_l, kind_l, free_at, keep, B, tile_local, *link_counters):
    """:func:`deliver_unicast`'s compiled body: local deliveries, XY routes, the simulation."""
    m = st.size
    arrival = send + lat_local
    inject = send.copy()
    n_local = 0
    for i in range(m):
        if st[i] == dt[i]:
            n_local += 1
            tile_local[st[i]] += 1
    nr = m - n_local
    if nr == 0:
        return arrival, inject, n_local, nr, False, False, np.zeros(3, np.int64)
    remote = np.empty(nr, np.int64)
    j = 0
    for i in range(m):
        if st[i] != dt[i]:
            remote[j] = i
            j += 1
    rsend = send[remote]
    link, parent, kid_ptr, kids, first, last = _routes_kernel(st[remote], dt[remote], W)
    o = np.argsort(rsend, kind="mergesort")  # by send, then batch order
    entry, any_wait, any_stall, kinds = _sim_kernel(
        link,
        lat_l,
        svc_l,
        kind_l,
        parent,
        kid_ptr,
        kids,
        np.zeros(0, np.int64),  # tie-break: the traversal index (message index, hops in route order)
        first[o],
        rsend[o],
        free_at,
        keep,
        B,
        *link_counters,
    )
    for j in range(nr):
        i = remote[j]
        h = last[j]
        arrival[i] = entry[h] + lat_l[link[h]]
        inject[i] = entry[first[j]]
    return arrival, inject, n_local, nr, any_wait, any_stall, kinds


def deliver(mesh, remote: np.ndarray, st, dt, send, group, src_core, keep_state: bool) -> tuple:
    """Time the remote messages ``remote`` of a batch (see :meth:`Mesh.deliver_detailed`): updates
    the mesh's link counters and carried link state; returns (model, arrival, inject of the
    remote messages, hops per kind of link)."""
    k = _compile()
    r, timing = mesh.routes, mesh.timing
    if group is None:
        link, parent, kid_ptr, kids, first, last = k["routes"](
            np.ascontiguousarray(st[remote], _I64), np.ascontiguousarray(dt[remote], _I64), np.int64(r.width)
        )
        rank = np.zeros(0, _I64)  # order = the traversal index: message index, hops in route order
        rsend = send[remote]
        o = np.argsort(rsend, kind="stable")
        roots, root_send = first[o], rsend[o]
    else:
        u = traversals(r, remote, st, dt, send, group, src_core)
        link, parent, first, last = u.link, u.parent, u.first, u.last
        n = link.size
        by_rank = np.lexsort((np.arange(n), np.asarray(u.order, _I64)))
        rank = np.empty(n, _I64)
        rank[by_rank] = np.arange(n)
        roots = np.flatnonzero(parent < 0)
        roots = roots[np.lexsort((rank[roots], u.send[roots]))]
        root_send = u.send[roots]
        kids_n = np.bincount(parent[parent >= 0], minlength=n)
        co = np.argsort(parent, kind="stable")
        kids = co[parent[co] >= 0].astype(_I64)
        kid_ptr = np.zeros(n + 1, _I64)
        np.cumsum(kids_n, out=kid_ptr[1:])
    c = mesh.stats.counters
    entry, any_wait, any_stall, kinds = k["sim"](
        np.ascontiguousarray(link, _I64),
        r.link_latency,
        r.link_service,
        r.link_kind,
        np.ascontiguousarray(parent, _I64),
        kid_ptr,
        np.ascontiguousarray(kids, _I64),
        rank,
        np.ascontiguousarray(roots, _I64),
        np.ascontiguousarray(root_send, _I64),
        timing.link_free_at,
        keep_state,
        np.int64(timing.buffer_depth),
        c["peak_occupancy"],
        c["stall_cycles"],
        c["messages"],
        c["busy_cycles"],
        c["wait_cycles"],
    )
    model = _model(any_wait, any_stall)
    arrival = entry[last] + r.link_latency[link[last]]
    return model, arrival, entry[first], kinds


def _routes_kernel(st, dt, W):
    """The XY routes of st[i] -> dt[i] in route order (as :meth:`Routes.expand`): link, parent
    (previous hop, -1 first), continuations (``kids[kid_ptr[x]:kid_ptr[x + 1]]``), first and
    last hop of each route."""
    m = st.size
    total = 0
    for i in range(m):
        total += abs(st[i] % W - dt[i] % W) + abs(st[i] // W - dt[i] // W)
    link = np.empty(total, np.int64)
    parent = np.empty(total, np.int64)
    kid_ptr = np.empty(total + 1, np.int64)
    kids = np.empty(max(total - m, 0), np.int64)
    first = np.empty(m, np.int64)
    last = np.empty(m, np.int64)
    j = 0
    nk = 0
    for i in range(m):
        x0, y0, x1, y1 = st[i] % W, st[i] // W, dt[i] % W, dt[i] // W
        first[i] = j
        x = x0
        while x != x1:
            if x1 > x0:
                link[j] = (y0 * W + x) * 4
                x += 1
            else:
                link[j] = (y0 * W + x) * 4 + 1
                x -= 1
            j += 1
        y = y0
        while y != y1:
            if y1 > y0:
                link[j] = (y * W + x1) * 4 + 2
                y += 1
            else:
                link[j] = (y * W + x1) * 4 + 3
                y -= 1
            j += 1
        last[i] = j - 1
        for h in range(first[i], j):
            parent[h] = h - 1 if h > first[i] else -1
            kid_ptr[h] = nk
            if h < j - 1:
                kids[nk] = h + 1
                nk += 1
    kid_ptr[total] = nk
    return link, parent, kid_ptr, kids, first, last


def _push(q, head, tail, ready, rank, ln, x, t):
    """Queue traversal ``x`` (requesting at ``t``) on link ``ln``: behind every earlier request
    and the requests of cycle ``t`` before it in tie-break order (``rank``; empty: the traversal
    index itself, unicast's order, without an array of them)."""
    j = tail[ln]
    rx = x if rank.size == 0 else rank[x]
    while j > head[ln] and ready[q[j - 1]] == t and (q[j - 1] if rank.size == 0 else rank[q[j - 1]]) > rx:
        q[j] = q[j - 1]
        j -= 1
    q[j] = x
    tail[ln] += 1


def _sim_kernel(
    link,
    lat_l,
    svc_l,
    kind_l,
    par,
    kid_ptr,
    kids,
    rank,
    roots,
    root_send,
    free_at,
    keep,
    B,
    peak,
    stall,
    messages,
    busy_cycles,
    wait_cycles,
):
    """The finite-buffer link simulation (see the module doc) of traversals over ``link`` (per
    link: latency, service time, kind), ``roots`` sorted by (send ``root_send``, tie-break
    ``rank``). Returns the start cycle of each traversal, whether any traversal waited, whether
    any link stalled and the hops per kind; adds to the per-link counters and raises ``free_at``
    to each used link's last start plus its service time (with ``keep`` a link is busy until
    ``free_at`` before it)."""
    n = link.size
    n_links = free_at.size
    t0 = root_send[0]
    entry = np.zeros(n, np.int64)
    ready = np.zeros(n, np.int64)
    busy = np.zeros(n_links, np.int64)
    if keep:
        for ln in range(n_links):
            busy[ln] = max(free_at[ln] - t0, 0)
    # per link: its queue (a segment of q), occupancy of its buffer, cycle its stall began
    qbase = np.zeros(n_links + 1, np.int64)
    for i in range(n):
        qbase[link[i] + 1] += 1
    for ln in range(n_links):
        qbase[ln + 1] += qbase[ln]
    head = qbase[:-1].copy()
    tail = qbase[:-1].copy()
    q = np.empty(n, np.int64)
    occ = np.zeros(n_links, np.int64)
    blocked = np.full(n_links, NOT_BLOCKED, np.int64)
    pending = kid_ptr[1:] - kid_ptr[:-1]
    work = np.zeros(n_links, np.bool_)
    stack = np.empty(n_links, np.int64)
    started = np.empty(n_links, np.int64)
    # links busy from an earlier batch, woken when they are free, in that order
    wake = np.flatnonzero(busy > 0)
    wake = wake[np.argsort(busy[wake], kind="mergesort")]
    nw = wake.size
    # event queues by delay: per kind of link, arrivals (L after a start) and frees (S after)
    nkd = 3
    lat_k = np.zeros(nkd, np.int64)
    svc_k = np.zeros(nkd, np.int64)
    for ln in range(n_links):
        lat_k[kind_l[ln]] = lat_l[ln]
        svc_k[kind_l[ln]] = svc_l[ln]
    kinds = np.zeros(nkd, np.int64)
    for i in range(n):
        kinds[kind_l[link[i]]] += 1
    # events in flight (node 2x: traversal x reaches the next router, 2x + 1: its link is free
    # again) lie within the next dmax cycles: a ring of per-cycle lists
    dmax = 1
    for kd in range(nkd):
        if kinds[kd] > 0:
            dmax = max(dmax, lat_k[kd], svc_k[kd])
    R = 1
    while R <= dmax:
        R *= 2
    mask = R - 1
    bh = np.full(R, -1, np.int64)
    nxt = np.empty(2 * n, np.int64)
    inflight = 0
    big = np.int64(2**62)
    r_i, w_i = 0, 0
    n_roots = roots.size
    any_wait = False
    any_stall = False
    t = np.int64(-1)
    while True:
        tn = big
        if r_i < n_roots:
            tn = root_send[r_i] - t0
        if w_i < nw and busy[wake[w_i]] < tn:
            tn = busy[wake[w_i]]
        if inflight > 0:
            s = t + 1
            while s < tn and bh[s & mask] < 0:
                s += 1
            if s < tn:
                tn = s
        if tn == big:
            break
        t = tn
        top = 0
        while r_i < n_roots and root_send[r_i] - t0 == t:
            x = roots[r_i]
            r_i += 1
            ready[x] = t
            ln = link[x]
            _push(q, head, tail, ready, rank, ln, x, t)
            if not work[ln]:
                work[ln] = True
                stack[top] = ln
                top += 1
        while w_i < nw and busy[wake[w_i]] == t:
            ln = wake[w_i]
            w_i += 1
            if head[ln] < tail[ln] and not work[ln]:
                work[ln] = True
                stack[top] = ln
                top += 1
        node = bh[t & mask]
        bh[t & mask] = -1
        while node >= 0:
            inflight -= 1
            x = node >> 1
            if node & 1:  # the link of x is free again
                ln = link[x]
                if head[ln] < tail[ln] and not work[ln]:  # (a link with no request waits for one)
                    work[ln] = True
                    stack[top] = ln
                    top += 1
            elif kid_ptr[x + 1] == kid_ptr[x]:  # last hop: its buffer place is free on arrival
                ln = link[x]
                occ[ln] -= 1
                if head[ln] < tail[ln] and not work[ln]:
                    work[ln] = True
                    stack[top] = ln
                    top += 1
            else:
                for kk in range(kid_ptr[x], kid_ptr[x + 1]):
                    c = kids[kk]
                    ready[c] = t
                    ln = link[c]
                    _push(q, head, tail, ready, rank, ln, c, t)
                    if not work[ln]:
                        work[ln] = True
                        stack[top] = ln
                        top += 1
            node = nxt[node]
        ns = 0
        while top > 0:
            top -= 1
            ln = stack[top]
            work[ln] = False
            if head[ln] == tail[ln] or busy[ln] > t:
                continue
            if occ[ln] >= B:
                if blocked[ln] == NOT_BLOCKED:
                    blocked[ln] = t
                continue
            x = q[head[ln]]
            head[ln] += 1
            if blocked[ln] != NOT_BLOCKED:
                if t > blocked[ln]:
                    stall[ln] += t - blocked[ln]
                    any_stall = True
                blocked[ln] = NOT_BLOCKED
            entry[x] = t
            if t > ready[x]:
                any_wait = True
                wait_cycles[ln] += t - ready[x]
            busy[ln] = t + svc_l[ln]
            occ[ln] += 1
            started[ns] = ln
            ns += 1
            sl = (t + lat_l[ln]) & mask
            nxt[2 * x] = bh[sl]
            bh[sl] = 2 * x
            sl = (t + svc_l[ln]) & mask
            nxt[2 * x + 1] = bh[sl]
            bh[sl] = 2 * x + 1
            inflight += 2
            p = par[x]
            if p >= 0:
                pending[p] -= 1
                if pending[p] == 0:  # every continuation started: the place in p's buffer is free
                    lp = link[p]
                    occ[lp] -= 1
                    if head[lp] < tail[lp] and not work[lp]:
                        work[lp] = True
                        stack[top] = lp
                        top += 1
        for si in range(ns):
            ln = started[si]
            if occ[ln] > peak[ln]:
                peak[ln] = occ[ln]
    for i in range(n):
        ln = link[i]
        e = entry[i] + t0
        entry[i] = e
        messages[ln] += 1
        busy_cycles[ln] += svc_l[ln]
        if e + svc_l[ln] > free_at[ln]:
            free_at[ln] = e + svc_l[ln]
    return entry, any_wait, any_stall, kinds


def unicast_loop():
    """The compiled body of :func:`deliver_unicast` (for the per-core frame loop,
    :mod:`neurosim.sim.async_core_kernels`)."""
    return _compile()["unicast"]


def _compile() -> dict[str, Any]:
    """Import numba and compile the kernels, once (numba caches them on disk)."""
    if not _kernels:
        import numba  # noqa: PLC0415 - optional extra

        # the kernels call each other by their module names: those become the compiled versions
        global _push, _routes_kernel, _sim_kernel
        _push = numba.njit(cache=True, inline="always")(_push)
        _kernels["routes"] = _routes_kernel = numba.njit(cache=True)(_routes_kernel)
        _kernels["sim"] = _sim_kernel = numba.njit(cache=True)(_sim_kernel)
        _kernels["unicast"] = numba.njit(cache=True)(_unicast_kernel)
    return _kernels
