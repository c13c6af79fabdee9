"""The energy-latency Pareto front of a sweep table, and its plot."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def pareto_mask(df, x: str = "latency_s", y: str = "energy_j") -> np.ndarray:
    """True for the successful points no other point beats on both ``x`` and ``y`` (lower is
    better; a point equal on both to an earlier one is not on the front twice)."""
    ok = (df["status"] == "ok").to_numpy() & np.isfinite(df[x].to_numpy(float)) & np.isfinite(df[y].to_numpy(float))
    xs, ys = df[x].to_numpy(float), df[y].to_numpy(float)
    mask = np.zeros(len(df), bool)
    idx = np.flatnonzero(ok)
    for i in idx:
        others = idx[idx != i]
        dominated = (xs[others] <= xs[i]) & (ys[others] <= ys[i]) & ((xs[others] < xs[i]) | (ys[others] < ys[i]))
        duplicate_before = (xs[others] == xs[i]) & (ys[others] == ys[i]) & (others < i)
        mask[i] = not (dominated.any() or duplicate_before.any())
    return mask


def plot_pareto(df, ax=None, title: str | None = None):
    """Energy per inference vs latency per inference of every successful point, coloured by
    accuracy; the front is outlined and joined by a step line. Returns the figure."""
    if ax is None:  # a Figure on the Agg canvas, not registered with pyplot (as neurosim.report.figures.run)
        fig = Figure(figsize=(6.4, 4.8), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    ok = df[df["status"] == "ok"]
    ok = ok[np.isfinite(ok["latency_s"].to_numpy(float)) & np.isfinite(ok["energy_j"].to_numpy(float))]
    lat, en = ok["latency_s"].to_numpy(float) * 1e6, ok["energy_j"].to_numpy(float) * 1e6
    acc = ok["accuracy"].to_numpy(float)
    lo, hi = (float(np.nanmin(acc)), float(np.nanmax(acc))) if np.isfinite(acc).any() else (0.0, 1.0)
    if hi - lo < 0.02:  # (nearly) one accuracy: a readable colour scale around it
        lo, hi = max(0.0, lo - 0.05), min(1.0, hi + 0.05)
    sc = ax.scatter(lat, en, c=acc, cmap="viridis", vmin=lo, vmax=hi, s=30, zorder=2)
    if len(ok):
        fig.colorbar(sc, ax=ax, label="accuracy")
    front = ok[ok["pareto"].to_numpy(bool)]
    if len(front):
        f = front.sort_values("latency_s")
        fx, fy = f["latency_s"].to_numpy(float) * 1e6, f["energy_j"].to_numpy(float) * 1e6
        ax.step(fx, fy, where="post", color="crimson", lw=1, zorder=1, label="Pareto front")
        ax.scatter(fx, fy, s=90, facecolors="none", edgecolors="crimson", linewidths=1.5, zorder=3)
        ax.legend(loc="upper right", fontsize="small")
    n_failed = int((df["status"] != "ok").sum())
    ax.set_xlabel("latency per inference (us)")
    ax.set_ylabel("energy per inference (uJ)")
    head = title or "sweep"
    ax.set_title(
        f"{head}: {len(ok)} points, {len(front)} on the front" + (f", {n_failed} failed" if n_failed else ""),
        fontsize="medium",
    )
    ax.grid(True, alpha=0.3)
    return fig
