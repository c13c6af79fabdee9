"""The Pareto front of a sweep table (energy, latency and accuracy, each with its sense), and
its plot."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

#: the objectives of the front: (table column, "min" or "max")
OBJECTIVES: tuple[tuple[str, str], ...] = (("energy_j", "min"), ("latency_s", "min"), ("accuracy", "max"))
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "p")


def _costs(df, objectives) -> tuple[np.ndarray, np.ndarray]:
    """(points x objectives) costs, lower is better, and which rows are candidates: successful,
    finite in every objective. An objective the table lacks or no successful point has (e.g.
    accuracy without labels) is left out rather than emptying the front."""
    ok = (df["status"] == "ok").to_numpy(bool)
    cols = []
    for col, sense in objectives:
        if sense not in ("min", "max"):
            raise ValueError(f"objective {col!r}: sense must be 'min' or 'max', got {sense!r}")
        v = df[col].to_numpy(float) if col in df else np.full(len(df), np.nan)
        if not np.isfinite(v[ok]).any():
            continue
        cols.append(v if sense == "min" else -v)
    costs = np.column_stack(cols) if cols else np.zeros((len(df), 0))
    return costs, ok & np.isfinite(costs).all(axis=1)


def pareto_mask(df, objectives: tuple[tuple[str, str], ...] = OBJECTIVES) -> np.ndarray:
    """True for the successful points no other point dominates: at least as good in every
    objective (``min``: lower, ``max``: higher is better) and better in one. A point equal in
    every objective to an earlier one is not on the front twice."""
    costs, ok = _costs(df, objectives)
    mask = np.zeros(len(df), bool)
    idx = np.flatnonzero(ok)
    for i in idx:
        others = idx[idx != i]
        le = (costs[others] <= costs[i]).all(axis=1)
        lt = (costs[others] < costs[i]).any(axis=1)
        same = (costs[others] == costs[i]).all(axis=1) & (others < i)
        mask[i] = not ((le & lt).any() or same.any())
    return mask


def _sizes(acc: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Marker areas growing with accuracy (25 at the lowest, 160 at the highest), and the range."""
    fin = acc[np.isfinite(acc)]
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
    if hi <= lo:  # one accuracy: one middle size (as its legend entry)
        return np.full(acc.shape, 92.5), lo, hi
    a = np.where(np.isfinite(acc), acc, lo)
    return 25 + 135 * (a - lo) / (hi - lo), lo, hi


def _figure(ax):
    """(figure, plot axes, legend axes or None): a new figure keeps a column right of the plot
    for the legends."""
    if ax is None:  # a Figure on the Agg canvas, not registered with pyplot (as neurosim.report.figures.run)
        fig = Figure(figsize=(9.6, 5.4), layout="constrained")
        FigureCanvasAgg(fig)
        plot, side = fig.subplots(1, 2, width_ratios=[3.2, 1])
        side.axis("off")
        return fig, plot, side
    return ax.figure, ax, None


def plot_pareto(df, ax=None, title: str | None = None):
    """Energy per inference vs latency per inference of every successful point: marker shape
    per strategy, colour per placement, marker size per accuracy; the points of the (energy,
    latency, accuracy) front are ringed and labelled with their accuracy. The legends sit
    outside the axes. Returns the figure."""
    fig, ax, side = _figure(ax)
    ok = df[df["status"] == "ok"]
    ok = ok[np.isfinite(ok["latency_s"].to_numpy(float)) & np.isfinite(ok["energy_j"].to_numpy(float))]
    strategies = list(dict.fromkeys(ok["strategy"]))
    placements = list(dict.fromkeys(ok["placement"]))
    colours = [f"C{i % 10}" for i in range(len(placements))]
    size, lo, hi = _sizes(ok["accuracy"].to_numpy(float))
    lat, en = ok["latency_s"].to_numpy(float) * 1e6, ok["energy_j"].to_numpy(float) * 1e6
    strat, place = ok["strategy"].to_numpy(object), ok["placement"].to_numpy(object)
    for si, s in enumerate(strategies):
        for pi, pl in enumerate(placements):
            sel = (strat == s) & (place == pl)
            if sel.any():
                ax.scatter(
                    lat[sel],
                    en[sel],
                    s=size[sel],
                    marker=_MARKERS[si % len(_MARKERS)],
                    c=colours[pi],
                    alpha=0.75,
                    edgecolors="white",
                    linewidths=0.5,
                    zorder=2,
                )
    front = ok["pareto"].to_numpy(bool) if "pareto" in ok else np.zeros(len(ok), bool)
    if front.any():
        ax.scatter(
            lat[front], en[front], s=size[front] + 90, facecolors="none", edgecolors="black", linewidths=1.2, zorder=3
        )
        for x, y, a in zip(lat[front], en[front], ok["accuracy"].to_numpy(float)[front]):
            ax.annotate(
                f"{a:.3f}" if np.isfinite(a) else "-",
                (x, y),
                xytext=(6, 5),
                textcoords="offset points",
                fontsize="x-small",
                zorder=4,
            )
    _legends(side or ax, strategies, placements, colours, lo, hi, bool(front.any()))
    n_failed = int((df["status"] != "ok").sum())
    ax.set_xlabel("latency per inference (us)")
    ax.set_ylabel("energy per inference (uJ)")
    ax.set_title(
        f"{title or 'sweep'}: {len(ok)} points, {int(front.sum())} on the energy-latency-accuracy front"
        + (f", {n_failed} failed" if n_failed else ""),
        fontsize="medium",
    )
    ax.grid(True, alpha=0.3)
    return fig


def _legends(where, strategies, placements, colours, lo: float, hi: float, front: bool) -> None:
    """Three legends, one under the other, in the legend axes ``where`` (or right of the plot
    axes): strategy (marker), placement (colour), accuracy (size)."""
    grey = "0.45"
    shape = [
        Line2D([], [], ls="", marker=_MARKERS[i % len(_MARKERS)], color=grey, label=str(s), markersize=7)
        for i, s in enumerate(strategies)
    ]
    colour = [
        Line2D([], [], ls="", marker="o", color=c, label=str(p), markersize=7) for p, c in zip(placements, colours)
    ]
    sizes = [(lo, 25.0), (hi, 160.0)] if hi > lo else [(lo, 92.5)]
    acc = [
        Line2D([], [], ls="", marker="o", color=grey, markersize=float(np.sqrt(a)), label=f"{v:.3f}") for v, a in sizes
    ]
    if front:
        acc.append(
            Line2D(
                [],
                [],
                ls="",
                marker="o",
                markerfacecolor="none",
                markeredgecolor="black",
                markersize=11,
                label="on the front\n(label: accuracy)",
            )
        )
    fig = where.figure
    if fig.get_layout_engine() is not None:  # place the axes first, so the legends stack as drawn
        fig.get_layout_engine().execute(fig)
    renderer = fig.canvas.get_renderer()
    top = 1.0
    for handles, head in ((shape, "strategy"), (colour, "placement"), (acc, "accuracy")):
        if not handles:
            continue
        leg = where.legend(
            handles=handles,
            title=head,
            loc="upper left",
            bbox_to_anchor=(0.0 if not where.axison else 1.02, top),
            fontsize="small",
            title_fontsize="small",
            frameon=False,
            borderaxespad=0.0,
            alignment="left",
        )
        where.add_artist(leg)
        box = leg.get_window_extent(renderer).transformed(where.transAxes.inverted())
        top = box.y0 - 0.04
    where.legend_ = None  # each legend is an artist of its own (not drawn twice)
