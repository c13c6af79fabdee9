"""Read networks from NIR graphs (the Neuromorphic Intermediate Representation, nir 1.0.8).

Public functions
----------------
``from_nir(graph_or_path, dt=None, name=None) -> Network`` (also ``neurosim.from_nir``)
    A ``nir.NIRGraph`` in memory (parameters as numpy arrays, torch tensors or jax arrays) or the
    path of a NIR file.
``load_network(path, dt=None, name=None) -> Network``
    Read a NIR file (``nir.read``) and convert it with :func:`nir_to_network`.
``nir_to_network(graph, dt=None, name="network") -> Network``
    Convert an in-memory ``nir.NIRGraph`` (for example straight from an exporter).
``network_to_nir(net) -> nir.NIRGraph`` and ``save_network(net, path)`` (:mod:`~neurosim.io.nir_write`)
    The inverse; ``load_network(save_network(net))`` reproduces weights, delays, biases and neuron
    parameters bit for bit.

Node types
----------
All 19 node classes of nir 1.0.8 are read. ``Input`` and every neuron node (``LIF``, ``IF``,
``CubaLIF``, ``LI``, ``CubaLI``, ``I``, ``Threshold``) become a population named after the node;
the connection nodes (``Affine``, ``Linear``, ``Scale``, ``Flatten``, ``Conv1d``, ``Conv2d``,
``SumPool2d``, ``AvgPool2d``, ``Delay``) between two populations are composed into projections;
``NIRGraph`` nodes are flattened (below); ``Output`` names the output population. A ``None`` node
(what some exporters write for a layer they cannot export), an object that is not a NIR node and
a type NIR 1.0.8 does not define are refused, naming the node and the likely cause.

Conventions (loading)
---------------------
* **Projections.** Every chain of connection nodes between two populations is composed into
  sparse matrices ``[source neuron, target neuron]``, one per synaptic delay; several paths
  between the same two populations, and several edges into one node, sum (NIR adds the inputs of
  a node). Composition is done in float64 and cast to float32 once at the end.
* **Delay** ``y(t) = x(t - delay)``: each channel's ``delay / dt`` must be a whole number of
  frames (within a relative 1e-6, float32 files) and not negative; the weights through the node
  are split by the delay of the channel they pass (a Delay after a Linear delays the targets', one
  before it the sources'), delays add along a chain, and each (source, target, delay) becomes one
  :class:`Projection` with ``delay`` frames. A delay on a recurrent loop is the loop's delay (at
  least 1: :meth:`Network.delay_of`). A bias cannot pass a non-zero delay (it would be 0 in the
  first frames): refused.
* **Biases** of ``Affine``/``Conv`` nodes, carried through the later linear nodes of the chain,
  become the target population's per-neuron ``bias`` (added to the membrane once per frame),
  times the node's input gain.
* **Shapes** exclude the batch dimension (as NIR's do). Tensors are flattened in C order
  (``C*H*W``). ``Conv2d``, ``Conv1d`` (a Conv2d of height 1: weight ``(C_out, C_in/groups, k)``,
  input ``(C, N)``) and the pools follow PyTorch: symmetric zero padding, stride, dilation,
  groups, ``floor`` output size; ``padding='same'`` needs stride 1 and pads ``d*(k-1)//2`` before.
  ``AvgPool2d`` is ``SumPool2d / (kh*kw)`` (PyTorch's ``count_include_pad=True``). ``Flatten``
  never moves a value in C order, so it is the identity map; only the tracked shape changes (a
  positive ``start_dim`` counts the batch dimension, as torch exporters copy it from
  ``nn.Flatten``: see :func:`~neurosim.io.nir_lower._flatten_shape`). An ``Affine``/``Linear``
  takes a 1-D input, or any input with as many entries as its weight has columns (read
  flattened). A neuron node whose parameters hold as many entries as its input (in any shape)
  accepts it; scalar / size-1 parameters are broadcast to the input. An ``Input`` whose shape has
  leading batch or time dimensions of size 1 before what a convolution or pool takes
  (Norse 1.1.0's conv export writes ``(1, C, H, W)``) loses them; other leading dimensions are refused,
  naming the shape expected. Before an ``Affine``/``Linear``, ``(1, ..., 1, n)`` becomes ``(n,)``.
* **Nested graphs.** A ``NIRGraph`` node ``S`` (spyx writes its recurrent layers so, snnTorch its
  ``RLeaky``) must hold one ``Input`` and one ``Output``: edges into ``S`` enter through its Input,
  edges out of it leave from its Output, and its other nodes join the parent as ``S.name`` (a
  name already starting with ``S.`` is kept). Nesting recurses.
* **dt**: the ``dt`` argument wins, else the graph's ``metadata['dt']``; a graph with a node that
  has a time constant (``LIF``, ``CubaLIF``, ``LI``, ``CubaLI``) or a non-zero ``Delay`` and
  neither is an error. Otherwise ``dt`` defaults to :class:`Network`'s.

Neurons (forward Euler, one step of ``dt`` per frame)
-----------------------------------------------------
NIR's equations are continuous; neurosim steps them with forward Euler, as snnTorch, Norse, the
NIR reference implementations and NIR's own paper do. All arithmetic below is float64, cast to
float32 once (:mod:`neurosim.neuron` holds the per-frame order).

* ``LIF`` / ``LI``: ``tau dv/dt = (v_leak - v) + r I``. One step:
  ``v <- v + (dt/tau)(v_leak - v + r I) = (1 - dt/tau) v + dt v_leak / tau + (dt r / tau) I``, so
  ``decay = 1 - dt/tau``, the per-frame bias is ``dt v_leak / tau`` (plus the Affine bias times
  the gain) and the input gain ``g = dt r / tau`` is folded into the incoming weights. ``LI`` never
  spikes (``spiking=False``: its membrane is the readout).
* ``CubaLIF`` / ``CubaLI``: ``tau_syn dI/dt = -I + w_in S`` and ``tau_mem dv/dt = (v_leak - v) +
  r I``. One forward Euler step takes both derivatives from the state at the start of the step:
  ``I' = (1 - dt/tau_syn) I + (dt w_in / tau_syn) S`` and ``v' = (1 - dt/tau_mem) v +
  dt v_leak / tau_mem + (dt r / tau_mem) I`` - the membrane sees the current of the previous
  frame (``current_lag``; the NIR paper's numpy reference ``CubaLIFImplementation``,
  neuromorphs/NIR ``paper/03_rnn/extras/debug_CubaLIF/nir_reference_impl.py``, computes
  exactly this; Norse 1.1.0's ``LIFCell`` does not: it adds the input first). So ``cuba=True``,
  ``syn_decay = 1 - dt/tau_syn``, ``decay = 1 - dt/tau_mem``, gain
  ``(dt w_in / tau_syn) (dt r / tau_mem)`` folded into the weights (the current is linear, so
  scaling it by the membrane gain is scaling its input), ``current_lag=True`` by default.
  snnTorch's ``Synaptic``, Norse's ``LIFCell``, Rockpool and Loihi's CUBA neuron update the
  current first and feed the new one to the membrane: ``metadata['current_lag'] = False`` (their
  adapters write it). An Affine/Conv bias into a cuba node enters the synaptic current, which
  filters it over frames: refused (neurosim's bias is on the membrane), unless ``syn_decay == 0``
  and there is no lag (then the current is the input).
* ``IF``: ``dv/dt = r I``: ``decay = 1``, gain ``r``. ``I``: the same, never spikes.
* ``Threshold``: a stateless Heaviside of its input: ``decay = 0``, gain 1, hard reset to 0,
  fires where the input exceeds ``threshold``.
* A gain within ``GAIN_TOLERANCE`` of 1 is taken as exactly 1 (``r = tau/dt`` as snnTorch and
  :func:`save_network` write; absorbs float32 rounding in exported files).
* ``threshold = v_threshold``, ``v_reset`` as given (missing: 0). A neuron spikes when
  ``v > threshold`` (NIR's text; Lava, snnTorch, Norse and spyx agree) and then resets hard to
  ``v_reset`` (NIR's equations). Non-spiking neurons get ``threshold = inf``, ``v_reset = 0``.

Refused, one line naming the node and the numbers: ``tau <= 0``; ``tau < dt`` (a decay below 0,
e.g. ``node 'lif1' (LIF): tau = 1e-05 s is shorter than dt = 0.001 s (decay -99): pass the dt the
model was trained with (--dt)``); an input gain that is not a positive finite number (``r <= 0``,
``w_in <= 0``); a parameter that is not finite, or not finite in float32 once folded.

Node metadata (override NIR's conventions; written by neurosim's adapters and :func:`save_network`)
----------------------------------------------------------------------------------------------------
* ``reset``: ``'hard'`` (default) | ``'subtract'`` (``v <- v - threshold``) | ``'none'`` (no
  reset); str or bytes.
* ``reset_delay`` (bool): the reset of a spike is applied in the next frame (snnTorch).
* ``fire_equal`` (bool): fire at ``v >= threshold`` (Sinabs, Rockpool).
* ``current_lag`` (bool, CubaLIF/CubaLI only): see above.
Any other value of these keys is refused. Graph metadata ``dt`` (seconds).

Order and recurrence
--------------------
Populations are ordered topologically, the input first; cycles are broken at the back edges of a
depth-first search from the input (children in node order), and the projections that then point
backwards (or to themselves) are recurrent (``Network.is_recurrent``: delivered in the next frame
at the earliest). A linear node whose metadata has ``recurrent`` true (as :func:`save_network`
writes) marks its projection as recurrent explicitly: its target is ordered no later than its
source. ``Network.metadata`` is the graph metadata as plain Python values; the ``Output`` node's
single neuron-population input is ``Network.output``.

Inconsistent shapes, missing Input/Output nodes and unreadable files are refused (:class:`NetworkError`)
naming the node; messages are one line. Writing is :mod:`neurosim.io.nir_write`; the graph is
prepared (flattened, arrays made numpy) by :mod:`neurosim.io.nir_prepare`, lowered by
:mod:`neurosim.io.nir_lower`, and its neurons read by :mod:`neurosim.io.nir_neurons`.
"""

from __future__ import annotations

import logging
import math
import os
import pathlib
import warnings

import networkx as nx
import nir
import numpy as np
import scipy.sparse as sp

from neurosim.describe.network import INPUT, Network, Population, Projection
from neurosim.errors import NetworkError
from neurosim.io.nir_lower import Shapes, shape_size
from neurosim.io.nir_neurons import GAIN_TOLERANCE, NON_SPIKING, neuron_population
from neurosim.io.nir_nodes import (
    LINEAR_TYPES,
    MAX_FILE_VALUES,
    MAX_NEURONS,
    MAX_SYNAPSES,
    NEEDS_DT,
    NEURON_TYPES,
    RECURRENT_KEY,
    SUPPORTED_NODES,
    checked_dt,
    node_place,
    node_type,
)
from neurosim.io.nir_prepare import prepare
from neurosim.neuron import DTYPE
from neurosim.plain import plain

_log = logging.getLogger(__name__)

__all__ = ["GAIN_TOLERANCE", "from_nir", "load_network", "nir_to_network"]


# ======================================================================================== loading
def from_nir(graph_or_path, dt: float | None = None, name: str | None = None) -> Network:
    """A :class:`Network` from a NIR graph in memory (``nir.NIRGraph``, parameters as numpy
    arrays, torch tensors or jax arrays) or from the path of a NIR file.

    ``dt`` (seconds per frame) overrides the graph's ``metadata['dt']``; ``name`` defaults to the
    file stem, or ``"network"``. Conventions: the module docstring of :mod:`neurosim.io.nir_read`.
    Raises :class:`NetworkError` (one line) for what neurosim cannot reproduce.
    """
    if isinstance(graph_or_path, nir.NIRGraph):
        return nir_to_network(graph_or_path, dt=dt, name=name or "network")
    if isinstance(graph_or_path, (str, os.PathLike)):
        return load_network(graph_or_path, dt=dt, name=name)
    raise NetworkError(f"from_nir takes a nir.NIRGraph or the path of a NIR file, got {type(graph_or_path).__name__}")


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
    nodes, edges = prepare(graph)
    g = _structure(nodes, edges)
    inp, out_pop = _ends(nodes, g)
    pops = [n for n in nodes if node_type(nodes[n]) in ("Input",) + NEURON_TYPES]
    lin_order = _linear_order(nodes, g)
    reach = {s: _reach(nodes, g, s) for s in pops}
    order = _order_populations(pops, reach, key=_position_key(nodes, inp))
    dt = _resolve_dt(graph, nodes, dt)
    _note_unstated_reset(nodes)

    shapes = Shapes(nodes, g, dt)
    weights: dict[tuple[str, str], dict[int, sp.csr_array]] = {}
    for s in order:
        weights.update(shapes.propagate(s, lin_order, reach[s]))
    weights = {k: _drop_empty_delays(v) for k, v in weights.items()}
    biases = _biases(nodes, g, lin_order, shapes)

    _check_totals(order, shapes, weights)
    populations, gains = [], {}
    for p in order:
        pop, gains[p] = _population(p, nodes[p], shapes.pop_shape(p), dt, biases.get(p))
        populations.append(pop)

    index = {p: i for i, p in enumerate(order)}
    projections = []
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused just below
        for (s, t), per_delay in sorted(weights.items(), key=lambda kv: (index[kv[0][0]], index[kv[0][1]])):
            for d, w in per_delay.items():
                folded = _finite_weights(s, t, nodes[t], (w @ sp.diags_array(gains[t])).astype(DTYPE))
                projections.append(Projection(s, t, folded, delay=d))
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


RESET_NOTE_TYPES = ("LIF", "CubaLIF", "IF")
"""Spiking node types whose reset NIR's equations leave to ``v_reset`` (hard) unless the file says."""


def _note_unstated_reset(nodes: dict) -> None:
    """Say (once, as a logged note) when spiking neuron nodes state no ``metadata['reset']``: NIR's
    hard reset is then used, which is right for NIR's own definition but not for the models whose
    exporter drops a subtract reset (snnTorch's default, Sinabs, Rockpool, spyx)."""
    silent = [
        n for n, node in nodes.items() if node_type(node) in RESET_NOTE_TYPES and "reset" not in (node.metadata or {})
    ]
    if silent:
        _log.info(
            "%d neuron node(s) (first %r) state no reset mode: NIR's hard reset to v_reset is used; "
            "snnTorch, Sinabs, Rockpool and spyx exporters drop a subtract reset: load such models with "
            "neurosim.interop.from_<framework> (README, 'Models from other frameworks')",
            len(silent),
            silent[0],
        )


def _drop_empty_delays(per_delay: dict[int, sp.csr_array]) -> dict[int, sp.csr_array]:
    """The delays of one population pair that carry synapses (all of them when none does: a
    projection without synapses carries a bias)."""
    kept = {d: w for d, w in per_delay.items() if w.count_nonzero()}
    return kept or {min(per_delay): per_delay[min(per_delay)]}


def _check_totals(order: list[str], shapes: Shapes, weights: dict) -> None:
    """All populations within ``MAX_NEURONS`` and all projections within ``MAX_SYNAPSES``."""
    neurons = sum(shape_size(shapes.pop_shape(p)) for p in order)
    if neurons > MAX_NEURONS:
        raise NetworkError(f"the network has {neurons} neurons, over the limit of {MAX_NEURONS}")
    synapses = sum(int(w.nnz) for per in weights.values() for w in per.values())
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
    kind, params, gain = neuron_population(name, node, shape, dt, bias)
    return Population(name, kind, shape, params), gain


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
            f"(a neuron node: {', '.join(NEURON_TYPES)}); it is fed by {got}"
        )
    for n in nodes:
        if node_type(nodes[n]) in LINEAR_TYPES and not g.in_degree(n):
            raise NetworkError(f"{node_place(n, nodes[n])} has no input")
        if node_type(nodes[n]) in NON_SPIKING:
            fed = sorted(m for m in g.successors(n) if node_type(nodes[m]) != "Output")
            if fed:
                raise NetworkError(
                    f"{node_place(n, nodes[n])} feeds {fed[0]!r}: its output is its membrane, not spikes, "
                    "and neurosim sends only spikes through synapses: only an Output may follow it"
                )
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
    """``dt`` argument, else ``metadata['dt']``, else None (error when a node with a time
    constant needs it)."""
    if dt is None:
        dt = (graph.metadata or {}).get("dt")
    if dt is None:
        timed = [n for n in nodes if node_type(nodes[n]) in NEEDS_DT]
        if timed:
            raise NetworkError(
                f"dt unknown: pass dt= (CLI --dt) or store metadata['dt'] in the NIR graph "
                f"(needed by {node_type(nodes[timed[0]])} node {timed[0]!r})"
            )
        return None
    return checked_dt(dt)


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
        if m.delays is not None and b is not None and np.any((b != 0) & (m.delays > 0)):
            raise NetworkError(
                f"{node_place(n, nodes[n])}: a bias (Affine/Conv) passes this delay and would be 0 in the "
                "first frames: export the biased layer without bias, or delay before it"
            )
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
