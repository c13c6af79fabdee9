"""Benchmark: simulation of a dense feed-forward LIF network (sync, or async with --mode async).

1024 -> 1024 -> 1024 -> 512 -> 10 (about 2.6 M synapses), 64 neurons per core (57 cores), 1000
frames of random input spikes, Loihi preset: the workload SANA-FE was measured on
(../shared/reference/peer-figures.md). Prints synaptic events per second of wall time and peak RSS,
and, timed in the same run, a plain numpy LIF forward of the same work (same weights, same input
spikes, :func:`neurosim.neuron.step`; each frame adds the weight rows of the spiking neurons):
the simulator's events per second as a ratio to it (the machine is shared and noisy: compare
figures of one run only). Events are synaptic events: the fan-out of the spiking neurons.

    python benchmarks/bench_dense.py [--frames 1000] [--rate 0.1] [--hw hw_configs/loihi.yaml]
        [--mode sync|async|timestep] [--scope core|global] [--noc free|contention|both]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import scipy.sparse as sp

from neurosim.describe.network import Network, Population, Projection
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.paths import DEFAULT_HW
from neurosim.sim.engine import simulate
from neurosim.sim.scheduler import POLICIES

SIZES = (1024, 1024, 1024, 512, 10)
GAIN = 1.0  # weight scale: about 14% of synapses active per frame, as in the SANA-FE measurement


def dense_network(seed: int = 0, sizes=SIZES) -> Network:
    """Random dense LIF layers; weights on a 2^-6 grid, scaled so activity neither dies nor saturates."""
    rng = np.random.default_rng(seed)
    pops = [Population("input", "input", (sizes[0],))]
    projs = []
    for i, n in enumerate(sizes[1:], start=1):
        pops.append(Population(f"lif{i}", "lif", (n,), NeuronParams.uniform(n, decay=0.9, threshold=1.0)))
        w = rng.normal(0.0, 1.0, (sizes[i - 1], n)) * (GAIN / np.sqrt(sizes[i - 1] * 0.1))
        wq = np.round(w * 64) / 64
        wq[wq == 0] = np.where(w[wq == 0] < 0, -1, 1) / 64  # keep every synapse (dense)
        projs.append(Projection(pops[i - 1].name, pops[i].name, sp.csr_array(wq.astype(np.float32))))
    return Network("dense_benchmark", pops, projs, "input", pops[-1].name, dt=1e-3)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=0.1, help="input spike probability per frame")
    ap.add_argument("--hw", default=str(DEFAULT_HW))
    ap.add_argument("--neurons-per-core", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--mode", choices=["sync", "async", "timestep"], default="sync")
    ap.add_argument("--scope", choices=["global", "core"], default="core", help="async scheduler scope")
    ap.add_argument("--policy", choices=list(POLICIES), default="fifo")
    ap.add_argument(
        "--noc",
        choices=["free", "contention", "both"],
        default="both",
        help="NoC model: contention-free per-hop latency, links with contention and "
        "back-pressure, or both one after the other (default: both)",
    )
    a = ap.parse_args(argv)
    for noc in ("free", "contention") if a.noc == "both" else (a.noc,):
        run(a, noc)


def numpy_forward(net: Network, stim: np.ndarray, grid: float = 0.0) -> tuple[int, int, float]:
    """A plain numpy LIF forward of one sample ``stim`` (frames x inputs) through the chain of
    dense layers of ``net``: per frame and layer, the current is the sum of the weight rows of the
    spiking sources, then :func:`neurosim.neuron.step`. Returns (neuron spikes, synaptic events,
    CPU seconds); the weights are made dense before the clock starts."""
    from neurosim.neuron import DTYPE, step

    layers = [
        (np.ascontiguousarray(pr.weights.toarray(), DTYPE), np.diff(pr.weights.indptr), net.by_name[pr.target])
        for pr in net.projections
    ]
    state = [(np.zeros(p.size, DTYPE), np.zeros(p.size, DTYPE), np.zeros(p.size, bool)) for _, _, p in layers]
    spikes = events = 0
    t0 = time.process_time()
    for frame in stim:
        s = frame
        for k, (w, fan_out, pop) in enumerate(layers):
            idx = np.flatnonzero(s)
            events += int(fan_out[idx].sum())
            cur = w[idx].sum(axis=0, dtype=DTYPE)
            v, i, pending = state[k]
            s, v, i, pending = step(v, i, pending, cur, pop.neurons, grid)
            state[k] = (v, i, pending)
            spikes += int(s.sum())
    return spikes, events, time.process_time() - t0


def run(a, noc: str):
    t0 = time.perf_counter()
    hw = load_hardware(a.hw, {"router.contention": noc == "contention"})
    net = dense_network(a.seed)
    mapping = map_network(net, hw, neurons_per_core=a.neurons_per_core)
    stim = np.random.default_rng(a.seed + 1).random((1, a.frames, SIZES[0])) < a.rate
    t_load = time.perf_counter() - t0
    t1, c1 = time.perf_counter(), time.process_time()
    res = simulate(
        hw,
        net,
        mapping,
        stim,
        np.zeros(1, np.int64),
        name="bench",
        raster_sample=None,
        mode=a.mode,
        scope=a.scope,
        policy=a.policy,
    )
    wall, cpu = time.perf_counter() - t1, time.process_time() - c1
    s = res.samples[0]
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    np_spikes, np_events, np_cpu = numpy_forward(net, stim[0], hw.core.membrane_grid)
    print(
        f"network: {net.n_neurons} neurons, {net.n_synapses} synapses, {len(mapping.used_cores)} cores "
        f"on {hw.name}; {a.frames} frames, input rate {a.rate}; mode {a.mode}"
        + (f" ({a.scope} scheduler, {a.policy})" if a.mode == "async" else "")
        + f"; NoC {'with contention and back-pressure' if noc == 'contention' else 'contention-free'}"
    )
    print(f"load+map: {t_load:.2f} s; simulation wall time: {wall:.2f} s, CPU time: {cpu:.2f} s")
    print(
        f"spikes: {s.spikes + s.input_spikes} ({s.spikes} neuron, {s.input_spikes} input); "
        f"synaptic events: {s.synops}; messages: {s.messages_sent}"
    )
    print(
        f"synaptic events per CPU second: {s.synops / cpu / 1e6:.1f} M/s ({s.synops / wall / 1e6:.1f} M/s of wall); "
        f"spikes per second: {(s.spikes + s.input_spikes) / wall / 1e3:.0f} k/s"
    )
    print(f"simulated latency: {s.cycles} cycles = {s.cycles * hw.cycle_s * 1e3:.3f} ms")
    same = "same spikes and events" if (np_spikes, np_events) == (s.spikes, s.synops) else "DIFFERENT work"
    ratio = (np_events / np_cpu) / (s.synops / cpu) if s.synops and np_events and cpu else float("nan")
    print(
        f"numpy forward: {np_cpu:.3f} CPU s, {np_events / max(np_cpu, 1e-9) / 1e6:.1f} M events/s ({same}"
        + ("" if a.mode == "sync" else "; async and timestep spikes differ from the sync forward")
        + f"); simulator / numpy per CPU second: {ratio:.1f}x"
    )
    print(f"peak RSS: {rss_mb:.0f} MB\n")


if __name__ == "__main__":
    main()
