"""Benchmark: asynchronous execution of a shipped digits model, per-core schedulers, Loihi preset.

Prints inferences per second and synaptic events per second of wall time (and the sync figures
for comparison).

    python benchmarks/bench_async_digits.py [--model models/digits_unlayered_momentum.nir] [--samples 360]
"""

from __future__ import annotations

import argparse
import resource
import time

from neurosim.experiments.runner import prepare
from neurosim.paths import DEFAULT_HW, MODELS_DIR
from neurosim.sim.scheduler import POLICIES


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(MODELS_DIR / "digits_unlayered_momentum.nir"))
    ap.add_argument("--hw", default=str(DEFAULT_HW))
    ap.add_argument("--samples", type=int, default=360)
    ap.add_argument("--policy", default="momentum", choices=list(POLICIES))
    a = ap.parse_args(argv)
    setup = prepare(a.model, a.hw, samples=a.samples)
    print(
        f"model {setup.network.name}: {setup.network.n_neurons} neurons, {setup.network.n_synapses} synapses, "
        f"{len(setup.mapping.used_cores)} cores on {setup.hardware.name}; {len(setup.data)} samples x "
        f"{setup.data.n_frames} frames"
    )
    for mode, scope in (("async", "core"), ("async", "global"), ("sync", "global")):
        t0 = time.perf_counter()
        res = setup.simulate(
            mode=mode,
            scope=scope,
            policy=a.policy,
            raster_sample=None,
        )
        wall = time.perf_counter() - t0
        synops = sum(s.synops for s in res.samples)
        print(
            f"{mode:5} {scope:6}: accuracy {res.accuracy:.4f}; {len(res.samples) / wall:7.1f} inferences/s; "
            f"{synops / wall / 1e6:5.2f} M synaptic events/s; wall {wall:.2f} s"
        )
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
