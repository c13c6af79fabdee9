"""What the torch-based adapters (Norse, Sinabs) share: the shape each layer sees in a forward,
and the framework's NIR export (nirtorch's tracer with the adapter's layer converter) with the
batch and time dimensions removed from the Input and Output nodes and recurrent layers expanded
into a neuron node and its recurrent weights. torch and nirtorch are imported inside the
functions (neurosim must import without them)."""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import nir
import numpy as np

from neurosim.errors import NetworkError
from neurosim.io.nir_read import from_nir

RECURRENT_KEY = "recurrent"  # neurosim.io.nir_nodes.RECURRENT_KEY: a projection delivered next frame


@dataclass(frozen=True)
class Layer:
    """A layer of the traced model: its qualified name and the shapes of one sample (leading
    batch / time dimensions removed) of its first input and of its output."""

    name: str
    input: tuple[int, ...]
    output: tuple[int, ...]


@contextmanager
def state_kept(model):
    """Run the tracing forwards on ``model`` itself and put its buffers (the neuron states of
    Sinabs layers) back afterwards. (``copy.deepcopy`` would be simpler, but Sinabs 3.1.3's
    ``StatefulLayer.__deepcopy__`` fails on ``LIFRecurrent``: no attribute 'rec_connect.weight'.)"""
    saved = [(m, n, b.clone()) for m in model.modules() for n, b in m.named_buffers(recurse=False) if b is not None]
    try:
        yield model
    finally:
        for m, n, b in saved:
            setattr(m, n, b)


def leaf_shapes(model, example_input, strip: int) -> dict[int, Layer]:
    """``id(layer) -> Layer`` for every submodule of ``model`` called in one forward of
    ``example_input`` (``strip`` leading dimensions dropped from each shape)."""
    import torch

    names = {id(m): n for n, m in model.named_modules()}
    found: dict[int, Layer] = {}

    def hook(m, args, out):
        first = out[0] if isinstance(out, tuple) else out
        shape = lambda t: tuple(int(x) for x in t.shape[strip:]) if hasattr(t, "shape") else ()
        if id(m) not in found:
            found[id(m)] = Layer(names.get(id(m), type(m).__name__), shape(args[0]) if args else (), shape(first))

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        with torch.no_grad():
            model(example_input)
    except NetworkError:
        raise
    except Exception as e:  # noqa: BLE001 - the model's own failure, reported in one line
        shape = tuple(example_input.shape)
        raise NetworkError(f"the model does not run on example_input of shape {shape}: {e}") from None
    finally:
        for h in handles:
            h.remove()
    return found


def traced_network(module, example_input, converter, strip: int, dt: float, name: str):
    """The Network of a torch model: its leaf shapes, the exporter's graph with every layer
    converted by ``converter(shapes)`` (which has ``recurrent``), ``dt`` stored, then
    :func:`neurosim.io.nir_read.from_nir`; the model's neuron states are put back afterwards."""
    with state_kept(module) as model:
        shapes = leaf_shapes(model, example_input, strip)
        convert = converter(shapes)
        graph = export_graph(model, example_input, convert, strip, convert.recurrent)
    graph.metadata["dt"] = dt
    return from_nir(graph, dt=dt, name=name)


def export_graph(model, example_input, convert, strip: int, recurrent: dict):
    """The NIR graph of ``model``: nirtorch's tracer (as the framework's ``to_nir`` runs it) with
    ``convert`` mapping each layer to a node. The Input takes ``example_input``'s shape without
    its ``strip`` leading dimensions; the Output the shape of the node feeding it. A layer in
    ``recurrent`` (``id -> (input_weights or None, recurrent_weights)``, both ``[out, in]``)
    becomes ``name.w_in`` (a Linear in front of it, when given), the neuron node ``name``, and
    ``name.w_rec``, a Linear from the node back to itself marked recurrent."""
    from nirtorch import extract_nir_graph

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        traced = extract_nir_graph(model, convert, example_input, model_name=None)
    modules = dict(model.named_modules())
    nodes, edges = dict(traced.nodes), [tuple(map(str, e)) for e in traced.edges]
    ins = [n for n, v in nodes.items() if isinstance(v, nir.Input)]
    outs = [n for n, v in nodes.items() if isinstance(v, nir.Output)]
    if len(ins) != 1 or len(outs) != 1:
        raise NetworkError(f"the traced model has {len(ins)} inputs and {len(outs)} outputs; one of each is supported")
    nodes[ins[0]] = nir.Input(input_type={"input": np.array(example_input.shape[strip:])})
    for name in list(nodes):
        m = modules.get(name)
        if m is not None and id(m) in recurrent:
            edges = _expand_recurrent(nodes, edges, name, *recurrent[id(m)])
    feeders = [a for a, b in edges if b == outs[0]]
    shape = _output_shape(nodes[feeders[0]]) if len(feeders) == 1 else None
    nodes[outs[0]] = nir.Output(output_type={"output": np.array(shape if shape is not None else [])})
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={}, type_check=False)


def _expand_recurrent(nodes: dict, edges: list, name: str, w_in, w_rec) -> list:
    if w_in is not None:
        inner = f"{name}.w_in"
        nodes[inner] = nir.Linear(weight=np.asarray(w_in, np.float32))
        edges = [(a, inner) if b == name else (a, b) for a, b in edges] + [(inner, name)]
    back = f"{name}.w_rec"
    nodes[back] = nir.Linear(weight=np.asarray(w_rec, np.float32))
    nodes[back].metadata[RECURRENT_KEY] = True
    return edges + [(name, back), (back, name)]


def _output_shape(node):
    out = getattr(node, "output_type", None) or {}
    shape = next(iter(out.values()), None)
    return None if shape is None else [int(x) for x in np.asarray(shape).ravel()]


def pool_node(m, where: str, torch, instead: str):
    """The NIR node of a torch ``AvgPool2d`` (which the exporters leave out; PyTorch's defaults
    only), None for a layer that is no pool; max pooling is refused (``instead``: what to use)."""
    nn = torch.nn
    maxpools = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d, nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
    if isinstance(m, maxpools):
        raise NetworkError(
            f"{where}: max pooling is not supported (the chip sums weighted spikes; it has no max): use {instead}"
        )
    if not isinstance(m, nn.AvgPool2d):
        return None
    if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
        raise NetworkError(
            f"{where}: only ceil_mode=False, count_include_pad=True and no divisor_override are supported"
        )
    pair = lambda x: np.array(x if isinstance(x, tuple | list) else (x, x))
    stride = m.kernel_size if m.stride is None else m.stride
    return nir.AvgPool2d(kernel_size=pair(m.kernel_size), stride=pair(stride), padding=pair(m.padding))


def to_numpy(value) -> np.ndarray:
    """A torch tensor (detached, on the CPU) or anything array-like as a numpy array."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return np.asarray(value)
