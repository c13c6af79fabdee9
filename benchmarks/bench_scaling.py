"""Benchmark: how the simulator's CPU time grows with the work, one variable at a time.

From a base case (a dense LIF network 256-256-256-10, 64 neurons per core, 100 frames, input
rate 0.1, Loihi preset, ``sync`` mode, contention-free NoC) each variable takes four values with
the others at their base: frames, synapses (the layer width), the cores in use (neurons per core
at a fixed network), idle cores (a larger mesh: the hardware's cores, those in use fixed), input rate and
neurons per core (the network widened with them, so the cores in use stay fixed). Prints a
markdown table of CPU seconds per value and the exponent ``b`` of ``time ~ x**b`` fitted by
least squares on log-log axes. Idle cores should cost nothing (``b`` near 0): no term grows with
cores x frames where cores do no work.

    python benchmarks/bench_scaling.py [--mode sync|timestep] [--noc free|contention] [--repeat 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_dense import dense_network

from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.paths import DEFAULT_HW
from neurosim.sim.engine import simulate

BASE = {"frames": 100, "width": 256, "neurons_per_core": 64, "rate": 0.1, "mesh_width": 8}
AXES: dict[str, tuple[str, list]] = {
    "frames": ("frames", [25, 50, 100, 200]),
    "synapses": ("width", [128, 192, 256, 384]),
    "cores in use": ("neurons_per_core", [128, 64, 32, 16]),
    "idle cores": ("mesh_width", [8, 16, 32, 64]),
    "input rate": ("rate", [0.025, 0.05, 0.1, 0.2]),
    "neurons per core": ("per_core_scaled", [16, 32, 64, 128]),
}


def case(mode: str, noc: str, repeat: int, **kw) -> tuple[float, dict]:
    """CPU seconds of one simulation (the best of ``repeat``) and its size figures."""
    p = {**BASE, **kw}
    if "per_core_scaled" in p:  # neurons per core with the cores in use fixed: a wider network
        npc = p.pop("per_core_scaled")
        p["neurons_per_core"], p["width"] = npc, BASE["width"] * npc // BASE["neurons_per_core"]
    w = p["width"]
    hw = load_hardware(DEFAULT_HW, {"router.contention": noc == "contention", "mesh.width": p["mesh_width"]})
    net = dense_network(0, sizes=(w, w, w, 10))
    mapping = map_network(net, hw, neurons_per_core=p["neurons_per_core"])
    stim = np.random.default_rng(1).random((1, p["frames"], w)) < p["rate"]
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        res = simulate(hw, net, mapping, stim, np.zeros(1, np.int64), mode=mode, raster_sample=None)
        best = min(best, time.process_time() - t)
    s = res.samples[0]
    size = {
        "frames": p["frames"],
        "synapses": net.n_synapses,
        "cores in use": len(mapping.used_cores),
        "idle cores": hw.n_cores,  # all the hardware's cores: those in use stay fixed
        "input rate": p["rate"],
        "neurons per core": p["neurons_per_core"],
        "events": s.synops,
    }
    return best, size


def exponent(x, t) -> float:
    """Least-squares slope of log t against log x."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(t, float)), 1)[0])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mode", choices=["sync", "timestep"], default="sync")
    ap.add_argument("--noc", choices=["free", "contention"], default="free")
    ap.add_argument("--repeat", type=int, default=1, help="runs per case (the best CPU time is kept)")
    a = ap.parse_args(argv)
    case(a.mode, a.noc, 1, frames=5)  # warm-up: imports, compiled kernels
    print(f"mode {a.mode}, NoC {a.noc}; base case {BASE}\n")
    print("| variable | values | CPU s | M events/CPU s | exponent b (time ~ x^b) |")
    print("|---|---|---|---|---|")
    for name, (key, values) in AXES.items():
        xs, ts, rates = [], [], []
        for v in values:
            t, size = case(a.mode, a.noc, a.repeat, **{key: v})
            xs.append(size[name])
            ts.append(t)
            rates.append(size["events"] / t / 1e6 if t else float("nan"))
        fmt = lambda seq, f: ", ".join(f.format(x) for x in seq)  # noqa: E731
        print(f"| {name} | {fmt(xs, '{}')} | {fmt(ts, '{:.3f}')} | {fmt(rates, '{:.0f}')} | {exponent(xs, ts):.2f} |")


if __name__ == "__main__":
    main()
