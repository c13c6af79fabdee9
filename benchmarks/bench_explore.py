"""Sweep throughput: a 16-point ``neurosim explore`` sweep on 1 and on 2 local worker processes
(and optionally more, or a Dask LocalCluster); prints wall times and the speed-up.

    python benchmarks/bench_explore.py [--workers 1 2 4] [--samples 40] [--dask]

Each run starts from an empty output directory (nothing is skipped). The model is the shipped
digits_layered.nir, run on the digits test split; the 16 points are 2 core capacities x 4
strategies x 2 placements on the small chip (4x4 mesh), in sync mode. A figure, not a pass/fail
test.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml

from neurosim.experiments.explore.spec import load_spec
from neurosim.experiments.explore.sweep import run_sweep
from neurosim.paths import MODELS_DIR


def make_spec(folder: Path, samples: int) -> Path:

    spec = {
        "format": "neurosim-explore/1",
        "name": "bench",
        "seed": 0,
        "models": [str(MODELS_DIR / "digits_layered.nir")],
        "hardware": ["small"],
        "overrides": {"mesh.width": [4], "mesh.height": [4], "core.max_neurons": [32, 64]},
        "strategies": ["sequential", "balanced", "partition", "random"],
        "placements": ["row-major", "traffic-aware"],
        "modes": ["sync"],
        "samples": samples,
        "rates": "profile",
        "profile_samples": 4,
    }
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--dask", action="store_true", help="also time a Dask LocalCluster per worker count")
    a = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        spec = load_spec(make_spec(tmp, a.samples))
        print(
            f"{len(spec.points)} points, {a.samples} samples each, CPUs available: "
            f"{len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()}"
        )
        times: dict[str, float] = {}
        runs = [(f"pool x{w}", w, None) for w in a.workers]
        if a.dask:
            runs += [(f"dask x{w}", w, "local") for w in a.workers]
        for label, w, dask in runs:
            t0 = time.perf_counter()
            res = run_sweep(spec, out=tmp / label.replace(" ", "_"), workers=w, dask=dask, progress=False, plot=False)
            times[label] = time.perf_counter() - t0
            busy = res.table["wall_s"].sum()
            print(
                f"{label:>9}: {times[label]:6.1f} s wall, {res.computed} points, {res.failed} failed, "
                f"{busy:6.1f} s of point time ({busy / times[label]:.2f} points busy on average)"
            )
        base = times[f"pool x{a.workers[0]}"]
        for label, t in times.items():
            print(f"speed-up {label} vs pool x{a.workers[0]}: {base / t:.2f}x")


if __name__ == "__main__":
    main()
