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


def _mesh_frame(ax, hw, fill: bool = True):
    """Tile squares, chip boundaries, ticks, y pointing south."""
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
    ax.vlines(np.arange(W + 1) - 0.5, -0.5, H - 0.5, color="white", lw=1.5, zorder=1)
    ax.hlines(np.arange(H + 1) - 0.5, -0.5, W - 0.5, color="white", lw=1.5, zorder=1)
    cw, ch = hw.mesh.width, hw.mesh.height
    if W > cw or H > ch:  # chip boundaries
        ax.vlines(np.arange(cw, W, cw) - 0.5, -0.5, H - 0.5, color="0.2", lw=2.5, zorder=3)
        ax.hlines(np.arange(ch, H, ch) - 0.5, -0.5, W - 0.5, color="0.2", lw=2.5, zorder=3)
    ax.set_xlim(-0.5, W - 0.5)
    ax.set_ylim(H - 0.5, -0.5)
    ax.set_aspect("equal")
    step = max(1, W // 16)
    ax.set_xticks(range(0, W, step))
    ax.set_yticks(range(0, H, max(1, H // 16)))
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


def _link_norm(values: np.ndarray, exists: np.ndarray, metric: str) -> Normalize:
    """Colour scale from 0 to the largest value (utilisation: to at least 1)."""
    vmax = float(values[exists].max(initial=0.0)) or 1.0
    if metric == "utilisation":
        vmax = max(vmax, 1.0) if vmax > 1 else 1.0
    return Normalize(0.0, vmax)


def _draw_link_tiles(ax, hw, values: np.ndarray, exists: np.ndarray, norm: Normalize, cmap):
    """Per tile, the largest value among the links leaving it (for meshes too big for arrows)."""
    W, H = grid_size(hw)
    per_tile = np.where(exists, values, 0.0).reshape(W * H, 4).max(axis=1).reshape(H, W)
    _mesh_frame(ax, hw, fill=False)
    return ax.imshow(
        per_tile,
        cmap=cmap,
        norm=norm,
        origin="upper",
        extent=(-0.5, W - 0.5, H - 0.5, -0.5),
        interpolation="nearest",
        zorder=0,
    )


def _draw_link_arrows(ax, hw, values: np.ndarray, exists: np.ndarray, norm: Normalize, cmap):
    """An arrow per existing link, coloured by its value (links with value 0 in light grey);
    returns the mappable for the colour bar."""
    W, H = grid_size(hw)
    _mesh_frame(ax, hw)
    link = np.flatnonzero(exists)
    tile, d = link // 4, link % 4
    x0, y0 = (tile % W).astype(float), (tile // W).astype(float)
    start = np.stack([x0, y0], 1) + _SIDE[d] + 0.2 * _STEP[d]
    vec = 0.6 * _STEP[d]
    v = values[link]
    zero = v == 0
    width = 0.006 * 8 / max(max(W, H), 8)
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
    norm = _link_norm(values, exists, metric)
    cmap = mpl.colormaps["viridis"]
    if int(exists.sum()) > MAX_ARROWS:
        im = _draw_link_tiles(ax, hw, values, exists, norm, cmap)
        layout = "per tile: largest over the links leaving it"
    else:
        im = _draw_link_arrows(ax, hw, values, exists, norm, cmap)
        layout = "per directed link"
    cb = fig.colorbar(im, ax=ax, shrink=0.85)
    cb.set_label(_UNITS[metric])
    total = float(values[exists].sum())
    ax.set_title(title or f"{metric} {layout}; total {total:.4g}", fontsize=9)
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
    _mesh_frame(ax, hw, fill=False)
    im = ax.imshow(
        e.reshape(H, W) / factor,
        cmap="viridis",
        origin="upper",
        vmin=0.0,
        extent=(-0.5, W - 0.5, H - 0.5, -0.5),
        interpolation="nearest",
        zorder=0,
    )
    cb = fig.colorbar(im, ax=ax, shrink=0.85)
    cb.set_label(f"dynamic energy ({prefix}J)")
    ax.set_title(
        title or f"dynamic energy per tile (cores + router); total {e.sum() / factor:.4g} {prefix}J", fontsize=9
    )
    return fig


def plot_critical_path(cp: CriticalPath, hw, ax=None) -> Figure:
    """The mesh with the critical cores' tiles numbered in phase order, the chain between them
    dashed, and each phase's critical link drawn as a red arrow."""
    fig, ax = figure_axes(ax)
    _mesh_frame(ax, hw)
    W, _ = grid_size(hw)
    pts = []
    for k, s in enumerate(cp.steps, 1):
        if s.core is not None:
            x, y = hw.tile_xy(s.core)
            pts.append((x, y))
            ax.add_patch(
                mpl.patches.Rectangle((x - 0.45, y - 0.45), 0.9, 0.9, fill=False, ec="tab:orange", lw=2, zorder=5)
            )
            ax.annotate(
                f"{k}",
                (x, y),
                ha="center",
                va="center",
                fontsize=10,
                color="tab:orange",
                fontweight="bold",
                zorder=6,
                xytext=(0.25 * (k % 3 - 1), 0.25 * ((k // 3) % 3 - 1)),
                textcoords="offset fontsize",
            )
        if s.link is not None:
            tile, d = divmod(int(s.link), 4)
            start = np.array([tile % W, tile // W], float) + _SIDE[d] + 0.2 * _STEP[d]
            vec = 0.6 * _STEP[d]
            ax.annotate("", start + vec, start, zorder=7, arrowprops=dict(arrowstyle="-|>", color="tab:red", lw=2.0))
    if len(pts) > 1:
        xs, ys = zip(*pts)
        ax.plot(xs, ys, ls="--", color="tab:orange", lw=1, zorder=4)
    ax.set_title(
        f"critical path of frame {cp.frame}: {cp.cycles} cycles; orange: last core per phase "
        f"(numbered), red: busiest link per phase",
        fontsize=8,
    )
    return fig
