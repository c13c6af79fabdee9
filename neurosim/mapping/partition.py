"""The ``partition`` strategy: a k-way partition of the neuron graph (METIS through ``pymetis``, or
recursive Kernighan-Lin bisection with networkx), a repair that brings every core within capacity,
and a greedy move-based refinement of the exact cut traffic under capacity (see
:mod:`neurosim.mapping.strategies` for the objective and :mod:`neurosim.mapping.metis` for the
graph)."""

from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import scipy.sparse as sp
from networkx.algorithms.community import kernighan_lin_bisection

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.network import Network
from neurosim.errors import MappingError
from neurosim.mapping.capacity import capacities, check_fan_in, compact, n_cores_option
from neurosim.mapping.metis import INSTALL, metis_available, metis_parts, neuron_graph
from neurosim.mapping.quality import present_matrix, traffic_weights
from neurosim.mapping.strategies import sequential

METHODS = ("auto", "metis", "kl", "greedy")
#: METIS runs this many times (seeds ``seed * METIS_TRIES + i``); the split with the least cut
#: traffic (then messages) is kept, since METIS minimises the graph's edge cut, not the traffic
METIS_TRIES = 4
#: above this many synapses ``method="kl"`` warns that it takes minutes (networkx, pure Python)
KL_SLOW_SYNAPSES = 200_000

# ---- traffic ------------------------------------------------------------------------------------


def traffic(
    net: Network, core_of: np.ndarray, rates: np.ndarray | None = None, n_cores: int | None = None
) -> dict[str, float]:
    """``messages`` and ``cut_traffic`` of a neuron -> core assignment (defined in
    :mod:`neurosim.mapping.strategies`)."""
    w = traffic_weights(net, rates)
    k = int(n_cores if n_cores is not None else (core_of.max() + 1 if core_of.size else 0))
    present = present_matrix(net.synapse_pattern(), core_of, k)
    per = np.diff(present.indptr)
    return {"messages": float(w @ per), "cut_traffic": float(w @ (per - _own(present, core_of)))}


def _own(present: sp.csr_array, core_of: np.ndarray) -> np.ndarray:
    """1 where neuron i has a target on its own core, else 0."""
    rows = np.repeat(np.arange(core_of.size), np.diff(present.indptr))
    own = np.zeros(core_of.size, np.int64)
    own[rows[present.indices == core_of[rows]]] = 1
    return own


# ---- single-neuron moves --------------------------------------------------------------------------


class _Moves:
    """Exact bookkeeping of an assignment for single-neuron moves: targets of every neuron on
    every core, each core's neurons, synapses and fan-in axons, and the change of cut traffic and
    messages when one neuron moves to each other core."""

    def __init__(self, refiner: _Refiner, core_of: np.ndarray, k: int):
        self.r = refiner
        self.core_of = np.asarray(core_of, np.int64).copy()
        self.cnt = present_matrix(refiner.pattern, self.core_of, k).toarray().astype(np.int32)  # n x k
        self.n_load = np.bincount(self.core_of, minlength=k)
        self.syn = np.bincount(self.core_of, weights=refiner.fan_in, minlength=k).astype(np.int64)
        self.ax = (self.cnt > 0).sum(axis=0)

    @property
    def k(self) -> int:
        return self.cnt.shape[1]

    def add_core(self) -> None:
        """Open one more (empty) core."""
        self.cnt = np.hstack([self.cnt, np.zeros((self.cnt.shape[0], 1), np.int32)])
        self.n_load, self.syn, self.ax = (np.append(x, 0) for x in (self.n_load, self.syn, self.ax))

    def sources(self, v: int) -> np.ndarray:
        csc = self.r.csc
        return csc.indices[csc.indptr[v] : csc.indptr[v + 1]]

    def deltas(self, v: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For every core b: the change of cut traffic and of messages if ``v`` moves to b, and
        whether b can take ``v`` within capacity (False for v's own core)."""
        r, cnt, core_of = self.r, self.cnt, self.core_of
        w, a, cores = r.w, int(core_of[v]), np.arange(self.k)
        src = self.sources(v)
        others = src[src != v]
        ws, cs = w[others], cnt[others]  # |S| x k
        zero = cs == 0
        lose = cs[:, a] == 1  # a no longer holds a target of u
        # messages: -w_u when a is lost, +w_u when b was not yet a destination
        d_msg = zero.T.astype(np.float64) @ ws - float(ws[lose].sum())
        own_u = core_of[others]
        d_cut = (zero & (own_u[:, None] != cores[None, :])).T.astype(np.float64) @ ws - float(
            ws[lose & (own_u != a)].sum()
        )
        # v's own hyperedge: its core moves from a to b
        cv = cnt[v]
        if r.self_loop[v]:
            dm = -float(cv[a] == 1) + (cv == 0).astype(np.float64)
            d_msg, d_cut = d_msg + w[v] * dm, d_cut + w[v] * dm
        else:
            d_cut = d_cut + w[v] * (float(cv[a] > 0) - (cv > 0))
        new_ax = zero.sum(axis=0) + (r.self_loop[v] & (cv == 0))
        ok = (self.n_load < r.cap_n) & (self.syn + r.fan_in[v] <= r.cap_syn) & (self.ax + new_ax <= r.cap_ax)
        ok[a] = False
        return d_cut, d_msg, ok

    def move(self, v: int, b: int) -> None:
        """Move ``v`` to core ``b``: its sources lose a target on its core and gain one on b."""
        a, src, cnt = int(self.core_of[v]), self.sources(v), self.cnt
        self.ax[a] -= int((cnt[src, a] == 1).sum())
        self.ax[b] += int((cnt[src, b] == 0).sum())
        cnt[src, a] -= 1
        cnt[src, b] += 1
        self.n_load[a] -= 1
        self.n_load[b] += 1
        self.syn[a] -= self.r.fan_in[v]
        self.syn[b] += self.r.fan_in[v]
        self.core_of[v] = b

    def over(self) -> np.ndarray:
        """Per core: (neurons, synapses, fan-in axons) over capacity, k x 3 booleans."""
        r = self.r
        return np.column_stack([self.n_load > r.cap_n, self.syn > r.cap_syn, self.ax > r.cap_ax])

    def relief(self, v: int, over: np.ndarray) -> int:
        """How many of its core's over-capacity resources moving ``v`` out lowers."""
        a = int(self.core_of[v])
        lowers = (True, self.r.fan_in[v] > 0, bool((self.cnt[self.sources(v), a] == 1).any()))
        return int(sum(bool(o) and x for o, x in zip(over, lowers)))


# ---- refinement and repair -----------------------------------------------------------------------


class _Refiner:
    """Greedy move-based refinement of a feasible assignment on the exact figures (cut traffic,
    messages), never leaving capacity: a move is taken when neither figure grows and one
    shrinks (the one with the least cut traffic, then messages). Every move strictly improves
    their sum, so it terminates; it stops after ``passes`` sweeps over the neurons or a sweep
    without a move. :meth:`repair` first brings an assignment within capacity."""

    def __init__(self, net: Network, hw: HardwareSpec, w: np.ndarray, neurons_per_core: int | None):
        self.cap_n, self.cap_ax, self.cap_syn = capacities(hw, neurons_per_core)
        check_fan_in(net, hw, self.cap_ax, self.cap_syn)
        self.max_cores, self.hw_name = hw.n_cores, hw.name
        self.pattern = net.synapse_pattern()
        self.csc = self.pattern.tocsc()
        self.self_loop = self.pattern.diagonal() > 0
        self.fan_in = net.fan_in
        self.w = w
        self.tol = 1e-9 * max(float(w.sum()), 1.0)

    def objective(self, core_of: np.ndarray, k: int) -> tuple[float, float]:
        cnt = present_matrix(self.pattern, core_of, k)
        per = np.diff(cnt.indptr)
        return float(self.w @ (per - _own(cnt, core_of))), float(self.w @ per)

    def refine(self, core_of: np.ndarray, k: int, rng: np.random.Generator, passes: int) -> np.ndarray:
        state = _Moves(self, core_of, k)
        tol = self.tol
        for _ in range(passes):
            moved = 0
            for v in rng.permutation(core_of.size).tolist():
                d_cut, d_msg, ok = state.deltas(v)
                # Pareto moves: neither figure grows, one shrinks
                better = ok & (d_cut <= tol) & (d_msg <= tol) & ((d_cut < -tol) | (d_msg < -tol))
                if not better.any():
                    continue
                cand = np.flatnonzero(better)
                state.move(v, int(cand[np.lexsort((cand, d_msg[cand], d_cut[cand]))[0]]))
                moved += 1
            if not moved:
                break
        return state.core_of

    def repair(self, core_of: np.ndarray, k: int) -> tuple[np.ndarray, int]:
        """Bring every core within capacity (neurons, synapses, fan-in axons): while a core is
        over, move out of it the neuron whose move relieves most of its over-capacity resources
        at the least increase of cut traffic (then messages) to a core with room, opening a new
        core only when none has room. Each move takes a neuron off an over-full core onto a core
        that stays within capacity, so it terminates. Returns the assignment and the moves made;
        raises :class:`MappingError` when the chip runs out of cores."""
        state, moves = _Moves(self, core_of, k), 0
        while (over := state.over()).any():
            a = int(np.flatnonzero(over.any(axis=1))[0])
            best: tuple | None = None
            for v in np.flatnonzero(state.core_of == a).tolist():
                d_cut, d_msg, ok = state.deltas(v)
                if not ok.any():
                    continue
                cand = np.flatnonzero(ok)
                b = int(cand[np.lexsort((cand, d_msg[cand], d_cut[cand]))[0]])
                key = (-state.relief(v, over[a]), float(d_cut[b]), float(d_msg[b]), v)
                if best is None or key < best[0]:
                    best = (key, v, b)
            if best is None:
                if state.k >= self.max_cores:
                    raise MappingError(
                        f"partition: core {a} is over capacity and no core of {self.hw_name!r} has room "
                        f"for its neurons (all {self.max_cores} cores in use)"
                    )
                state.add_core()
                continue
            state.move(best[1], best[2])
            moves += 1
        return state.core_of, moves


# ---- Kernighan-Lin ---------------------------------------------------------------------------------


def _match_halves(halves, n1: int) -> tuple[set, set]:
    """The two halves returned by a bisection, the one of ``n1`` nodes first: networkx does not
    return them in the order of the ``partition=`` split it was given (3.6 swaps them)."""
    a, b = (set(h) for h in halves)
    if len(a) != n1 and (len(b) == n1 or abs(len(b) - n1) < abs(len(a) - n1)):
        a, b = b, a
    return a, b


def _kl_parts(graph: sp.csr_array, k: int, seed: int, max_iter: int) -> np.ndarray:
    """Recursive Kernighan-Lin bisection of ``graph`` into ``k`` parts of near-equal size (each
    split starts from neuron order and gives each side nodes in proportion to its parts; KL's
    swaps keep the sizes). Each split works on a graph of its own nodes (networkx is several
    times slower on subgraph views)."""
    part = np.empty(graph.shape[0], np.int64)
    stack: list[tuple[np.ndarray, int, int]] = [(np.arange(graph.shape[0]), k, 0)]
    rng = np.random.default_rng(seed)
    while stack:
        nodes, parts, first = stack.pop()
        if parts == 1 or nodes.size <= 1:
            part[nodes] = first
            continue
        k1 = parts // 2
        n1 = int(round(nodes.size * k1 / parts))
        local = np.arange(nodes.size)
        a, b = set(local[:n1].tolist()), set(local[n1:].tolist())
        sub = sp.csr_array(graph[nodes][:, nodes])
        if 0 < n1 < nodes.size and sub.nnz:
            halves = kernighan_lin_bisection(
                nx.from_scipy_sparse_array(sub),
                partition=(a, b),
                max_iter=max_iter,
                weight="weight",
                seed=int(rng.integers(2**31)),
            )
            a, b = _match_halves(halves, n1)
        stack.append((nodes[sorted(b)], parts - k1, first + k1))
        stack.append((nodes[sorted(a)], k1, first))
    return part


# ---- the strategy ------------------------------------------------------------------------------------


def _start(method: str, net: Network, refiner: _Refiner, k: int, seed: int, kl_max_iter: int) -> np.ndarray:
    """The starting k-way split of ``method`` (before repair and refinement)."""
    if method == "metis":  # the best of METIS_TRIES seeds on the exact figures
        splits = [
            metis_parts(net, refiner.w, k, cap_n=refiner.cap_n, cap_syn=refiner.cap_syn, seed=seed * METIS_TRIES + i)
            for i in range(METIS_TRIES)
        ]
        return min(splits, key=lambda split: refiner.objective(split, k))
    if method == "kl":
        return _kl_parts(neuron_graph(net, refiner.w), k, seed, kl_max_iter)
    return np.arange(net.n_neurons, dtype=np.int64) * k // max(net.n_neurons, 1)  # greedy: neuron order


def _beats(refiner: _Refiner, a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Does (cut traffic, messages) ``a`` beat ``b``: no more messages, and less cut traffic
    (or as much, and fewer messages)?"""
    tol = refiner.tol
    return a[1] <= b[1] + tol and (a[0] < b[0] - tol or (a[0] <= b[0] + tol and a[1] < b[1] - tol))


def _figures(refiner: _Refiner, core_of: np.ndarray) -> dict:
    cut, msg = refiner.objective(core_of, int(core_of.max()) + 1)
    return {"cut_traffic": cut, "messages": msg, "cores": int(np.unique(core_of).size)}


def _method_candidate(
    used: str, net: Network, refiner: _Refiner, k: int, seed: int, passes: int, kl_max_iter: int
) -> tuple[np.ndarray, int]:
    """``used``'s k-way split, repaired to capacity and refined; and the repair's moves."""
    if used == "kl" and net.n_synapses > KL_SLOW_SYNAPSES:
        warnings.warn(
            f"partition: Kernighan-Lin (networkx) on {net.n_synapses:,} synapses takes minutes; "
            f"method='metis' takes seconds ({INSTALL})",
            stacklevel=3,
        )
    repaired, moves = refiner.repair(_start(used, net, refiner, k, seed, kl_max_iter), k)
    start = compact(repaired)
    return refiner.refine(start, int(start.max()) + 1, np.random.default_rng(seed), passes), moves


def partition(
    net: Network,
    hw: HardwareSpec,
    *,
    rates: np.ndarray | None = None,
    seed: int = 0,
    method: str = "auto",
    n_cores: int | str | None = None,
    passes: int = 8,
    kl_max_iter: int = 10,
    neurons_per_core: int | None = None,
) -> tuple[np.ndarray, dict]:
    """Minimise cut traffic (then messages) under capacity; see :mod:`neurosim.mapping.strategies`.
    With ``n_cores`` the net is spread over that many cores: at most ceil(neurons / n_cores)
    neurons per core. Returns the logical core of every neuron and how it was found: ``method``
    (``auto`` resolved), the ``chosen`` candidate, every candidate's ``cut_traffic``,
    ``messages`` and ``cores``, the repair's moves (``repair_moves``), the ``neurons_per_core``
    that ``n_cores`` set and, when the method's split could not be brought within capacity, why
    (``failed``)."""
    if method not in METHODS:
        raise MappingError(f"partition: method must be one of {list(METHODS)}, got {method!r}")
    if passes < 0:
        raise MappingError(f"partition: passes must be >= 0, got {passes}")
    if method == "metis" and not metis_available():
        raise MappingError(f"partition: method='metis' needs pymetis, which is not installed; {INSTALL}")
    used = ("metis" if metis_available() else "kl") if method == "auto" else method
    info: dict = {"method": used}
    if n_cores is not None:  # spread: at most ceil(neurons / n_cores) per core
        k = n_cores_option(n_cores, 0, hw)
        spread = max(-(-net.n_neurons // k), 1)
        neurons_per_core = info["neurons_per_core"] = min(neurons_per_core or spread, spread)
    refiner = _Refiner(net, hw, traffic_weights(net, rates), neurons_per_core)
    if net.n_neurons == 0:
        return np.zeros(0, np.int64), {**info, "chosen": used, "candidates": {}}
    if n_cores is not None:  # the method's split over the k cores, nothing to compare with
        found, info["repair_moves"] = _method_candidate(used, net, refiner, k, seed, passes, kl_max_iter)
        return compact(found), {**info, "chosen": used, "candidates": {used: _figures(refiner, found)}}
    base = sequential(net, hw, neurons_per_core=neurons_per_core)
    return _against_sequential(used, net, refiner, base, seed, passes, kl_max_iter, info)


def _against_sequential(
    used: str,
    net: Network,
    refiner: _Refiner,
    base: np.ndarray,
    seed: int,
    passes: int,
    kl_max_iter: int,
    info: dict,
) -> tuple[np.ndarray, dict]:
    """The method's result on as many cores as ``sequential`` uses, or ``sequential`` (refined
    unless the method's result already beats it as it is), whichever wins (:func:`_beats`)."""
    k = int(base.max()) + 1
    figures: dict[str, dict] = {}
    found = None
    if used != "greedy":
        try:
            found, info["repair_moves"] = _method_candidate(used, net, refiner, k, seed, passes, kl_max_iter)
        except MappingError as exc:  # the chip has no room for the repair: sequential it is, said so
            info["failed"] = str(exc)
        else:
            figures[used] = _figures(refiner, found)
    name = "sequential" if used != "greedy" else "greedy"
    for refined in (False, True):
        if refined:
            base = refiner.refine(base, k, np.random.default_rng(seed), passes)
        fig = {**_figures(refiner, base), "refined": refined}
        if found is not None and _beats(refiner, _pair(figures[used]), _pair(fig)):
            return compact(found), {**info, "chosen": used, "candidates": {name: fig, **figures}}
    return compact(base), {**info, "chosen": name, "candidates": {name: fig, **figures}}


def _pair(fig: dict) -> tuple[float, float]:
    return fig["cut_traffic"], fig["messages"]
