"""The compiled loop of a whole frame of per-core async execution (:mod:`neurosim.sim.async_core_frames`):
every core's process of :func:`neurosim.sim.async_core.core_process` as a state machine, driven by
a heap of events that SimPy would serve in the same order.

SimPy serves events by (cycle, priority, insertion order). In a frame of the per-core scope every
event has the normal priority, and the frame starts with one resumption per core in core order
(frame 0: the processes' initialisation; later frames: the wake-ups the controller posts), so the
key here is (cycle, insertion number) with the same insertions in the same order:

* a timeout a core waits on (its leak pass, a pass through its output port, the service of a
  batch of messages): resumes the core;
* a wake-up (a message sent to a waiting core): resumes an idle core; for a core waiting on the
  wake-up or its next arrival (``any_of``), the first of the two to be served triggers the
  condition, itself an event scheduled then, which resumes the core (the extra step of ``any_of``);
* events nobody waits on any more (the other half of an ``any_of``, a second wake-up) change
  nothing and are skipped.

The frame ends when the last core goes idle with no message queued or in flight (quiescence).
Each message waits in its destination core's heap keyed by (arrival, send number). The core's
arithmetic is that of :mod:`neurosim.sim.async_core_fast` and :mod:`neurosim.sim.async_global_kernels`
(the same sums in the same order, float32 where it is).

Plain Python over numpy arrays, compiled by :func:`compiled` with numba (the ``fast`` extra).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from neurosim.sim import async_global_kernels as gk
from neurosim.sim.noc import fast as noc_fast

_compiled: Any = None

# what a core waits on
S_RUN, S_TIMEOUT, S_ANY, S_COND, S_IDLE = range(5)
# where a core resumes
P_START, P_LEAK, P_LOOP, P_DELIVERED = range(4)
# kinds of events
K_TIMEOUT, K_WAKE, K_COND = range(3)
# per-frame NoC tallies (contention): hops per kind, local deliveries, batches per model
N_NOC = 8  # hop_ew, hop_ns, hop_chip, local, then models local, contention-free, fifo, backpressure


def _hpush(h, n, k0, k1, k2, k3):  # pragma: no cover - numba
    """Push ``(k0, k1, k2, k3)`` onto the binary heap ``h[:n]`` (keyed by columns 0 then 1)."""
    i = n
    h[i, 0] = k0
    h[i, 1] = k1
    h[i, 2] = k2
    h[i, 3] = k3
    while i > 0:
        p = (i - 1) >> 1
        if h[i, 0] < h[p, 0] or (h[i, 0] == h[p, 0] and h[i, 1] < h[p, 1]):
            for x in range(4):
                h[i, x], h[p, x] = h[p, x], h[i, x]
            i = p
        else:
            break
    return n + 1


def _hpop(h, n):  # pragma: no cover - numba
    """Remove the top of the heap ``h[:n]`` (read it first); returns the new size."""
    n -= 1
    if n == 0:
        return n
    for x in range(4):
        h[0, x] = h[n, x]
    i = 0
    while True:
        a = 2 * i + 1
        if a >= n:
            break
        b = a + 1
        m = a
        if b < n and (h[b, 0] < h[a, 0] or (h[b, 0] == h[a, 0] and h[b, 1] < h[a, 1])):
            m = b
        if h[m, 0] < h[i, 0] or (h[m, 0] == h[i, 0] and h[m, 1] < h[i, 1]):
            for x in range(4):
                h[i, x], h[m, x] = h[m, x], h[i, x]
            i = m
        else:
            break
    return n


def _wait(ev, n_ev, seq, t, c, at, tok_t, resume, state):  # pragma: no cover - numba
    """Core ``c`` waits for a timeout at cycle ``t`` (event number ``seq``), then resumes at
    ``at``; returns the new count of events."""
    tok_t[c] = seq
    resume[c] = at
    state[c] = S_TIMEOUT
    return _hpush(ev, n_ev, t, seq, c, K_TIMEOUT)


def _grow_rows(a, need):  # pragma: no cover - numba
    """``a`` (2-D), or a copy with room for ``need`` rows."""
    if need <= a.shape[0]:
        return a
    b = np.empty((max(need, 2 * a.shape[0]), a.shape[1]), a.dtype)
    b[: a.shape[0]] = a
    return b


def _grow_heaps(mh, need):  # pragma: no cover - numba
    """The per-core message heaps ``mh`` (cores x places x 4), or a copy with ``need`` places a core."""
    if need <= mh.shape[1]:
        return mh
    b = np.empty((mh.shape[0], max(need, 2 * mh.shape[1]), 4), mh.dtype)
    b[:, : mh.shape[1]] = mh
    return b


def _check(
    ids, n, acc, v, i, frozen, refractory, frame_active, thr, v_reset, subtract, resets, spiking, fire_equal,
    delayed_reset, cuba, current_lag, ready, value, priority, sequence, counter, pending,
):  # fmt: skip  # pragma: no cover - numba
    """:func:`neurosim.sim.async_global.integrate_and_check` of the neurons ``ids[:n]`` (ascending):
    the global scope's compiled update and crossings (:mod:`neurosim.sim.async_global_kernels`),
    in index order. Returns the crossing counter and whether any neuron crossed."""
    crossed, vx = _integrate(
        ids[:n], acc, v, i, frozen, refractory, frame_active, thr, v_reset, subtract, resets, spiking, fire_equal,
        delayed_reset, cuba, current_lag,
    )  # fmt: skip
    for k in range(crossed.size):
        counter = _cross(
            crossed[k], vx[k], counter, ready, value, priority, sequence, refractory, frozen, pending, resets,
            delayed_reset,
        )  # fmt: skip
    return counter, crossed.size > 0


def _frame(
    cores, fifo, width, cap, ready, value, fired, spiked_frame, priority, sequence, counter, refractory, frozen,
    frame_active, acc, v, i, pending, ring, frame, thr, v_reset, subtract, resets, spiking, fire_equal,
    delayed_reset, cuba, current_lag, start_check, leak, in_ptr, in_ids, pop_of, input_group, output_group, indptr,
    lanes, lat_out, lat_fired, t0, tally, e_lat, e_dst, e_src, e_cost, e_syn, e_ring, cls_delay, cls_first,
    cls_stop, cls_contig, tgt, w, tmp, core_ptr, core_nodes, mark, buf, touched, tmark, mh, mseq, contention,
    tile_of_core, noc_w, lat_local, lat_l, svc_l, kind_l, free_at, keep, depth, tile_local, l_peak, l_stall, l_msgs,
    l_busy, l_wait, noc,
):  # fmt: skip  # pragma: no cover - numba
    """One frame of the per-core scope after its start, from cycle ``t0``: every core in ``cores``
    (their order: the processes') leaks, checks the neurons its frame start may have taken over
    threshold, sends its stimulus spikes (``in_ids[in_ptr[c]:in_ptr[c + 1]]``), then serves the
    messages that arrive and issues its ready neurons, until quiescence (fifo or momentum without
    noise, no refractory dropout; unicast). Returns the end cycle, the issue rounds, the crossing
    counter, the last send number, the spike log (spikes, ready cycles; per entry its step,
    population and first spike), every message's table entry, the first output spike's cycle (-1:
    none) and the message heaps (grown, maybe)."""
    n_hw = core_ptr.size - 1
    state = np.full(n_hw, S_RUN, np.int64)
    resume = np.zeros(n_hw, np.int64)
    tok_t = np.full(n_hw, -1, np.int64)
    tok_w = np.full(n_hw, -1, np.int64)
    tok_c = np.full(n_hw, -1, np.int64)
    issues = np.zeros(n_hw, np.int64)
    maybe = np.ones(n_hw, np.bool_)
    full = np.zeros(n_hw, np.bool_)  # every neuron of the core checked in this frame
    hs = np.zeros(n_hw, np.int64)  # message heap sizes
    hmax = 0  # at least every heap's size
    wmark = np.zeros(n_hw, np.bool_)
    wl = np.empty(n_hw, np.int64)
    ev = np.empty((max(64, 4 * cores.size), 4), np.int64)
    n_ev = 0
    seq = 0
    for c in cores:  # the frame start: every core resumes, in the processes' order
        n_ev = _wait(ev, n_ev, seq, t0, c, P_START, tok_t, resume, state)
        seq += 1
    busy_n = cores.size
    pending_msgs = 0
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
    step = 0
    now = t0
    t_end = t0
    no_ids = np.zeros(0, np.int64)
    rl = np.empty(max(1, int(np.max(core_ptr[1:] - core_ptr[:-1]))), np.int64)
    due = np.empty(rl.size, np.int64)
    bt, bs, bp = np.empty(64, np.int64), np.empty(64, np.int64), np.empty(64, np.int64)
    while n_ev > 0:
        now, s, c, k = ev[0, 0], ev[0, 1], ev[0, 2], ev[0, 3]
        n_ev = _hpop(ev, n_ev)
        run = False
        if k == K_TIMEOUT:
            if state[c] == S_TIMEOUT and tok_t[c] == s:
                run = True
            elif state[c] == S_ANY and tok_t[c] == s:  # the arrival first: the condition triggers
                tok_c[c] = seq
                state[c] = S_COND
                n_ev = _hpush(ev, n_ev, now, seq, c, K_COND)
                seq += 1
        elif k == K_WAKE:
            if state[c] == S_ANY and tok_w[c] == s:  # the wake-up first: the condition triggers
                tok_c[c] = seq
                state[c] = S_COND
                n_ev = _hpush(ev, n_ev, now, seq, c, K_COND)
                seq += 1
            elif state[c] == S_IDLE and tok_w[c] == s:
                busy_n += 1
                resume[c] = P_LOOP
                run = True
        elif state[c] == S_COND and tok_c[c] == s:
            resume[c] = P_LOOP
            run = True
        if not run:
            continue
        # the core's code up to its next wait
        state[c] = S_RUN
        p = resume[c]
        a_c, b_c = core_ptr[c], core_ptr[c + 1]
        nodes = core_nodes[a_c:b_c]
        done = False
        while True:
            gids = no_ids
            if p == P_START:
                issues[c] = 0
                tally[gk.T_BUSY, c] += leak[c]
                p = P_LEAK
                if leak[c] > 0:
                    n_ev = _wait(ev, n_ev, seq, now + leak[c], c, P_LEAK, tok_t, resume, state)
                    seq += 1
                    break
            if p == P_LEAK:  # the neurons the frame start may have taken over threshold, the stimulus
                n_due = 0
                for j in nodes:
                    if start_check[j] or acc[j] != 0:
                        due[n_due] = j
                        n_due += 1
                counter, hit = _check(
                    due, n_due, acc, v, i, frozen, refractory, frame_active, thr, v_reset, subtract, resets, spiking,
                    fire_equal, delayed_reset, cuba, current_lag, ready, value, priority, sequence, counter, pending,
                )  # fmt: skip
                if hit:
                    maybe[c] = True
                gids = in_ids[in_ptr[c] : in_ptr[c + 1]]
                p = P_LOOP
            elif p == P_DELIVERED:  # every neuron of the core integrates and checks
                # (after its first check in the frame, a neuron without current since its last
                # one keeps its membrane and flags: only those with a current can change)
                if full[c]:
                    n_due = 0
                    for j in nodes:
                        if acc[j] != 0:
                            due[n_due] = j
                            n_due += 1
                    ids = due
                else:
                    full[c] = True
                    ids, n_due = nodes, nodes.size
                counter, hit = _check(
                    ids, n_due, acc, v, i, frozen, refractory, frame_active, thr, v_reset, subtract, resets,
                    spiking, fire_equal, delayed_reset, cuba, current_lag, ready, value, priority, sequence, counter,
                    pending,
                )  # fmt: skip
                if hit:
                    maybe[c] = True
                p = P_LOOP
                continue
            else:  # P_LOOP
                if hs[c] > 0 and mh[c, 0, 0] <= now:  # the messages that have arrived: one batch
                    nb = 0
                    if bt.size < hs[c]:
                        bt = np.empty(2 * hs[c], np.int64)
                        bs = np.empty_like(bt)
                        bp = np.empty_like(bt)
                    while hs[c] > 0 and mh[c, 0, 0] <= now:
                        bt[nb] = mh[c, 0, 0]
                        bp[nb] = mh[c, 0, 2]
                        bs[nb] = e_src[bp[nb]]
                        nb += 1
                        hs[c] = _hpop(mh[c], hs[c])
                    pending_msgs -= nb
                    _by_source(bt, bs, bp, nb)
                    spos = bp[:nb]
                    n_t = _currents_all(
                        spos, cls_delay, cls_first, cls_stop, cls_contig, tgt, w, e_dst, tmp, acc, ring, frame,
                        core_ptr, core_nodes, mark, buf, touched, tmark, 0,
                    )  # fmt: skip
                    for x in range(n_t):
                        tmark[touched[x]] = False
                    t = now
                    for x in range(nb):
                        q = bp[x]
                        cost = e_cost[q]
                        t = max(t, bt[x]) + cost
                        tally[gk.T_MESSAGE_IN, c] += 1
                        tally[gk.T_SYNOP, c] += e_syn[q]
                        if e_ring.size:
                            tally[gk.T_DELAY_WRITE, c] += e_ring[q]
                        tally[gk.T_BUSY, c] += cost
                    p = P_DELIVERED
                    if t > now:
                        n_ev = _wait(ev, n_ev, seq, t, c, P_DELIVERED, tok_t, resume, state)
                        seq += 1
                        break
                    continue
                nr = 0
                if maybe[c]:
                    for j in nodes:
                        if ready[j]:
                            rl[nr] = j
                            nr += 1
                if nr > 0 and (cap < 0 or issues[c] < cap):  # an issue: up to `width` ready spikes
                    issues[c] += 1
                    step += 1
                    chosen = _choose(rl, nr, width, fifo, priority, sequence)
                    gids = _send_chosen(chosen, value, ready, spiked_frame, fired)
                else:  # nothing to issue: the ready neurons are dropped (step cap), then wait
                    for x in range(nr):
                        ready[rl[x]] = False
                        value[rl[x]] = 0
                    maybe[c] = False
                    tok_w[c] = -1
                    if hs[c] > 0:  # the wake-up or the next arrival
                        tok_t[c] = seq
                        state[c] = S_ANY
                        n_ev = _hpush(ev, n_ev, mh[c, 0, 0], seq, c, K_TIMEOUT)
                        seq += 1
                        break
                    state[c] = S_IDLE
                    busy_n -= 1
                    if busy_n == 0 and pending_msgs == 0:
                        done = True
                        t_end = now
                    break
            if gids.size == 0:
                continue
            # one pass through the output port (async_core._send): the spikes, their messages
            ng = gids.size
            rdy = np.empty(ng, np.int64)
            nf = 0
            n_msg = 0
            for x in range(ng):
                g = gids[x]
                if lat_fired and pop_of[g] != input_group:
                    nf += 1
                rdy[x] = now + lat_fired * nf
                n_msg += indptr[g + 1] - indptr[g]
            if nf:
                tally[gk.T_BUSY, c] += rdy[ng - 1] - now
            tally[gk.T_SPIKES, c] += ng
            # the spike log: one entry per population (ascending), at this issue's step
            log_ids = _grow(log_ids, n_log + ng)
            log_ready = _grow(log_ready, n_log + ng)
            pmin, pmax = pop_of[gids[0]], pop_of[gids[0]]
            for x in range(ng):
                pmin = min(pmin, pop_of[gids[x]])
                pmax = max(pmax, pop_of[gids[x]])
            for pop in range(pmin, pmax + 1):
                a = n_log
                for x in range(ng):
                    if pop_of[gids[x]] == pop:
                        log_ids[n_log] = gids[x]
                        log_ready[n_log] = rdy[x]
                        n_log += 1
                if n_log > a:
                    ent_step = _grow(ent_step, n_ent + 1)
                    ent_pop = _grow(ent_pop, n_ent + 1)
                    ent_first = _grow(ent_first, n_ent + 2)
                    ent_step[n_ent] = step
                    ent_pop[n_ent] = pop
                    ent_first[n_ent] = a
                    n_ent += 1
                    if pop == output_group:
                        r0 = log_ready[a]
                        for x in range(a, n_log):
                            r0 = min(r0, log_ready[x])
                        if first_out < 0 or r0 < first_out:
                            first_out = r0
            end = rdy[ng - 1]
            if n_msg:
                # the messages in order, `lanes` at a time through the port
                mpos = np.empty(n_msg, np.int64)
                sent = np.empty(n_msg, np.int64)
                m = 0
                tp = np.int64(0)
                g_n = 0
                g_ready = np.int64(0)
                g_start = 0
                for x in range(ng):
                    g = gids[x]
                    for q in range(indptr[g], indptr[g + 1]):
                        mpos[m] = q
                        m += 1
                        g_ready = rdy[x] if g_n == 0 else max(g_ready, rdy[x])
                        g_n += 1
                        if g_n == lanes:
                            tp = max(tp, g_ready) + lat_out
                            sent[g_start:m] = tp
                            g_n, g_start = 0, m
                if g_n:
                    tp = max(tp, g_ready) + lat_out
                    sent[g_start:m] = tp
                arrival = np.empty(n_msg, np.int64)
                if contention:
                    st_t = np.full(n_msg, tile_of_core[c], np.int64)
                    dt_t = np.empty(n_msg, np.int64)
                    for x in range(n_msg):
                        dt_t[x] = tile_of_core[e_dst[mpos[x]]]
                    arr, _, n_local, n_remote, any_wait, any_stall, kinds = _noc_unicast(
                        st_t, dt_t, sent, noc_w, lat_local, lat_l, svc_l, kind_l, free_at, keep, depth, tile_local,
                        l_peak, l_stall, l_msgs, l_busy, l_wait,
                    )  # fmt: skip
                    for x in range(3):
                        noc[x] += kinds[x]
                    noc[3] += n_local
                    if n_remote == 0:
                        noc[4] += 1
                    elif not any_wait:
                        noc[5] += 1
                    elif not any_stall:
                        noc[6] += 1
                    else:
                        noc[7] += 1
                    arrival[:] = arr
                else:
                    for x in range(n_msg):
                        arrival[x] = sent[x] + e_lat[mpos[x]]
                tally[gk.T_SPIKE_OUT, c] += n_msg
                all_pos = _grow(all_pos, n_pos + n_msg)
                all_pos[n_pos : n_pos + n_msg] = mpos
                n_pos += n_msg
                if hmax + n_msg > mh.shape[1]:
                    mh = _grow_heaps(mh, hmax + n_msg)
                nw = 0
                for x in range(n_msg):
                    d = e_dst[mpos[x]]
                    mseq += 1
                    hs[d] = _hpush(mh[d], hs[d], arrival[x], mseq, mpos[x], 0)
                    hmax = max(hmax, hs[d])
                    if not wmark[d]:
                        wmark[d] = True
                        wl[nw] = d
                        nw += 1
                pending_msgs += n_msg
                ev = _grow_rows(ev, n_ev + nw + 2)  # a run may send more than once (ports of no latency)
                wake = np.sort(wl[:nw])
                for d in wake:  # the destinations are woken in core order
                    wmark[d] = False
                    if (state[d] == S_ANY or state[d] == S_IDLE) and tok_w[d] < 0:
                        tok_w[d] = seq
                        n_ev = _hpush(ev, n_ev, now, seq, d, K_WAKE)
                        seq += 1
                tally[gk.T_BUSY, c] += -(-n_msg // lanes) * lat_out
                end = max(end, tp)
            if end > now:
                n_ev = _wait(ev, n_ev, seq, end, c, P_LOOP, tok_t, resume, state)
                seq += 1
                break
        if done:
            break
    ent_first = _grow(ent_first, n_ent + 1)
    ent_first[n_ent] = n_log
    return (
        t_end, step, counter, mseq, log_ids[:n_log], log_ready[:n_log], ent_step[:n_ent], ent_pop[:n_ent],
        ent_first[: n_ent + 1], all_pos[:n_pos], first_out, mh,
    )  # fmt: skip


def _by_source(bt, bs, bp, nb):  # pragma: no cover - numba
    """Sort the batch ``[:nb]`` (ascending arrivals ``bt``, equal ones in send order) by (arrival,
    source ``bs``), stably: :func:`neurosim.sim.async_core_fast.arrived`'s order."""
    a = 0
    while a < nb:
        b = a + 1
        while b < nb and bt[b] == bt[a]:
            b += 1
        if b - a > 1:  # insertion sort: stable, and the runs are short
            for x in range(a + 1, b):
                s, q = bs[x], bp[x]
                y = x
                while y > a and bs[y - 1] > s:
                    bs[y] = bs[y - 1]
                    bp[y] = bp[y - 1]
                    y -= 1
                bs[y] = s
                bp[y] = q
        a = b


# the compiled loops this one calls, bound by :func:`compiled`: the global scope's current sums,
# scheduler choice, sending of the chosen entries, growth of arrays, neuron update and crossing
# (neurosim.sim.async_global_kernels), the NoC's pass of a unicast batch (neurosim.sim.noc.fast)
_currents_all: Any = None
_choose: Any = None
_send_chosen: Any = None
_grow: Any = None
_integrate: Any = None
_cross: Any = None
_noc_unicast: Any = None


def compiled():
    """The frame loop compiled by numba (once; numba caches it on disk)."""
    global _compiled, _hpush, _hpop, _grow_rows, _grow_heaps, _check, _by_source, _wait
    global _currents_all, _choose, _send_chosen, _grow, _integrate, _cross, _noc_unicast
    if _compiled is None:
        import numba  # noqa: PLC0415 - optional extra

        _currents_all, _choose, _send_chosen, _grow, _integrate, _cross = gk.step_loops()
        _noc_unicast = noc_fast.unicast_loop()
        jit = numba.njit(cache=True)
        _hpush, _hpop, _grow_rows, _grow_heaps = jit(_hpush), jit(_hpop), jit(_grow_rows), jit(_grow_heaps)
        _check, _by_source, _wait = jit(_check), jit(_by_source), jit(_wait)
        _compiled = jit(_frame)
    return _compiled
