"""Benchmark: cut traffic, messages and wall time of every mapping strategy on conv and sparse nets
(figures, not pass/fail), and the simulated energy and latency of ``sequential`` against
``partition`` (METIS) on Loihi.

Nets (neurosim.experiments.synthetic): the 3,082-neuron conv net (1x32x32 -> conv 4@3x3/2 ->
conv 16@3x3/2 -> dense 10, lowered from NIR) on Loihi with cores of 128 neurons (25 cores), a
~300 k-synapse conv net (1x32x32 -> conv 8@3x3/1 -> conv 12@3x3/2 -> dense 10; 99 cores), and two
sparse random nets (one with hidden communities, one uniform). Traffic is counted with one spike
per neuron (``neurosim.mapping.partition.traffic``).

    python benchmarks/bench_partition.py [--nets conv3k conv300k modular uniform] [--no-kl-large]
        [--simulate] [--samples 4] [--frames 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from neurosim.analysis.summary import summarize
from neurosim.describe.network import Network
from neurosim.experiments.synthetic import conv_network, sparse_network
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.partition import traffic
from neurosim.mapping.registry import map_network
from neurosim.paths import HW_DIR
from neurosim.sim.engine import simulate

STRATEGIES = (
    ("sequential", {}),
    ("balanced", {}),
    ("partition", {"method": "kl"}),
    ("partition", {"method": "metis"}),
    ("random", {}),
)


NETS = {
    "conv3k": lambda: conv_network(),
    "conv300k": lambda: conv_network(((8, 1), (12, 2)), name="conv300k"),
    "modular": lambda: sparse_network(0, True, name="modular"),
    "uniform": lambda: sparse_network(0, False, name="uniform"),
}


def table(net: Network, hw, skip_kl: bool) -> dict:
    """One row per strategy: cores, messages, cut traffic, its ratio to sequential, wall time."""
    print(f"\n{net.name}: {net.n_neurons:,} neurons, {net.n_synapses:,} synapses on {hw.name} (128 neurons/core)")
    print(f"{'strategy':<20}{'cores':>6}{'messages':>10}{'cut':>10}{'cut/seq':>9}{'wall s':>9}  chosen")
    maps, base = {}, None
    for name, opts in STRATEGIES:
        label = name + (f"({opts['method']})" if opts else "")
        if skip_kl and opts.get("method") == "kl":
            print(f"{label:<20} skipped (--no-kl-large)")
            continue
        t0 = time.perf_counter()
        m = map_network(net, hw, name, **opts)
        wall = time.perf_counter() - t0
        t = traffic(net, m.core_of)
        base = base or t["cut_traffic"]
        chosen = (m.meta.get("strategy_result") or {}).get("chosen", "")
        print(
            f"{label:<20}{np.unique(m.core_of).size:>6}{t['messages']:>10,.0f}{t['cut_traffic']:>10,.0f}"
            f"{t['cut_traffic'] / base:>9.3f}{wall:>9.2f}  {chosen}"
        )
        maps[label] = m
    return maps


def simulated(net: Network, hw, maps: dict, samples: int, frames: int, seed: int = 1) -> None:
    """Energy, latency, messages and hops per inference of sequential vs partition(metis)."""
    stim = np.random.default_rng(seed).random((samples, frames, net.by_name[net.input].size)) < 0.1
    print(f"\nsimulated on {hw.name} (128 neurons/core), sync, {samples} samples x {frames} frames, input rate 0.1")
    rows = {}
    for label in ("sequential", "partition(metis)"):
        t0 = time.perf_counter()
        s = summarize(simulate(hw, net, maps[label], stim, np.zeros(samples, np.int64), raster_sample=None))
        rows[label] = s
        print(
            f"{label:<18} energy {s['energy_per_inference_j'] * 1e6:9.3f} uJ  latency "
            f"{s['latency_per_inference_s'] * 1e6:9.2f} us  messages {s['messages_per_inference']:9.1f}  "
            f"hops {s['hops_per_inference']:9.1f}  spikes {s['spikes_per_inference']:8.1f}  "
            f"({time.perf_counter() - t0:.1f} s)"
        )
    a, b = rows["sequential"], rows["partition(metis)"]
    print(
        f"partition(metis) vs sequential: energy {b['energy_per_inference_j'] / a['energy_per_inference_j'] - 1:+.1%}, "
        f"latency {b['latency_per_inference_s'] / a['latency_per_inference_s'] - 1:+.1%}"
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nets", nargs="+", choices=list(NETS), default=list(NETS))
    ap.add_argument("--no-kl-large", action="store_true", help="skip Kernighan-Lin on conv300k (minutes)")
    ap.add_argument("--simulate", action="store_true", help="simulate conv3k with sequential and METIS mappings")
    ap.add_argument("--samples", type=int, default=4)
    ap.add_argument("--frames", type=int, default=20)
    a = ap.parse_args(argv)
    hw = load_hardware(HW_DIR / "loihi.yaml", {"core.max_neurons": 128})
    for key in a.nets:
        net = NETS[key]()
        maps = table(net, hw, skip_kl=a.no_kl_large and key == "conv300k")
        if a.simulate and key == "conv3k":
            simulated(net, hw, maps, a.samples, a.frames)


if __name__ == "__main__":
    main()
