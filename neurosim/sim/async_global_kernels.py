"""The compiled loops of a batched global async step (:mod:`neurosim.sim.async_global_fast`):
the chosen spikes leave their cores' output ports, each receiving core serves its messages in
order, their synaptic currents are summed in that order, and the neurons that received current
integrate it and check their thresholds.

Plain Python over numpy arrays, compiled with numba when it is installed (the ``fast`` extra;
:func:`compiled`); without numba the global async step runs on the per-core SimPy path instead.
Each loop is the per-core model's arithmetic (:meth:`neurosim.sim.core.Core.evaluate`,
:meth:`Chip.emit <neurosim.sim.chip.Chip.emit>`, :meth:`Core.deliver <neurosim.sim.core.Core.deliver>`,
:func:`neurosim.sim.async_global.integrate_and_check`) in the same order, float32 where it is.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np

#: numba is installed: the batched step can run
AVAILABLE = importlib.util.find_spec("numba") is not None
_compiled: Any = None

# rows of the per-core tally the step kernels add to (flushed into the chip's counters per frame)
T_SPIKES, T_SPIKE_OUT, T_BUSY, T_MESSAGE_IN, T_SYNOP, T_DELAY_WRITE = range(6)
N_TALLY = 6


def _emit(
    gids, core_of, pop_of, n_pop, input_group, indptr, lanes, lat_out, lat_fired, multicast, t0, tally
):  # pragma: no cover - numba
    """The chosen spikes ``gids`` (ascending) as work items, one per (core, population) in that
    order (stable); each item's spikes ready at ``t0`` (one by one, ``lat_fired`` apart, where the
    soma fires them), their messages through the core's port (``lanes`` jobs per ``lat_out``).
    Returns ``ok`` (False: a core holds two items this step, left to the per-core path) and the
    sorted spikes, their ready cycles, per item its core, population, first spike, end, and per
    message its table entry, item, send cycle and (multicast) the index of its spike among those
    with a destination."""
    n = gids.size
    key = np.empty(n, np.int64)
    for k in range(n):
        key[k] = core_of[gids[k]] * n_pop + pop_of[gids[k]]
    ordered = True
    for k in range(1, n):
        if key[k] < key[k - 1]:
            ordered = False
            break
    if ordered:  # cores numbered in the order of their neurons: already in item order
        g = gids
    else:
        order = np.argsort(key, kind="mergesort")
        g = gids[order]
        key = key[order]
    n_items = 0
    for k in range(n):
        if k == 0 or key[k] != key[k - 1]:
            n_items += 1
    item_core = np.empty(n_items, np.int64)
    item_pop = np.empty(n_items, np.int64)
    item_first = np.empty(n_items + 1, np.int64)
    item_end = np.empty(n_items, np.int64)
    r = -1
    for k in range(n):
        if k == 0 or key[k] != key[k - 1]:
            r += 1
            item_core[r] = key[k] // n_pop
            item_pop[r] = key[k] % n_pop
            item_first[r] = k
            if r > 0 and item_core[r] == item_core[r - 1]:
                return False, g, key, item_core, item_pop, item_first, item_end, key, key, key, key
    item_first[n_items] = n
    ready = np.empty(n, np.int64)
    n_msg = 0
    for k in range(n):
        n_msg += indptr[g[k] + 1] - indptr[g[k]]
    pos = np.empty(n_msg, np.int64)
    msg_item = np.empty(n_msg, np.int64)
    sent = np.empty(n_msg, np.int64)
    spike_ix = np.empty(n_msg, np.int64)
    m = 0
    n_has = 0
    for it in range(n_items):
        a, b = item_first[it], item_first[it + 1]
        fired = lat_fired if item_pop[it] != input_group else 0
        for k in range(a, b):
            ready[k] = t0 + fired * (k - a + 1)
        end = ready[b - 1]
        t = np.int64(0)
        g_n = 0
        g_ready = np.int64(0)
        g_start = m
        ops = 0
        for k in range(a, b):
            p0, p1 = indptr[g[k]], indptr[g[k] + 1]
            for p in range(p0, p1):
                pos[m] = p
                msg_item[m] = it
                spike_ix[m] = n_has
                m += 1
                if not multicast:  # a port job per message
                    g_ready = ready[k] if g_n == 0 else max(g_ready, ready[k])
                    g_n += 1
                    ops += 1
                    if g_n == lanes:
                        t = max(t, g_ready) + lat_out
                        sent[g_start:m] = t
                        g_n, g_start = 0, m
            if p1 > p0:
                n_has += 1
                if multicast:  # a port job per spike with a destination
                    g_ready = ready[k] if g_n == 0 else max(g_ready, ready[k])
                    g_n += 1
                    ops += 1
                    if g_n == lanes:
                        t = max(t, g_ready) + lat_out
                        sent[g_start:m] = t
                        g_n, g_start = 0, m
        if g_n:
            t = max(t, g_ready) + lat_out
            sent[g_start:m] = t
        c = item_core[it]
        busy = end - t0 + -(-ops // lanes) * lat_out
        if ops:
            end = max(end, t)
        item_end[it] = end
        tally[T_SPIKES, c] += b - a
        tally[T_SPIKE_OUT, c] += ops
        tally[T_BUSY, c] += busy
    return True, g, ready, item_core, item_pop, item_first, item_end, pos, msg_item, sent, spike_ix


def _serve(dst, arrival, src, pos, e_cost, e_syn, e_ring, base_of_core, t_flush, tally):  # pragma: no cover - numba
    """Every receiving core serves its messages in (arrival, source) order from the later of
    ``t_flush`` and the end of its own evaluation (``base_of_core``, -1: none); message ``k``
    costs ``e_cost[pos[k]]``. Returns the entries in service order, and per receiving core
    (ascending) the core and the end of its service."""
    n = dst.size
    amin, amax, dmax, smax = np.int64(0), np.int64(0), np.int64(0), np.int64(0)
    for k in range(n):
        amin = arrival[k] if k == 0 else min(amin, arrival[k])
        amax = max(amax, arrival[k])
        dmax = max(dmax, dst[k])
        smax = max(smax, src[k])
    span = amax - amin + 1
    if n and (dmax + 1) * span < (1 << 62) // (smax + 1):  # one key; equal keys are equal messages
        key = np.empty(n, np.int64)
        for k in range(n):
            key[k] = (dst[k] * span + arrival[k] - amin) * (smax + 1) + src[k]
        order = np.argsort(key)
    else:
        order = np.argsort(src, kind="mergesort")
        order = order[np.argsort(arrival[order], kind="mergesort")]
        order = order[np.argsort(dst[order], kind="mergesort")]
    n_runs = 0
    for k in range(n):
        if k == 0 or dst[order[k]] != dst[order[k - 1]]:
            n_runs += 1
    cores = np.empty(n_runs, np.int64)
    ends = np.empty(n_runs, np.int64)
    spos = np.empty(n, np.int64)
    r = -1
    t = np.int64(0)
    for k in range(n):
        j = order[k]
        c = dst[j]
        if k == 0 or c != cores[r]:
            r += 1
            cores[r] = c
            t = max(base_of_core[c], t_flush)
        p = pos[j]
        spos[k] = p
        cost = e_cost[p]
        t = max(t, arrival[j]) + cost
        tally[T_MESSAGE_IN, c] += 1
        tally[T_SYNOP, c] += e_syn[p]
        if e_ring.size:
            tally[T_DELAY_WRITE, c] += e_ring[p]
        tally[T_BUSY, c] += cost
        ends[r] = t
    return spos, cores, ends


def _step_free(
    gids, core_of, pop_of, n_pop, input_group, indptr, lanes, lat_out, lat_fired, t0, tally,
    e_lat, e_dst, e_src, e_cost, e_syn, e_ring, base_of_core,
):  # fmt: skip  # pragma: no cover - numba
    """:func:`_emit`, the contention-free unicast NoC (a table look-up) and :func:`_serve` in one
    call. Returns ``ok``, the emission's results and the service's, and the phase's end."""
    ok, g, ready, item_core, item_pop, item_first, item_end, pos, msg_item, sent, spike_ix = _emit(
        gids, core_of, pop_of, n_pop, input_group, indptr, lanes, lat_out, lat_fired, False, t0, tally
    )
    if not ok:
        return ok, g, ready, item_core, item_pop, item_first, item_end, pos, pos, pos, t0
    n = pos.size
    arrival = np.empty(n, np.int64)
    dst = np.empty(n, np.int64)
    src = np.empty(n, np.int64)
    for k in range(n):
        arrival[k] = sent[k] + e_lat[pos[k]]
        dst[k] = e_dst[pos[k]]
        src[k] = e_src[pos[k]]
    for it in range(item_core.size):
        base_of_core[item_core[it]] = item_end[it]
    spos, cores, ends = _serve(dst, arrival, src, pos, e_cost, e_syn, e_ring, base_of_core, t0, tally)
    end = t0
    for it in range(item_core.size):
        base_of_core[item_core[it]] = -1
        end = max(end, item_end[it])
    for r in range(ends.size):
        end = max(end, ends[r])
    return ok, g, ready, item_core, item_pop, item_first, item_end, spos, cores, ends, end


def _currents(
    spos, first, stop, contig, tgt, w, e_dst, tmp, target, core_ptr, core_nodes, mark, buf, touched, tmark,
    n_touched, track,
):  # fmt: skip  # pragma: no cover - numba
    """The currents of the messages ``spos`` (entries in service order) through one delay class
    (per entry its synapses ``first..stop`` of ``tgt``/``w``; ``contig``: their targets are
    consecutive ids): per target the weights summed in float32 in that order (``tmp``), then
    added to ``target`` (the frame's accumulator or a ring slot) once, over every neuron of
    each receiving core (``core_nodes[core_ptr[c]:core_ptr[c + 1]]``: zeros for those without
    input, as the per-core path adds its block's sums); with ``track`` the receiving cores join
    ``touched`` (each once: ``tmark``). ``mark`` and ``buf``: scratch per core. Returns the new
    count of ``touched``."""
    nb = 0
    for k in range(spos.size):
        p = spos[k]
        a, b = first[p], stop[p]
        c = e_dst[p]
        if b == a:
            continue
        if contig[p]:  # views and a count from 0: a loop the compiler vectorises
            x = tmp[tgt[a] : tgt[a] + b - a]
            y = w[a:b]
            for q in range(b - a):
                x[q] += y[q]
        else:
            for s in range(a, b):
                tmp[tgt[s]] += w[s]
        if not mark[c]:
            mark[c] = True
            buf[nb] = c
            nb += 1
    for k in range(nb):
        c = buf[k]
        mark[c] = False
        a, b = core_ptr[c], core_ptr[c + 1]
        if b > a and core_nodes[b - 1] - core_nodes[a] == b - a - 1:  # consecutive ids: views
            lo = core_nodes[a]
            x = target[lo : lo + b - a]
            y = tmp[lo : lo + b - a]
            for q in range(b - a):
                x[q] += y[q]
                y[q] = 0
        else:
            for x_ in range(a, b):
                t = core_nodes[x_]
                target[t] += tmp[t]
                tmp[t] = 0
        if track and not tmark[c]:
            tmark[c] = True
            touched[n_touched] = c
            n_touched += 1
    return n_touched


def _touched_ids(touched, n_touched, tmark, core_lo, core_ptr, core_nodes, ranges, carry):  # pragma: no cover - numba
    """The neurons of the touched cores ``touched[:n_touched]`` and ``carry``, ascending and
    unique (``ranges``: every core's neurons are consecutive ids, so the cores in order of their
    first neuron give them sorted); the cores' marks cleared."""
    cs = touched[:n_touched].copy()
    n = 0
    for c in cs:
        tmark[c] = False
        n += core_ptr[c + 1] - core_ptr[c]
    if ranges:
        cs = cs[np.argsort(core_lo[cs])]
    ids = np.empty(n + carry.size, np.int64)
    m = 0
    for c in cs:
        for x in range(core_ptr[c], core_ptr[c + 1]):
            ids[m] = core_nodes[x]
            m += 1
    if not ranges or carry.size:
        ids[m:] = carry
        ids = np.unique(ids)
    return ids


def _entries(w_indptr, w_indices, core_of, d_indptr, d_indices, first, stop, contig):  # pragma: no cover - numba
    """The synapses of one delay class (CSR ``w_indptr``/``w_indices`` by source) by entry of
    the message table (CSR ``d_indptr``/``d_indices``: per source its destination cores,
    ascending): entry ``e``'s synapses are ``first[e]..stop[e]`` of the class's CSR arrays,
    ``contig[e]`` when their targets are consecutive ids in order. Returns False (nothing
    usable) when a source's synapses are not grouped by core in ascending order."""
    for r in range(d_indptr.size - 1):
        e, e_end = d_indptr[r], d_indptr[r + 1]
        s, s_end = w_indptr[r], w_indptr[r + 1]
        while s < s_end:
            c = core_of[w_indices[s]]
            while e < e_end and d_indices[e] < c:
                e += 1
            if e == e_end or d_indices[e] != c:
                return False
            a = s
            ok = True
            s += 1
            while s < s_end and core_of[w_indices[s]] == c:
                if w_indices[s] != w_indices[s - 1] + 1:
                    ok = False
                s += 1
            first[e], stop[e], contig[e] = a, s, ok
            e += 1
    return True


def _integrate(
    ids, acc, v, i, frozen, refractory, frame_active, thr, v_reset, subtract, resets, spiking, fire_equal,
    delayed_reset, cuba, current_lag,
):  # fmt: skip  # pragma: no cover - numba
    """:func:`neurosim.sim.async_global.integrate_and_check` of neurons ``ids`` (ascending): the
    accumulated current joins ``i`` (cuba) and the membrane (not frozen; not cuba with
    ``current_lag``), the threshold is checked (not refractory), crossings reset where they reset
    at once. Returns the crossing ids and their membranes at the crossing (by
    :func:`_integrate_runs` over the runs of consecutive ids)."""
    los, his = _runs(ids)
    return _integrate_runs(
        los, his, acc, v, i, frozen, refractory, frame_active, thr, v_reset, subtract, resets, spiking, fire_equal,
        delayed_reset, cuba, current_lag,
    )  # fmt: skip


def _runs(ids):  # pragma: no cover - numba
    """The runs of consecutive values of ``ids`` (ascending): their first values and ends."""
    n = ids.size
    n_runs = 0
    for k in range(n):
        if k == 0 or ids[k] != ids[k - 1] + 1:
            n_runs += 1
    los = np.empty(n_runs, np.int64)
    his = np.empty(n_runs, np.int64)
    r = -1
    for k in range(n):
        if k == 0 or ids[k] != ids[k - 1] + 1:
            r += 1
            los[r] = ids[k]
        his[r] = ids[k] + 1
    return los, his


def _integrate_runs(
    los, his, acc, v, i, frozen, refractory, frame_active, thr, v_reset, subtract, resets, spiking, fire_equal,
    delayed_reset, cuba, current_lag,
):  # fmt: skip  # pragma: no cover - numba
    """:func:`_integrate` of the neurons ``los[r]..his[r]`` of every run ``r`` (ascending,
    disjoint), each run through :func:`_integrate_run` (views: a loop the compiler vectorises)."""
    n = 0
    for r in range(los.size):
        n += his[r] - los[r]
    s = np.zeros(n, np.bool_)
    x = np.empty(n, np.float32)
    k = 0
    for r in range(los.size):
        lo, hi = los[r], his[r]
        e = k + hi - lo
        _integrate_run(
            acc[lo:hi], v[lo:hi], i[lo:hi], frozen[lo:hi], refractory[lo:hi], frame_active[lo:hi], thr[lo:hi],
            v_reset[lo:hi], subtract[lo:hi], resets[lo:hi], spiking[lo:hi], fire_equal[lo:hi], delayed_reset[lo:hi],
            cuba[lo:hi], current_lag[lo:hi], s[k:e], x[k:e],
        )  # fmt: skip
        k = e
    m = 0
    for k in range(n):
        if s[k]:
            m += 1
    out = np.empty(m, np.int64)
    vout = np.empty(m, np.float32)
    m = 0
    k = 0
    for r in range(los.size):
        for j in range(los[r], his[r]):
            if s[k]:
                out[m] = j
                vout[m] = x[k]
                m += 1
            k += 1
    return out, vout


def _core_runs(touched, n_touched, tmark, core_lo, core_ptr):  # pragma: no cover - numba
    """The neurons of the touched cores as runs of consecutive ids (every core's neurons being
    consecutive), ascending, adjacent cores merged; the cores' marks cleared."""
    cs = touched[:n_touched].copy()
    for c in cs:
        tmark[c] = False
    cs = cs[np.argsort(core_lo[cs])]
    los = np.empty(cs.size, np.int64)
    his = np.empty(cs.size, np.int64)
    r = -1
    for c in cs:
        size = core_ptr[c + 1] - core_ptr[c]
        if size == 0:
            continue
        lo = core_lo[c]
        if r >= 0 and his[r] == lo:
            his[r] = lo + size
        else:
            r += 1
            los[r], his[r] = lo, lo + size
    return los[: r + 1], his[: r + 1]


def _integrate_run(
    acc, v, i, frozen, refractory, frame_active, thr, v_reset, subtract, resets, spiking, fire_equal, delayed_reset,
    cuba, current_lag, s, xs,
):  # fmt: skip  # pragma: no cover - numba
    """:func:`_integrate` of one run of consecutive neurons (views of the arrays): ``s`` the
    crossings, ``xs`` the membranes before the reset."""
    zero = np.float32(0)
    for q in range(acc.size):
        cur = acc[q]
        acc[q] = zero
        i[q] = i[q] + cur if cuba[q] else i[q]
        to_v = zero if cuba[q] and current_lag[q] else cur
        x = v[q] if frozen[q] else v[q] + to_v
        frame_active[q] = frame_active[q] or cur != zero
        fire = ((x > thr[q]) or (fire_equal[q] and x == thr[q])) and spiking[q] and not refractory[q]
        now = fire and resets[q] and not delayed_reset[q]
        after = x - thr[q] if subtract[q] else v_reset[q]
        v[q] = after if now else x
        s[q] = fire
        xs[q] = x


def _cross(
    j, x, counter, ready, value, priority, sequence, refractory, frozen, pending, resets, delayed_reset
):  # fmt: skip  # pragma: no cover - numba
    """Neuron ``j`` crossed threshold with membrane ``x``: :meth:`StepState.crossed
    <neurosim.sim.async_global.StepState.crossed>` without dropout (ready in crossing order, one
    more queued spike, refractory; frozen where it reset at once) and its delayed reset pending.
    Returns the crossing counter."""
    if not ready[j]:
        sequence[j] = counter
        counter += 1
        ready[j] = True
    priority[j] = x
    value[j] += 1
    refractory[j] = True
    if resets[j] and not delayed_reset[j]:
        frozen[j] = True
    if delayed_reset[j]:
        pending[j] = True
    return counter


def _currents_all(
    spos, cls_delay, cls_first, cls_stop, cls_contig, tgt, w, e_dst, tmp, acc, ring, frame, core_ptr, core_nodes,
    mark, buf, touched, tmark, n_touched,
):  # fmt: skip  # pragma: no cover - numba
    """:func:`_currents` of every delay class (class ``c``: delay ``cls_delay[c]`` frames, per
    entry its synapses ``cls_first[c]..cls_stop[c]``), into ``acc`` (delay 0: its receiving
    cores tracked in ``touched``) or the ring slot ``ring[(frame + delay) % depth]``, in class
    order."""
    depth = ring.shape[0]
    for c in range(cls_delay.size):
        d = cls_delay[c]
        target = acc if d == 0 else ring[(frame + d) % depth]
        n_touched = _currents(
            spos, cls_first[c], cls_stop[c], cls_contig[c], tgt, w, e_dst, tmp, target, core_ptr, core_nodes,
            mark, buf, touched, tmark, n_touched, d == 0,
        )  # fmt: skip
    return n_touched


def _grow(a, need):  # pragma: no cover - numba
    """``a``, or a copy with room for ``need`` entries."""
    if need <= a.size:
        return a
    b = np.empty(max(need, 2 * a.size), a.dtype)
    b[: a.size] = a
    return b


def _before(a, b, fifo, priority, sequence):  # pragma: no cover - numba
    """Whether ready entry ``a`` goes before ``b`` (:func:`neurosim.sim.scheduler.select`):
    fifo by crossing sequence then index; momentum by priority, highest first (NaN last, as
    numpy's sort puts it), then index."""
    if fifo:
        return sequence[a] < sequence[b] or (sequence[a] == sequence[b] and a < b)
    pa, pb = priority[a], priority[b]
    na, nb = pa != pa, pb != pb
    if na != nb:
        return nb
    if not na and pa != pb:
        return pa > pb
    return a < b


def _choose(rl, nr, k, fifo, priority, sequence):  # pragma: no cover - numba
    """The at most ``k`` entries of the ready list ``rl[:nr]`` the scheduler sends (ascending)."""
    if nr <= k:
        return np.sort(rl[:nr])
    best = np.empty(k, np.int64)
    nb = 0
    for x in range(nr):
        c = rl[x]
        if nb == k and not _before(c, best[k - 1], fifo, priority, sequence):
            continue
        y = nb if nb < k else k - 1
        while y > 0 and _before(c, best[y - 1], fifo, priority, sequence):
            best[y] = best[y - 1]
            y -= 1
        best[y] = c
        if nb < k:
            nb += 1
    return np.sort(best)


def _send_chosen(chosen, value, ready, spiked_frame, fired):  # pragma: no cover - numba
    """The spike messages of the scheduler's ``chosen`` entries (each as many as its value,
    :meth:`StepState.emitted <neurosim.sim.async_global.StepState.emitted>`), the entries sent
    (:meth:`StepState.sent <neurosim.sim.async_global.StepState.sent>`)."""
    n_msg = 0
    for c in chosen:
        n_msg += value[c]
    gids = np.empty(n_msg, np.int64)
    m = 0
    for c in chosen:
        for _ in range(value[c]):
            gids[m] = c
            m += 1
        ready[c] = False
        spiked_frame[c] = True
        fired[c] += value[c]
        value[c] = 0
    return gids


def _frame(
    fifo, F, cap, ready, value, fired, spiked_frame, priority, sequence, counter, refractory, frozen, frame_active,
    acc, v, i, pending, ring, frame, thr, v_reset, subtract, resets, spiking, fire_equal, delayed_reset, cuba,
    current_lag, core_of, pop_of, n_pop, input_group, output_group, indptr, lanes, lat_out, lat_fired, t, tally,
    e_lat, e_dst, e_src, e_cost, e_syn, e_ring, base_of_core, cls_delay, cls_first, cls_stop, cls_contig, tgt, w,
    tmp, core_ptr, core_nodes, core_lo, ranges, mark, buf, touched, tmark, msgs0,
):  # fmt: skip  # pragma: no cover - numba
    """The steps of one frame after its start (fifo or momentum without noise, no refractory
    dropout, no early stop, contention-free unicast, one work item per core and step): step 0
    sends ``msgs0`` (the stimulus; none with queued input) and checks every neuron; each send
    step then takes the scheduler's choice through :func:`_step_free` and :func:`_currents_all`
    and checks the neurons of the cores that received current (:func:`_integrate`, then
    :meth:`StepState.crossed <neurosim.sim.async_global.StepState.crossed>` without dropout),
    until nothing is ready or ``cap`` send steps. Returns the send steps, the end cycle, the
    crossing counter, the spike log (spikes, ready cycles; per entry its step, population and
    first spike), every message's table entry and the first output spike's cycle (-1: none)."""
    n = ready.size
    rl = np.empty(n, np.int64)
    nr = 0
    for j in range(n):
        if ready[j]:
            rl[nr] = j
            nr += 1
    log_ids = np.empty(256, np.int64)
    log_ready = np.empty(256, np.int64)
    ent_step = np.empty(64, np.int64)
    ent_pop = np.empty(64, np.int64)
    ent_first = np.empty(65, np.int64)
    all_pos = np.empty(1024, np.int64)
    n_log = 0
    n_ent = 0
    n_pos = 0
    first_out = np.int64(-1)
    no_carry = np.zeros(0, np.int64)
    step = 0
    start = True  # step 0: the stimulus, then every neuron's check
    while start or (nr > 0 and step < cap):
        if start:
            gids = msgs0
        else:
            step += 1
            gids = _send_chosen(_choose(rl, nr, F, fifo, priority, sequence), value, ready, spiked_frame, fired)
            y = 0
            for x in range(nr):
                if ready[rl[x]]:
                    rl[y] = rl[x]
                    y += 1
            nr = y
        n_t = 0
        if gids.size:
            ok, g, rdy, icore, ipop, ifirst, iend, spos, dcores, dends, end = _step_free(
                gids, core_of, pop_of, n_pop, input_group, indptr, lanes, lat_out, lat_fired, t, tally,
                e_lat, e_dst, e_src, e_cost, e_syn, e_ring, base_of_core,
            )  # fmt: skip
            # the spike log: one entry per run of items of one population
            log_ids = _grow(log_ids, n_log + g.size)
            log_ready = _grow(log_ready, n_log + g.size)
            ent_step = _grow(ent_step, n_ent + ipop.size)
            ent_pop = _grow(ent_pop, n_ent + ipop.size)
            ent_first = _grow(ent_first, n_ent + ipop.size + 1)
            for it in range(ipop.size):
                if it == 0 or ipop[it] != ipop[it - 1]:
                    ent_step[n_ent] = step
                    ent_pop[n_ent] = ipop[it]
                    ent_first[n_ent] = n_log + ifirst[it]
                    n_ent += 1
                if ipop[it] == output_group:
                    r0 = rdy[ifirst[it]]
                    if first_out < 0 or r0 < first_out:
                        first_out = r0
            log_ids[n_log : n_log + g.size] = g
            log_ready[n_log : n_log + g.size] = rdy
            n_log += g.size
            all_pos = _grow(all_pos, n_pos + spos.size)
            all_pos[n_pos : n_pos + spos.size] = spos
            n_pos += spos.size
            n_t = _currents_all(
                spos, cls_delay, cls_first, cls_stop, cls_contig, tgt, w, e_dst, tmp, acc, ring, frame, core_ptr,
                core_nodes, mark, buf, touched, tmark, 0,
            )  # fmt: skip
            t = end
        if start:  # every neuron: the frame start may have moved any membrane
            for k in range(n_t):
                tmark[touched[k]] = False
            los, his = np.zeros(1, np.int64), np.full(1, n, np.int64)
            start = False
        elif ranges:
            los, his = _core_runs(touched, n_t, tmark, core_lo, core_ptr)
        else:
            los, his = _runs(_touched_ids(touched, n_t, tmark, core_lo, core_ptr, core_nodes, ranges, no_carry))
        crossed, vx = _integrate_runs(
            los, his, acc, v, i, frozen, refractory, frame_active, thr, v_reset, subtract, resets, spiking,
            fire_equal, delayed_reset, cuba, current_lag,
        )  # fmt: skip
        for k in range(crossed.size):
            j = crossed[k]
            newly = not ready[j]
            counter = _cross(
                j, vx[k], counter, ready, value, priority, sequence, refractory, frozen, pending, resets, delayed_reset
            )
            if newly:
                rl[nr] = j
                nr += 1
    ent_first = _grow(ent_first, n_ent + 1)
    ent_first[n_ent] = n_log
    return (
        step, t, counter, log_ids[:n_log], log_ready[:n_log], ent_step[:n_ent], ent_pop[:n_ent],
        ent_first[: n_ent + 1], all_pos[:n_pos], first_out,
    )  # fmt: skip


def step_loops() -> tuple:
    """The compiled ``(currents_all, choose, send_chosen, grow, integrate, cross)`` (:func:`compiled`
    first), for the per-core frame loop (:mod:`neurosim.sim.async_core_kernels`)."""
    compiled()
    return _currents_all, _choose, _send_chosen, _grow, _integrate, _cross


def compiled():
    """The loops compiled by numba (once; numba caches them on disk): ``(step_free, emit, serve,
    currents_all, integrate, frame, touched_ids, entries)``."""
    global _compiled, _emit, _serve, _currents, _integrate, _step_free, _currents_all, _grow, _before, _choose
    global _touched_ids, _integrate_run, _integrate_runs, _core_runs, _runs, _send_chosen, _cross
    if _compiled is None:
        import numba  # noqa: PLC0415 - optional extra

        jit = numba.njit(cache=True)
        # module globals: the loops that call others call the compiled ones
        _cross = numba.njit(cache=True, inline="always")(_cross)
        _integrate_run, _integrate_runs, _core_runs = jit(_integrate_run), jit(_integrate_runs), jit(_core_runs)
        _runs = jit(_runs)
        _emit, _serve, _currents, _integrate = jit(_emit), jit(_serve), jit(_currents), jit(_integrate)
        _step_free, _currents_all, _grow, _before = jit(_step_free), jit(_currents_all), jit(_grow), jit(_before)
        _choose, _touched_ids, _send_chosen = jit(_choose), jit(_touched_ids), jit(_send_chosen)
        _compiled = (_step_free, _emit, _serve, _currents_all, _integrate, jit(_frame), _touched_ids, jit(_entries))
    return _compiled
