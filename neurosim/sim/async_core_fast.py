"""A lean send and arrival path for the per-core async scheduler (:mod:`neurosim.sim.async_core`).

The per-core scheduler sends a few spikes at a time (``issue_width`` ready neurons an issue): the
general routing code (:meth:`Chip.emit` and :meth:`Chip.route_outbox`: concatenation, a three-key
sort, a split per destination, one :class:`Deliver` batch per destination core) costs far more
than the work of those few messages. This module does the same for unicast messages with a
scalar loop over per-neuron message lists built once per chip (destination cores, synapses
reached and, on a contention-free NoC, each message's latency), and keeps every message as its
own entry of the destination core's arrival heap, ``(arrival, seq, source, synops)``; a core
takes those that have arrived as one batch sorted by (arrival, source), as
:func:`neurosim.sim.async_core._merge` orders the general path's batches.

Everything observable is the same as on the general path: the spike log, the port timing and
counters, the tile pairs, each core's arrival heap key (its earliest arrival) and the order in
which destination cores are woken (ascending core id, once per issue: the general path routes
each issue's messages sorted by destination core), hence SimPy's order of events. With
contention (unicast) the arrivals come from :meth:`Mesh.deliver` called with the same arrays in
the same order. Multicast takes the general path (``applies``). ``ENABLED = False`` selects the
general path everywhere (tests compare the two).
"""

from __future__ import annotations

import heapq
import operator
import weakref

import numpy as np

from neurosim.sim.core import Deliver
from neurosim.sim.maxplus import lane_finish_times

ENABLED = True

_ROUTES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def applies(chip) -> bool:
    """Whether the lean path serves this chip: enabled, unicast delivery."""
    return ENABLED and not chip.multicast


def route_of(chip) -> FastRoute:
    """The chip's :class:`FastRoute` (kept while the chip lives: its message lists serve every sample)."""
    r = _ROUTES.get(chip)
    if r is None:
        r = _ROUTES[chip] = FastRoute(chip)
    return r


class FastRoute:
    """The chip's message table as int64 arrays with each message's tile pair and (contention-free)
    latency (4 x 8 bytes per message, not per synapse), per-neuron lists of them built on a
    neuron's first spike, and the lean send of one issue."""

    def __init__(self, chip):
        self.core_of = chip.mapping.core_of  # no reference to the chip: the cache is keyed by it, weakly
        d = chip.dest
        self.indptr = d.indptr.tolist()
        self.dst = d.indices.astype(np.int64)
        self.syn = d.data.astype(np.int64)
        mesh = chip.mesh
        src_core = np.repeat(chip.mapping.core_of[: d.shape[0]], np.diff(d.indptr))
        st, dt = mesh.tile_of_core[src_core].astype(np.int64), mesh.tile_of_core[self.dst].astype(np.int64)
        self.pairs = st * mesh.n_tiles + dt
        self.contention = not chip.fast_noc
        self.lat = None if self.contention else mesh.tile_latency(st, dt).astype(np.int64)
        # each row's destinations sorted and distinct: they are the wake order as they stand
        self.sorted_rows = bool(d.has_canonical_format)
        self.lanes = max(int(chip.hw.core.issue_width), 1)
        self.lat_out = int(chip.hw.core.latency_spike_out_cycles)
        self.cache: dict[int, tuple] = {}

    def messages_of(self, gid: int) -> tuple:
        """``(destination cores, synops, latencies, wake order, pair ids, destinations, send
        offsets, arrival offsets, port span, source cores)`` of neuron ``gid``'s messages, in CSR
        order (latencies and arrival offsets only contention-free). Sent alone at cycle ``r``,
        message ``j`` leaves the port ``send offsets[j] = lat_out (j // lanes + 1)`` after ``r``
        and arrives ``arrival offsets[j]`` after it; the last leaves ``span`` after ``r``."""
        hit = self.cache.get(gid)
        if hit is not None:
            return hit
        a, b = self.indptr[gid], self.indptr[gid + 1]
        dst = self.dst[a:b].tolist()
        sent = self.lat_out * (np.arange(b - a, dtype=np.int64) // self.lanes + 1)
        hit = (
            dst,
            self.syn[a:b].tolist(),
            None if self.lat is None else self.lat[a:b].tolist(),
            dst if self.sorted_rows else sorted(set(dst)),
            self.pairs[a:b],
            self.dst[a:b],
            sent,
            None if self.lat is None else (sent + self.lat[a:b]).tolist(),
            self.lat_out * -(-(b - a) // self.lanes),
            np.full(b - a, self.core_of[gid], np.int64),
        )
        self.cache[gid] = hit
        return hit

    def send(self, chip, cid: int, gids: np.ndarray, ready: np.ndarray, lat_out: int) -> tuple[int, int]:
        """:meth:`Chip.emit` then :func:`neurosim.sim.async_core.route_now` of one pass through
        core ``cid``'s port (unicast): spikes ``gids`` ready at ``ready``. Returns the cycle the
        last message left and the port operations."""
        gl = gids.tolist()
        if len(gl) == 1:
            chip._log_spikes(int(chip.net.population_of[gl[0]]), gids, ready)
        else:
            pops = chip.net.population_of[gids]
            if bool((pops == pops[0]).all()):
                chip._log_spikes(int(pops[0]), gids, ready)
            else:
                for g in np.unique(pops):
                    chip._log_spikes(int(g), gids[pops == g], ready[pops == g])
        cores = chip.cores
        if len(gl) == 1 and lat_out == self.lat_out:  # one spike: the common case
            g = gl[0]
            dst, syn, _, wake, pairs, dst_arr, sent_off, offs, span, src_core = self.messages_of(g)
            n = len(dst)
            if n == 0:
                return int(ready.max()), 0
            r0 = int(ready[0])
            if offs is None:  # contention: the mesh, with the arrays the general path gives it
                arrival = chip.mesh.deliver(src_core, dst_arr, sent_off + r0, None, keep_state=chip.noc_keep_state)
                offs, r = arrival.tolist(), 0
            else:
                r = r0
            chip.counters.ops["spike_out"][cid] += n
            chip.copies_sent += n
            chip._pairs.append(pairs)
            seq, push = chip.seq, heapq.heappush
            for d, o, y in zip(dst, offs, syn):
                seq += 1
                push(cores[d].future, (r + o, seq, g, y))
            chip.seq = seq
            for d in wake:  # the general path schedules (and wakes) the destinations in core order
                cores[d].wake()
            return r0 + span, n
        dst, syn, src, pair_parts, dst_parts, rep = [], [], [], [], [], []
        lat: list[int] | None = None if self.contention else []
        for g in gl:
            m = self.messages_of(g)
            dst += m[0]
            syn += m[1]
            src += [g] * len(m[0])
            if lat is not None:
                lat += m[2]
            pair_parts.append(m[4])
            dst_parts.append(m[5])
            rep.append(len(m[0]))
        n = len(dst)
        if n == 0:
            return int(ready.max()), 0
        sent_np = lane_finish_times(np.repeat(ready, rep), lat_out, self.lanes)
        sent = sent_np.tolist()
        chip.counters.ops["spike_out"][cid] += n
        chip.copies_sent += n
        chip._pairs.append(pair_parts[0] if len(pair_parts) == 1 else np.concatenate(pair_parts))
        if lat is None:  # contention: the mesh, with the arrays the general path gives it
            dst_np = dst_parts[0] if len(dst_parts) == 1 else np.concatenate(dst_parts)
            arrival = chip.mesh.deliver(
                np.full(n, cid, np.int64), dst_np, sent_np, None, keep_state=chip.noc_keep_state
            ).tolist()
        else:
            arrival = [s + x for s, x in zip(sent, lat)]
        seq, push = chip.seq, heapq.heappush
        for d, a, s, y in zip(dst, arrival, src, syn):
            seq += 1
            push(cores[d].future, (a, seq, s, y))
        chip.seq = seq
        for d in sorted(set(dst)):  # the general path schedules (and wakes) the destinations in core order
            cores[d].wake()
        return max(sent), n


def arrived(core, now: int) -> tuple[np.ndarray, list[int], list[int]]:
    """The messages of ``core``'s heap that have arrived by ``now``, removed, as one batch sorted
    by (arrival, source) (stable: equal keys in heap order): sources, synops, arrivals."""
    fut, pop = core.future, heapq.heappop
    got = []
    while fut and fut[0][0] <= now:
        got.append(pop(fut))
    if len(got) > 1:
        got.sort(key=_ARRIVAL_SOURCE)
    arrival, _, src, syn = zip(*got)
    return np.array(src, np.int64), list(syn), list(arrival)


_ARRIVAL_SOURCE = operator.itemgetter(0, 2)


def deliver(core, batch: tuple[np.ndarray, list[int], list[int]], t0: int) -> tuple[int, int]:
    """:meth:`Core.deliver` of a batch (:func:`arrived`), with the port's timing as a scalar loop
    (the same sums and counters); projections naming a synapse unit take :meth:`Core.deliver`."""
    chip = core.chip
    src, syn, arrivals = batch
    if chip.synapse_units is not None:
        return core.deliver(Deliver(src, np.array(syn, np.int64), np.array(arrivals, np.int64)), t0)
    ops = chip.counters.ops
    n = src.size
    ring_writes = core.integrate_messages(src)
    lat_in, lat_syn = core.lat_in, core.lat_synop
    t = t0
    if ring_writes is None:
        for a, y in zip(arrivals, syn):
            t = (a if a > t else t) + lat_in + lat_syn * y
        writes = 0
    else:
        lat_w = core.lat_ring_write
        for a, y, w in zip(arrivals, syn, ring_writes.tolist()):
            t = (a if a > t else t) + lat_in + lat_syn * y + lat_w * w
        writes = int(ring_writes.sum())
    n_syn = sum(syn)
    cid = core.cid
    ops["message_in"][cid] += n
    ops["synop"][cid] += n_syn
    ops["delay_write"][cid] += writes
    return t, n * lat_in + lat_syn * n_syn + core.lat_ring_write * writes
