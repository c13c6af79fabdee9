"""Benchmark: NoC saturation under uniform random traffic on an 8x8 mesh.

Every tile (one core each) injects a message with probability ``load`` per cycle for ``--cycles``
cycles, to a destination tile drawn uniformly among the other tiles; source queues are unbounded
(a sending core waits for its first link). Each load point is one ``Mesh.deliver`` call over all
its messages. Measured after a warm-up of a quarter of the run: delivered throughput (messages
arriving per cycle per tile) and mean latency (arrival - send, source queueing included), for
several buffer depths and for the contention-free model. Plots offered load against both to a PNG
and prints the knee of saturation: the first load at which the delivered throughput falls below
95 % of the offered load, and the saturation throughput (the largest delivered throughput).

Hardware: the ``small`` preset on an 8x8 mesh of single-core tiles, every hop 1 cycle, one message
per cycle per link. XY routing under uniform traffic loads the links crossing the bisection most:
``load * k / 4`` on a k x k mesh, so the ideal saturation load is ``4 / k = 0.5`` for k = 8
(a little more, 0.5 * 64 / 63, because a tile never sends to itself).

    python benchmarks/bench_noc_saturation.py [--out reports/bench_noc_saturation.png]
        [--cycles 1000] [--buffers 2 8] [--loads 0.05 0.1 ...] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from neurosim.io.hardware_file import load_hardware, preset_path
from neurosim.sim.noc.mesh import Mesh

K = 8
DEFAULT_LOADS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 1.0)


def hardware(buffer: int, contention: bool = True):
    return load_hardware(
        preset_path("small"),
        {
            "mesh.width": K,
            "mesh.height": K,
            "mesh.cores_per_tile": 1,
            "router.latency_hop_ew_cycles": 1,
            "router.latency_hop_ns_cycles": 1,
            "router.latency_local_cycles": 1,
            "router.link_bandwidth_msgs_per_cycle": 1.0,
            "router.buffer_depth_msgs": buffer,
            "router.contention": contention,
        },
    )


def traffic(load: float, cycles: int, n_tiles: int, rng: np.random.Generator):
    """Bernoulli injection: (src, dst, send) sorted by send cycle, dst uniform over other tiles."""
    fire = rng.random((cycles, n_tiles)) < load
    send, src = np.nonzero(fire)
    dst = (src + rng.integers(1, n_tiles, src.size)) % n_tiles
    return src.astype(np.int64), dst.astype(np.int64), send.astype(np.int64)


def measure(hw, load: float, cycles: int, seed: int) -> dict:
    mesh = Mesh(hw)
    src, dst, send = traffic(load, cycles, mesh.n_tiles, np.random.default_rng(seed))
    t0 = time.perf_counter()
    d = mesh.deliver_detailed(src, dst, send)
    wall = time.perf_counter() - t0
    warm = cycles // 4
    window = cycles - warm
    arrived = np.count_nonzero((d.arrival >= warm) & (d.arrival < cycles))
    sent = (send >= warm) & (send < cycles)
    return {
        "load": load,
        "offered": sent.sum() / window / mesh.n_tiles,
        "throughput": arrived / window / mesh.n_tiles,
        "latency": float(np.mean(d.arrival[sent] - send[sent])) if sent.any() else float("nan"),
        "messages": int(src.size),
        "model": d.model,
        "wall_s": wall,
        "stall_cycles": int(mesh.link_stats()["stall_cycles"].sum()),
    }


def knee(rows: list[dict]) -> dict:
    """First load whose delivered throughput is below 95 % of the offered load; the saturation
    throughput; the first load whose mean latency exceeds 3x the lowest load's."""
    below = [r["load"] for r in rows if r["throughput"] < 0.95 * r["offered"]]
    lat0 = rows[0]["latency"]
    slow = [r["load"] for r in rows if r["latency"] > 3 * lat0]
    return {
        "knee_load": below[0] if below else None,
        "saturation_throughput": max(r["throughput"] for r in rows),
        "latency_3x_load": slow[0] if slow else None,
        "zero_load_latency": lat0,
    }


def plot(results: dict[str, list[dict]], out: Path) -> None:

    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    ax1, ax2 = fig.subplots(1, 2)
    top = max(r["offered"] for rows in results.values() for r in rows)
    ax1.plot([0, top], [0, top], color="0.7", ls=":", label="delivered = offered")
    ax1.axhline(
        4 / K * K * K / (K * K - 1), color="0.5", ls="--", lw=0.8, label=f"bisection bound {4 / K * 64 / 63:.3f}"
    )
    for label, rows in results.items():
        x = [r["offered"] for r in rows]
        ax1.plot(x, [r["throughput"] for r in rows], marker="o", ms=3, label=label)
        ax2.plot(x, [r["latency"] for r in rows], marker="o", ms=3, label=label)
        k = knee(rows)["knee_load"]
        if k is not None and "contention-free" not in label:
            ax1.axvline(k, color=ax1.lines[-1].get_color(), lw=0.6, ls="--")
    ax1.set_xlabel("offered load (messages / cycle / tile)")
    ax1.set_ylabel("delivered throughput (messages / cycle / tile)")
    ax1.set_title(f"{K}x{K} mesh, uniform random traffic, XY routing", fontsize=9)
    ax1.legend(fontsize=7)
    ax2.set_xlabel("offered load (messages / cycle / tile)")
    ax2.set_ylabel("mean latency (cycles, source queueing included)")
    ax2.set_yscale("log")
    ax2.set_title("latency: the knee of saturation", fontsize=9)
    ax2.legend(fontsize=7)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="reports/bench_noc_saturation.png", help="PNG to write (default: %(default)s)")
    ap.add_argument("--cycles", type=int, default=1000, help="injection window in cycles (default: %(default)s)")
    ap.add_argument("--buffers", type=int, nargs="+", default=[2, 8], help="buffer depths (default: 2 8)")
    ap.add_argument("--loads", type=float, nargs="+", default=list(DEFAULT_LOADS))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    results: dict[str, list[dict]] = {}
    configs = [(f"buffer {b}", hardware(b)) for b in a.buffers] + [("contention-free model", hardware(4, False))]
    for label, hw in configs:
        rows = results[label] = []
        print(f"\n{label}:")
        print(
            f"{'load':>6} {'offered':>8} {'delivered':>9} {'latency':>9} {'messages':>9} {'stalls':>8} "
            f"{'model':>16} {'wall s':>7} {'us/msg':>7}"
        )
        for load in a.loads:
            r = measure(hw, load, a.cycles, a.seed)
            rows.append(r)
            print(
                f"{r['load']:6.2f} {r['offered']:8.3f} {r['throughput']:9.3f} {r['latency']:9.1f} "
                f"{r['messages']:9d} {r['stall_cycles']:8d} {r['model']:>16} {r['wall_s']:7.2f} "
                f"{1e6 * r['wall_s'] / max(r['messages'], 1):7.2f}"
            )
        k = knee(rows)
        print(
            f"  knee (delivered < 95% of offered) at load {k['knee_load']}; saturation throughput "
            f"{k['saturation_throughput']:.3f} msg/cycle/tile; latency > 3x zero-load "
            f"({k['zero_load_latency']:.1f} cycles) from load {k['latency_3x_load']}"
        )
    print(f"\nideal bisection bound: {4 / K * 64 / 63:.3f} messages / cycle / tile")
    plot(results, Path(a.out))
    print(f"figure: {a.out}")


if __name__ == "__main__":
    main()
