"""Mesh geometry shared by the mapping tools, the simulated NoC and the figures: link directions
(``DIRS``: the link leaving a tile towards E, W, S, N), hop kinds, the size of the global tile grid
and the XY (dimension-order) hop counts between cores. Pure functions of a hardware description."""

from __future__ import annotations

import numpy as np

from neurosim.describe.hardware import HardwareSpec

DIRS = ("E", "W", "S", "N")
STEP = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (dx, dy) of each direction of DIRS; y grows southwards
KIND_EW, KIND_NS, KIND_CHIP = 0, 1, 2


def grid_size(hw) -> tuple[int, int]:
    """(width, height) of the global tile grid (all chips); a bare mesh when there is no grid."""
    return getattr(hw, "grid_width", hw.mesh.width), getattr(hw, "grid_height", hw.mesh.height)


def pair_hops(hw: HardwareSpec, a, b) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(east-west, north-south, chip-to-chip) hops of the XY route from physical core ``a`` to
    ``b`` (arrays, broadcast against each other), as the simulator counts them: on a grid of
    several chips a hop that crosses a chip boundary is a chip-link hop; all zero within a tile."""
    xa, ya = (np.asarray(v, np.int64) for v in hw.tile_xy(np.asarray(a)))  # global mesh
    xb, yb = (np.asarray(v, np.int64) for v in hw.tile_xy(np.asarray(b)))
    dx, dy = np.abs(xa - xb), np.abs(ya - yb)
    cx = np.abs(xa // hw.mesh.width - xb // hw.mesh.width)
    cy = np.abs(ya // hw.mesh.height - yb // hw.mesh.height)
    return dx - cx, dy - cy, cx + cy


def hop_parts(hw: HardwareSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`pair_hops` between every pair of physical cores (``n_cores`` x ``n_cores``)."""
    cores = np.arange(hw.n_cores)
    return pair_hops(hw, cores[:, None], cores[None, :])


def hop_matrix(hw: HardwareSpec) -> np.ndarray:
    """Mesh hops (all kinds, XY routing) between every pair of physical cores; 0 within a tile."""
    ew, ns, chip = hop_parts(hw)
    return (ew + ns + chip).astype(np.int64)
