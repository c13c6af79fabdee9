"""Topology and routing tables of the mesh, built once per run from a hardware description.

Geometry
--------
Tiles are numbered row-major over the *global* mesh (all chips; ``tile = y * W + x`` with
``W = hw.grid_width``); ``y`` grows southwards. Directed links are numbered ``tile * 4 + d`` with
d in E, W, S, N (the link *leaving* ``tile`` in that direction); links off the mesh edge do not
exist. A link joining tiles of two chips is a *chip link*; the others are *router links*.

A message from a core to a core of the same tile is a *local* delivery (``latency_local_cycles``,
``energy_local_pj``; it uses no link and meets no contention). Across tiles it travels first
along x, then along y. Each link traversal (a *hop*) costs, by the kind of link:

=========  ==========================  =====================  ===================================
kind       latency ``L``               energy                 service time ``S`` (cycles)
=========  ==========================  =====================  ===================================
east-west  ``latency_hop_ew_cycles``   ``energy_hop_ew_pj``   ``ceil(1 / link_bandwidth_msgs_..)``
north-sth  ``latency_hop_ns_cycles``   ``energy_hop_ns_pj``   same
chip link  ``chips.link_latency_..``   ``chips.link_energy``  ``ceil(1 / chips.link_bandwidth..)``
=========  ==========================  =====================  ===================================

counted as the operations ``hop_ew``, ``hop_ns`` and ``hop_chip`` (``local`` for local deliveries).

Multicast: a group of messages from one source travels as one XY tree, the union of the XY
routes from the source tile to each destination tile; each tree link is traversed once, and a
copy is made where the tree branches (:meth:`Routes.multicast_tree`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.topology import KIND_CHIP, KIND_EW, KIND_NS, STEP

_I64 = np.int64


def nonzero_pairs(tile_pairs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(src tiles, dst tiles, counts) of the non-zero entries of a dense or sparse matrix."""
    m = sp.coo_array(tile_pairs)
    keep = m.data != 0
    return m.row[keep].astype(_I64), m.col[keep].astype(_I64), m.data[keep].astype(_I64)


class Routes:
    """The link table and XY routes of one hardware description: per directed link its
    existence, far end, kind, latency, service time, energy and XY sweep step; hop counts,
    contention-free latencies, routes and multicast trees between tiles."""

    def __init__(self, hw: HardwareSpec):
        W, H, cpt = hw.grid_width, hw.grid_height, hw.mesh.cores_per_tile
        self.width, self.height = W, H
        self.n_tiles = W * H
        self.n_links = self.n_tiles * 4
        self.tile_of_core = np.arange(hw.n_cores, dtype=_I64) // cpt
        tx, ty = np.arange(self.n_tiles, dtype=_I64) % W, np.arange(self.n_tiles, dtype=_I64) // W
        self.tile_x, self.tile_y = tx, ty
        cw, ch = hw.mesh.width, hw.mesh.height
        self.chip_width, self.chip_height = cw, ch
        r, c = hw.router, hw.chips
        self.latency_local = r.latency_local_cycles
        # ---- per link: existence, far end, kind, latency, service time, energy, sweep step
        lx, ly = np.repeat(tx, 4), np.repeat(ty, 4)
        d = np.tile(np.arange(4), self.n_tiles)
        self.link_src = np.repeat(np.arange(self.n_tiles, dtype=_I64), 4)
        self.link_dir = d
        self.link_x, self.link_y = lx, ly
        dx = np.array([s[0] for s in STEP])[d]
        dy = np.array([s[1] for s in STEP])[d]
        nx, ny = lx + dx, ly + dy
        self.link_exists = (nx >= 0) & (nx < W) & (ny >= 0) & (ny < H)
        self.link_dst = np.where(self.link_exists, ny * W + nx, -1)
        crosses = self.link_exists & ((lx // cw != nx // cw) | (ly // ch != ny // ch))
        self.link_kind = np.where(crosses, KIND_CHIP, np.where(d < 2, KIND_EW, KIND_NS))
        lat = np.array([r.latency_hop_ew_cycles, r.latency_hop_ns_cycles, c.link_latency_cycles or 0], _I64)
        svc = np.array([r.service_cycles, r.service_cycles, c.service_cycles or 1], _I64)
        pj = np.array([r.energy_hop_ew_pj, r.energy_hop_ns_pj, c.link_energy_pj or 0.0])
        self.kind_latency, self.kind_service = lat, svc
        self.link_latency = lat[self.link_kind]
        self.link_service = svc[self.link_kind]
        self.link_energy_pj = np.where(self.link_exists, pj[self.link_kind], 0.0)
        # XY dependency order: a link is requested only after links of smaller step
        self.link_step = np.select([d == 0, d == 1, d == 2], [lx, W - 1 - lx, W - 1 + ly], W - 1 + H - 1 - ly)
        self.n_steps = max(W - 1 + H - 1, 1)
        self._latency_table: np.ndarray | None = None

    def geometry(self) -> dict[str, np.ndarray]:
        """Per directed link (copies): ``src_tile``, ``dst_tile`` (-1: no link), ``direction``
        (0..3 = E, W, S, N), ``kind`` (0 east-west, 1 north-south, 2 chip link), ``exists``,
        ``latency_cycles``, ``service_cycles``, ``energy_pj``."""
        return {
            "src_tile": self.link_src.copy(),
            "dst_tile": self.link_dst.copy(),
            "direction": self.link_dir.copy(),
            "kind": self.link_kind.copy(),
            "exists": self.link_exists.copy(),
            "latency_cycles": self.link_latency.copy(),
            "service_cycles": self.link_service.copy(),
            "energy_pj": self.link_energy_pj.copy(),
        }

    # ---- hop counts and contention-free latency ------------------------------------------------
    def hops(self, st, dt) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(east-west hops, north-south hops, chip-link hops) between tiles (vectorised)."""
        st, dt = np.asarray(st, _I64), np.asarray(dt, _I64)
        x0, y0, x1, y1 = self.tile_x[st], self.tile_y[st], self.tile_x[dt], self.tile_y[dt]
        cx = np.abs(x1 // self.chip_width - x0 // self.chip_width)
        cy = np.abs(y1 // self.chip_height - y0 // self.chip_height)
        return np.abs(x1 - x0) - cx, np.abs(y1 - y0) - cy, cx + cy

    def route_latency(self, st, dt) -> np.ndarray:
        """Sum of the hop latencies of the XY routes between tiles (0 within a tile)."""
        ew, ns, chip = self.hops(st, dt)
        lat = self.kind_latency
        return ew * lat[KIND_EW] + ns * lat[KIND_NS] + chip * lat[KIND_CHIP]

    def tile_latency(self, st, dt) -> np.ndarray:
        """Contention-free latency (cycles) from tile(s) ``st`` to tile(s) ``dt``: the sum of the
        hop latencies of the XY route, or ``latency_local_cycles`` within a tile."""
        st, dt = np.asarray(st, _I64), np.asarray(dt, _I64)
        return np.where(st == dt, self.latency_local, self.route_latency(st, dt))

    def core_latency(self, src_core, dst_core) -> np.ndarray:
        """Contention-free delivery latency (cycles) of messages between physical cores."""
        return self.tile_latency(self.tile_of_core[src_core], self.tile_of_core[dst_core])

    @property
    def latency_cycles(self) -> np.ndarray:
        """Dense (n_tiles x n_tiles) contention-free latency table (built on first use; n_tiles^2
        entries: prefer :meth:`tile_latency` on large meshes)."""
        if self._latency_table is None:
            t = np.arange(self.n_tiles)
            self._latency_table = self.tile_latency(t[:, None], t[None, :])
        return self._latency_table

    def link_counts(self, tile_pairs) -> np.ndarray:
        """Messages over each directed link, from a (n_tiles x n_tiles) matrix (dense or sparse)
        of unicast message counts."""
        src, dst, n = nonzero_pairs(tile_pairs)
        keep = src != dst
        src, dst, n = src[keep], dst[keep], n[keep]
        owner, _, links = self.expand(src, dst)
        return np.bincount(links, weights=n[owner], minlength=self.n_links).astype(_I64)

    def hop_counts(self, tile_pairs) -> dict[str, int]:
        """East-west, north-south and chip-link hops and local deliveries of a tile-pair count
        matrix (dense or sparse) of unicast messages."""
        src, dst, n = nonzero_pairs(tile_pairs)
        ew, ns, chip = self.hops(src, dst)
        return {
            "hop_ew": int((n * ew).sum()),
            "hop_ns": int((n * ns).sum()),
            "hop_chip": int((n * chip).sum()),
            "local": int(n[src == dst].sum()),
        }

    # ---- routes -----------------------------------------------------------------------------------
    def route(self, src_tile: int, dst_tile: int) -> list[int]:
        """Directed link ids on the XY route from ``src_tile`` to ``dst_tile``."""
        _, _, links = self.expand(np.array([src_tile], _I64), np.array([dst_tile], _I64))
        return links.tolist()

    def multicast_tree(self, src_tile: int, dst_tiles) -> np.ndarray:
        """Directed link ids (sorted) of the XY multicast tree from ``src_tile`` to ``dst_tiles``:
        the union of the XY routes, each link once."""
        dst = np.unique(np.asarray(dst_tiles, _I64).ravel())
        _, _, links = self.expand(np.full(dst.size, src_tile, _I64), dst)
        return np.unique(links)

    def expand(self, st: np.ndarray, dt: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """XY routes of ``st[i] -> dt[i]`` flattened: (owner i, hop index k, link id) per hop."""
        W = self.width
        x0, y0, x1, y1 = self.tile_x[st], self.tile_y[st], self.tile_x[dt], self.tile_y[dt]
        nx, ny = np.abs(x1 - x0), np.abs(y1 - y0)
        h = nx + ny
        total = int(h.sum())
        owner = np.repeat(np.arange(st.size, dtype=_I64), h)
        k = np.arange(total, dtype=_I64) - np.repeat(np.cumsum(h) - h, h)
        nxo = nx[owner]
        in_x = k < nxo
        sx, sy = np.sign(x1 - x0)[owner], np.sign(y1 - y0)[owner]
        x = np.where(in_x, x0[owner] + sx * k, x1[owner])
        y = np.where(in_x, y0[owner], y0[owner] + sy * (k - nxo))
        d = np.where(in_x, np.where(sx > 0, 0, 1), np.where(sy > 0, 2, 3))
        return owner, k, (y * W + x) * 4 + d

    def parent_link(self, src_tile, link) -> np.ndarray:
        """The link before ``link`` on XY routes from ``src_tile`` (-1: ``link`` leaves the source)."""
        W = self.width
        t, d = link // 4, link % 4
        x, y = t % W, t // W
        sx, sy = src_tile % W, src_tile // W
        tile = lambda xx, yy: yy * W + xx
        xpar = np.where(x > sx, tile(x - 1, sy) * 4 + 0, tile(x + 1, sy) * 4 + 1)  # the X link into (x, sy)
        xpar = np.where(x == sx, -1, xpar)
        return np.select(
            [d == 0, d == 1, d == 2, d == 3],
            [
                np.where(x == sx, -1, tile(x - 1, y) * 4 + 0),
                np.where(x == sx, -1, tile(x + 1, y) * 4 + 1),
                np.where(y == sy, xpar, tile(x, y - 1) * 4 + 2),
                np.where(y == sy, xpar, tile(x, y + 1) * 4 + 3),
            ],
        )
