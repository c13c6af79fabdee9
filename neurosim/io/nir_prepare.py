"""A NIR graph as neurosim lowers it: nested graphs flattened, framework arrays made numpy, and
nodes neurosim cannot read refused (one line naming the node and the exporter's likely cause).

The caller's graph is never modified: nodes whose attributes change are shallow copies.
"""

from __future__ import annotations

import copy
import dataclasses

import nir

from neurosim.errors import NetworkError
from neurosim.io.nir_nodes import SUPPORTED_NODES, node_place, node_type, to_numpy

MAX_DEPTH = 32
"""Deepest nesting of NIRGraph nodes read (a file nesting deeper is refused)."""


def prepare(graph: nir.NIRGraph) -> tuple[dict, list[tuple[str, str]]]:
    """``(nodes, edges)`` of ``graph`` with every nested ``NIRGraph`` node flattened into its parent.

    A subgraph node ``S`` must hold exactly one ``Input`` and one ``Output``: the edges into ``S``
    enter through its Input and the edges out of ``S`` leave from its Output (as spyx writes its
    recurrent layers and NIR's type inference reads them). Its other nodes join the parent as
    ``S.name`` (a name already starting with ``S.``, as spyx writes them, is kept). Parameters
    held as torch tensors or jax arrays become numpy arrays.
    """
    nodes, edges = _flatten(graph, "", 0)
    for n, node in nodes.items():
        _check_node(n, node)
    return nodes, edges


def _flatten(graph: nir.NIRGraph, prefix: str, depth: int) -> tuple[dict, list[tuple[str, str]]]:
    if depth > MAX_DEPTH:
        raise NetworkError(f"graph {prefix.rstrip('.')!r}: NIRGraph nodes nested deeper than {MAX_DEPTH} levels")
    nodes: dict = {}
    ports: dict[str, tuple[list[str], list[str]]] = {}  # subgraph -> (entry nodes, exit nodes)
    inner_edges: list[tuple[str, str]] = []
    raw = dict(graph.nodes or {})
    for name, node in raw.items():
        name = str(name)
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, f"{name}.", depth + 1)
            entry, exit_, sub_nodes, sub_edges = _ports(name, sub_nodes, sub_edges)
            for k, v in sub_nodes.items():
                full = k if k.startswith(f"{name}.") else f"{name}.{k}"
                if full in raw or full in nodes:
                    raise NetworkError(
                        f"node {full!r} of subgraph {name!r} clashes with a node of the same name in its parent"
                    )
                nodes[full] = v
            rename = lambda k, name=name: k if k.startswith(f"{name}.") else f"{name}.{k}"
            inner_edges += [(rename(a), rename(b)) for a, b in sub_edges]
            ports[name] = ([rename(k) for k in entry], [rename(k) for k in exit_])
        else:
            nodes[name] = _numpy_node(node)
    edges: list[tuple[str, str]] = []
    for edge in graph.edges or []:
        a, b = (str(x) for x in edge)
        sources = ports[a][1] if a in ports else [a]
        targets = ports[b][0] if b in ports else [b]
        edges += [(s, t) for s in sources for t in targets]
    return nodes, _unique(edges + inner_edges)


def _ports(name: str, nodes: dict, edges: list[tuple[str, str]]):
    """The nodes a subgraph's Input feeds and the nodes feeding its Output; the Input and Output
    themselves are removed (an Input wired straight to the Output is refused)."""
    ins = [k for k, v in nodes.items() if node_type(v) == "Input"]
    outs = [k for k, v in nodes.items() if node_type(v) == "Output"]
    if len(ins) != 1 or len(outs) != 1:
        raise NetworkError(
            f"subgraph {name!r} (NIRGraph) has {len(ins)} Input and {len(outs)} Output nodes; "
            "exactly one of each is supported"
        )
    (i,), (o,) = ins, outs
    entry = [b for a, b in edges if a == i]
    exit_ = [a for a, b in edges if b == o]
    if o in entry:
        raise NetworkError(f"subgraph {name!r} (NIRGraph) wires its Input {i!r} straight to its Output {o!r}")
    if not entry or not exit_:
        raise NetworkError(f"subgraph {name!r} (NIRGraph): its Input {i!r} or its Output {o!r} is not connected")
    for a, b in edges:
        if b == i or a == o:
            raise NetworkError(
                f"subgraph {name!r} (NIRGraph): edge ({a!r}, {b!r}) enters its Input or leaves its Output"
            )
    rest = {k: v for k, v in nodes.items() if k not in (i, o)}
    return entry, exit_, rest, [(a, b) for a, b in edges if i not in (a, b) and o not in (a, b)]


def _unique(edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys(edges))


def _numpy_node(node):
    """``node``, or a shallow copy of it whose torch / jax attributes are numpy arrays."""
    if node is None or not dataclasses.is_dataclass(node):
        return node
    changed = {}
    for k, v in vars(node).items():
        if k in ("input_type", "output_type") and isinstance(v, dict):
            conv = {kk: to_numpy(vv) for kk, vv in v.items()}
            if any(conv[kk] is not v[kk] for kk in v):
                changed[k] = conv
        elif (c := to_numpy(v)) is not v:
            changed[k] = c
    if not changed:
        return node
    out = copy.copy(node)
    for k, v in changed.items():
        object.__setattr__(out, k, v)
    return out


def _check_node(name: str, node) -> None:
    """Refuse a ``None`` node or a node type neurosim does not read."""
    if node is None:
        raise NetworkError(
            f"node {name!r} is None: the exporter could not translate this layer to NIR (a module its "
            "NIR export does not know: custom, dropout, activation...); remove or replace the layer "
            "before exporting"
        )
    if not isinstance(node, nir.NIRNode):
        raise NetworkError(
            f"node {name!r} is a {type(node).__name__}, not a NIR node: the exporter stored an object NIR "
            "does not define; export the model with the framework's NIR exporter"
        )
    if node_type(node) not in SUPPORTED_NODES:
        raise NetworkError(
            f"{node_place(name, node)} is not supported (not a NIR 1.0.8 node: a newer NIR or the "
            f"exporter's own); supported: {', '.join(SUPPORTED_NODES)}"
        )
