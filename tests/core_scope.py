"""Random networks and checks shared by the per-core async tests (tests/sim/test_async_core_fast.py,
tests/sim/test_async_core_frames.py): two runs of one network compared in everything they record."""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
from builders import grid

from neurosim.describe.network import Network, Population, Projection
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.paths import HW_DIR
from neurosim.sim.chip import Chip
from neurosim.sim.engine import simulate

NOCS = {
    "contention-free": {"router.contention": False},
    "contention": {"router.contention": True, "router.buffer_depth_msgs": 2},
    "multicast": {"router.delivery": "multicast"},
}


def network(seed: int, sizes=(9, 13, 11, 5), extended: bool = True, on_grid: bool = True) -> Network:
    """Random layers (cuba, subtractive and delayed resets, biases, random delays, a delayed skip
    and a recurrent projection when ``extended``); weights on a 1/64 grid (order-free sums) or off
    it (the sums depend on the order in which a core integrates its messages)."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", "input", (sizes[0],))]
    for k, n in enumerate(sizes[1:]):
        cuba = (rng.random(n) < 0.5) & extended
        p = NeuronParams.uniform(
            n,
            decay=rng.choice([0.5, 0.75, 1.0], n),
            threshold=grid(rng.uniform(0.5, 1.0, n), 8),
            subtract=rng.random(n) < 0.5,
            syn_decay=rng.choice([0.0, 0.5], n),
            cuba=cuba,
            delayed_reset=(rng.random(n) < 0.3) & extended,
            bias=grid(rng.uniform(0.0, 0.2, n)) * extended,
        )
        pops.append(Population(f"l{k}", "lif", (n,), p))

    def weights(a, b, mean):
        w = rng.normal(mean, 0.45, (a, b)).astype(np.float32)
        w = grid(w) if on_grid else w
        w[rng.random(w.shape) > 0.6] = 0
        return sp.csr_array(w)

    delay = (lambda: int(rng.integers(0, 2))) if extended else (lambda: 0)
    projs = [
        Projection(pops[k].name, pops[k + 1].name, weights(sizes[k], sizes[k + 1], 0.4), delay=delay())
        for k in range(len(sizes) - 1)
    ]
    if extended:
        projs.append(Projection("in", "l1", weights(sizes[0], sizes[2], 0.2), delay=2))
        projs.append(Projection("l1", "l0", weights(sizes[2], sizes[1], 0.0)))
    return Network(f"mixed{seed}", pops, projs, "in", pops[-1].name, dt=1e-3)


def assert_same_chip(a: Chip, b: Chip):
    assert len(a.spike_log) == len(b.spike_log)
    for x, y in zip(a.spike_log, b.spike_log, strict=True):
        assert x[:2] == y[:2]
        np.testing.assert_array_equal(x[2], y[2])
        np.testing.assert_array_equal(x[3], y[3])
    assert a.spike_steps == b.spike_steps
    assert a.frame_end == b.frame_end
    assert a.first_output == b.first_output
    assert (a.step, a.copies_sent, a.counters_barrier) == (b.step, b.copies_sent, b.counters_barrier)
    np.testing.assert_array_equal(a.counters.busy_cycles, b.counters.busy_cycles)
    np.testing.assert_array_equal(a.counters.spikes, b.counters.spikes)
    assert a.counters.ops.keys() == b.counters.ops.keys()
    for k in a.counters.ops:
        np.testing.assert_array_equal(a.counters.ops[k], b.counters.ops[k], err_msg=k)
    for k in a.mesh.counters:
        np.testing.assert_array_equal(a.mesh.counters[k], b.mesh.counters[k], err_msg=k)
    np.testing.assert_array_equal(a.tile_pairs.toarray(), b.tile_pairs.toarray())
    assert a.noc_ops() == b.noc_ops()
    for x, y in zip(a.readout_v, b.readout_v, strict=True):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.state.v, b.state.v)


def setup(seed, noc, npc, extended=True, on_grid=True, **core):
    hw = load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4, **NOCS[noc], **core})
    net = network(seed, extended=extended, on_grid=on_grid)
    return hw, net, map_network(net, hw, neurons_per_core=npc)


def dense(seed: int, sizes=(48, 48, 32, 8)) -> Network:
    """Dense random LIF layers on a 1/64 grid: every message to a core reaches as many synapses,
    so equal-cycle events on several cores are common (the order SimPy serves them in shows)."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", "input", (sizes[0],))]
    projs = []
    for i, n in enumerate(sizes[1:], start=1):
        pops.append(Population(f"l{i}", "lif", (n,), NeuronParams.uniform(n, decay=0.9, threshold=1.0)))
        w = grid(rng.normal(0.0, 1.0, (sizes[i - 1], n)) / np.sqrt(sizes[i - 1] * 0.1))
        w[w == 0] = 1 / 64
        projs.append(Projection(pops[i - 1].name, pops[i].name, sp.csr_array(w)))
    return Network("dense", pops, projs, "in", pops[-1].name, dt=1e-3)


def assert_same_results(a, b) -> None:
    """Two :class:`~neurosim.sim.counters.RunResult` of the same samples: the same records, paper
    metrics, energy, per-core and per-link figures and raster."""
    for sa, sb in zip(a.samples, b.samples, strict=True):
        assert (sa.cycles, sa.ops, sa.spikes, sa.messages_sent) == (sb.cycles, sb.ops, sb.spikes, sb.messages_sent)
        assert repr(sa.extra) == repr(sb.extra)
        if sa.frames is not None or sb.frames is not None:
            for f in dataclasses.fields(sa.frames):
                np.testing.assert_array_equal(getattr(sa.frames, f.name), getattr(sb.frames, f.name), err_msg=f.name)
        assert a.energy(sa) == b.energy(sb)
    for k in a.core:
        np.testing.assert_array_equal(a.core[k], b.core[k], err_msg=k)
    for k in a.links:
        np.testing.assert_array_equal(a.links[k], b.links[k], err_msg=k)
    np.testing.assert_array_equal(a.raster.cycle, b.raster.cycle)
    np.testing.assert_array_equal(a.raster.neuron, b.raster.neuron)
    assert sum(s.spikes for s in a.samples) > 0


def count_input_runs_agree(switch, noc: str) -> None:
    """Event-count input (a count k: k messages), two samples through :func:`simulate` in the
    per-core scope with ``switch(True)`` and ``switch(False)`` applied: the same results
    (:func:`assert_same_results`)."""
    hw, net, mapping = setup(4, noc, 3, **{"core.issue_width": 2})
    stim = np.random.default_rng(4).integers(0, 3, (2, 5, 9))
    res = {}
    for on in (True, False):
        switch(on)
        res[on] = simulate(
            hw, net, mapping, stim, np.zeros(2, np.int64), mode="async", scope="core", policy="fifo", raster_sample=1
        )
    assert_same_results(res[True], res[False])
