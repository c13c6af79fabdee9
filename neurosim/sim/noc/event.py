"""The NoC's finite-buffer event simulation (the back-pressure path of
:mod:`neurosim.sim.noc.timing`), compiled with numba when it is installed.

Links are FIFO servers ordered by request cycle; a message starts on a link when the link is
free and the buffer at its far end holds fewer than ``B`` messages; it keeps that buffer place
until all its continuations have started (or until it arrives, for the last hop).

There is one loop, :func:`event_loop`, written in the part of Python that numba compiles: the
Python interpreter runs it over lists (the fallback and the reference), numba compiles it over
arrays. numba (``pip install numba``, part of the ``fast`` extra) makes it roughly two orders of
magnitude faster; results are identical (tested).
"""

from __future__ import annotations

import heapq
import importlib.util
from typing import Any

import numpy as np

#: whether numba is installed; it is imported on the first compiled call only (an import costs
#: about half a second and 50 MB, and most runs never meet back-pressure)
AVAILABLE = importlib.util.find_spec("numba") is not None
# set by _compile(): numba's typed list, the queue item type and the compiled loop and driver,
# module globals because the compiled driver refers to them
List: Any = None
_QITEM: Any = None
_event_loop_compiled: Any = None
_run_compiled: Any = None

# event kinds, in the order events of one cycle are handled: a buffer place of link x is freed,
# traversal x requests its link, link x is free again
FREED, REQUEST, LINK_FREE = np.int64(0), np.int64(1), np.int64(2)
NO_ORDER = np.int64(0)  # the order of FREED and LINK_FREE events
NOT_BLOCKED = np.int64(np.iinfo(np.int64).min)  # ``blocked`` of a link that is not stalled


def event_sim(link, lat, svc, parent, order, send, free_at, n_links: int, buffer_depth: int, compiled: bool = True):
    """Start cycle of every link traversal and stall cycles per link (see the module doc).
    Per traversal: ``link``, its latency ``lat`` and service time ``svc``, ``parent`` (-1 at a
    root), ``order`` (tie-break key) and ``send`` (request cycle of a root); ``free_at``: cycle
    each link is free from (None: all free). ``compiled``: the numba loop when installed."""
    link = np.ascontiguousarray(link, np.int64)
    parent = np.ascontiguousarray(parent, np.int64)
    kids_n = np.bincount(parent[parent >= 0], minlength=link.size)
    co = np.argsort(parent, kind="stable")
    kids = co[parent[co] >= 0]
    kid_ptr = np.concatenate(([0], np.cumsum(kids_n)))
    busy = np.zeros(n_links, np.int64) if free_at is None else np.asarray(free_at, np.int64).copy()
    per_traversal = (link, lat, svc, parent, order, send, kid_ptr, kids, kids_n)
    if compiled and AVAILABLE:
        arrays = [np.ascontiguousarray(a, np.int64) for a in per_traversal]
        return _compile()(np.int64(n_links), np.int64(buffer_depth), busy, *arrays)
    return _run_python(n_links, buffer_depth, busy.tolist(), *[np.asarray(a).tolist() for a in per_traversal])


def _run_python(n_links, B, busy, link, lat, svc, par, order, send, kid_ptr, kids, pending):
    """:func:`event_loop` in the interpreter, over lists."""
    n = len(link)
    entry = [0] * n
    stall = [0] * n_links
    events = [(send[i], REQUEST, order[i], i) for i in range(n) if par[i] < 0]
    heapq.heapify(events)
    queues: list[list] = [[] for _ in range(n_links)]
    occ, blocked, work, stack = [0] * n_links, [NOT_BLOCKED] * n_links, [False] * n_links, [0] * n_links
    event_loop(
        link,
        lat,
        svc,
        par,
        order,
        kid_ptr,
        kids,
        pending,
        B,
        busy,
        occ,
        blocked,
        stall,
        queues,
        events,
        work,
        stack,
        entry,
    )
    return np.array(entry, np.int64), np.array(stall, np.int64)


def event_loop(
    link, lat, svc, par, order, kid_ptr, kids, pending, B, busy, occ, blocked, stall, queues, events, work, stack, entry
):
    """Run the heap ``events`` of (cycle, kind, order, x) to its end. Per traversal: ``entry``
    (start cycle, filled in), ``pending`` (continuations not yet started); per link: ``busy``
    (free from), ``occ`` (buffer places held), ``blocked`` (cycle its stall began),
    ``stall`` (cycles), ``queues`` (heaps of (request cycle, order, traversal)), ``work`` and
    ``stack`` (links to serve in the current cycle)."""
    while len(events) > 0:
        t = events[0][0]
        top = 0
        while len(events) > 0 and events[0][0] == t:
            _, kind, o, x = heapq.heappop(events)
            if kind == REQUEST:
                ln = link[x]
                heapq.heappush(queues[ln], (t, o, x))
            else:
                ln = x
                if kind == FREED:
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
                if blocked[ln] == NOT_BLOCKED:
                    blocked[ln] = t
                continue
            i = heapq.heappop(q)[2]
            if blocked[ln] != NOT_BLOCKED:
                stall[ln] += t - blocked[ln]
                blocked[ln] = NOT_BLOCKED
            entry[i] = t
            busy[ln] = t + svc[i]
            occ[ln] += 1
            heapq.heappush(events, (t + svc[i], LINK_FREE, NO_ORDER, ln))
            p = par[i]
            if p >= 0:
                pending[p] -= 1
                if pending[p] == 0:  # every continuation started: the place in p's buffer is free
                    lp = link[p]
                    occ[lp] -= 1
                    if not work[lp]:
                        work[lp] = True
                        stack[top] = lp
                        top += 1
            arrive = t + lat[i]
            if pending[i] == 0:  # no continuation: leaves on arrival
                heapq.heappush(events, (arrive, FREED, NO_ORDER, ln))
            else:
                for k in range(kid_ptr[i], kid_ptr[i + 1]):
                    c = kids[k]
                    heapq.heappush(events, (arrive, REQUEST, order[c], c))


def _run_arrays(n_links, B, busy, link, lat, svc, par, order, send, kid_ptr, kids, pending):
    """The driver of :func:`event_loop` over arrays and typed lists (compiled by :func:`_compile`)."""
    n = link.size
    entry = np.zeros(n, np.int64)
    stall = np.zeros(n_links, np.int64)
    queues = List()
    for _ in range(n_links):
        queues.append(List.empty_list(_QITEM))
    events = [(np.int64(0), np.int64(0), np.int64(0), np.int64(0)) for _ in range(0)]
    for i in range(n):
        if par[i] < 0:
            events.append((send[i], REQUEST, order[i], np.int64(i)))
    heapq.heapify(events)
    occ, blocked = np.zeros(n_links, np.int64), np.full(n_links, NOT_BLOCKED, np.int64)
    work, stack = np.zeros(n_links, np.bool_), np.zeros(n_links, np.int64)
    _event_loop_compiled(
        link,
        lat,
        svc,
        par,
        order,
        kid_ptr,
        kids,
        pending,
        B,
        busy,
        occ,
        blocked,
        stall,
        queues,
        events,
        work,
        stack,
        entry,
    )
    return entry, stall


def _compile():
    """Import numba and compile the loop and its driver, once (numba caches them on disk)."""
    global List, _QITEM, _event_loop_compiled, _run_compiled
    if _run_compiled is None:
        import numba  # noqa: PLC0415 - optional extra
        from numba import types  # noqa: PLC0415 - optional extra
        from numba.typed import List as TypedList  # noqa: PLC0415 - optional extra

        List, _QITEM = TypedList, types.UniTuple(types.int64, 3)
        _event_loop_compiled = numba.njit(cache=True)(event_loop)
        _run_compiled = numba.njit(cache=True)(_run_arrays)
    return _run_compiled
