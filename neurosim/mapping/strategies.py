r"""Mapping strategies: which neurons share a core (neuron -> logical core). ``partition`` is in
:mod:`neurosim.mapping.partition`, the quality figures in :mod:`neurosim.mapping.quality`.

Every strategy is a pure function ``f(net, hw, **options)`` returning the logical core (0..k-1,
every one used) of every global neuron as an array, or that array and a plain dict saying how it
was found (``partition``), which :func:`~neurosim.mapping.registry.map_network` records in
``Mapping.meta["strategy_result"]``; :func:`neurosim.mapping.registry.map_network` places
the logical cores on the mesh (:mod:`neurosim.mapping.placement`) and checks capacity. Strategies never
touch the simulator: spike rates, when used, are measured beforehand
(:func:`neurosim.analysis.profiling.profile_rates`) and
passed in as an array.

Strategies
----------
``sequential``
    layer by layer, in order, each core filled to capacity .
``balanced``
    even synaptic work per core: neurons are dealt, population by population and heaviest first,
    to the core with the least work of that population (then the least work overall), so every
    layer's work (and with it the duration of its phase in ``sync`` mode) is spread evenly. The
    work of a neuron is its fan-in synapses, or with ``rates`` the synaptic operations it
    receives per inference (``sum`` of its sources' rates). Uses as many cores as ``sequential``
    unless ``n_cores`` says otherwise (an int, or ``"all"``).
``partition``
    graph partitioning that minimises the *cut traffic* (below) without sending more
    ``messages``. ``method`` picks the k-way split of the neuron graph (edges = synapses, each
    source's traffic spread over its targets; :mod:`neurosim.mapping.metis`): ``"metis"``
    (``pymetis``, the ``metis`` extra; refused with the install command when missing),
    ``"kl"`` (recursive Kernighan-Lin bisection, networkx; warns above
    ``KL_SLOW_SYNAPSES`` synapses that it takes minutes), ``"auto"`` (the default: METIS when
    ``pymetis`` imports, else KL) or ``"greedy"`` (no split). ``k`` is the number of cores
    ``sequential`` uses, or ``n_cores`` (an int, or ``"all"``), which also caps each core at
    ceil(neurons / ``n_cores``) neurons, so the net is spread over them. The split is balanced only
    approximately, so a repair moves neurons out of every core over capacity (neurons, fan-in
    axons, synapses) - the move that relieves most of its overload at the least increase of cut
    traffic first - to cores with room, opening a core only when none has room; then a greedy
    move-based refinement on the exact (hypergraph) figures under capacity moves one neuron at a
    time to another core when neither figure grows and one shrinks (weighted by ``rates`` when
    given, else one spike per neuron; ``passes`` bounds its sweeps). Without ``n_cores`` the
    result is compared with ``sequential`` (refined unless the method's result already beats it
    as it is) and the one with less cut traffic, among those sending no more messages than
    ``sequential``, is used, so ``partition`` never cuts more traffic, nor sends more messages,
    than ``sequential``. Which was used, and every candidate's figures, are returned with the
    mapping (``Mapping.meta["strategy_result"]``, and the ``mapping`` block of ``summary.json``).
``random``
    each neuron, in a seeded random order, to a uniformly random core with room
    (``seed``; as many cores as ``sequential`` unless ``n_cores`` says otherwise, more if needed).

Traffic
-------
The router delivers unicast: a spike of neuron ``i`` costs one message per *distinct* core
holding at least one of its targets (``D(i)``); a target on ``i``'s own core still costs a
(core-local) message, as in :mod:`neurosim.sim.chip`. With ``w_i`` the traffic weight of neuron
``i`` (its spike rate, mean spikes per inference, when ``rates`` is given; else 1, i.e. every
neuron spiking once):

* ``messages``    = sum_i w_i |D(i)|                 (what the simulator sends)
* ``cut_traffic`` = sum_i w_i |D(i) \ {core(i)}|      (messages that leave their source core)

``cut_traffic`` is the connectivity-minus-one metric of the hypergraph whose hyperedges are
``{i} + targets(i)``: ``|D(i) + {core(i)}| - 1``. In the simulator a message to the sender's own
core still costs a message (``spike_out``, ``message_in`` and a tile-local delivery), so energy
follows ``messages``; ``cut_traffic`` is what real chips with a core-local short cut save, and
what the mesh sees. Placement-dependent figures (messages crossing tiles, traffic-weighted hops) are
in :func:`mapping_quality`.
"""

from __future__ import annotations

import numpy as np

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.network import Network
from neurosim.errors import MappingError
from neurosim.mapping.capacity import Packer, compact, n_cores_option
from neurosim.mapping.fill import fill_from_rows, rows_apply, sequential_fill
from neurosim.mapping.quality import traffic_weights

# ---- balanced -----------------------------------------------------------------------------------


def balanced(
    net: Network,
    hw: HardwareSpec,
    *,
    rates: np.ndarray | None = None,
    n_cores: int | str | None = None,
    neurons_per_core: int | None = None,
) -> np.ndarray:
    """Even synaptic work per core, population by population (see the module docstring)."""
    w = traffic_weights(net, rates)
    pattern = net.synapse_pattern()
    work = pattern.T @ w if rates is not None else net.fan_in.astype(np.float64)
    packer = Packer(net, hw, neurons_per_core)
    k = n_cores_option(n_cores, n_sequential(net, hw, neurons_per_core), hw)
    n_pop = len(net.populations)
    pop_work = np.zeros((hw.n_cores, n_pop))
    total = np.zeros(hw.n_cores)
    core_of = np.empty(net.n_neurons, np.int64)
    for p, pop in enumerate(net.populations):
        sl = net.span(pop.name)
        idx = np.arange(sl.start, sl.stop)
        for j in idx[np.argsort(-work[sl], kind="stable")].tolist():
            ok, k = packer.fits_or_grow(j, k, "balanced")
            cand = np.flatnonzero(ok)
            # least work of this population, then least work overall, then fewest neurons, then lowest id
            order = np.lexsort((cand, packer.n[cand], total[cand], pop_work[cand, p]))
            c = int(cand[order[0]])
            packer.add(j, c)
            core_of[j] = c
            pop_work[c, p] += work[j]
            total[c] += work[j]
    return compact(core_of)


# ---- random -------------------------------------------------------------------------------------


def random_mapping(
    net: Network,
    hw: HardwareSpec,
    *,
    seed: int = 0,
    n_cores: int | str | None = None,
    neurons_per_core: int | None = None,
) -> np.ndarray:
    """Each neuron, in a seeded random order, to a uniformly random core with room."""
    rng = np.random.default_rng(seed)
    packer = Packer(net, hw, neurons_per_core)
    k = n_cores_option(n_cores, n_sequential(net, hw, neurons_per_core), hw)
    core_of = np.empty(net.n_neurons, np.int64)
    for j in rng.permutation(net.n_neurons).tolist():
        ok, k = packer.fits_or_grow(j, k, "random")
        c = int(rng.choice(np.flatnonzero(ok)))
        packer.add(j, c)
        core_of[j] = c
    return compact(core_of)


# ---- strategies ----------------------------------------------------------------------------------


def sequential(net: Network, hw: HardwareSpec, neurons_per_core: int | None = None) -> np.ndarray:
    """Layer by layer, in order: each population starts a new logical core, and a core takes
    neurons until the next one would exceed its neuron, fan-in or synapse capacity. Returns the
    logical core of every neuron."""
    cap_n = min(neurons_per_core or hw.core.max_neurons, hw.core.max_neurons)
    cap_ax, cap_syn = hw.core.max_fan_in, hw.core.max_synapses or np.iinfo(np.int64).max
    caps = int(cap_n), int(cap_ax), int(min(cap_syn, 2**62))
    if rows_apply(net):  # large: read from the projections' rows, no transposed copy
        core_of, bad = fill_from_rows(net, *caps)
        fan_of = net.fan_in
    else:
        indptr, indices = net.sources_of()
        starts = np.zeros(net.n_neurons, np.bool_)
        starts[net.offsets[:-1][np.diff(net.offsets) > 0]] = True
        core_of, bad = sequential_fill(indptr, indices, starts, *caps)
        del indices
        fan_of = np.diff(indptr)
    if bad >= 0:
        pop = net.populations[int(net.population_of[bad])].name
        fan = int(fan_of[bad])
        raise MappingError(
            f"neuron {bad} of population {pop!r} has fan-in {fan}; a core of "
            f"{hw.name!r} takes at most {min(cap_ax, cap_syn)}"
        )
    return core_of


def n_sequential(net: Network, hw: HardwareSpec, neurons_per_core: int | None) -> int:

    core_of = sequential(net, hw, neurons_per_core=neurons_per_core)
    return int(core_of.max()) + 1 if core_of.size else 0
