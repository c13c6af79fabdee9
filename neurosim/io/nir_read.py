"""Read networks from NIR graphs (the Neuromorphic Intermediate Representation).

Public functions
----------------
``load_network(path, dt=None, name=None) -> Network``
    Read a NIR file (``nir.read``) and convert it with :func:`nir_to_network`.
``nir_to_network(graph, dt=None, name="network") -> Network``
    Convert an in-memory ``nir.NIRGraph`` (for example straight from an exporter).
``network_to_nir(net) -> nir.NIRGraph`` and ``save_network(net, path)``
    The inverse; ``load_network(save_network(net))`` reproduces weights, biases and neuron
    parameters bit for bit.

Conventions (loading)
---------------------
* **Populations.** The ``Input`` node and every neuron node (``LIF``, ``IF``) become a population,
  named after the node. Every chain of linear nodes (``Affine``, ``Linear``, ``Scale``,
  ``Flatten``, ``Conv2d``, ``SumPool2d``, ``AvgPool2d``) between two populations is composed into
  ONE sparse matrix ``[source neuron, target neuron]``; several paths between the same two
  populations, and several edges into one node, sum (NIR adds the inputs of a node). Composition
  is done in float64 and cast to float32 once at the end.
* **Biases** of ``Affine``/``Conv2d`` nodes, carried through the later linear nodes of the chain,
  become the target population's per-neuron ``bias`` (added once per frame, neuron.py).
* **Shapes** exclude the batch dimension (as NIR's do). Tensors are flattened in C order
  (``C*H*W``). ``Conv2d`` and the pools follow PyTorch: symmetric zero padding, stride, dilation,
  groups, ``floor`` output size; ``padding='same'`` needs stride 1 and pads ``d*(k-1)//2`` before.
  ``AvgPool2d`` is ``SumPool2d / (kh*kw)`` (PyTorch's ``count_include_pad=True``). ``Flatten``
  never moves a value in C order, so it is the identity map; only the tracked shape changes (a
  positive ``start_dim`` counts the batch dimension, as torch exporters copy it from
  ``nn.Flatten``: see :func:`_flatten_shape`). An ``Affine``/``Linear`` takes a 1-D input, or any
  input with as many entries as its weight has columns (read flattened). A neuron node whose
  parameters hold as many entries as its input (in any shape) accepts it; scalar / size-1
  parameters are broadcast to the input.
* **Neurons** (forward Euler, as snnTorch, Norse and the NIR reference simulator):
  NIR's ``LIF`` is ``tau dv/dt = (v_leak - v) + r I``. One step of length ``dt`` gives
  ``v <- (1 - dt/tau) v + (dt r / tau) I``, so ``decay = 1 - dt/tau`` (computed in float64, cast to
  float32) and the input gain ``g = dt r / tau`` is folded into the incoming weights and the bias of
  the population (exact when ``g == 1``, i.e. ``r = tau/dt`` as snnTorch and :func:`save_network`
  write; a gain within ``GAIN_TOLERANCE`` of 1 is taken as exactly 1, which absorbs float32
  rounding of ``tau`` and ``r`` in exported files). ``v_leak`` must be 0 (neurons leak towards 0).
  ``IF``: ``decay = 1``, gain ``r``. ``threshold = v_threshold``, ``v_reset`` as given (missing:
  0). A neuron spikes when ``v >= threshold`` (neuron.py; NIR writes ``>``, which differs only on
  exact equality). Reset is hard (to ``v_reset``) unless the node's ``metadata['reset']`` is
  ``'subtract'``.
* **dt**: the ``dt`` argument wins, else the graph's ``metadata['dt']``; a graph with a ``LIF``
  and neither is an error. Without a LIF, ``dt`` defaults to :class:`Network`'s.
* **Order and recurrence.** Populations are ordered topologically, the input first; cycles are
  broken at the back edges of a depth-first search from the input (children in node order), and
  the projections that then point backwards (or to themselves) are recurrent
  (``Network.is_recurrent``: delivered in the next frame). A linear node whose metadata has
  ``recurrent`` true (as :func:`save_network` writes) marks its projection as recurrent explicitly:
  its target is ordered no later than its source.
* ``Network.metadata`` is the graph metadata as plain Python values; the ``Output`` node's single
  neuron-population input is ``Network.output``.

Anything else (``CubaLIF``, ``LI``, ``CubaLI``, ``I``, ``Delay``, ``Threshold``, ``Conv1d``, nested
graphs, ...) is a :class:`NetworkError` naming the node; so are inconsistent shapes, missing
Input/Output nodes and unreadable files. Messages are one line.

Writing is :mod:`neurosim.io.nir_write`; lowering of linear chains (conv, pooling) to sparse
projections is :mod:`neurosim.io.nir_lower`.
"""

from __future__ import annotations

import math
import pathlib
import warnings

import networkx as nx
import nir
import numpy as np
import scipy.sparse as sp

from neurosim.describe.network import IF, INPUT, LIF, Network, Population, Projection
from neurosim.errors import NetworkError
from neurosim.io.nir_lower import Shapes, shape_size
from neurosim.io.nir_nodes import (
    LINEAR_TYPES,
    MAX_FILE_VALUES,
    MAX_NEURONS,
    MAX_SYNAPSES,
    NEURON_TYPES,
    RECURRENT_KEY,
    SUPPORTED_NODES,
    node_place,
    node_type,
    param_arrays,
)
from neurosim.neuron import DTYPE, NeuronParams
from neurosim.plain import plain

GAIN_TOLERANCE = 1e-6
"""A LIF/IF input gain ``g`` with ``|g - 1| <= GAIN_TOLERANCE`` is taken as exactly 1."""


# ======================================================================================== loading
def load_network(path, dt: float | None = None, name: str | None = None) -> Network:
    """Read the NIR file ``path`` and convert it to a :class:`Network` (see the module docstring).

    ``dt`` (seconds per frame) overrides the graph's ``metadata['dt']``; ``name`` defaults to the
    file stem. Raises :class:`NetworkError` for unreadable, unsupported or inconsistent files.
    """
    path = pathlib.Path(path)
    graph = _read_graph(path)
    try:
        return nir_to_network(graph, dt=dt, name=name or path.stem)
    except NetworkError as e:
        raise NetworkError(f"{path}: {e}") from None


def nir_to_network(graph: nir.NIRGraph, dt: float | None = None, name: str = "network") -> Network:
    """Convert an in-memory NIR graph to a :class:`Network` (conventions: module docstring)."""
    if not isinstance(graph, nir.NIRGraph):
        raise NetworkError(f"expected a NIRGraph, got {type(graph).__name__}")
    nodes = dict(graph.nodes)
    g = _structure(nodes, graph.edges)
    inp, out_pop = _ends(nodes, g)
    pops = [n for n in nodes if node_type(nodes[n]) in ("Input",) + NEURON_TYPES]
    lin_order = _linear_order(nodes, g)
    reach = {s: _reach(nodes, g, s) for s in pops}
    order = _order_populations(pops, reach, key=_position_key(nodes, inp))
    dt = _resolve_dt(graph, nodes, dt)

    shapes = Shapes(nodes, g)
    weights = {}
    for s in order:
        weights.update(shapes.propagate(s, lin_order, reach[s]))
    biases = _biases(nodes, g, lin_order, shapes)

    _check_totals(order, shapes, weights)
    populations, gains = [], {}
    for p in order:
        pop, gains[p] = _population(p, nodes[p], shapes.pop_shape(p), dt, biases.get(p))
        populations.append(pop)

    index = {p: i for i, p in enumerate(order)}
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused just below
        projections = [
            Projection(s, t, _finite_weights(s, t, nodes[t], (w @ sp.diags_array(gains[t])).astype(DTYPE)))
            for (s, t), w in sorted(weights.items(), key=lambda kv: (index[kv[0][0]], index[kv[0][1]]))
        ]
    kw = {} if dt is None else {"dt": float(dt)}
    return Network(
        name=name,
        populations=tuple(populations),
        projections=tuple(projections),
        input=inp,
        output=out_pop,
        metadata=plain(dict(graph.metadata or {})),
        **kw,
    )


def _check_totals(order: list[str], shapes: Shapes, weights: dict) -> None:
    """All populations within ``MAX_NEURONS`` and all projections within ``MAX_SYNAPSES``."""
    neurons = sum(shape_size(shapes.pop_shape(p)) for p in order)
    if neurons > MAX_NEURONS:
        raise NetworkError(f"the network has {neurons} neurons, over the limit of {MAX_NEURONS}")
    synapses = sum(int(w.nnz) for w in weights.values())
    if synapses > MAX_SYNAPSES:
        raise NetworkError(f"the network has {synapses} synapses, over the limit of {MAX_SYNAPSES}")


def _finite_weights(source: str, target: str, node, w):
    """The projection's float32 weights, refused when folding the input gain left a non-finite one."""
    if not np.all(np.isfinite(w.data)):
        raise NetworkError(
            f"{node_place(target, node)}: weights from {source!r} times the input gain (r dt / tau) overflow float32"
        )
    return w


def _population(name: str, node, shape: tuple, dt, bias) -> tuple[Population, np.ndarray | None]:
    """The population of an Input or neuron node, and the input gain to fold into its incoming
    weights (None for the input). ``bias`` (float64, before the gain) may be None."""
    if node_type(node) == "Input":
        return Population(name, INPUT, shape), None
    params, gain = _neuron_params(name, node, shape, dt)
    bias = np.zeros(params.size) if bias is None else bias
    with np.errstate(over="ignore", invalid="ignore"):
        folded = (bias * gain).astype(DTYPE)
    _check_float32(name, node, "bias (times the input gain)", folded)
    params = NeuronParams(params.decay, params.threshold, params.v_reset, folded, params.subtract)
    return Population(name, LIF if node_type(node) == "LIF" else IF, shape, params), gain


# ---------------------------------------------------------------------------- reading and checks
def _read_graph(path: pathlib.Path) -> nir.NIRGraph:
    """``nir.read`` without NIR's own type inference (which would add Input/Output nodes); every
    failure becomes ``PATH: cannot read NIR file: reason``."""
    if not path.exists():
        raise NetworkError(f"{path}: cannot read NIR file: no such file")
    if path.is_dir():
        raise NetworkError(f"{path}: cannot read NIR file: it is a directory")
    _check_declared_size(path)
    # nir's node constructors compute shapes with numpy: a bad file (stride 0) must not print
    # RuntimeWarnings beside the one-line error
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            graph = nir.read(path, type_check=False)
        except Exception as e:  # h5py OSError, KeyError, nir's AssertionError/ValueError...
            raise NetworkError(f"{path}: cannot read NIR file: {_failing_node(path)}{_reason(e)}") from None
    if not isinstance(graph, nir.NIRGraph):
        raise NetworkError(f"{path}: cannot read NIR file: the top node is a {type(graph).__name__}, not a NIRGraph")
    return graph


def _check_declared_size(path: pathlib.Path) -> None:
    """Refuse a file whose datasets declare more than ``MAX_FILE_VALUES`` numbers in all, from the
    HDF5 metadata alone (before ``nir.read`` loads them). A file h5py cannot open is left to
    ``nir.read``, whose error is reported."""
    import h5py  # noqa: PLC0415 - banned at module level (slow import); nir needs it anyway

    total, biggest = 0, ("", 0)
    try:
        with h5py.File(path, "r") as f:

            def visit(name, obj):
                nonlocal total, biggest
                if isinstance(obj, h5py.Dataset) and obj.shape is not None:
                    n = math.prod(obj.shape)
                    total += n
                    biggest = max(biggest, (name, n), key=lambda x: x[1])

            f.visititems(visit)
    except Exception:  # noqa: BLE001 - unreadable here: nir.read reports why
        return
    if total > MAX_FILE_VALUES:
        raise NetworkError(
            f"{path}: the file declares {total} values (largest: {biggest[0]}, {biggest[1]}), "
            f"over the limit of {MAX_FILE_VALUES}"
        )


def _failing_node(path: pathlib.Path) -> str:
    """``node 'NAME': `` for the first top-level node NIR cannot build (its constructors check
    shapes), or an empty string when none is to blame alone."""
    import h5py  # noqa: PLC0415 - banned at module level (slow import); nir needs it anyway

    try:
        with h5py.File(path, "r") as f:
            for name, group in f["node"]["nodes"].items():
                try:
                    nir.serialization.read_node(group)
                except Exception:  # noqa: BLE001 - any failure is this node's
                    kind = group["type"][()] if "type" in group else b"?"
                    kind = kind.decode() if isinstance(kind, bytes) else str(kind)
                    return f"node {name!r} ({kind}): "
    except Exception:  # noqa: BLE001 - the file itself is unreadable
        return ""
    return ""


def _reason(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    if not msg:
        return f"{type(e).__name__} (malformed file or unknown node type)"
    return msg if isinstance(e, OSError) else f"{type(e).__name__}: {msg}"


def _structure(nodes: dict, edges) -> nx.DiGraph:
    """The node graph; rejects unsupported node types and edges naming missing nodes."""
    for n, node in nodes.items():
        if node_type(node) not in SUPPORTED_NODES:
            raise NetworkError(f"{node_place(n, node)} is not supported; supported: {', '.join(SUPPORTED_NODES)}")
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    for edge in edges:
        a, b = (str(x) for x in edge)
        for end in (a, b):
            if end not in nodes:
                raise NetworkError(f"edge ({a!r}, {b!r}) names node {end!r}, which does not exist")
        g.add_edge(a, b)
    return g


def _ends(nodes: dict, g: nx.DiGraph) -> tuple[str, str]:
    """The single Input node and the neuron population feeding the single Output node."""
    ins = [n for n in nodes if node_type(nodes[n]) == "Input"]
    outs = [n for n in nodes if node_type(nodes[n]) == "Output"]
    if not ins:
        raise NetworkError("graph has no Input node")
    if len(ins) > 1:
        raise NetworkError(f"graph has {len(ins)} Input nodes {ins}; exactly one is supported")
    if not outs:
        raise NetworkError("graph has no Output node")
    if len(outs) > 1:
        raise NetworkError(f"graph has {len(outs)} Output nodes {outs}; exactly one is supported")
    inp, out = ins[0], outs[0]
    if g.in_degree(inp):
        raise NetworkError(f"{node_place(inp, nodes[inp])} has incoming edges from {sorted(g.predecessors(inp))}")
    if g.out_degree(out):
        raise NetworkError(f"{node_place(out, nodes[out])} has outgoing edges to {sorted(g.successors(out))}")
    feeders = sorted(g.predecessors(out))
    if len(feeders) != 1 or node_type(nodes[feeders[0]]) not in NEURON_TYPES:
        got = ", ".join(f"{f!r} ({node_type(nodes[f])})" for f in feeders) or "nothing"
        raise NetworkError(
            f"{node_place(out, nodes[out])} must be fed by exactly one neuron population "
            f"(LIF/IF node); it is fed by {got}"
        )
    for n in nodes:
        if node_type(nodes[n]) in LINEAR_TYPES and not g.in_degree(n):
            raise NetworkError(f"{node_place(n, nodes[n])} has no input")
    return inp, feeders[0]


def _linear_order(nodes: dict, g: nx.DiGraph) -> list[str]:
    """Linear nodes in topological order; a cycle through linear nodes only is an error."""
    lin = g.subgraph(n for n in nodes if node_type(nodes[n]) in LINEAR_TYPES)
    try:
        return list(nx.topological_sort(lin))
    except nx.NetworkXUnfeasible:
        nodes_on_cycle = [u for u, _ in nx.find_cycle(lin)]
        cycle = " -> ".join(nodes_on_cycle + nodes_on_cycle[:1])
        raise NetworkError(f"cycle through linear nodes only ({cycle}); a cycle needs a neuron node") from None


def _reach(nodes: dict, g: nx.DiGraph, source: str) -> dict[str, set[bool]]:
    """Neuron nodes reached from ``source`` through linear nodes only, each with the set of
    'marked recurrent' flags of the paths that reach it (a path is marked when one of its linear
    nodes has ``metadata['recurrent']``)."""
    found: dict[str, set[bool]] = {}
    seen = set()
    stack = [(source, False)]
    while stack:
        n, marked = stack.pop()
        for m in g.successors(n):
            t = node_type(nodes[m])
            if t in NEURON_TYPES:
                found.setdefault(m, set()).add(marked)
            elif t in LINEAR_TYPES:
                state = (m, marked or bool((nodes[m].metadata or {}).get(RECURRENT_KEY, False)))
                if state not in seen:
                    seen.add(state)
                    stack.append(state)
    return found


def _position_key(nodes: dict, inp: str):
    pos = {n: i for i, n in enumerate(nodes)}
    return lambda n: (n != inp, pos[n])


def _order_populations(pops: list[str], reach: dict, key) -> list[str]:
    """Topological order of the populations, input first, cycles broken at DFS back edges.

    A projection marked recurrent on every path becomes the ordering constraint target -> source
    (the target must not come after the source); self-projections impose nothing.
    """
    edges = set()
    for s, targets in reach.items():
        for t, flags in targets.items():
            if s != t:
                edges.add((t, s) if flags == {True} else (s, t))
    g = nx.DiGraph()
    g.add_nodes_from(sorted(pops, key=key))
    g.add_edges_from(sorted(edges, key=lambda e: (key(e[0]), key(e[1]))))
    back, on_stack = set(), set()
    for u, v, kind in nx.dfs_labeled_edges(g):
        if kind == "forward":
            on_stack.add(v)
        elif kind == "reverse":
            on_stack.discard(v)
        elif kind == "nontree" and v in on_stack:
            back.add((u, v))
    g.remove_edges_from(back)
    # The input has no incoming edge and the smallest key, so it comes first.
    return list(nx.lexicographical_topological_sort(g, key=key))


def _resolve_dt(graph: nir.NIRGraph, nodes: dict, dt):
    """``dt`` argument, else ``metadata['dt']``, else None (error when a LIF needs it)."""
    if dt is None:
        dt = (graph.metadata or {}).get("dt")
    if dt is None:
        lifs = [n for n in nodes if node_type(nodes[n]) == "LIF"]
        if lifs:
            raise NetworkError(
                f"dt unknown: pass dt= (CLI --dt) or store metadata['dt'] in the NIR graph "
                f"(needed by LIF node {lifs[0]!r})"
            )
        return None
    try:
        dt = float(np.asarray(dt).item())
    except (TypeError, ValueError):
        raise NetworkError(f"dt must be a number of seconds, got {dt!r}") from None
    if not (np.isfinite(dt) and dt > 0):
        raise NetworkError(f"dt must be a positive number of seconds, got {dt!r}")
    return dt


def _biases(nodes: dict, g: nx.DiGraph, lin_order: list[str], shapes: Shapes) -> dict[str, np.ndarray]:
    """Bias of every neuron population: Affine/Conv biases carried through the later linear nodes
    (NIR: ``y = A(sum of inputs) + b``, so each node's bias is added once)."""
    carried: dict[str, np.ndarray | None] = {}
    for n in lin_order:
        if n not in shapes.maps:
            continue  # unreachable from any population: cannot happen after _ends' checks
        m = shapes.maps[n]
        ins = _carried_into(n, g, carried)
        b = _total(ins) if ins else None
        if b is not None and m.matrix is not None:
            b = m.matrix.T @ b
        if m.bias is not None:
            b = m.bias if b is None else b + m.bias
        carried[n] = b
    out = {}
    for t in nodes:
        if node_type(nodes[t]) in NEURON_TYPES:
            ins = _carried_into(t, g, carried)
            if ins:
                out[t] = _total(ins)
    return out


def _carried_into(node: str, g: nx.DiGraph, carried: dict[str, np.ndarray | None]) -> list[np.ndarray]:
    """The biases carried into ``node`` by its predecessors, in edge order."""
    return [b for p in g.predecessors(node) if (b := carried.get(p)) is not None]


def _total(parts: list[np.ndarray]) -> np.ndarray:
    """``0 + parts[0] + parts[1] + ...``, a new array: what ``sum(parts)`` gives, typed."""
    out = 0 + parts[0]
    for x in parts[1:]:
        out = out + x
    return out


def _neuron_params(name: str, node, shape: tuple, dt: float | None) -> tuple[NeuronParams, np.ndarray]:
    """Neuron parameters (bias left 0) and the per-neuron input gain of a LIF/IF node."""
    n = shape_size(shape)
    flat = {}
    for k, a in param_arrays(node, name).items():
        if a.size not in (1, n):
            raise NetworkError(f"{node_place(name, node)}: parameter {k} has shape {a.shape}, the population {shape}")
        flat[k] = np.broadcast_to(a.ravel(), (n,)) if a.size == 1 else a.ravel()
    if node_type(node) == "LIF":
        tau, r = flat["tau"], flat["r"]
        if np.any(flat["v_leak"] != 0):
            raise NetworkError(f"{node_place(name, node)}: non-zero v_leak is unsupported (neurons leak towards 0)")
        if not np.all(np.isfinite(tau) & (tau > 0)):
            raise NetworkError(f"{node_place(name, node)}: tau must be positive and finite")
        with np.errstate(over="ignore", invalid="ignore"):
            decay = 1.0 - dt / tau
            gain = dt * r / tau
    else:
        decay = np.ones(n)
        gain = flat["r"].copy()
    gain = np.where(np.abs(gain - 1.0) <= GAIN_TOLERANCE, 1.0, gain)
    if not np.all(np.isfinite(gain)):
        raise NetworkError(f"{node_place(name, node)}: the input gain r dt / tau is not finite")
    checked = {"decay (1 - dt / tau)": decay, "v_threshold": flat["v_threshold"], "v_reset": flat["v_reset"]}
    for key, values in checked.items():
        with np.errstate(over="ignore"):
            _check_float32(name, node, key, values.astype(DTYPE))
    reset = (node.metadata or {}).get("reset", "hard")
    if isinstance(reset, bytes):
        reset = reset.decode()
    params = NeuronParams(
        decay.astype(DTYPE),
        flat["v_threshold"].astype(DTYPE),
        flat["v_reset"].astype(DTYPE),
        np.zeros(n, DTYPE),
        np.full(n, reset == "subtract"),
    )
    return params, gain


def _check_float32(name: str, node, key: str, values: np.ndarray) -> None:
    """Refuse a neuron parameter that is not finite once cast to float32 (the simulator's type)."""
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise NetworkError(
            f"{node_place(name, node)}: parameter {key} is out of the float32 range at flat index {int(bad[0])}"
        )
