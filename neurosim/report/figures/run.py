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


def two_panels(ax, figsize, extra_height: float, extra_on_top: bool):
    """(fig, main, extra): a main axes and a second, shorter one (``extra_height``: its height
    as a fraction of the main one's) above or below it. Without ``ax``, a new figure of two rows;
    with one, ``ax`` is the main axes and the extra one an inset just outside it."""
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        FigureCanvasAgg(fig)
        ratios = (extra_height, 1.0) if extra_on_top else (1.0, extra_height)
        a, b = fig.subplots(2, 1, height_ratios=ratios)
        return (fig, b, a) if extra_on_top else (fig, a, b)
    bounds = (0.0, 1.16, 1.0, extra_height) if extra_on_top else (0.0, -0.3 - extra_height, 1.0, extra_height)
    return ax.figure, ax, ax.inset_axes(bounds)


def _empty(ax, text: str):
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


# ---- energy ----------------------------------------------------------------------------------
def _bar_labels(ax, bars, texts) -> None:
    for bar, text in zip(bars, texts):
        ax.annotate(
            f" {text}", (bar.get_width(), bar.get_y() + bar.get_height() / 2), va="center", ha="left", fontsize=8
        )


def _pct(v: float, whole: float) -> str:
    """``100 v / whole`` with one decimal, or two significant digits below 1 % (no exponent)."""
    p = 100 * v / whole if whole else 0.0
    return f"{p:.1f}" if p >= 1 or p == 0 else f"{p:.2f}" if p >= 0.01 else f"{p:.1e}"


def _num(v: float) -> str:
    """4 significant digits, without an exponent up to 10^9."""
    return f"{v:.4g}" if abs(v) < 1e4 else f"{v:.0f}"


def plot_energy_breakdown(summary: dict, ax=None) -> Figure:
    """Two panels: on top, static against dynamic energy per inference (one stacked bar, values
    and shares); below, the dynamic part broken down by operation on its own scale (values, share
    of the dynamic energy and of the total), so that a mostly static total does not hide it."""
    fig, ax, top = two_panels(ax, (7.0, 4.6), 0.16, extra_on_top=True)
    bd = summary["energy_breakdown_per_inference_j"]
    total = bd.get("total")
    if total is None:
        _empty(ax, "no samples: no energy figures")
        top.set_axis_off()
        return fig
    static = bd.get("static") or 0.0
    dynamic = max(total - static, 0.0)
    parts = sorted(((k, v or 0.0) for k, v in bd.items() if k not in ("total", "static")), key=lambda kv: kv[1])
    # top panel: static vs dynamic, in the total's unit
    tf, tp = si_scale(total)
    top.barh([0], [static / tf], color="0.55")
    top.barh([0], [dynamic / tf], left=[static / tf], color="tab:blue")
    top.set_xlim(0, total / tf)
    top.set_yticks([])
    top.tick_params(labelsize=7)
    for x, v, name, color in ((0.0, static, "static", "black"), (static / tf, dynamic, "dynamic", "black")):
        share = 100 * v / total if total else 0.0
        top.text(
            x if name == "static" else total / tf,
            0,
            f" {name} {v / tf:.3g} {tp}J ({share:.1f} %) ",
            ha="left" if name == "static" else "right",
            va="center",
            fontsize=8,
            color="white" if name == "static" and share > 40 else color,
        )
    top.set_title(
        f"Energy per inference: {fmt_si(total, 'J')}; grey: static (power x time), blue: dynamic", fontsize=10
    )
    # bottom panel: the dynamic part by operation, on its own scale
    factor, prefix = si_scale(max((v for _, v in parts), default=0.0) or dynamic or total)
    vals = np.array([v for _, v in parts]) / factor
    bars = ax.barh([k for k, _ in parts], vals, color="tab:blue")
    _bar_labels(
        ax,
        bars,
        [f"{v / factor:.3g} ({_pct(v, dynamic)} % of dyn., {_pct(v, total)} % of total)" for _, v in parts],
    )
    ax.set_xlim(0, max(vals.max(initial=0.0), 1e-30) * 1.9)
    ax.set_xlabel(f"dynamic energy per inference ({prefix}J)")
    ax.set_title(f"dynamic part by operation: {fmt_si(dynamic, 'J')} (count x energy/op)", fontsize=9)
    ax.tick_params(axis="y", labelsize=8)
    return fig


# ---- mesh zoom -------------------------------------------------------------------------------
def used_box(used: np.ndarray, pad: int = 1, max_share: float = 0.25) -> tuple[int, int, int, int] | None:
    """(x0, x1, y0, y1), inclusive: the bounding box of the ``used`` (H, W) tiles plus ``pad``,
    or None when no tile is used or the box covers ``max_share`` of the mesh or more."""
    H, W = used.shape
    ys, xs = np.nonzero(used)
    if xs.size == 0:
        return None
    x0, x1 = max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad, W - 1)
    y0, y1 = max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad, H - 1)
    if (x1 - x0 + 1) * (y1 - y0 + 1) >= max_share * W * H:
        return None
    return x0, x1, y0, y1


def zoom_to_used(ax, used: np.ndarray, pad: int = 1, max_share: float = 0.25) -> str:
    """Zoom ``ax`` (a mesh drawn with tile (x, y) centred at (x, y), y pointing south) to the
    bounding box of the ``used`` (H, W) tiles plus ``pad`` when that box covers less than
    ``max_share`` of the mesh; ticks thinned to at most ~10 per axis either way. Returns a note
    for the title ("" when not zoomed)."""
    H, W = used.shape
    ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True, min_n_ticks=1))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=10, integer=True, min_n_ticks=1))
    box = used_box(used, pad, max_share)
    if box is None:
        return ""
    x0, x1, y0, y1 = box
    ax.set_xlim(x0 - 0.5, x1 + 0.5)
    ax.set_ylim(y1 + 0.5, y0 - 0.5)
    return f"zoomed to tiles x {x0}..{x1}, y {y0}..{y1} of the {W}x{H} mesh"


MAX_LINES = 512


def tile_lines(ax, W: int, H: int, box=None, every: tuple[int, int] = (1, 1), **kw) -> None:
    """Lines between tiles (every ``every`` = (across, down) tiles; not the outer edges when not
    every tile) as one collection per direction; with ``box``
    (x0, x1, y0, y1) only inside it; a direction with more than ``MAX_LINES`` lines is left out
    (they would be under a pixel apart), so a 65,536 x 1 mesh draws in bounded time."""
    x0, x1, y0, y1 = box if box is not None else (0, W - 1, 0, H - 1)
    ex, ey = every
    xs = np.arange(x0 + (-x0) % ex, x1 + 2, ex)
    ys = np.arange(y0 + (-y0) % ey, y1 + 2, ey)
    if every != (1, 1):  # chip boundaries: not the mesh's outer edges
        xs, ys = xs[(xs > 0) & (xs < W)], ys[(ys > 0) & (ys < H)]
    if 0 < xs.size <= MAX_LINES:
        ax.vlines(xs - 0.5, y0 - 0.5, y1 + 0.5, **kw)
    if 0 < ys.size <= MAX_LINES:
        ax.hlines(ys - 0.5, x0 - 0.5, x1 + 0.5, **kw)


def grid_lw(W: int, H: int) -> float:
    """Width (points) of the white lines between tiles: thinner on big meshes."""
    return float(np.clip(32.0 / max(W, H, 1), 0.3, 2.0))


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


def _view(W: int, H: int, box) -> tuple[int, int]:
    """Tiles in view across and down (the whole mesh, or the zoom box)."""
    return (W, H) if box is None else (box[1] - box[0] + 1, box[3] - box[2] + 1)


def _draw_core_grid(fig, ax, grid: np.ndarray, metric: str, unit: str, W: int, H: int, box=None) -> tuple[Any, str]:
    """The grid as an image (energy in one SI unit, utilisation on a 0..1 scale, unused cores
    grey) with its colour bar and white tile boundaries."""
    finite = grid[np.isfinite(grid)]
    factor, prefix = 1.0, ""
    if metric == "energy":
        factor, prefix = si_scale(finite.max() if finite.size else 0.0)
        unit = unit.replace("J /", f"{prefix}J /", 1)
    masked = np.ma.masked_invalid(grid / factor)
    # every metric, utilisation included, from 0 to the largest value of the run (a fixed 0..1
    # utilisation scale paints real utilisations of a few per mille all the same colour)
    vmax = (float(finite.max()) / factor) if finite.size and finite.max() > 0 else 1.0
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
    # one collection per direction, not a line per tile: a big mesh draws in bounded time
    tile_lines(ax, W, H, box, color="white", lw=grid_lw(*_view(W, H, box)))
    return im, unit


def add_colorbar(fig, ax, mappable, label: str):
    """A colour bar about as tall as the mesh drawn in ``ax`` (call it after zooming): a wide,
    short mesh gets a short bar, not one twice its height."""
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    w, h = abs(x1 - x0), abs(y1 - y0)
    fw, fh = fig.get_size_inches()
    cb = fig.colorbar(mappable, ax=ax, shrink=float(np.clip(0.95 * (h / max(w, 1e-9)) * (fw / fh), 0.3, 0.85)))
    cb.set_label(label, fontsize=8)
    return cb


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
    used = np.zeros((H, W), bool)
    xy = np.array([hw.tile_xy(c) for c, v in values.items() if v is not None], int).reshape(-1, 2)
    used[xy[:, 1], xy[:, 0]] = True
    im, unit = _draw_core_grid(fig, ax, grid, metric, unit, W, H, used_box(used))
    if not per_tile and cpt > 1 and hw.n_cores <= 64:  # core labels on small meshes
        _label_cores(ax, hw, values, sc, sr)
    zoom = zoom_to_used(ax, used)
    add_colorbar(fig, ax, im, unit)
    ax.set_xlabel("x (tile)")
    ax.set_ylabel("y (tile)")
    title = "utilisation (busy / latency cycles)" if metric == "utilisation" else f"{metric} per inference"
    ax.set_title(f"{title}\n{layout}; grey: unused" + (f"\n{zoom}" if zoom else ""), fontsize=9)
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


def plot_latency_distribution(samples: Sequence, cycle_s: float, ax=None) -> Figure:
    """Histogram of the samples' latencies (µs; bar heights are sample counts, summing to the
    number of samples) with the empirical CDF on a second axis and the median and 95th
    percentile marked."""
    fig, ax = figure_axes(ax, (7.0, 3.5))
    if not samples:
        _empty(ax, "no samples")
        return fig
    lat = np.sort(np.array([s.cycles for s in samples], float) * cycle_s * 1e6)
    n_bins = int(np.clip(np.ceil(np.sqrt(lat.size)), 1, 40))
    lo, hi = float(lat[0]), float(lat[-1])
    same = hi <= lo
    if same:  # one bar, 2 % of the value wide (a tick-bound chip: every sample takes the same time)
        lo, hi = lo * 0.99 - 0.5 * cycle_s * 1e6, hi * 1.01 + 0.5 * cycle_s * 1e6
        n_bins = 1
    ax.hist(lat, bins=np.linspace(lo, hi, n_bins + 1), color="tab:blue", alpha=0.75, label="samples per bin")
    ax.set_xlabel("latency (µs)")
    ax.set_ylabel("samples")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    cdf = ax.twinx()
    cdf.step(lat, np.arange(1, lat.size + 1) / lat.size, where="post", color="k", lw=1.2)
    cdf.set_ylim(0, 1.02)
    cdf.set_ylabel("fraction of samples ≤ latency (CDF)")
    med, p95 = float(np.median(lat)), float(np.percentile(lat, 95))
    for v, name, ls in ((med, "median", "--"), (p95, "95th percentile", ":")):
        ax.axvline(v, color="tab:red", ls=ls, lw=1.2, label=f"{name} {_num(v)} µs")
    ax.ticklabel_format(axis="x", useOffset=False)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.12, 1.0), borderaxespad=0.0)
    note = f"; every sample takes {_num(lat[0])} µs" if same else " (bars: count, line: CDF)"
    ax.set_title(f"Latency distribution over {lat.size} samples{note}", fontsize=10)
    return fig


def plot_energy_vs_latency(
    samples: Sequence, energies_j: Sequence[float], cycle_s: float, static_w: float | None = None, ax=None
) -> Figure:
    """Energy against latency, one point per sample (correct green, wrong red), axes fitted to
    the data; with ``static_w``, the static energy (static power x latency) as a line, so the
    gap above it is the dynamic energy."""
    fig, ax = figure_axes(ax, (6.0, 4.0))
    if not samples:
        _empty(ax, "no samples")
        return fig
    lat = np.array([s.cycles for s in samples], float) * cycle_s * 1e6
    e = np.asarray(energies_j, float)
    if e.shape != lat.shape:
        raise ValueError(f"expected {lat.size} energies (one per sample), got {e.size}")
    factor, prefix = si_scale(float(e.max()))
    ok = np.array([s.correct for s in samples], bool)
    if ok.any():
        ax.scatter(lat[ok], e[ok] / factor, s=14, color="tab:green", label=f"correct ({ok.sum()})")
    if (~ok).any():
        ax.scatter(lat[~ok], e[~ok] / factor, s=18, color="tab:red", marker="x", label=f"wrong ({(~ok).sum()})")
    if static_w:
        t = np.array([lat.min(), lat.max()])
        ax.plot(t, static_w * t * 1e-6 / factor, color="0.5", ls="--", lw=1, label="static (power x latency)")
    ax.set_xlabel("latency (µs)")
    ax.set_ylabel(f"energy per inference ({prefix}J)")
    ax.ticklabel_format(useOffset=False)
    note = f"; every sample takes {_num(lat[0])} µs" if np.ptp(lat) == 0 else ""
    ax.set_title(f"Energy against latency, {lat.size} samples{note}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return fig


def activity_per_frame(raster, network, n_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(frames, counts): the frame numbers 0..F-1 (F: ``n_frames``, at least the raster's last
    frame + 1) and a (populations, F) array of spikes per frame per population."""
    frame = np.asarray(raster.frame, np.int64)
    pop = np.searchsorted(np.asarray(network.offsets), np.asarray(raster.neuron), side="right") - 1
    n_pop = len(network.populations)
    n_frames = max(n_frames or 0, int(frame.max()) + 1 if frame.size else 0)
    counts = np.zeros((n_pop, n_frames), np.int64)
    np.add.at(counts, (np.clip(pop, 0, n_pop - 1), frame), 1)
    return np.arange(n_frames), counts


def plot_activity_per_frame(raster, network, n_frames: int | None = None, ax=None) -> Figure:
    """Spikes per frame of each population, from the raster the run kept (one sample: the
    simulator records no per-frame counts for the others)."""
    fig, ax = figure_axes(ax, (7.0, 3.5))
    frames, counts = activity_per_frame(raster, network, n_frames)
    if not counts.any():
        _empty(ax, f"sample {raster.sample}: no spikes")
        return fig
    for i, p in enumerate(network.populations):
        ax.plot(frames, counts[i], marker="o", ms=3, lw=1.2, color=f"C{i % 10}", label=f"{p.name} ({counts[i].sum()})")
    ax.set_xlabel("frame")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("spikes in the frame")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    ax.set_title(f"Activity per frame, sample {raster.sample} (the raster sample)", fontsize=10)
    ax.legend(
        fontsize=8,
        title="population (total)",
        title_fontsize=8,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        borderaxespad=0.0,
    )
    return fig
