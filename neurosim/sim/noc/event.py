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

from neurosim.errors import SimulationError

#: whether numba is installed; it is imported on the first compiled call only (an import costs
#: about half a second and 50 MB, and most runs never meet back-pressure)
AVAILABLE = importlib.util.find_spec("numba") is not None
# set by _compile(): the compiled loop and driver, module globals because the compiled driver
# refers to the loop
_event_loop_compiled: Any = None
_run_compiled: Any = None

# event kinds, in the order events of one cycle are handled: a buffer place of link x is freed,
# traversal x requests its link, link x is free again
FREED, REQUEST, LINK_FREE = 0, 1, 2
NOT_BLOCKED = -(2**63)  # ``blocked`` of a link that is not stalled


def event_sim(link, lat, svc, parent, order, send, free_at, n_links: int, buffer_depth: int, compiled: bool = True):
    """Start cycle of every link traversal and stall cycles per link (see the module doc).
    Per traversal: ``link``, its latency ``lat`` and service time ``svc``, ``parent`` (-1 at a
    root), ``order`` (tie-break key) and ``send`` (request cycle of a root); ``free_at``: cycle
    each link is free from (None: all free; a link busy from an earlier batch starts nothing
    before it is free). ``compiled``: the numba loop when installed.

    Events and queued requests are int64 keys (cycle, kind, rank) packed into one integer,
    cycles counted from the batch's first send: ``rank`` is a traversal's place in
    (``order``, index) order for a request, the link for the other kinds."""
    link = np.ascontiguousarray(link, np.int64)
    parent = np.ascontiguousarray(parent, np.int64)
    n = link.size
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(n_links, np.int64)
    lat, svc = np.asarray(lat, np.int64), np.asarray(svc, np.int64)
    send = np.asarray(send, np.int64)
    kids_n = np.bincount(parent[parent >= 0], minlength=n)
    co = np.argsort(parent, kind="stable")
    kids = co[parent[co] >= 0]
    kid_ptr = np.concatenate(([0], np.cumsum(kids_n)))
    # the request queue of a link is a binary heap in its own segment of one array
    qbase = np.concatenate(([0], np.cumsum(np.bincount(link, minlength=n_links))[:-1]))
    by_rank = np.lexsort((np.arange(n), np.asarray(order, np.int64)))
    rank = np.empty(n, np.int64)
    rank[by_rank] = np.arange(n)
    t0 = int(send[parent < 0].min())
    busy = np.zeros(n_links, np.int64) if free_at is None else np.maximum(np.asarray(free_at, np.int64) - t0, 0)
    # no cycle passes without a traversal in flight, a link busy or a send or carried busy time
    # ahead, so every event falls within this horizon
    horizon = max(int(send.max()) - t0, int(busy.max())) + int(lat.sum()) + int(svc.sum()) + 1
    rank_bits = max(n, n_links).bit_length()
    if horizon.bit_length() + rank_bits + 2 > 62:
        raise SimulationError(
            f"NoC event simulation: a batch of {n} link traversals over up to {horizon} cycles does not fit "
            "its 63-bit event keys; deliver fewer messages per batch"
        )
    per_traversal = (link, lat, svc, parent, send - t0, rank, by_rank, kid_ptr, kids, kids_n)
    if compiled and AVAILABLE:
        arrays = [np.ascontiguousarray(a, np.int64) for a in per_traversal]
        entry, stall = _compile()(
            np.int64(n_links), np.int64(buffer_depth), np.int64(rank_bits), busy, qbase.astype(np.int64), *arrays
        )
    else:
        entry, stall = _run_python(
            n_links,
            buffer_depth,
            rank_bits,
            busy.tolist(),
            qbase.tolist(),
            *[np.asarray(a).tolist() for a in per_traversal],
        )
    return entry + t0, stall


def _run_python(n_links, B, rb, busy, qbase, link, lat, svc, par, send, rank, by_rank, kid_ptr, kids, pending):
    """:func:`event_loop` in the interpreter, over lists."""
    n = len(link)
    entry = [0] * n
    stall = [0] * n_links
    tb = rb + 2
    events = [(send[i] << tb) | (REQUEST << rb) | rank[i] for i in range(n) if par[i] < 0]
    # a link busy from an earlier batch is woken when it becomes free
    events += [(busy[ln] << tb) | (LINK_FREE << rb) | ln for ln in range(n_links) if busy[ln] > 0]
    heapq.heapify(events)
    qk, qlen = [0] * n, [0] * n_links
    occ, blocked, work, stack = [0] * n_links, [NOT_BLOCKED] * n_links, [False] * n_links, [0] * n_links
    event_loop(
        link,
        lat,
        svc,
        par,
        rank,
        by_rank,
        kid_ptr,
        kids,
        pending,
        B,
        rb,
        busy,
        occ,
        blocked,
        stall,
        qk,
        qbase,
        qlen,
        events,
        work,
        stack,
        entry,
    )
    return np.array(entry, np.int64), np.array(stall, np.int64)


def event_loop(
    link,
    lat,
    svc,
    par,
    rank,
    by_rank,
    kid_ptr,
    kids,
    pending,
    B,
    rb,
    busy,
    occ,
    blocked,
    stall,
    qk,
    qbase,
    qlen,
    events,
    work,
    stack,
    entry,
):
    """Run the heap ``events`` of keys (cycle << rb + 2 | kind << rb | rank or link) to its end.
    Per traversal: ``entry`` (start cycle, filled in), ``pending`` (continuations not yet
    started), ``rank`` (its place in tie-break order; ``by_rank`` inverts it); per link:
    ``busy`` (free from), ``occ`` (buffer places held), ``blocked`` (cycle its stall began),
    ``stall`` (cycles), ``qlen`` (requests queued), ``work`` and ``stack`` (links to serve in
    the current cycle); the queue of link l is a binary heap of keys cycle << rb | rank in
    ``qk[qbase[l]:qbase[l] + qlen[l]]``."""
    tb = rb + 2
    low = (1 << rb) - 1
    while len(events) > 0:
        t = events[0] >> tb
        top = 0
        while len(events) > 0 and (events[0] >> tb) == t:
            key = heapq.heappop(events)
            kind = (key >> rb) & 3
            if kind == REQUEST:
                x = by_rank[key & low]
                ln = link[x]
                qkey, b, j = (t << rb) | (key & low), qbase[ln], qlen[ln]
                qlen[ln] = j + 1
                while j > 0:  # sift up
                    up = (j - 1) >> 1
                    if qk[b + up] <= qkey:
                        break
                    qk[b + j] = qk[b + up]
                    j = up
                qk[b + j] = qkey
            else:
                ln = key & low
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
            m = qlen[ln]
            if m == 0 or busy[ln] > t:
                continue
            if occ[ln] >= B:
                if blocked[ln] == NOT_BLOCKED:
                    blocked[ln] = t
                continue
            b = qbase[ln]
            i = by_rank[qk[b] & low]
            m -= 1
            qlen[ln] = m
            last, j = qk[b + m], 0
            while True:  # sift the last key down from the root
                c = 2 * j + 1
                if c >= m:
                    break
                if c + 1 < m and qk[b + c + 1] < qk[b + c]:
                    c += 1
                if last <= qk[b + c]:
                    break
                qk[b + j] = qk[b + c]
                j = c
            qk[b + j] = last
            if blocked[ln] != NOT_BLOCKED:
                stall[ln] += t - blocked[ln]
                blocked[ln] = NOT_BLOCKED
            entry[i] = t
            busy[ln] = t + svc[i]
            occ[ln] += 1
            heapq.heappush(events, ((t + svc[i]) << tb) | (LINK_FREE << rb) | ln)
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
            arrive = (t + lat[i]) << tb
            if pending[i] == 0:  # no continuation: leaves on arrival
                heapq.heappush(events, arrive | (FREED << rb) | ln)
            else:
                for k in range(kid_ptr[i], kid_ptr[i + 1]):
                    c = kids[k]
                    heapq.heappush(events, arrive | (REQUEST << rb) | rank[c])


def _run_arrays(n_links, B, rb, busy, qbase, link, lat, svc, par, send, rank, by_rank, kid_ptr, kids, pending):
    """The driver of :func:`event_loop` over arrays and typed lists (compiled by :func:`_compile`)."""
    n = link.size
    entry = np.zeros(n, np.int64)
    stall = np.zeros(n_links, np.int64)
    qk, qlen = np.zeros(n, np.int64), np.zeros(n_links, np.int64)
    tb = rb + 2
    events = [np.int64(0) for _ in range(0)]
    for i in range(n):
        if par[i] < 0:
            events.append((send[i] << tb) | (REQUEST << rb) | rank[i])
    for ln in range(n_links):  # a link busy from an earlier batch is woken when it becomes free
        if busy[ln] > 0:
            events.append((busy[ln] << tb) | (LINK_FREE << rb) | np.int64(ln))
    heapq.heapify(events)
    occ, blocked = np.zeros(n_links, np.int64), np.full(n_links, NOT_BLOCKED, np.int64)
    work, stack = np.zeros(n_links, np.bool_), np.zeros(n_links, np.int64)
    _event_loop_compiled(
        link,
        lat,
        svc,
        par,
        rank,
        by_rank,
        kid_ptr,
        kids,
        pending,
        B,
        rb,
        busy,
        occ,
        blocked,
        stall,
        qk,
        qbase,
        qlen,
        events,
        work,
        stack,
        entry,
    )
    return entry, stall


def _compile():
    """Import numba and compile the loop and its driver, once (numba caches them on disk)."""
    global _event_loop_compiled, _run_compiled
    if _run_compiled is None:
        import numba  # noqa: PLC0415 - optional extra

        _event_loop_compiled = numba.njit(cache=True)(event_loop)
        _run_compiled = numba.njit(cache=True)(_run_arrays)
    return _run_compiled
