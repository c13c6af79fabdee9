"""Network-on-chip report figures and the critical path of the slowest frame.

Inputs are the NoC counters of :class:`neurosim.sim.noc.Mesh` (``Mesh.link_stats()``,
``Mesh.tile_stats()``) and per-core operation counts, so no figure needs the simulator itself.

* :func:`plot_link_metric` - per directed link, an arrow between tile centres coloured by a
  counter (``messages``, ``busy_cycles``, ``wait_cycles``, ``stall_cycles``, ``peak_occupancy``)
  or by ``utilisation`` (busy cycles / elapsed cycles); :func:`plot_link_utilisation` and
  :func:`plot_link_stalls` are the two common cases. Meshes with more than ``MAX_ARROWS`` links are
  drawn as a per-tile heatmap of the largest value among the links leaving each tile.
* :func:`tile_energy_j` and :func:`plot_tile_energy` - dynamic energy per tile: its cores'
  operations plus its router's (messages on the links leaving it, local deliveries).
* :func:`critical_path`, :func:`format_critical_path`, :func:`plot_critical_path` - which cores and
  links set the latency of the slowest frame (the rule is in :func:`critical_path`).

As in :mod:`neurosim.report.figures.run`, every plotting function takes ``ax=None`` and returns the
Figure (a new Agg figure, not registered with pyplot, when ``ax`` is None). x grows east, y grows
south (tile (0, 0) top left); chip boundaries of a multi-chip system are drawn as thick lines.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import matplotlib.patheffects
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from neurosim.analysis.critical_path import CriticalPath
from neurosim.describe.topology import STEP, grid_size
from neurosim.report.figures import run as plots
from neurosim.units import si_scale

LINK_METRICS = ("messages", "busy_cycles", "wait_cycles", "stall_cycles", "peak_occupancy", "utilisation")
MAX_ARROWS = 4000
_UNITS = {
    "messages": "messages",
    "busy_cycles": "busy cycles",
    "wait_cycles": "wait cycles",
    "stall_cycles": "stall cycles",
    "peak_occupancy": "messages in buffer (peak)",
    "utilisation": "utilisation (busy / elapsed cycles)",
}
# arrow geometry per direction: unit step and the sideways offset that keeps opposite links apart
_STEP = np.array(STEP, float)
_SIDE = np.array([(0, -0.12), (0, 0.12), (0.12, 0), (-0.12, 0)])


def figure_axes(ax, figsize=(6.5, 5.0)):
    return plots.figure_axes(ax, figsize)


def _mesh_frame(ax, hw, fill: bool = True, box=None):
    """Tile squares, chip boundaries (lines only inside ``box``, the zoom box, when given), axis
    limits and labels, y pointing south."""
    W, H = grid_size(hw)
    if fill:
        ax.imshow(
            np.zeros((H, W)),
            cmap=mpl.colors.ListedColormap(["0.93"]),
            origin="upper",
            extent=(-0.5, W - 0.5, H - 0.5, -0.5),
            interpolation="nearest",
        )
    # one collection per direction, not a line per tile: a big mesh draws in bounded time
    vw, vh = (W, H) if box is None else (box[1] - box[0] + 1, box[3] - box[2] + 1)
    plots.tile_lines(ax, W, H, box, color="white", lw=plots.grid_lw(vw, vh), zorder=1)
    cw, ch = hw.mesh.width, hw.mesh.height
    if W > cw or H > ch:  # chip boundaries
        plots.tile_lines(ax, W, H, box, every=(cw, ch), color="0.2", lw=2.5, zorder=3)
    ax.set_xlim(-0.5, W - 0.5)
    ax.set_ylim(H - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("x (tile)")
    ax.set_ylabel("y (tile)")


def link_values(
    link_stats: Mapping[str, np.ndarray], metric: str = "utilisation", cycles: float | None = None
) -> np.ndarray:
    """Per-link values of ``metric`` (one of ``LINK_METRICS``); ``utilisation`` needs the elapsed
    ``cycles`` (busy cycles / cycles)."""
    if metric not in LINK_METRICS:
        raise ValueError(f"metric must be one of {LINK_METRICS}, got {metric!r}")
    if metric == "utilisation":
        if not cycles:
            raise ValueError("metric 'utilisation' needs the elapsed cycles (cycles > 0)")
        return np.asarray(link_stats["busy_cycles"], float) / float(cycles)
    return np.asarray(link_stats[metric], float)


def _link_norm(values: np.ndarray, exists: np.ndarray) -> Normalize:
    """Colour scale from 0 to the largest value of the run (utilisation too: a fixed 0..1 scale
    paints utilisations of a few per mille all the same colour); 0..1 when every value is 0."""
    vmax = float(values[exists].max(initial=0.0)) or 1.0
    return Normalize(0.0, vmax)


def _in_box(hw, used: np.ndarray) -> np.ndarray:
    """Per link, whether its tile lies in the region :func:`plots.zoom_to_used` zooms to (every
    link when it does not zoom)."""
    W, H = grid_size(hw)
    box = plots.used_box(used)
    if box is None:
        return np.ones(W * H * 4, bool)
    x0, x1, y0, y1 = box
    tile = np.arange(W * H)
    tx, ty = tile % W, tile // W
    return np.repeat((tx >= x0) & (tx <= x1) & (ty >= y0) & (ty <= y1), 4)


def _used_tiles(hw, values: np.ndarray, exists: np.ndarray) -> np.ndarray:
    """(H, W): tiles at either end of a link with a non-zero value."""
    W, H = grid_size(hw)
    link = np.flatnonzero(exists & (values != 0))
    tile, d = link // 4, link % 4
    x, y = tile % W, tile // W
    used = np.zeros((H, W), bool)
    used[y, x] = True
    nx, ny = x + _STEP[d, 0].astype(int), y + _STEP[d, 1].astype(int)
    ok = (nx >= 0) & (nx < W) & (ny >= 0) & (ny < H)
    used[ny[ok], nx[ok]] = True
    return used


def _draw_link_tiles(ax, hw, values: np.ndarray, exists: np.ndarray, norm: Normalize, cmap, box=None):
    """Per tile, the largest value among the links leaving it (for meshes too big for arrows)."""
    W, H = grid_size(hw)
    per_tile = np.where(exists, values, 0.0).reshape(W * H, 4).max(axis=1).reshape(H, W)
    _mesh_frame(ax, hw, fill=False, box=box)
    return ax.imshow(
        per_tile,
        cmap=cmap,
        norm=norm,
        origin="upper",
        extent=(-0.5, W - 0.5, H - 0.5, -0.5),
        interpolation="nearest",
        zorder=0,
    )


def _draw_link_arrows(ax, hw, values: np.ndarray, exists: np.ndarray, norm: Normalize, cmap, box=None):
    """An arrow per existing link, coloured by its value (links with value 0 in light grey);
    returns the mappable for the colour bar."""
    W, H = grid_size(hw)
    _mesh_frame(ax, hw, box=box)
    link = np.flatnonzero(exists)
    tile, d = link // 4, link % 4
    x0, y0 = (tile % W).astype(float), (tile // W).astype(float)
    start = np.stack([x0, y0], 1) + _SIDE[d] + 0.2 * _STEP[d]
    vec = 0.6 * _STEP[d]
    v = values[link]
    zero = v == 0
    # arrow width is a fraction of the axes width: scale it to the tiles in view (a zoomed mesh)
    span = int(x0.max() - x0.min() + 1) if link.size else W
    span = max(span, int(y0.max() - y0.min() + 1) if link.size else H)
    width = 0.006 * 8 / max(span + 2, 8)
    arrows = dict(angles="xy", scale_units="xy", scale=1)
    if zero.any():
        ax.quiver(
            start[zero, 0], start[zero, 1], vec[zero, 0], vec[zero, 1], color="0.75", width=width, zorder=2, **arrows
        )
    if (~zero).any():
        return ax.quiver(
            start[~zero, 0],
            start[~zero, 1],
            vec[~zero, 0],
            vec[~zero, 1],
            v[~zero],
            cmap=cmap,
            norm=norm,
            width=width * 1.6,
            zorder=4,
            **arrows,
        )
    return mpl.cm.ScalarMappable(norm=norm, cmap=cmap)


def plot_link_metric(
    hw,
    link_stats: Mapping[str, np.ndarray],
    metric: str = "utilisation",
    cycles: float | None = None,
    ax=None,
    title: str | None = None,
) -> Figure:
    """Per directed link, an arrow from tile to tile coloured by ``metric`` (links with value 0
    in light grey). ``link_stats`` is ``Mesh.link_stats()`` (or a dict with its ``metric`` key
    and ``exists``); links are indexed ``tile * 4 + d``, d in E, W, S, N."""
    fig, ax = figure_axes(ax)
    values = link_values(link_stats, metric, cycles)
    W, H = grid_size(hw)
    n_links = W * H * 4
    if values.size != n_links:
        raise ValueError(f"expected {n_links} link values for a {W}x{H} mesh, got {values.size}")
    exists = np.asarray(link_stats.get("exists", _exists(W, H)), bool)
    norm = _link_norm(values, exists)
    cmap = mpl.colormaps["viridis"]
    used = _used_tiles(hw, values, exists)
    shown = exists & _in_box(hw, used)  # a big mesh zoomed to a small used region: arrows there
    if int(shown.sum()) > MAX_ARROWS:
        im = _draw_link_tiles(ax, hw, values, exists, norm, cmap, plots.used_box(used))
        layout = "per tile: largest over the links leaving it"
    else:
        im = _draw_link_arrows(ax, hw, values, shown, norm, cmap, plots.used_box(used))
        layout = "per directed link"
    zoom = plots.zoom_to_used(ax, used)
    idle = not used.any()
    scale = "every link 0" if idle else f"scale 0..max {norm.vmax:.3g}"
    plots.add_colorbar(fig, ax, im, f"{_UNITS[metric]}; {scale}")
    total = float(values[exists].sum())
    note = f"\n{zoom}" if zoom else "\nno link in use (all values 0)" if idle else ""
    ax.set_title((title or f"{metric} {layout}; total {total:.4g}") + note, fontsize=9)
    return fig


def plot_link_utilisation(hw, link_stats, cycles: float, ax=None) -> Figure:
    """Link utilisation: busy cycles (messages x service time) / elapsed ``cycles``."""
    return plot_link_metric(
        hw,
        link_stats,
        "utilisation",
        cycles,
        ax=ax,
        title=f"link utilisation over {cycles:.4g} cycles (busy / elapsed)",
    )


def plot_link_stalls(hw, link_stats, ax=None) -> Figure:
    """Stall cycles per link: cycles the link was free with a message waiting but the buffer at
    its far end full (back-pressure)."""
    st = np.asarray(link_stats["stall_cycles"])
    return plot_link_metric(
        hw, link_stats, "stall_cycles", ax=ax, title=f"stall cycles per link (back-pressure); total {int(st.sum())}"
    )


def _exists(W: int, H: int) -> np.ndarray:
    tx, ty = np.arange(W * H) % W, np.arange(W * H) // W
    ok = np.stack([tx < W - 1, tx > 0, ty < H - 1, ty > 0], 1)
    return ok.ravel()


def plot_tile_energy(hw, energy_j: np.ndarray, ax=None, title: str | None = None) -> Figure:
    """Heatmap of dynamic energy per tile (from :func:`tile_energy_j`) in one SI unit."""
    fig, ax = figure_axes(ax)
    W, H = grid_size(hw)
    e = np.asarray(energy_j, float)
    if e.size != W * H:
        raise ValueError(f"expected {W * H} tile energies, got {e.size}")
    factor, prefix = si_scale(float(e.max(initial=0.0)))
    _mesh_frame(ax, hw, fill=False, box=plots.used_box(e.reshape(H, W) > 0))
    im = ax.imshow(
        np.ma.masked_equal(e.reshape(H, W) / factor, 0.0),  # grey: no dynamic energy
        cmap=mpl.colormaps["viridis"].with_extremes(bad="0.85"),
        origin="upper",
        vmin=0.0,
        vmax=float(e.max(initial=0.0)) / factor or 1.0,
        extent=(-0.5, W - 0.5, H - 0.5, -0.5),
        interpolation="nearest",
        zorder=0,
    )
    zoom = plots.zoom_to_used(ax, e.reshape(H, W) > 0)
    plots.add_colorbar(fig, ax, im, f"dynamic energy per inference ({prefix}J)")
    ax.set_title(
        (title or f"dynamic energy per tile (cores + router); total {e.sum() / factor:.4g} {prefix}J; grey: none")
        + (f"\n{zoom}" if zoom else ""),
        fontsize=9,
    )
    return fig


def _tile_steps(cp: CriticalPath, hw) -> dict[tuple[int, int], list[int]]:
    """Tile -> the (1-based) numbers of the phases whose critical core is on it."""
    out: dict[tuple[int, int], list[int]] = {}
    for k, s in enumerate(cp.steps, 1):
        if s.core is not None:
            out.setdefault(tuple(hw.tile_xy(s.core)), []).append(k)
    return out


def phase_numbers(ks: list[int], limit: int = 4) -> str:
    """``[1, 2, 3, 5]`` -> ``"1-3,5"``; more than ``limit`` runs end in ``"…"``."""
    runs: list[list[int]] = []
    for k in ks:
        if runs and k == runs[-1][-1] + 1:
            runs[-1].append(k)
        else:
            runs.append([k])
    text = [f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs[:limit]]
    return ",".join(text) + (",…" if len(runs) > limit else "")


def _draw_timeline(ax, cp: CriticalPath, cycle_s: float, min_label_share: float = 0.08) -> None:
    """The frame's phases as one bar on a time axis (µs from the frame start): per phase the
    critical core's work (orange), the rest of the phase (delivery, blue) and the barrier (grey).
    A phase is labelled with its number and name only when its bar is at least
    ``min_label_share`` of the frame, so labels never crowd; the others are numbered on the mesh."""
    us = cycle_s * 1e6
    t0 = cp.start
    shades = ("tab:orange", "tab:blue", "0.6")
    for s in cp.steps:
        a, work = s.start - t0, s.end - s.start
        segs = [(a, s.core_cycles), (a + s.core_cycles, work - s.core_cycles), (a + work, s.barrier_cycles)]
        ax.broken_barh([(x * us, w * us) for x, w in segs], (0, 1), facecolors=shades, edgecolor="white", lw=0.5)
    span = max(cp.cycles, 1)
    for k, s in enumerate(cp.steps, 1):
        if s.cycles >= min_label_share * span:
            ax.text(
                (s.start - t0 + s.cycles / 2) * us,
                0.5,
                f"{k} {s.phase}",
                ha="center",
                va="center",
                fontsize=7,
                clip_on=True,
            )
    ax.set_xlim(0, span * us)
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_xlabel("time from the frame start (µs); orange: critical core working, blue: rest of phase, grey: barrier")
    ax.xaxis.label.set_fontsize(7)


def plot_critical_path(cp: CriticalPath, hw, ax=None) -> Figure:
    """Two panels: the mesh with each critical core's tile outlined and labelled with the
    numbers of its phases (joined, e.g. ``1-3,5``, so labels of one tile never overlap), the
    chain between them dashed and each phase's critical link as a red arrow; below, the phases on
    a time axis in µs (see :func:`_draw_timeline`)."""
    fig, ax, tl = plots.two_panels(ax, (6.5, 6.0), 0.14, extra_on_top=False)
    W, H = grid_size(hw)
    pts = [tuple(hw.tile_xy(s.core)) for s in cp.steps if s.core is not None]
    links = np.array([s.link for s in cp.steps if s.link is not None], np.int64) // 4
    used = np.zeros((H, W), bool)
    used[links // W, links % W] = True
    for x, y in pts:
        used[y, x] = True
    _mesh_frame(ax, hw, box=plots.used_box(used))
    for (x, y), ks in _tile_steps(cp, hw).items():
        ax.add_patch(mpl.patches.Rectangle((x - 0.45, y - 0.45), 0.9, 0.9, fill=False, ec="tab:orange", lw=2, zorder=5))
        ax.text(
            x,
            y,
            phase_numbers(ks),
            ha="center",
            va="center",
            fontsize=8,
            color="tab:orange",
            fontweight="bold",
            zorder=6,
            path_effects=[mpl.patheffects.withStroke(linewidth=2, foreground="white")],
        )
    for s in cp.steps:
        if s.link is not None:
            tile, d = divmod(int(s.link), 4)
            start = np.array([tile % W, tile // W], float) + _SIDE[d] + 0.2 * _STEP[d]
            vec = 0.6 * _STEP[d]
            ax.annotate("", start + vec, start, zorder=7, arrowprops=dict(arrowstyle="-|>", color="tab:red", lw=2.0))
    if len(pts) > 1:
        xs, ys = zip(*pts)
        ax.plot(xs, ys, ls="--", color="tab:orange", lw=1, zorder=4)
    zoom = plots.zoom_to_used(ax, used)
    _draw_timeline(tl, cp, hw.cycle_s)
    ax.set_title(
        f"critical path of frame {cp.frame}: {cp.cycles} cycles = {cp.cycles * hw.cycle_s * 1e6:.4g} µs, "
        f"{len(cp.steps)} phases\norange: last core per phase (phase numbers), red: busiest link per phase"
        + (f"\n{zoom}" if zoom else ""),
        fontsize=8,
    )
    return fig
