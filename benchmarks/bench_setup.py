"""Benchmark: set-up time and memory of a large sparse random network, stage by stage.

``--layers`` populations of ``--neurons`` neurons each (the first the input, the others LIF), every
neuron of a layer sending ``--fanout`` synapses to uniformly random neurons of the next (seeded;
repeated targets merge into one synapse of summed weight, so slightly fewer synapses), built as
CSR directly (no COO intermediate), mapped ``sequential`` on the Loihi preset: one chip of
``--mesh`` x ``--mesh`` tiles, or with ``--chips WxH`` a grid of Loihi chips (8 x 4 tiles of 4
cores each) joined by chip-to-chip links (``--chips auto``: the fewest near-square grid of
chips the mapping needs). Each size runs in a fresh subprocess, so its peak resident set
(``ru_maxrss``) is its own. Prints per size the seconds of each stage - build (the
:class:`Network`), map (strategy, placement, capacity check and the message table), chip (the
:class:`Chip`: every core's weight blocks), run (``--frames`` frames of input spikes at
``--rate``, sync mode, when ``--frames`` > 0; ``--engine``: the batched phases, the default, or
every core's work items) - the peak RSS after each, and the peak bytes per
synapse (all of it, and above the resident set of the imports).

    python benchmarks/bench_setup.py [--neurons 25000 250000] [--fanout 100] [--layers 4]
        [--mesh 32 | --chips auto] [--frames 0] [--rate 0.002]

The figures in the README: 25,000 and 250,000 neurons per layer, 100 synapses each (250,000
need about 18,600 cores: ``--mesh 72`` or ``--chips auto``).
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time

import numpy as np
import scipy.sparse as sp

from neurosim.describe.network import Network, Population, Projection
from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.paths import HW_DIR
from neurosim.sim import batched
from neurosim.sim.chip import Chip

WEIGHT = 0.25
LOIHI_CHIP_CORES = 8 * 4 * 4  # tiles x cores per tile of one Loihi chip (hw_configs/loihi.yaml)


def random_projection(rng: np.random.Generator, n_src: int, n_tgt: int, fanout: int) -> sp.csr_array:
    """``fanout`` uniformly random targets per source (weight ``WEIGHT`` each; a repeated target
    merges into one synapse of their summed weight), as CSR with sorted rows, built directly:
    int32 indices, float32 weights, no COO or int64 array of synapse length."""
    cols = rng.integers(0, n_tgt, (n_src, fanout), dtype=np.int32)
    cols.sort(axis=1)
    keep = np.ones(cols.shape, bool)
    np.not_equal(cols[:, 1:], cols[:, :-1], out=keep[:, 1:])
    per_row = np.count_nonzero(keep, axis=1)
    idx_t = np.int32 if n_src * fanout < np.iinfo(np.int32).max else np.int64
    indptr = np.zeros(n_src + 1, idx_t)
    np.cumsum(per_row, out=indptr[1:])
    indices = cols[keep]
    data = np.full(indices.size, WEIGHT, np.float32)
    dup_rows = np.flatnonzero(per_row < fanout)  # few: a repeated target adds its weight
    if dup_rows.size:
        k = keep[dup_rows]
        pos = np.cumsum(k, axis=1) - 1 + indptr[dup_rows, None]  # each entry's synapse
        np.add.at(data, pos[~k], WEIGHT)
    del cols, keep
    return sp.csr_array((data, indices, indptr), shape=(n_src, n_tgt))


def random_network(n_layer: int, fanout: int, layers: int, seed: int = 0) -> Network:
    """``layers`` populations of ``n_layer`` neurons; each neuron of a layer reaches ``fanout``
    random neurons of the next (weight ``WEIGHT``)."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", "input", (n_layer,))]
    projs = []
    for i in range(1, layers):
        pops.append(Population(f"l{i}", "lif", (n_layer,), NeuronParams.uniform(n_layer, decay=0.9, threshold=1.0)))
        projs.append(Projection(pops[i - 1].name, pops[i].name, random_projection(rng, n_layer, n_layer, fanout)))
    return Network("setup_benchmark", tuple(pops), tuple(projs), "in", pops[-1].name)


def cores_needed(n_layer: int, fanout: int, layers: int) -> int:
    """Loihi cores the sequential mapping takes: ``max_fan_in // fanout`` LIF neurons a core (4,096
    fan-in axons), 1,024 input neurons a core, plus 2 % for the part-filled cores."""
    per_core = max(1, 4096 // max(fanout, 1))
    return int(1.02 * ((layers - 1) * math.ceil(n_layer / per_core) + math.ceil(n_layer / 1024))) + 8


def chip_grid(n_cores: int) -> tuple[int, int]:
    """The near-square grid of Loihi chips holding ``n_cores`` cores."""
    chips = math.ceil(n_cores / LOIHI_CHIP_CORES)
    w = math.ceil(math.sqrt(chips))
    return w, math.ceil(chips / w)


def hardware(args):
    """The Loihi preset: one chip of ``--mesh`` tiles, or a grid of chips (``--chips``)."""
    if args.chips is None:
        return load_hardware(HW_DIR / "loihi.yaml", {"mesh.width": args.mesh, "mesh.height": args.mesh})
    if args.chips == "auto":
        w, h = chip_grid(cores_needed(args.neurons, args.fanout, args.layers))
    else:
        w, h = (int(x) for x in args.chips.lower().split("x"))
    return load_hardware(HW_DIR / "loihi.yaml", {"chips.width": w, "chips.height": h})


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_bytes() -> int:
    """The resident set now (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return 0


def one_size(args) -> dict:
    """Build, map, set up (and run) one size in this process; the figures as a dict."""
    base = rss_bytes()
    stages: list[dict] = []
    t, cpu = time.perf_counter(), time.process_time()

    def done(name: str) -> None:
        nonlocal t, cpu
        now, now_cpu = time.perf_counter(), time.process_time()
        stages.append({"stage": name, "s": now - t, "cpu": now_cpu - cpu, "peak": peak_rss_bytes(), "rss": rss_bytes()})
        t, cpu = time.perf_counter(), time.process_time()

    net = random_network(args.neurons, args.fanout, args.layers, args.seed)
    done("build")
    hw = hardware(args)
    m = map_network(net, hw)
    done("map")
    chip = Chip(hw, net, m)
    done("chip")
    run = {}
    if args.frames > 0:
        stim = np.random.default_rng(args.seed + 1).random((args.frames, args.neurons)) < args.rate
        batched.ENABLED = args.engine == "batched"
        chip.configure(mode="sync")
        chip.run_sample(stim)
        done("run")
        run = {
            "frames": args.frames,
            "spikes": int(chip.counters.spikes.sum()),
            "synops": int(chip.counters.ops["synop"].sum()),
            "cycles": int(chip.frame_end[-1]) if chip.frame_end else 0,
        }
    return {
        "neurons": net.n_neurons,
        "synapses": net.n_synapses,
        "cores": len(chip.cores),
        "chips": hw.n_chips,
        "tiles": hw.n_tiles,
        "base": base,
        "stages": stages,
        "peak": peak_rss_bytes(),
        "run": run,
        "engine": args.engine,
    }


def report(r: dict, out=sys.stdout) -> None:
    n_syn = r["synapses"]
    print(
        f"\nnetwork: {r['neurons']:,} neurons, {n_syn:,} synapses, {r['cores']:,} cores on "
        f"{r['chips']} chip(s), {r['tiles']:,} tiles",
        file=out,
    )
    print(f"{'stage':<10}{'seconds':>9}{'CPU s':>8}{'peak RSS MB':>13}{'RSS after MB':>14}", file=out)
    for s in r["stages"]:
        print(
            f"{s['stage']:<10}{s['s']:>9.2f}{s['cpu']:>8.2f}{s['peak'] / 1e6:>13.0f}{s['rss'] / 1e6:>14.0f}", file=out
        )
    setup = [s for s in r["stages"] if s["stage"] != "run"]
    wall, cpu = sum(s["s"] for s in setup), sum(s["cpu"] for s in setup)
    print(f"{'set-up':<10}{wall:>9.2f}{cpu:>8.2f}{r['peak'] / 1e6:>13.0f}", file=out)
    print(
        f"peak RSS {r['peak'] / 1e9:.2f} GB = {r['peak'] / n_syn:.1f} bytes per synapse "
        f"({(r['peak'] - r['base']) / n_syn:.1f} above the {r['base'] / 1e6:.0f} MB of the imports)",
        file=out,
    )
    if r["run"]:
        sec = next(s["s"] for s in r["stages"] if s["stage"] == "run")
        u = r["run"]
        print(
            f"run ({r['engine']}): {u['frames']} frames, {sec / u['frames']:.2f} s a frame, {u['spikes']:,} spikes, "
            f"{u['synops']:,} synaptic events, {u['cycles']:,} cycles",
            file=out,
        )


def parser(doc: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--neurons", type=int, nargs="+", default=[25_000], help="neurons per layer (one run each)")
    ap.add_argument("--fanout", type=int, default=100, help="synapses per neuron")
    ap.add_argument("--layers", type=int, default=4, help="populations (the first is the input)")
    ap.add_argument("--mesh", type=int, default=32, help="mesh width and height of one Loihi chip")
    ap.add_argument("--chips", default=None, help="a grid of Loihi chips: WxH or auto (instead of --mesh)")
    ap.add_argument("--frames", type=int, default=0, help="frames to run after the set-up (0: none)")
    ap.add_argument("--rate", type=float, default=0.002, help="input spike probability per frame")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--engine",
        choices=["batched", "cores"],
        default="batched",
        help="the run: batched phases (the default engine; its tables add memory at the first frame) "
        "or every core's work items (the blocks the set-up cut)",
    )
    ap.add_argument("--json", default=None, help="also write the figures of every size to this file")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # one size, in this process
    return ap


def run_sizes(args, script: str) -> list[dict]:
    """Every size of ``--neurons`` in a fresh subprocess of ``script``; their figures."""
    results = []
    for n in args.neurons:
        argv = [sys.executable, script, "--one", "--neurons", str(n)]
        for k in ("fanout", "layers", "mesh", "chips", "frames", "rate", "seed", "engine"):
            v = getattr(args, k)
            if v is not None:
                argv += [f"--{k}", str(v)]
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"size {n}: the run failed:\n{done.stderr.strip()}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        report(r)
        results.append(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    if args.one:
        args.neurons = args.neurons[0]
        print(json.dumps(one_size(args)))
        return
    run_sizes(args, __file__)


if __name__ == "__main__":
    main()
