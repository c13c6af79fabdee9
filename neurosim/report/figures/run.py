"""Report figures (matplotlib). Every function takes ``ax=None`` and returns the Figure: with an
``ax`` it draws into that axes (and returns its figure); without, it makes a new Figure on the
Agg canvas. New figures are not registered with pyplot, so importing this module never switches
the user's backend and figures are freed once unreferenced (``plt.close(fig)`` is harmless).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import blended_transform_factory

from neurosim.analysis.summary import mean_of, per_core_figures
from neurosim.describe.cost import CORE_OPS
from neurosim.units import fmt_si, si_scale

CORE_METRICS = CORE_OPS + ("spikes", "busy_cycles", "utilisation", "energy")


def figure_axes(ax, figsize=(7.0, 4.0)):
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _empty(ax, text: str):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


# ---- energy ----------------------------------------------------------------------------------
def plot_energy_breakdown(summary: dict, ax=None) -> Figure:
    """Horizontal bars: energy per inference of each part (static and each dynamic operation),
    in one SI unit chosen from the total, labelled with value and share."""
    fig, ax = figure_axes(ax, (7.0, 4.0))
    bd = summary["energy_breakdown_per_inference_j"]
    total = bd.get("total")
    if total is None:
        _empty(ax, "no samples: no energy figures")
        return fig
    parts = sorted(((k, v or 0.0) for k, v in bd.items() if k != "total"), key=lambda kv: kv[1])
    factor, prefix = si_scale(max((v for _, v in parts), default=0.0) or total)
    names = [k for k, _ in parts]
    vals = np.array([v for _, v in parts]) / factor
    colors = ["0.55" if k == "static" else "tab:blue" for k in names]
    bars = ax.barh(names, vals, color=colors)
    for bar, (_, v) in zip(bars, parts):
        share = v / total if total else 0.0
        ax.annotate(
            f" {v / factor:.3g} ({100 * share:.1f} %)",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            va="center",
            ha="left",
            fontsize=8,
        )
    ax.set_xlim(0, max(vals.max(initial=0.0), 1e-30) * 1.35)
    ax.set_xlabel(f"energy per inference ({prefix}J)")
    static = bd.get("static") or 0.0
    dyn_share = 100 * (1 - static / total) if total else 0.0
    ax.set_title(
        f"Energy per inference: {fmt_si(total, 'J')} (dynamic {dyn_share:.1f} %, static {100 - dyn_share:.1f} %)",
        fontsize=10,
    )
    ax.legend(
        handles=[
            Patch(color="0.55", label="static (power x time)"),
            Patch(color="tab:blue", label="dynamic (count x energy/op)"),
        ],
        loc="lower right",
        fontsize=8,
    )
    return fig


# ---- cores on the mesh -----------------------------------------------------------------------
def _core_values(data: Any, metric: str) -> tuple[dict[int, float | None], str]:
    """Per used core, the metric per inference, from a summary dict or a RunResult."""
    if isinstance(data, dict):
        per_core = data["per_core"]
    else:  # a RunResult
        per_core = per_core_figures(data, mean_of(s.cycles for s in data.samples))
    if metric in CORE_OPS:
        get, unit = (lambda e: e["ops_per_inference"][metric]), f"{metric} operations / inference"
    elif metric == "spikes":
        get, unit = (lambda e: e["spikes_per_inference"]), "spikes / inference"
    elif metric == "busy_cycles":
        get, unit = (lambda e: e["busy_cycles_per_inference"]), "busy cycles / inference"
    elif metric == "utilisation":
        get, unit = (lambda e: e["utilisation"]), "utilisation (busy / latency cycles)"
    elif metric == "energy":
        get, unit = (lambda e: e["energy_dynamic_per_inference_j"]), "J / inference (dynamic, core ops)"
    else:
        raise ValueError(f"unknown core metric {metric!r}; choose one of {CORE_METRICS}")
    return {int(e["core"]): get(e) for e in per_core}, unit


def _subgrid(cpt: int, per_tile: bool) -> tuple[int, int]:
    """Columns and rows of the sub-grid a tile's cores are drawn in (1 x 1 when drawn per tile)."""
    if per_tile or cpt == 1:
        return 1, 1
    sc = math.ceil(math.sqrt(cpt))
    return sc, math.ceil(cpt / sc)


def _tile_grid(values: dict[int, float | None], hw, metric: str, shape: tuple[int, int]) -> np.ndarray:
    """A (H, W) grid of each tile's cores summed (utilisation: averaged); NaN where none is used."""
    grid = np.full(shape, np.nan)
    acc: dict[tuple[int, int], list[float]] = {}
    for c, v in values.items():
        if v is not None:
            acc.setdefault(hw.tile_xy(c), []).append(v)
    for (x, y), vs in acc.items():
        grid[y, x] = (sum(vs) / len(vs)) if metric == "utilisation" else sum(vs)
    return grid


def _core_grid(values: dict[int, float | None], hw, shape: tuple[int, int], sc: int, sr: int) -> np.ndarray:
    """A (H * sr, W * sc) grid with core ``k`` of a tile at row ``k // sc``, column ``k % sc`` of
    its tile's sub-grid; NaN where no core is used."""
    grid = np.full(shape, np.nan)
    cpt = hw.mesh.cores_per_tile
    for c, v in values.items():
        if v is None:
            continue
        x, y = hw.tile_xy(c)
        k = c % cpt
        grid[y * sr + k // sc, x * sc + k % sc] = v
    return grid


def _draw_core_grid(fig, ax, grid: np.ndarray, metric: str, unit: str, W: int, H: int) -> None:
    """The grid as an image (energy in one SI unit, utilisation on a 0..1 scale, unused cores
    grey) with its colour bar and white tile boundaries."""
    finite = grid[np.isfinite(grid)]
    factor, prefix = 1.0, ""
    if metric == "energy":
        factor, prefix = si_scale(finite.max() if finite.size else 0.0)
        unit = unit.replace("J /", f"{prefix}J /", 1)
    masked = np.ma.masked_invalid(grid / factor)
    vmax = None  # utilisation: a fixed 0..1 scale (unless a core exceeds 1)
    if metric == "utilisation":
        vmax = max(1.0, float(finite.max()) if finite.size else 1.0)
    cmap = mpl.colormaps["viridis"].with_extremes(bad="0.85")
    im = ax.imshow(
        masked,
        cmap=cmap,
        origin="upper",
        interpolation="nearest",
        extent=(-0.5, W - 0.5, H - 0.5, -0.5),
        aspect="equal",
        vmin=0.0,
        vmax=vmax,
    )
    cb = fig.colorbar(im, ax=ax, shrink=0.85)
    cb.set_label(unit)
    # one collection per direction, not a line per tile: a big mesh draws in bounded time
    ax.vlines(np.arange(W + 1) - 0.5, -0.5, H - 0.5, color="white", lw=2)
    ax.hlines(np.arange(H + 1) - 0.5, -0.5, W - 0.5, color="white", lw=2)


def _label_cores(ax, hw, values: dict[int, float | None], sc: int, sr: int) -> None:
    """Each core's number at its place in its tile's sub-grid (white on used cores, grey else)."""
    cpt = hw.mesh.cores_per_tile
    for c in range(hw.n_cores):
        x, y = hw.tile_xy(c)
        k = c % cpt
        cx = x - 0.5 + (k % sc + 0.5) / sc
        cy = y - 0.5 + (k // sc + 0.5) / sr
        used = values.get(c) is not None
        ax.text(
            cx,
            cy,
            str(c),
            ha="center",
            va="center",
            fontsize=7,
            color="white" if used else "0.4",
            path_effects=[patheffects.withStroke(linewidth=1.5, foreground="black")] if used else None,
        )


def plot_core_heatmap(data: Any, hw, metric: str = "synop", ax=None, per_tile: bool = False) -> Figure:
    """The mesh of tiles as a heatmap of a per-core metric per inference (``metric``: an
    operation of ``CORE_OPS``, ``spikes``, ``busy_cycles``, ``utilisation`` or ``energy``).

    ``data`` is a summary dict or a RunResult. With several cores per tile each tile is drawn
    as a small sub-grid of its cores (core ``k`` of a tile at row ``k // cols``, column
    ``k % cols``), unless ``per_tile`` sums them (utilisation: averages). Cores that hold no
    neurons are grey. x grows east, y grows south (tile (0, 0) top left), as in the NoC model."""
    fig, ax = figure_axes(ax, (6.0, 5.0))
    values, unit = _core_values(data, metric)
    W, H = getattr(hw, "grid_width", hw.mesh.width), getattr(hw, "grid_height", hw.mesh.height)
    cpt = hw.mesh.cores_per_tile
    sc, sr = _subgrid(cpt, per_tile)
    if per_tile and cpt > 1:
        grid = _tile_grid(values, hw, metric, (H * sr, W * sc))
        layout = "per tile (" + ("mean" if metric == "utilisation" else "sum") + f" of its {cpt} cores)"
    else:
        grid = _core_grid(values, hw, (H * sr, W * sc), sc, sr)
        layout = "per core" if cpt == 1 else f"per core; each tile a {sr}x{sc} grid of its {cpt} cores"
    _draw_core_grid(fig, ax, grid, metric, unit, W, H)
    if not per_tile and cpt > 1 and hw.n_cores <= 64:  # core labels on small meshes
        _label_cores(ax, hw, values, sc, sr)
    ax.set_xticks(range(0, W, max(1, W // 16)))
    ax.set_yticks(range(0, H, max(1, H // 16)))
    ax.set_xlabel("x (tile)")
    ax.set_ylabel("y (tile)")
    ax.set_title(f"{metric} per inference\n{layout}; grey: unused", fontsize=9)
    return fig


# ---- raster ----------------------------------------------------------------------------------
def plot_raster(raster, network, cycle_s: float | None = None, ax=None, x: str = "time") -> Figure:
    """Spike raster of one sample: y = global neuron index, x = time (µs when ``cycle_s`` is
    given, else cycles) or, with ``x="frame"``, the frame. Population boundaries are drawn as
    horizontal lines and labelled on the right."""
    fig, ax = figure_axes(ax, (8.0, 4.5))
    neuron = np.asarray(raster.neuron)
    if x == "frame":
        xs, xlabel = np.asarray(raster.frame, float), "frame"
    elif x == "time":
        if cycle_s is not None:
            xs, xlabel = np.asarray(raster.cycle, float) * cycle_s * 1e6, "time (µs)"
        else:
            xs, xlabel = np.asarray(raster.cycle, float), "time (cycles)"
    else:
        raise ValueError(f"x must be 'time' or 'frame', got {x!r}")
    offsets = np.asarray(network.offsets)
    pops = network.populations
    pop_of = np.searchsorted(offsets, neuron, side="right") - 1
    colors = [f"C{i % 10}" for i in range(len(pops))]
    if neuron.size:
        # a tick about one neuron row tall (capped), so small and large rasters both read well
        height_pt = ax.get_position().height * fig.get_figheight() * 72
        size = float(np.clip(height_pt / max(int(offsets[-1]), 1), 2.0, 12.0)) ** 2
        ax.scatter(
            xs, neuron, s=size, marker="|", c=[colors[max(0, min(p, len(pops) - 1))] for p in pop_of], linewidths=0.8
        )
    else:
        ax.text(0.5, 0.5, "no spikes", ha="center", va="center", transform=ax.transAxes)
    trans = blended_transform_factory(ax.transAxes, ax.transData)
    for i, p in enumerate(pops):
        lo, hi = offsets[i], offsets[i + 1]
        if i > 0:
            ax.axhline(lo - 0.5, color="0.5", lw=0.8, ls="--")
        ax.text(
            1.01,
            (lo + hi - 1) / 2,
            f"{p.name} ({p.size})",
            transform=trans,
            va="center",
            ha="left",
            fontsize=8,
            color=colors[i],
            clip_on=False,
        )
    ax.set_ylim(offsets[-1] - 0.5, -0.5)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if x == "frame":
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("neuron (global index)")
    ax.set_title(f"Spike raster, sample {raster.sample} ({neuron.size} spikes)", fontsize=10)
    return fig


# ---- latency ---------------------------------------------------------------------------------
def plot_latency_per_sample(samples: Sequence, cycle_s: float, ax=None) -> Figure:
    """Latency (µs) of each sample against its index; correct predictions green, wrong red;
    the mean as a dashed line."""
    fig, ax = figure_axes(ax, (7.0, 3.5))
    if not samples:
        _empty(ax, "no samples")
        return fig
    idx = np.array([s.index for s in samples])
    lat = np.array([s.cycles for s in samples], float) * cycle_s * 1e6
    ok = np.array([s.correct for s in samples], bool)
    if ok.any():
        ax.scatter(idx[ok], lat[ok], s=14, color="tab:green", label=f"correct ({ok.sum()})")
    if (~ok).any():
        ax.scatter(idx[~ok], lat[~ok], s=14, color="tab:red", marker="x", label=f"wrong ({(~ok).sum()})")
    mean = float(lat.mean())
    ax.axhline(mean, color="k", ls="--", lw=1, label=f"mean {mean:.4g} µs")
    ax.set_xlabel("sample")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("latency (µs)")
    ax.set_ylim(bottom=0)
    ax.set_title("Latency per sample", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return fig
