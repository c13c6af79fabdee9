"""Dynamic energy per tile of the mesh, from the per-core counters and the per-link hop counts."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from neurosim.describe.cost import CORE_OPS, UNIT_PREFIX, energy_per_op_pj, unit_extra_pj
from neurosim.describe.topology import grid_size
from neurosim.sim.noc.mesh import Mesh


# ---- energy per tile -------------------------------------------------------------------------------
def tile_energy_j(
    hw,
    core_ops: Mapping[str, np.ndarray],
    link_messages: np.ndarray | None = None,
    tile_local: np.ndarray | None = None,
    per_inference: float = 1.0,
) -> np.ndarray:
    """Dynamic energy (J) per tile (row-major over the global mesh): the operations of its cores
    (``core_ops``: op -> per-core counts, e.g. ``RunResult.core``), plus its router's: every
    message on a link *leaving* the tile (``link_messages``, per link, e.g.
    ``Mesh.link_stats()["messages"]``, at that link's hop or chip-link energy) and its local
    deliveries (``tile_local``, e.g. ``Mesh.tile_stats()["local"]``). Divided by
    ``per_inference`` (pass the number of samples for a per-inference figure). Static power and
    barriers are not attributed to tiles."""

    W, H = grid_size(hw)
    n_tiles, cpt = W * H, hw.mesh.cores_per_tile
    per = energy_per_op_pj(hw)
    core_pj = np.zeros(n_tiles * cpt)
    for op in CORE_OPS:
        if op in core_ops:
            a = np.asarray(core_ops[op], float)
            core_pj[: a.size] += a * per[op]
    for op, counts in core_ops.items():  # a synapse unit's synops at its own figure (core.synapse_units)
        if op.startswith(UNIT_PREFIX):
            a = np.asarray(counts, float)
            core_pj[: a.size] += a * unit_extra_pj({op: 1.0}, hw)
    tile_pj = core_pj.reshape(n_tiles, cpt).sum(axis=1)
    if link_messages is not None:
        mesh = Mesh(hw)
        tile_pj += (np.asarray(link_messages, float) * mesh.link_energy_pj).reshape(n_tiles, 4).sum(axis=1)
    if tile_local is not None:
        tile_pj += np.asarray(tile_local, float) * per["local"]
    return tile_pj * 1e-12 / per_inference
