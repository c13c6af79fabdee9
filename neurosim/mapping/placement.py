"""Placement: logical core -> physical core (and so its tile on the mesh).

A placement is a function ``f(n_logical, hw, **options) -> np.ndarray`` giving the physical core
of every logical core (distinct, all < ``hw.n_cores``). Those that need the traffic between the
logical cores also take ``net``, ``logical`` (the logical core of every neuron) and ``rates``,
which :func:`neurosim.mapping.registry.map_network` passes to the functions that accept them.

``row-major``
    logical core k -> physical core k (:func:`neurosim.mapping.placement.place_row_major`).
``traffic-aware``
    local search minimising ``sum over core pairs (a, b) of T[a, b] x hops(a, b)``, where
    ``T[a, b]`` is the traffic from logical core a to b (messages, weighted by ``rates`` when given:
    :func:`neurosim.mapping.quality.core_traffic`) and hops the XY mesh distance of their tiles (0 in
    one tile); with ``cost="energy"`` or ``"latency"`` the distance is the router's
    per-message cost by direction instead. Simulated annealing over swaps (a logical core with
    another, or with a free physical core), seeded, started from row-major; it returns the best
    solution it visited, so it is never worse than row-major on this objective.
"""

from __future__ import annotations

import math

import numpy as np

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.network import Network
from neurosim.describe.topology import hop_matrix, hop_parts
from neurosim.errors import MappingError
from neurosim.mapping.quality import core_traffic


def place_row_major(n_logical: int, hw: HardwareSpec) -> np.ndarray:
    """Logical core k -> physical core k: tiles filled row-major, slots in order."""
    if n_logical > hw.n_cores:
        raise MappingError(
            f"the network needs {n_logical} cores, hardware {hw.name!r} has {hw.n_cores} "
            f"({hw.mesh.width}x{hw.mesh.height} tiles x {hw.mesh.cores_per_tile} cores)"
        )
    return np.arange(n_logical)


COSTS = ("hops", "energy", "latency")


def distance_matrix(hw: HardwareSpec, cost: str = "hops") -> np.ndarray:
    """What one message costs between every pair of physical cores: ``hops`` (XY mesh hops, 0
    within a tile), ``energy`` (pJ: east-west, north-south and chip-to-chip hop energies, or the
    tile-local delivery energy within a tile) or ``latency`` (cycles, likewise; contention-free)."""

    if cost not in COSTS:
        raise MappingError(f"traffic-aware: cost must be one of {COSTS}, got {cost!r}")
    if cost == "hops":
        return hop_matrix(hw).astype(np.float64)
    r = hw.router
    chips = getattr(hw, "chips", None)  # a grid of several chips: chip-to-chip link figures
    if cost == "energy":
        ew, ns, local, link = (
            r.energy_hop_ew_pj,
            r.energy_hop_ns_pj,
            r.energy_local_pj,
            getattr(chips, "link_energy_pj", None),
        )
    else:
        ew, ns, local, link = (
            r.latency_hop_ew_cycles,
            r.latency_hop_ns_cycles,
            r.latency_local_cycles,
            getattr(chips, "link_latency_cycles", None),
        )
    h_ew, h_ns, h_chip = hop_parts(hw)
    d = h_ew * float(ew) + h_ns * float(ns) + h_chip * float(link or 0.0)
    tile = np.arange(hw.n_cores) // hw.mesh.cores_per_tile
    d[tile[:, None] == tile[None, :]] = float(local)
    return d


def placement_cost(traffic: np.ndarray, physical: np.ndarray, hw: HardwareSpec, cost: str = "hops") -> float:
    """``sum T[a, b] x d(physical[a], physical[b])`` of logical traffic ``T`` (k x k), with ``d``
    from :func:`distance_matrix` (by default mesh hops)."""
    d = distance_matrix(hw, cost)[np.ix_(physical, physical)]
    return float((traffic * d).sum())


def traffic_aware(
    n_logical: int,
    hw: HardwareSpec,
    *,
    net: Network,
    logical: np.ndarray,
    rates: np.ndarray | None = None,
    seed: int = 0,
    cost: str = "hops",
    iterations: int | None = None,
    t_start: float | None = None,
) -> np.ndarray:
    """Simulated annealing over swaps, from row-major, keeping the best placement seen.

    ``cost`` is what a message costs between two cores (:func:`distance_matrix`): ``hops``
    (default: the mesh distance), or the hardware's per-direction ``energy`` or ``latency``
    (with them, within-tile delivery has its own cost and north-south hops may cost more than
    east-west ones). ``iterations`` defaults to ``200 x n_logical`` (at least 2,000, at most
    50,000); the temperature falls geometrically from ``t_start`` (default: the mean cost
    change of random moves) to a thousandth of it."""

    start = place_row_major(n_logical, hw)
    if n_logical <= 1 or hw.n_tiles <= 1:
        return start
    if iterations is None:
        iterations = min(max(200 * n_logical, 2000), 50_000)
    if iterations < 0:
        raise MappingError(f"traffic-aware: iterations must be >= 0, got {iterations}")
    t = core_traffic(net, np.asarray(logical, np.int64), n_logical, rates)
    s = t + t.T
    np.fill_diagonal(s, 0.0)
    d = distance_matrix(hw, cost)
    if not s.any():
        return start
    tile = np.arange(hw.n_cores) // hw.mesh.cores_per_tile
    n_phys = hw.n_cores
    pos = start.copy()
    owner = np.full(n_phys, -1, np.int64)
    owner[pos] = np.arange(n_logical)
    current = 0.5 * float((s * d[np.ix_(pos, pos)]).sum())
    best_cost, best = current, pos.copy()
    rng = np.random.default_rng(seed)
    tol = 1e-9 * max(float(s.sum()), 1.0)

    def delta(a: int, q: int) -> float:
        p, b = int(pos[a]), int(owner[q])
        diff = d[q, pos] - d[p, pos]  # change of distance to every logical core
        if b < 0:
            diff[a] = 0.0
            return float(s[a] @ diff)
        diff[a] = diff[b] = 0.0
        return float((s[a] - s[b]) @ diff)

    if t_start is None:
        samples = [abs(delta(int(rng.integers(n_logical)), int(rng.integers(n_phys)))) for _ in range(64)]
        nz = [x for x in samples if x > tol]
        t_start = float(np.mean(nz)) if nz else 1.0
    t_end = t_start * 1e-3
    cool = (t_end / t_start) ** (1.0 / max(iterations, 1))
    temp = t_start
    for _ in range(iterations):
        a = int(rng.integers(n_logical))
        q = int(rng.integers(n_phys))
        temp *= cool
        if tile[q] == tile[pos[a]]:
            continue  # within a tile nothing changes
        dc = delta(a, q)
        if dc <= 0 or rng.random() < math.exp(-dc / temp):
            p, b = int(pos[a]), int(owner[q])
            pos[a], owner[q] = q, a
            owner[p] = b
            if b >= 0:
                pos[b] = p
            current += dc
            if current < best_cost - tol:
                best_cost, best = current, pos.copy()
    # guard against drift of the running sum: keep row-major unless the best is truly better
    if placement_cost(t, best, hw, cost) > placement_cost(t, start, hw, cost):
        return start
    return best
