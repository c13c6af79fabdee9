"""Benchmark: a billion synapses set up and run for a few frames on a grid of Loihi chips.

``--layers`` populations of ``--neurons`` neurons (default 6 x 2,000,000: 12 M neurons, the first
the input), each neuron sending ``--fanout`` (100) synapses to random neurons of the next layer:
5 x 2 M x 100 = 1.0 G synapses (a little fewer: repeated targets merge), mapped ``sequential``
on as many Loihi chips as the mapping needs (about 250,000 cores: 40 LIF neurons a core, the
4,096 fan-in axons of a Loihi core over 100 synapses each, on ~2,000 chips of 128 cores),
then ``--frames`` frames of input spikes (``--rate``) in sync mode on every core's work items
(``--engine cores``, the default here: the batched engine's tables add tens of bytes a synapse). Prints the figures of
:mod:`bench_setup` (seconds and peak RSS of each stage, bytes per synapse, seconds a frame).

It runs in a fresh subprocess after checking the memory: it refuses to start, with the figures,
when the machine's available memory (``MemAvailable``) is under what the run needs, estimated
as ``--bytes-per-synapse`` (default 17: the peak per synapse measured at a billion synapses, set-up
and 3 frames on every core's work items: the network's rows 8, everything per neuron and per core
the rest; the cores read the rows in place and the messages come from them, so neither a copy of
the synapses nor the message table is built) times the synapses, plus the imports: about 17.3 GB
for a billion, which runs on a 24 GB machine (15.9 GB measured, 2026-12-02).

    python benchmarks/bench_billion.py [--neurons 2000000] [--layers 6] [--fanout 100]
        [--frames 3] [--rate 0.002] [--bytes-per-synapse 17]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_setup import parser, run_sizes  # noqa: E402

IMPORTS_BYTES = 300e6
"""The imports and compiled loops (numpy, scipy, simpy, numba): ~170 MB measured, with room."""


def available_bytes() -> int | None:
    """``MemAvailable`` of /proc/meminfo (None where there is none)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def needed_bytes(neurons: int, layers: int, fanout: int, per_synapse: float) -> tuple[int, float]:
    """(synapses at most, bytes the run needs)."""
    synapses = (layers - 1) * neurons * fanout
    return synapses, synapses * per_synapse + IMPORTS_BYTES


def main(argv=None):
    ap = parser(__doc__)
    ap.set_defaults(neurons=[2_000_000], layers=6, frames=3, chips="auto", engine="cores")
    ap.add_argument("--bytes-per-synapse", type=float, default=17.0, help="the peak per synapse to plan for")
    args = ap.parse_args(argv)
    (n,) = args.neurons
    synapses, need = needed_bytes(n, args.layers, args.fanout, args.bytes_per_synapse)
    have = available_bytes()
    if have is None:
        sys.exit("bench_billion: cannot read MemAvailable from /proc/meminfo, so cannot check memory; not started")
    if have < need:
        sys.exit(
            f"bench_billion: {args.layers} x {n:,} neurons, {synapses / 1e9:.2f} G synapses need about "
            f"{need / 1e9:.1f} GB ({args.bytes_per_synapse:g} bytes a synapse + {IMPORTS_BYTES / 1e6:.0f} MB), "
            f"the machine has {have / 1e9:.1f} GB available: not started (fewer --neurons, or more memory)"
        )
    print(f"memory: need about {need / 1e9:.1f} GB, {have / 1e9:.1f} GB available")
    run_sizes(args, str(Path(__file__).resolve().parent / "bench_setup.py"))


if __name__ == "__main__":
    main()
