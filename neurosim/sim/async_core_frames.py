"""Whole frames of per-core async execution in one compiled call each.

:func:`neurosim.sim.async_core.core_process` runs one SimPy process per core; per event it spends
tens of microseconds in the interpreter (a batch of a few messages, an issue of a few spikes).
Where the frame's options allow, :func:`run_frame` runs the same processes as one compiled state
machine (:mod:`neurosim.sim.async_core_kernels`) that serves their events in SimPy's order: the
same spike log (neurons, cycles, forward steps, order), counters per core and per link, tile
pairs, frame ends and energy (tests/sim/test_async_core_frames.py compares the two on random
networks in every NoC model it takes).

It takes: numba installed, fifo or momentum without noise, no refractory dropout, unicast
delivery, and a NoC without contention or one that the compiled one-pass model times
(:mod:`neurosim.sim.noc.fast`: links of at least one cycle). Other runs take the SimPy processes,
as does every run with ``ENABLED = False``. The tables (the message table by entry, the synapses
of each entry by delay class) are those of the global scope's batched steps
(:class:`neurosim.sim.async_global_fast.FastSteps`), built once per chip.
"""

from __future__ import annotations

import weakref

import numpy as np

from neurosim.sim import async_core_kernels as kernels
from neurosim.sim import async_global_fast
from neurosim.sim.async_global_kernels import AVAILABLE
from neurosim.sim.noc import fast as noc_fast
from neurosim.sim.noc.counters import HOP_OPS

#: per-core async frames run compiled where they can (tests set it False to run the processes)
ENABLED = True

_FRAMES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

_NOC_MODELS = ("local", "contention-free", "fifo", "backpressure")


def applies(chip) -> bool:
    """Whether the frames of ``chip``'s per-core async run take the compiled loop."""
    o = chip.options
    if not (ENABLED and AVAILABLE) or chip.multicast or not chip.cores:
        return False
    if o["policy"] not in ("fifo", "momentum") or o.get("momentum_noise", 0.0) or o.get("refrac_dropout", 0.0):
        return False
    if chip.fast_noc:
        return True
    mesh = chip.mesh
    return bool(mesh.contention and mesh.use_compiled and noc_fast.usable(mesh.routes))


def prepare(chip) -> Frames | None:
    """The compiled frames of ``chip``, fresh for a sample; None where they do not apply."""
    if not applies(chip):
        return None
    f = _FRAMES.get(chip)
    if f is None:
        f = _FRAMES[chip] = Frames(chip)
    f.tables.new_sample()
    return f


class Frames:
    """Per chip: the global scope's tables, each neuron's frame-start check, the cores in their
    processes' order, and the message heaps (kept between frames)."""

    def __init__(self, chip):
        self.chip = chip
        self.tables = async_global_fast.tables_of(chip)
        self.frame_fn = kernels.compiled()
        n, nc = chip.net.n_neurons, chip.hw.n_cores
        self.cores = np.array(list(chip.cores), np.int64)
        self.start_check = np.zeros(n, bool)
        for core in chip.cores.values():
            self.start_check[core.neuron_ids] = core.start_check
        self.heaps = np.zeros((nc, 8, 4), np.int64)
        mesh = chip.mesh
        self.tile_of_core = np.ascontiguousarray(mesh.tile_of_core, np.int64)
        self.noc = np.zeros(kernels.N_NOC, np.int64)

    def run_frame(self, ss, t0: int, inputs: np.ndarray, in_core: np.ndarray) -> int:
        """The current frame from cycle ``t0`` (after :func:`neurosim.sim.async_global.frame_start`):
        the stimulus messages ``inputs`` (their cores ``in_core``), every core's process up to
        quiescence. Updates the chip and ``ss`` as the processes would; returns the cycle of
        quiescence."""
        chip, tb, o = self.chip, self.tables, self.chip.options
        hc, st, mesh = chip.hw.core, chip.state, chip.mesh
        nc = chip.hw.n_cores
        order = np.argsort(in_core, kind="stable")
        in_ids = np.ascontiguousarray(inputs[order], np.int64)
        in_ptr = np.zeros(nc + 1, np.int64)
        np.cumsum(np.bincount(in_core, minlength=nc), out=in_ptr[1:])
        contention = not chip.fast_noc
        z = np.zeros(0, np.int64)
        if contention:
            r, timing, lc = mesh.routes, mesh.timing, mesh.stats.counters
            noc_args = (
                np.int64(r.width), np.int64(r.latency_local), r.link_latency, r.link_service, r.link_kind,
                timing.link_free_at, bool(chip.noc_keep_state), np.int64(timing.buffer_depth), mesh.stats.tile_local,
                lc["peak_occupancy"], lc["stall_cycles"], lc["messages"], lc["busy_cycles"], lc["wait_cycles"],
            )  # fmt: skip
        else:
            noc_args = (np.int64(0), np.int64(0), z, z, z, z, False, np.int64(0), z, z, z, z, z, z)
        self.noc[:] = 0
        cap = o["max_steps"]
        args = (
            self.cores, o["policy"] == "fifo", int(hc.issue_width), -1 if cap is None else int(cap),
            ss.ready, ss.value, ss.fired, ss.spiked_frame, ss.priority, ss.sequence, ss.counter, ss.refractory,
            ss.frozen, ss.frame_active, st.acc, st.v, st.i, st.pending, st.ring, chip.frame, *tb.params,
            self.start_check, chip.leak_cycles, in_ptr, in_ids, tb.pop_of, chip.input_group, chip.output_group,
            tb.indptr, max(int(hc.issue_width), 1), int(hc.latency_spike_out_cycles),
            int(hc.latency_spike_fired_cycles), t0, tb.tally, z if tb.e_lat is None else tb.e_lat, tb.e_dst,
            tb.e_src, tb.e_cost, tb.e_syn, tb.ring, tb.cls_delay, tb.cls_first, tb.cls_stop, tb.cls_contig, tb.tgt,
            tb.w, tb.tmp, tb.core_ptr, tb.core_nodes, tb.mark, tb.buf, tb.touched, tb.tmark, self.heaps, chip.seq,
            contention, self.tile_of_core, *noc_args, self.noc,
        )  # fmt: skip
        end, steps, ss.counter, chip.seq, ids, ready, ent_step, ent_pop, ent_first, pos, first_out, self.heaps = (
            self.frame_fn(*args)
        )
        tb.apply_frame(ids, ready, ent_step, ent_pop, ent_first, pos, first_out, steps)
        if contention:
            stats, t = mesh.stats, self.noc.tolist()
            for op, k in zip(HOP_OPS + ("local",), t[:4]):
                stats.ops[op] += k
            for model, k in zip(_NOC_MODELS, t[4:]):
                stats.models[model] += k
        tb.flush()
        return int(end)
