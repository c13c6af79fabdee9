"""``neurosim explore``: the sub-command, registered by :func:`neurosim.cli.main.build_parser`."""

from __future__ import annotations

import sys

from neurosim.cli.commands import COMMANDS
from neurosim.experiments.explore.sweep import run_sweep

#: exit code when no point of the sweep succeeded (bad input, a refused cluster: 2)
EXIT_FAILED = 1


def cmd_explore(a) -> int:

    res = run_sweep(
        a.spec, out=a.out, workers=a.workers, dask=a.dask, progress=not a.quiet, retry_failed=a.retry_failed
    )
    n = len(res.table)
    print(
        f"{res.name}: {n} points ({res.computed} run, {res.skipped} already done, {res.failed} failed); "
        f"{len(res.front)} on the energy-latency-accuracy front"
    )
    ok = res.table[res.table["status"] == "ok"]
    if len(ok):
        best = ok.loc[ok["edp_js"].idxmin()]
        print(
            f"lowest EDP: {best['edp_js']:.4g} J s ({best['strategy']}, {best['placement']}, {best['mode']}, "
            f"{best['hardware']}; key {best['key']})"
        )
    print(f"table: {res.files['csv']}")
    if n and len(ok) == 0:
        first = res.table["error"].dropna()
        why = f"; first error: {first.iloc[0]}" if len(first) else ""
        print(f"neurosim: error: every point of {res.name} failed{why}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def register(sub) -> None:
    e = sub.add_parser(
        "explore",
        help=COMMANDS["explore"][1],
        description="Run every point of a sweep spec (see examples/explore_small.yaml) and "
        "write reports/explore/<name>/: points/*.json, table.csv, table.parquet, "
        "pareto.png, front/*.yaml. Finished points are not run again. Exit code 1 when every "
        "point failed, 2 for bad input (or Dask workers that do not match this process).",
    )
    e.add_argument("spec", metavar="SPEC.yaml", help="sweep specification (format neurosim-explore/1)")
    e.add_argument("--out", help="output directory (default: reports/explore/<name>)")
    e.add_argument("--workers", type=int, help="worker processes (default: the CPUs available; 0: run in this process)")
    e.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run the points on Dask: a scheduler address (tcp://HOST:PORT), or 'local' for a LocalCluster of "
        "--workers processes; the model and hardware files travel with the jobs (no shared filesystem), the "
        "workers must have the same neurosim and numerical package versions (checked)",
    )
    e.add_argument("--retry-failed", action="store_true", help="run the points that failed before again")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    e.set_defaults(func=cmd_explore)
