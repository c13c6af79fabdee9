"""Benchmark: set-up time and memory of a large sparse random network, phase by phase.

``--layers`` populations of ``--neurons`` neurons each (the first the input, the others LIF), every
neuron of a layer sending ``--fanout`` synapses to uniformly random neurons of the next (seeded;
repeated targets merge, so slightly fewer synapses), mapped ``sequential`` on the Loihi preset
with a ``--mesh`` x ``--mesh`` mesh. Prints the seconds of each phase - build (the
:class:`Network`), global weights (its global matrices), map (strategy, placement and capacity
check), check (one more :func:`check_mapping`, as :class:`Chip` runs it), chip (the
:class:`Chip`: message table and every core's weight blocks) - the peak RSS after each phase and
the peak bytes per synapse.

    python benchmarks/bench_setup.py [--neurons 25000] [--fanout 100] [--layers 4] [--mesh 32]

The figures in the README: 25,000 and 250,000 neurons per layer, 100 synapses each (250,000
need about 18,600 cores: ``--mesh 72``).
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import scipy.sparse as sp

from neurosim.describe.mapping import check_mapping
from neurosim.describe.network import Network, Population, Projection
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.paths import HW_DIR
from neurosim.sim.chip import Chip


def random_network(n_layer: int, fanout: int, layers: int, seed: int = 0) -> Network:
    """``layers`` populations of ``n_layer`` neurons; each neuron of a layer reaches ``fanout``
    random neurons of the next (weight 0.25)."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", "input", (n_layer,))]
    projs = []
    rows = np.repeat(np.arange(n_layer, dtype=np.int32), fanout)
    for i in range(1, layers):
        pops.append(Population(f"l{i}", "lif", (n_layer,), NeuronParams.uniform(n_layer, decay=0.9, threshold=1.0)))
        cols = rng.integers(0, n_layer, rows.size, dtype=np.int32)
        w = sp.csr_array((np.full(rows.size, 0.25, np.float32), (rows, cols)), shape=(n_layer, n_layer))
        del cols
        projs.append(Projection(pops[i - 1].name, pops[i].name, w))
        del w
    return Network("setup_benchmark", pops, projs, "in", pops[-1].name)


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_bytes() -> int:
    """The resident set now (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--neurons", type=int, default=25_000, help="neurons per layer")
    ap.add_argument("--fanout", type=int, default=100, help="synapses per neuron")
    ap.add_argument("--layers", type=int, default=4, help="populations (the first is the input)")
    ap.add_argument("--mesh", type=int, default=32, help="mesh width and height (Loihi preset, 4 cores a tile)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    base = peak_rss_bytes()
    phases: list[tuple[str, float, int, int]] = []
    t = time.perf_counter()

    def done(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        phases.append((name, now - t, peak_rss_bytes(), rss_bytes()))
        t = time.perf_counter()

    net = random_network(args.neurons, args.fanout, args.layers, args.seed)
    done("build")
    net.weights_by_delay_and_ring()
    _ = net.weights, net.recurrent_weights, net.fan_in
    done("global weights")
    hw = load_hardware(HW_DIR / "loihi.yaml", {"mesh.width": args.mesh, "mesh.height": args.mesh})
    m = map_network(net, hw)
    done("map")
    check_mapping(net, hw, m)
    done("check")
    chip = Chip(hw, net, m)
    done("chip")

    n_syn = net.n_synapses
    print(
        f"network: {args.layers} x {args.neurons:,} neurons, {n_syn:,} synapses, "
        f"{len(m.used_cores)} cores ({len(chip.cores)} built)"
    )
    print(f"{'phase':<16}{'seconds':>9}{'peak RSS MB':>13}{'RSS after MB':>14}")
    for name, sec, peak, now in phases:
        print(f"{name:<16}{sec:>9.2f}{peak / 1e6:>13.0f}{now / 1e6:>14.0f}")
    total = sum(sec for _, sec, _, _ in phases)
    peak = peak_rss_bytes()
    print(f"{'total':<16}{total:>9.2f}{peak / 1e6:>13.0f}")
    print(
        f"peak RSS {peak / 1e9:.2f} GB = {peak / n_syn:.1f} bytes per synapse "
        f"({(peak - base) / n_syn:.1f} above the {base / 1e6:.0f} MB of the imports)"
    )


if __name__ == "__main__":
    main()
