"""The message-level work of a batched phase (:mod:`neurosim.sim.batched`): the spikes' messages
leave their cores' output ports, and each receiving core serves its messages in order.

Two implementations with identical results (tests/sim/test_batched_sync.py): numpy (whole-array
operations: segmented FIFOs by :func:`neurosim.sim.noc.timing.segmented_fifo`) and, when numba
is installed (the ``fast`` extra), the same recurrences as compiled loops, which avoid the fixed
cost of some forty numpy calls per phase. ``USE_COMPILED`` selects (tests compare the two).
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

from neurosim.sim.noc.timing import segmented_fifo

#: use the compiled loops when numba is installed
USE_COMPILED = importlib.util.find_spec("numba") is not None
_compiled: Any = None


def runs(seg: np.ndarray) -> np.ndarray:
    """Start position of every run of equal values of ``seg``."""
    new = np.empty(seg.size, bool)
    if seg.size:
        new[0] = True
        np.not_equal(seg[1:], seg[:-1], out=new[1:])
    return np.flatnonzero(new)


def expand(first: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """The concatenated ranges ``first[k]..stop[k]``."""
    counts = stop - first
    n = int(counts.sum())
    return np.repeat(first - np.cumsum(counts) + counts, counts) + np.arange(n)


def lane_fifo(seg: np.ndarray, ready: np.ndarray, cost: int, lanes: int) -> np.ndarray:
    """Finish cycle of every job of per-core output ports (jobs sorted by core, ``seg``): jobs go
    in groups of ``lanes`` in order, a group starts when the port is free and its last job is
    ready, and takes ``cost`` cycles (:func:`neurosim.sim.maxplus.lane_finish_times`, one per core)."""
    n = ready.size
    if lanes <= 1:
        return segmented_fifo(seg, ready, np.full(n, cost, np.int64)) + cost
    firsts = runs(seg)
    rank = np.arange(n) - np.repeat(firsts, np.diff(np.append(firsts, n)))
    gnew = rank % lanes == 0
    gfirst = np.flatnonzero(gnew)
    gready = np.maximum.reduceat(ready, gfirst)
    gfin = segmented_fifo(seg[gfirst], gready, np.full(gfirst.size, cost, np.int64)) + cost
    return gfin[np.cumsum(gnew) - 1]


# ---- numpy ---------------------------------------------------------------------------------------
def update_pass_np(active, s, extra_lat, lat: tuple[int, int], lat_fired: int, first, sizes, t0: int):
    """The update passes of the items (neurons ``first[k]..first[k] + sizes[k]`` of item ``k``, one
    after the other from ``t0``): each neuron takes ``lat[0]`` (active) or ``lat[1]`` (idle) plus
    ``extra_lat`` plus ``lat_fired`` if it spikes (``s``). Returns per item its active updates
    and busy cycles, and per spiking neuron its position and the cycle its update is done."""
    a = np.cumsum(active, dtype=np.int64)
    last = first + sizes - 1
    n_act = np.diff(np.concatenate(([0], a[last])))
    cost = np.where(active, np.int64(lat[0]), np.int64(lat[1])) + extra_lat
    if lat_fired:
        cost = cost + s * lat_fired
    cs = np.cumsum(cost)
    off = cs[first] - cost[first]
    local = np.flatnonzero(s)
    done = t0 + cs[local] - off[np.searchsorted(first, local, "right") - 1]
    return n_act, cs[last] - off, local, done


def emit_np(gids, ready, item, indptr, n_items: int, lanes: int, lat_out: int, multicast: bool):
    """Messages of the spikes ``gids`` (ready at ``ready``, of item ``item``, sorted by item), one
    per message-table entry of each (``indptr``). Returns per message its entry ``pos``, its item
    and the cycle it left (``sent``), and per item the port's jobs (``ops``: messages, or spikes
    with a destination under multicast) and its last send (-1 without)."""
    starts = indptr[gids]
    counts = indptr[gids + 1] - starts
    pos = expand(starts, starts + counts)
    msg_item = np.repeat(item, counts)
    if multicast:
        has = counts > 0
        job_item = item[has]
        sent = np.repeat(lane_fifo(job_item, ready[has], lat_out, lanes), counts[has])
        ops = np.bincount(job_item, minlength=n_items)
    else:
        sent = lane_fifo(msg_item, np.repeat(ready, counts), lat_out, lanes)
        ops = np.bincount(msg_item, minlength=n_items)
    last = np.full(n_items, -1, np.int64)
    if pos.size:
        firsts = runs(msg_item)
        last[msg_item[firsts]] = np.maximum.reduceat(sent, firsts)
    return pos, msg_item, sent, ops, last


def deliver_np(dst, arrival, src, pos, e_cost, e_syn, e_ring, free_of_core, t0: int, n_neurons: int):
    """Each receiving core serves its messages in (arrival, source) order, from the later of
    ``t0`` and ``free_of_core[core]`` (-1: ``t0``); message ``k`` costs ``e_cost[pos[k]]``.
    Returns the entries in service order and, per receiving core (ascending): the core, its
    messages, synapses, delay-ring writes, busy cycles and the end of its service."""
    order = _service_order(dst, arrival, src, n_neurons, free_of_core.size)
    dst, arrival, pos = dst[order], arrival[order], pos[order]
    cost = e_cost[pos]
    free = free_of_core[dst]
    fin = segmented_fifo(dst, np.maximum(arrival, np.where(free >= 0, free, t0)), cost) + cost
    firsts = runs(dst)
    syn = np.add.reduceat(e_syn[pos], firsts)
    ring = np.add.reduceat(e_ring[pos], firsts) if e_ring is not None else np.zeros(firsts.size, np.int64)
    last = np.append(firsts[1:], dst.size) - 1
    n_msgs = np.diff(np.append(firsts, dst.size))
    return pos, dst[firsts], n_msgs, syn, ring, np.add.reduceat(cost, firsts), fin[last]


def _service_order(dst, arrival, src, n_neurons: int, n_cores: int) -> np.ndarray:
    """The permutation sorting messages by (core, arrival, source)."""
    amin = int(arrival.min())
    span = int(arrival.max()) - amin + 1
    if n_cores * span * n_neurons < 1 << 62:  # one int64 key
        return np.argsort((dst.astype(np.int64) * span + (arrival - amin)) * n_neurons + src)
    return np.lexsort((src, arrival, dst))


# ---- compiled ------------------------------------------------------------------------------------
def _emit_loop(gids, ready, item, indptr, n_items, lanes, lat_out, multicast):  # pragma: no cover - numba
    n_sp = gids.size
    n = 0
    for k in range(n_sp):
        n += indptr[gids[k] + 1] - indptr[gids[k]]
    pos = np.empty(n, np.int64)
    sent = np.empty(n, np.int64)
    msg_item = np.empty(n, np.int64)
    ops = np.zeros(n_items, np.int64)
    last = np.full(n_items, -1, np.int64)
    m = 0
    k = 0
    while k < n_sp:
        it = item[k]
        t = np.int64(0)
        g_n = 0
        g_ready = np.int64(0)
        g_start = m
        while k < n_sp and item[k] == it:
            a, b = indptr[gids[k]], indptr[gids[k] + 1]
            for p in range(a, b):
                pos[m] = p
                msg_item[m] = it
                m += 1
                if not multicast:  # a job per message
                    g_ready = ready[k] if g_n == 0 else max(g_ready, ready[k])
                    g_n += 1
                    ops[it] += 1
                    if g_n == lanes:
                        t = max(t, g_ready) + lat_out
                        sent[g_start:m] = t
                        g_n, g_start = 0, m
            if multicast and b > a:  # a job per spike with a destination
                g_ready = ready[k] if g_n == 0 else max(g_ready, ready[k])
                g_n += 1
                ops[it] += 1
                if g_n == lanes:
                    t = max(t, g_ready) + lat_out
                    sent[g_start:m] = t
                    g_n, g_start = 0, m
            k += 1
        if g_n:
            t = max(t, g_ready) + lat_out
            sent[g_start:m] = t
        if ops[it]:
            last[it] = t
    return pos, msg_item, sent, ops, last


def _update_loop(active, s, extra_lat, lat_a, lat_i, lat_fired, first, sizes, t0):  # pragma: no cover - numba
    n_items = first.size
    n_act = np.zeros(n_items, np.int64)
    busy = np.zeros(n_items, np.int64)
    n_sp = 0
    for x in range(s.size):
        if s[x]:
            n_sp += 1
    local = np.empty(n_sp, np.int64)
    done = np.empty(n_sp, np.int64)
    j = 0
    for k in range(n_items):
        t = np.int64(0)
        for x in range(first[k], first[k] + sizes[k]):
            t += (lat_a if active[x] else lat_i) + extra_lat[x]
            if active[x]:
                n_act[k] += 1
            if s[x]:
                t += lat_fired
                local[j] = x
                done[j] = t0 + t
                j += 1
        busy[k] = t
    return n_act, busy, local, done


def _serve_loop(dst, arrival, pos, e_cost, e_syn, e_ring, free_of_core, t0):  # pragma: no cover - numba
    n = dst.size
    n_runs = 0
    for k in range(n):
        if k == 0 or dst[k] != dst[k - 1]:
            n_runs += 1
    cores = np.empty(n_runs, np.int64)
    n_msgs = np.zeros(n_runs, np.int64)
    syn = np.zeros(n_runs, np.int64)
    ring = np.zeros(n_runs, np.int64)
    busy = np.zeros(n_runs, np.int64)
    end = np.empty(n_runs, np.int64)
    r = -1
    t = np.int64(0)
    for k in range(n):
        c = dst[k]
        if k == 0 or c != dst[k - 1]:
            r += 1
            cores[r] = c
            f = free_of_core[c]
            t = f if f >= 0 else t0
        p = pos[k]
        cost = e_cost[p]
        t = max(t, arrival[k]) + cost
        n_msgs[r] += 1
        syn[r] += e_syn[p]
        if e_ring.size:
            ring[r] += e_ring[p]
        busy[r] += cost
        end[r] = t
    return cores, n_msgs, syn, ring, busy, end


def _compile():
    """Import numba and compile the loops, once (numba caches them on disk)."""
    global _compiled
    if _compiled is None:
        import numba  # noqa: PLC0415 - optional extra

        _compiled = tuple(numba.njit(cache=True)(f) for f in (_emit_loop, _serve_loop, _update_loop))
    return _compiled


def update_pass(active, s, extra_lat, lat: tuple[int, int], lat_fired: int, first, sizes, t0: int):
    """:func:`update_pass_np`, compiled when numba is installed."""
    if not USE_COMPILED:
        return update_pass_np(active, s, extra_lat, lat, lat_fired, first, sizes, t0)
    return _compile()[2](active, s, extra_lat, lat[0], lat[1], lat_fired, first, sizes, t0)


def emit(gids, ready, item, indptr, n_items: int, lanes: int, lat_out: int, multicast: bool):
    """:func:`emit_np`, compiled when numba is installed."""
    if not USE_COMPILED:
        return emit_np(gids, ready, item, indptr, n_items, lanes, lat_out, multicast)
    i64 = lambda a: np.ascontiguousarray(a, np.int64)  # noqa: E731
    return _compile()[0](i64(gids), i64(ready), i64(item), i64(indptr), n_items, lanes, lat_out, multicast)


def deliver(dst, arrival, src, pos, e_cost, e_syn, e_ring, free_of_core, t0: int, n_neurons: int):
    """:func:`deliver_np`, compiled when numba is installed (the sort stays numpy's)."""
    if not USE_COMPILED:
        return deliver_np(dst, arrival, src, pos, e_cost, e_syn, e_ring, free_of_core, t0, n_neurons)
    order = _service_order(dst, arrival, src, n_neurons, free_of_core.size)
    i64 = lambda a: np.ascontiguousarray(a, np.int64)  # noqa: E731
    pos = i64(pos[order])
    ring = e_ring if e_ring is not None else np.zeros(0, np.int64)
    out = _compile()[1](i64(dst[order]), i64(arrival[order]), pos, e_cost, e_syn, ring, free_of_core, t0)
    return (pos, *out)
