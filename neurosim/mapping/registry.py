"""Mapping: neuron -> core (a partition that respects each core's capacity) and core -> mesh
position (placement), by name: the registry of strategies and placements and
:func:`map_network`. Strategies *produce* a :class:`~neurosim.describe.mapping.Mapping`; they
never touch the simulator."""

from __future__ import annotations

import inspect

import numpy as np

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import Mapping, check_mapping
from neurosim.describe.network import Network
from neurosim.errors import MappingError
from neurosim.mapping.partition import partition
from neurosim.mapping.placement import place_row_major, traffic_aware
from neurosim.mapping.strategies import balanced, random_mapping, sequential

#: every strategy (neuron -> logical core) by name
STRATEGIES = {"sequential": sequential, "balanced": balanced, "partition": partition, "random": random_mapping}
#: every placement (logical core -> physical core) by name
PLACEMENTS = {"row-major": place_row_major, "traffic-aware": traffic_aware}


def registry() -> tuple[dict, dict]:
    """Every known strategy and placement by name."""
    return STRATEGIES, PLACEMENTS


_GIVEN = {"strategy": {"net", "hw"}, "placement": {"n_logical", "hw", "net", "logical"}}


def _params(fn) -> set[str]:

    return {
        name
        for name, p in inspect.signature(fn).parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    }


def _accepts(fn, role: str) -> set[str]:
    """Keyword options of a strategy or placement function (the arguments map_network fills
    itself excluded)."""
    return _params(fn) - _GIVEN[role]


def accepted_options(strategy: str, placement: str) -> set[str]:
    """Names of the options :func:`map_network` takes for this strategy and placement."""
    strategies, placements = registry()
    s = _accepts(strategies[strategy], "strategy") if strategy in strategies else set()
    return s | (_accepts(placements[placement], "placement") if placement in placements else set())


def map_network(
    net: Network, hw: HardwareSpec, strategy: str = "sequential", placement: str = "row-major", **options
) -> Mapping:
    """Map every neuron of ``net`` onto a core of ``hw``; the result is checked against capacity.

    ``strategy`` (neuron -> logical core): ``sequential``, ``balanced``, ``partition``, ``random``
    (:mod:`neurosim.mapping.strategies`); ``placement`` (logical -> physical core): ``row-major``,
    ``traffic-aware`` (:mod:`neurosim.mapping.placement`). ``options`` go to the strategy and to the
    placement, each getting those it accepts (for example ``rates`` and ``seed`` to both,
    ``neurons_per_core`` to the strategies, ``iterations`` to ``traffic-aware``); an option
    neither accepts is an error."""
    strategies, placements = registry()
    if strategy not in strategies:
        raise MappingError(f"unknown mapping strategy {strategy!r}; known: {sorted(strategies)}")
    if placement not in placements:
        raise MappingError(f"unknown placement {placement!r}; known: {sorted(placements)}")
    s_fn, p_fn = strategies[strategy], placements[placement]
    s_ok, p_ok = _accepts(s_fn, "strategy"), _accepts(p_fn, "placement")
    unknown = sorted(set(options) - s_ok - p_ok)
    if unknown:
        raise MappingError(
            f"option(s) {unknown} are not understood by strategy {strategy!r} "
            f"({sorted(s_ok) or 'no options'}) or placement {placement!r} "
            f"({sorted(p_ok) or 'no options'})"
        )
    try:
        logical = s_fn(net, hw, **{k: v for k, v in options.items() if k in s_ok})
        logical, found = logical if isinstance(logical, tuple) else (logical, None)
        n_logical = int(logical.max()) + 1 if logical.size else 0
        wanted = _params(p_fn)
        extra = {k: v for k, v in (("net", net), ("logical", logical)) if k in wanted}
        physical = p_fn(n_logical, hw, **extra, **{k: v for k, v in options.items() if k in p_ok})
    except TypeError as exc:  # e.g. a string where a number is expected
        raise MappingError(f"{strategy!r} / {placement!r}: {exc}") from None
    if n_logical and (np.unique(physical).size != n_logical or physical.min() < 0 or physical.max() >= hw.n_cores):
        raise MappingError(f"placement {placement!r} did not give {n_logical} distinct physical cores")
    shown = {k: ("given" if isinstance(v, np.ndarray) else v) for k, v in options.items()}
    meta = {  # what made the mapping, each side with the options it took (saved in mapping files)
        "strategy_options": {k: v for k, v in shown.items() if k in s_ok},
        "placement_options": {k: v for k, v in shown.items() if k in p_ok},
    }
    if found is not None:  # how the strategy found it (partition: method, candidates, the chosen one)
        meta["strategy_result"] = found
    m = Mapping(np.asarray(physical, np.int64)[logical], strategy, placement, meta)
    check_mapping(net, hw, m)
    return m
