"""The NoC's finite-buffer event simulation, compiled with numba when it is installed.

Same model and same loop as :meth:`neurosim.sim.noc.Mesh._event_sim` (the pure-Python version,
which stays the reference and the fallback): links are FIFO servers ordered by request cycle;
a message starts on a link when the link is free and the buffer at its far end holds fewer than
``B`` messages; it keeps that buffer place until all its continuations have started (or until
it arrives, for the last hop). numba (``pip install numba``, part of the ``fast`` extra) makes
the loop roughly two orders of magnitude faster; results are identical (tested).
"""

from __future__ import annotations

import heapq

import numpy as np

try:
    import numba
    from numba import types
    from numba.typed import List
except ImportError:  # pragma: no cover - the Python loop is used instead
    numba = None

AVAILABLE = numba is not None


if AVAILABLE:
    _QITEM = types.UniTuple(types.int64, 3)

    @numba.njit(cache=True)
    def _run(link, lat, svc, par, order, send, kid_ptr, kids, pending, n_links, B, busy):
        n = link.size
        entry = np.zeros(n, np.int64)
        occ = np.zeros(n_links, np.int64)
        blocked = np.full(n_links, -1, np.int64)
        stall = np.zeros(n_links, np.int64)
        queues = List()
        for _ in range(n_links):
            queues.append(List.empty_list(_QITEM))
        events = [(np.int64(0), np.int64(0), np.int64(0), np.int64(0)) for _ in range(0)]
        for i in range(n):
            if par[i] < 0:
                events.append((send[i], np.int64(1), order[i], np.int64(i)))
        heapq.heapify(events)
        work = np.zeros(n_links, np.bool_)
        stack = np.zeros(n_links, np.int64)
        while len(events) > 0:
            t = events[0][0]
            top = 0
            while len(events) > 0 and events[0][0] == t:
                ev = heapq.heappop(events)
                kind, o, x = ev[1], ev[2], ev[3]
                if kind == 1:
                    ln = link[x]
                    heapq.heappush(queues[ln], (t, o, x))
                else:
                    ln = x
                    if kind == 0:
                        occ[ln] -= 1
                if not work[ln]:
                    work[ln] = True
                    stack[top] = ln
                    top += 1
            while top > 0:
                top -= 1
                ln = stack[top]
                work[ln] = False
                q = queues[ln]
                if len(q) == 0 or busy[ln] > t:
                    continue
                if occ[ln] >= B:
                    if blocked[ln] < 0:
                        blocked[ln] = t
                    continue
                item = heapq.heappop(q)
                i = item[2]
                if blocked[ln] >= 0:
                    stall[ln] += t - blocked[ln]
                    blocked[ln] = -1
                entry[i] = t
                busy[ln] = t + svc[i]
                occ[ln] += 1
                heapq.heappush(events, (t + svc[i], np.int64(2), np.int64(0), ln))
                p = par[i]
                if p >= 0:
                    pending[p] -= 1
                    if pending[p] == 0:
                        lp = link[p]
                        occ[lp] -= 1
                        if not work[lp]:
                            work[lp] = True
                            stack[top] = lp
                            top += 1
                arrive = t + lat[i]
                if pending[i] == 0:
                    heapq.heappush(events, (arrive, np.int64(0), np.int64(0), ln))
                else:
                    for k in range(kid_ptr[i], kid_ptr[i + 1]):
                        c = kids[k]
                        heapq.heappush(events, (arrive, np.int64(1), order[c], c))
        return entry, stall


def event_sim(u: dict, free_at, n_links: int, buffer_depth: int):
    """Start cycle of every link traversal and stall cycles per link (see the module doc)."""
    link = np.ascontiguousarray(u["link"], np.int64)
    parent = np.ascontiguousarray(u["parent"], np.int64)
    n = link.size
    kids_n = np.bincount(parent[parent >= 0], minlength=n)
    co = np.argsort(parent, kind="stable")
    kids = np.ascontiguousarray(co[parent[co] >= 0], np.int64)
    kid_ptr = np.concatenate(([0], np.cumsum(kids_n))).astype(np.int64)
    busy = np.zeros(n_links, np.int64) if free_at is None else np.asarray(free_at, np.int64).copy()
    return _run(
        link,
        np.asarray(u["lat"], np.int64),
        np.asarray(u["svc"], np.int64),
        parent,
        np.asarray(u["order"], np.int64),
        np.asarray(u["send"], np.int64),
        kid_ptr,
        kids,
        kids_n.astype(np.int64),
        np.int64(n_links),
        np.int64(buffer_depth),
        busy,
    )
