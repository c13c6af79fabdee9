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


def hop_parts(hw: HardwareSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(east-west, north-south, chip-to-chip) hops of the XY route between every pair of
    physical cores, as the simulator counts them: on a grid of several chips a hop that crosses
    a chip boundary is a chip-link hop; all zero within a tile."""
    x, y = (np.asarray(a, np.int64) for a in hw.tile_xy(np.arange(hw.n_cores)))  # global mesh
    dx, dy = np.abs(x[:, None] - x[None, :]), np.abs(y[:, None] - y[None, :])
    cx = np.abs(x[:, None] // hw.mesh.width - x[None, :] // hw.mesh.width)
    cy = np.abs(y[:, None] // hw.mesh.height - y[None, :] // hw.mesh.height)
    return dx - cx, dy - cy, cx + cy


def hop_matrix(hw: HardwareSpec) -> np.ndarray:
    """Mesh hops (all kinds, XY routing) between every pair of physical cores; 0 within a tile."""
    ew, ns, chip = hop_parts(hw)
    return (ew + ns + chip).astype(np.int64)
