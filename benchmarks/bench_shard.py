"""Benchmark: one run's samples split across worker processes (``neurosim run --workers N``).

For each mode, the wall time of the run in one process and on N worker processes (best of
``--repeat``, each with a new pool of processes), the speed-up, and a check that the summaries are
identical. The fork server that the pools' processes are forked from is started once per process
(``neurosim run`` pays it once): its start-up is measured first, on its own.

    python benchmarks/bench_shard.py [--samples 120] [--workers 1 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import time

from neurosim.analysis.summary import summarize
from neurosim.experiments.runner import prepare
from neurosim.experiments.shard import simulate_sharded
from neurosim.paths import DEFAULT_HW, DEFAULT_MODEL

MODES = {
    "sync": {"mode": "sync"},
    "async": {"mode": "async", "policy": "momentum", "group_size": 8},
    "async-core": {"mode": "async", "scope": "core"},
}


def _best(setup, workers: int, options: dict, repeat: int):
    d, best, res = setup.data, float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = simulate_sharded(
            setup.hardware, setup.network, setup.mapping, d.inputs, d.labels, workers=workers, **options
        )
        best = min(best, time.perf_counter() - t0)
    return best, res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--hw", default=str(DEFAULT_HW))
    ap.add_argument("--samples", type=int, default=120)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--modes", nargs="+", default=["sync", "async"], choices=list(MODES))
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    setup = prepare(a.model, a.hw, samples=a.samples)
    print(
        f"model {setup.network.name}: {setup.network.n_neurons} neurons, {len(setup.mapping.used_cores)} cores on "
        f"{setup.hardware.name}; {len(setup.data)} samples x {setup.data.n_frames} frames"
    )
    t0 = time.perf_counter()
    d = setup.data
    simulate_sharded(setup.hardware, setup.network, setup.mapping, d.inputs[:2], d.labels[:2], workers=2)
    print(f"fork server and first pool start-up (once per process): {time.perf_counter() - t0:.2f} s")
    for mode in a.modes:
        options = {**MODES[mode], "dataset": setup.data.name}
        base, ref = _best(setup, a.workers[0], options, a.repeat)
        line = [f"{mode:10}: {a.workers[0]} worker(s) {base:6.2f} s"]
        for w in a.workers[1:]:
            wall, res = _best(setup, w, options, a.repeat)
            same = json.dumps(summarize(res)) == json.dumps(summarize(ref))
            line.append(f"{w} workers {wall:6.2f} s (x{base / wall:.2f}{'' if same else ', SUMMARY DIFFERS'})")
        print("; ".join(line))


if __name__ == "__main__":
    main()
