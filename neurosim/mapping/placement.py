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
    swaps = _Swaps(s, d, start, hw.n_cores)
    rng = np.random.default_rng(seed)
    tol = 1e-9 * max(float(s.sum()), 1.0)
    if t_start is None:
        t_start = _mean_move_cost(swaps, rng, tol)
    tile = np.arange(hw.n_cores) // hw.mesh.cores_per_tile
    best = _anneal(swaps, tile, iterations, t_start, rng, tol)
    # guard against drift of the running sum: keep row-major unless the best is truly better
    if placement_cost(t, best, hw, cost) > placement_cost(t, start, hw, cost):
        return start
    return best


class _Swaps:
    """A placement under local search: ``pos`` (logical -> physical core), ``owner`` (physical ->
    logical core, -1 when free) and its cost ``current`` under the symmetric traffic ``s`` and the
    distances ``d``, kept up to date move by move."""

    def __init__(self, s: np.ndarray, d: np.ndarray, start: np.ndarray, n_phys: int):
        self.s, self.d = s, d
        self.n_logical, self.n_phys = start.size, n_phys
        self.pos = start.copy()
        self.owner = np.full(n_phys, -1, np.int64)
        self.owner[self.pos] = np.arange(start.size)
        self.current = 0.5 * float((s * d[np.ix_(self.pos, self.pos)]).sum())

    def delta(self, a: int, q: int) -> float:
        """The cost change of moving logical core ``a`` to physical core ``q`` (swapping with its owner)."""
        p, b = int(self.pos[a]), int(self.owner[q])
        diff = self.d[q, self.pos] - self.d[p, self.pos]  # change of distance to every logical core
        if b < 0:
            diff[a] = 0.0
            return float(self.s[a] @ diff)
        diff[a] = diff[b] = 0.0
        return float((self.s[a] - self.s[b]) @ diff)

    def move(self, a: int, q: int, dc: float) -> None:
        """Move logical core ``a`` to physical core ``q`` (its owner, if any, to ``a``'s place);
        ``dc`` is the move's :meth:`delta`."""
        p, b = int(self.pos[a]), int(self.owner[q])
        self.pos[a], self.owner[q] = q, a
        self.owner[p] = b
        if b >= 0:
            self.pos[b] = p
        self.current += dc


def _mean_move_cost(swaps: _Swaps, rng: np.random.Generator, tol: float) -> float:
    """The default start temperature: the mean non-zero cost change of 64 random moves (1 if none)."""
    samples = [abs(swaps.delta(int(rng.integers(swaps.n_logical)), int(rng.integers(swaps.n_phys)))) for _ in range(64)]
    nz = [x for x in samples if x > tol]
    return float(np.mean(nz)) if nz else 1.0


def _anneal(
    swaps: _Swaps, tile: np.ndarray, iterations: int, t_start: float, rng: np.random.Generator, tol: float
) -> np.ndarray:
    """Simulated annealing over random moves, the temperature falling geometrically from
    ``t_start`` to a thousandth of it; returns the best placement visited."""
    best_cost, best = swaps.current, swaps.pos.copy()
    t_end = t_start * 1e-3
    cool = (t_end / t_start) ** (1.0 / max(iterations, 1))
    temp = t_start
    for _ in range(iterations):
        a = int(rng.integers(swaps.n_logical))
        q = int(rng.integers(swaps.n_phys))
        temp *= cool
        if tile[q] == tile[swaps.pos[a]]:
            continue  # within a tile nothing changes
        dc = swaps.delta(a, q)
        if dc <= 0 or rng.random() < math.exp(-dc / temp):
            swaps.move(a, q, dc)
            if swaps.current < best_cost - tol:
                best_cost, best = swaps.current, swaps.pos.copy()
    return best
