"""The ``partition`` strategy: recursive Kernighan-Lin bisection of the neuron graph (networkx)
and a greedy move-based refinement of the exact cut traffic under capacity (see
:mod:`neurosim.mapping.strategies` for the objective)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import scipy.sparse as sp
from networkx.algorithms.community import kernighan_lin_bisection

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import Mapping, check_mapping
from neurosim.describe.network import Network
from neurosim.errors import MappingError
from neurosim.mapping.capacity import capacities, compact
from neurosim.mapping.quality import present_matrix, traffic_weights
from neurosim.mapping.strategies import sequential

# ---- partition ----------------------------------------------------------------------------------


def traffic(
    net: Network, core_of: np.ndarray, rates: np.ndarray | None = None, n_cores: int | None = None
) -> dict[str, float]:
    """``messages`` and ``cut_traffic`` of a neuron -> core assignment (see the module docstring)."""
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


class _Refiner:
    """Greedy move-based refinement of a feasible assignment on the exact figures (cut traffic,
    messages), never leaving capacity: a move is taken when neither figure grows and one
    shrinks (the one with the least cut traffic, then messages). Every move strictly improves
    their sum, so it terminates; it stops after ``passes`` sweeps over the neurons or a sweep
    without a move."""

    def __init__(self, net: Network, hw: HardwareSpec, w: np.ndarray, neurons_per_core: int | None):
        self.cap_n, self.cap_ax, self.cap_syn = capacities(hw, neurons_per_core)
        self.pattern = net.synapse_pattern()
        self.csc = self.pattern.tocsc()
        self.fan_in = net.fan_in
        self.w = w
        self.tol = 1e-9 * max(float(w.sum()), 1.0)

    def objective(self, core_of: np.ndarray, k: int) -> tuple[float, float]:
        cnt = present_matrix(self.pattern, core_of, k)
        per = np.diff(cnt.indptr)
        return float(self.w @ (per - _own(cnt, core_of))), float(self.w @ per)

    def refine(self, core_of: np.ndarray, k: int, rng: np.random.Generator, passes: int) -> np.ndarray:
        core_of = core_of.copy()
        n = core_of.size
        cnt = present_matrix(self.pattern, core_of, k).toarray().astype(np.int32)  # n x k
        n_load = np.bincount(core_of, minlength=k)
        syn = np.bincount(core_of, weights=self.fan_in, minlength=k).astype(np.int64)
        ax = (cnt > 0).sum(axis=0)
        w, tol, cores = self.w, self.tol, np.arange(k)
        self_loop = self.pattern.diagonal() > 0
        for _ in range(passes):
            moved = 0
            for v in rng.permutation(n).tolist():
                a = int(core_of[v])
                src = self.csc.indices[self.csc.indptr[v] : self.csc.indptr[v + 1]]
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
                if self_loop[v]:
                    dm = -float(cv[a] == 1) + (cv == 0).astype(np.float64)
                    d_msg, d_cut = d_msg + w[v] * dm, d_cut + w[v] * dm
                else:
                    d_cut = d_cut + w[v] * (float(cv[a] > 0) - (cv > 0))
                new_ax = zero.sum(axis=0) + (self_loop[v] & (cv == 0))
                ok = (n_load < self.cap_n) & (syn + self.fan_in[v] <= self.cap_syn) & (ax + new_ax <= self.cap_ax)
                ok[a] = False
                # Pareto moves: neither figure grows, one shrinks
                better = ok & (d_cut <= tol) & (d_msg <= tol) & ((d_cut < -tol) | (d_msg < -tol))
                if not better.any():
                    continue
                cand = np.flatnonzero(better)
                b = int(cand[np.lexsort((cand, d_msg[cand], d_cut[cand]))[0]])
                # apply: v's sources lose a target on a and gain one on b
                ax[a] -= int((cnt[src, a] == 1).sum())
                ax[b] += int((cnt[src, b] == 0).sum())
                cnt[src, a] -= 1
                cnt[src, b] += 1
                n_load[a] -= 1
                n_load[b] += 1
                syn[a] -= self.fan_in[v]
                syn[b] += self.fan_in[v]
                core_of[v] = b
                moved += 1
            if not moved:
                break
        return core_of


def _kl_parts(net: Network, w: np.ndarray, k: int, seed: int, max_iter: int) -> np.ndarray:
    """Recursive Kernighan-Lin bisection into ``k`` parts of near-equal size (part sizes are set
    by the initial split, in neuron order, which KL's swaps preserve)."""

    coo = net.synapse_pattern().tocoo()
    keep = coo.row != coo.col
    r, c = coo.row[keep], coo.col[keep]
    g = nx.Graph()
    g.add_nodes_from(range(net.n_neurons))
    weights: dict[tuple[int, int], float] = {}
    for a, b, x in zip(r.tolist(), c.tolist(), w[r].tolist()):
        e = (a, b) if a < b else (b, a)
        weights[e] = weights.get(e, 0.0) + x
    g.add_weighted_edges_from((a, b, x) for (a, b), x in weights.items())
    part = np.empty(net.n_neurons, np.int64)
    stack = [(sorted(g.nodes), k, 0)]
    rng = np.random.default_rng(seed)
    while stack:
        nodes, parts, first = stack.pop()
        if parts == 1 or len(nodes) <= 1:
            part[nodes] = first
            continue
        k1 = parts // 2
        n1 = int(round(len(nodes) * k1 / parts))
        sub = g.subgraph(nodes)
        init = (set(nodes[:n1]), set(nodes[n1:]))
        if sub.number_of_edges():
            a, b = kernighan_lin_bisection(
                sub, partition=init, max_iter=max_iter, weight="weight", seed=int(rng.integers(2**31))
            )
        else:
            a, b = init
        stack.append((sorted(b), parts - k1, first + k1))
        stack.append((sorted(a), k1, first))
    return part


def partition(
    net: Network,
    hw: HardwareSpec,
    *,
    rates: np.ndarray | None = None,
    seed: int = 0,
    method: str = "kl",
    passes: int = 8,
    kl_max_iter: int = 10,
    kl_max_synapses: int = 200_000,
    neurons_per_core: int | None = None,
) -> np.ndarray:
    """Minimise cut traffic (then messages) under capacity; see the module docstring."""

    if method not in ("kl", "greedy"):
        raise MappingError(f"partition: method must be 'kl' or 'greedy', got {method!r}")
    if passes < 0:
        raise MappingError(f"partition: passes must be >= 0, got {passes}")
    w = traffic_weights(net, rates)
    rng = np.random.default_rng(seed)
    refiner = _Refiner(net, hw, w, neurons_per_core)
    base = sequential(net, hw, neurons_per_core=neurons_per_core)
    if base.size == 0:
        return base
    k = int(base.max()) + 1
    best = compact(refiner.refine(base, k, rng, passes))
    best_obj = refiner.objective(best, int(best.max()) + 1)
    if method == "kl" and net.n_synapses <= kl_max_synapses and k > 1:
        cap_n = capacities(hw, neurons_per_core)[0]
        kl = _kl_parts(net, w, k, seed, kl_max_iter)
        feasible = np.bincount(kl, minlength=k).max() <= cap_n
        if feasible:
            try:  # the capacity check on the (physical = logical) numbering
                check_mapping(net, hw, Mapping(kl))
            except MappingError:
                feasible = False
        if feasible:
            cand = compact(refiner.refine(kl, k, rng, passes))
            obj = refiner.objective(cand, int(cand.max()) + 1)
            tol = refiner.tol
            if obj[1] <= best_obj[1] + tol and (
                obj[0] < best_obj[0] - tol or (obj[0] <= best_obj[0] + tol and obj[1] < best_obj[1] - tol)
            ):
                best, best_obj = cand, obj
    return best
