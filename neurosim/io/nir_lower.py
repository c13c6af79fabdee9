"""Lowering of a chain of NIR linear nodes (Affine, Linear, Scale, Flatten, Conv1d, Conv2d,
SumPool2d, AvgPool2d, Delay) to sparse weight matrices, one per synaptic delay, with the shapes
tracked through the chain.

A ``Delay`` node is the identity map that delays each channel by a whole number of frames
(``delay / dt``, refused when not whole): the weights through it are split by the delay of the
channel they pass, and delays add along a chain."""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
import scipy.sparse as sp

from neurosim.errors import NetworkError
from neurosim.io.nir_nodes import MAX_DELAY_FRAMES, MAX_NEURONS, MAX_SYNAPSES, node_place, node_type, param_shape


# ------------------------------------------------------------------------- shapes and linear maps
@dataclass
class _Map:
    """One linear node as ``y = x @ matrix + bias`` over C-order flattened vectors."""

    in_shape: tuple
    out_shape: tuple
    matrix: sp.csr_array | None  # None: identity (Flatten, Delay)
    bias: np.ndarray | None  # None: no bias
    delays: np.ndarray | None = None  # Delay: frames per (flattened) channel


class Shapes:
    """Tracks shapes from the populations through the linear nodes, building each node's map once."""

    def __init__(self, nodes: dict, g: nx.DiGraph, dt: float | None = None):
        self.nodes, self.g, self.dt = nodes, g, dt
        self.maps: dict[str, _Map] = {}
        self.pops: dict[str, tuple] = {}

    def pop_shape(self, p: str) -> tuple:
        """A population's shape: fixed by its first (forward) input, else by its parameters."""
        if p not in self.pops:
            node = self.nodes[p]
            if node_type(node) == "Input":
                shape = node.input_type.get("input")
                if shape is None:
                    raise NetworkError(f"{node_place(p, node)} has no shape")
                self.pops[p] = self._strip_leading(p, node, declared_shape(p, node, shape))
            else:
                self.pops[p] = param_shape(p, node)
        return self.pops[p]

    def out_shape(self, n: str) -> tuple:
        return self.maps[n].out_shape if n in self.maps else self.pop_shape(n)

    def _strip_leading(self, p: str, node, dims: tuple) -> tuple:
        """An Input shape without the leading batch / time dimensions of size 1 that a consumer
        taking one sample (``Conv1d``: (C, N); ``Conv2d`` and the pools: (C, H, W)) does not
        expect; other leading dimensions are refused. Before an ``Affine``/``Linear`` (which reads
        its input flattened) a shape ``(1, ..., 1, n)`` becomes ``(n,)``."""
        for m in self.g.successors(p):
            t = node_type(self.nodes[m])
            if t in ("Affine", "Linear") and len(dims) > 1 and all(d == 1 for d in dims[:-1]):
                return dims[-1:]
            want = {"Conv1d": 2, "Conv2d": 3, "SumPool2d": 3, "AvgPool2d": 3}.get(t)
            if want is None or len(dims) <= want:
                continue
            if all(d == 1 for d in dims[:-want]):
                return dims[-want:]
            declared = getattr(self.nodes[m], "input_shape", None)
            w = getattr(self.nodes[m], "weight", None)
            if declared is not None and w is not None:
                channels = int(np.shape(w)[1]) * int(self.nodes[m].groups)
                expected = str((channels, *np.ravel(declared).astype(int).tolist()))
            else:
                expected = "(C, N)" if want == 2 else "(C, H, W)"
            raise NetworkError(
                f"{node_place(p, node)}: shape {dims} does not fit {m!r} ({t}), which takes one sample of shape "
                f"{expected}: only leading batch/time dimensions of size 1 are accepted (export one sample)"
            )
        return dims

    def propagate(self, source: str, lin_order: list[str], targets: dict) -> dict:
        """Weights ``{delay: [source, target]}`` (float64 CSR per delay in frames) from ``source``
        to every neuron it reaches."""
        n_src = shape_size(self.pop_shape(source))
        acc: dict[str, dict[int, sp.csr_array]] = {source: {0: sp.identity(n_src, dtype=np.float64, format="csr")}}
        region = nx.descendants(self.g, source)
        for n in lin_order:
            if n not in region:
                continue
            preds = [p for p in self.g.predecessors(n) if p in acc]
            if not preds:
                continue
            in_shape = self._common_shape(n, preds)
            m = self._map(n, in_shape)
            x = _sum_delays(acc[p] for p in preds)
            if m.delays is not None:
                acc[n] = _split_delays(x, m.delays)
            else:
                acc[n] = x if m.matrix is None else {d: w @ m.matrix for d, w in x.items()}
        out = {}
        for t in targets:
            preds = [p for p in self.g.predecessors(t) if p in acc]
            self._check_neuron_input(t, preds)
            out[(source, t)] = {d: w.tocsr() for d, w in sorted(_sum_delays(acc[p] for p in preds).items())}
        return out

    def _common_shape(self, n: str, preds: list[str]) -> tuple:
        shapes = {p: self.out_shape(p) for p in preds}
        if n in self.maps:
            shapes[f"(earlier input of {n})"] = self.maps[n].in_shape
        if len(set(shapes.values())) > 1:
            raise NetworkError(
                f"{node_place(n, self.nodes[n])}: its inputs have different shapes "
                + ", ".join(f"{p}: {s}" for p, s in shapes.items())
            )
        return next(iter(shapes.values()))

    def _map(self, n: str, in_shape: tuple) -> _Map:
        if n not in self.maps:
            try:
                self.maps[n] = _linear_map(self.nodes[n], in_shape, self.dt)
            except NetworkError:
                raise
            except (ValueError, TypeError, IndexError, OverflowError) as e:
                raise NetworkError(f"{node_place(n, self.nodes[n])}: {' '.join(str(e).split())}") from None
        return self.maps[n]

    def _check_neuron_input(self, t: str, preds: list[str]) -> None:
        node = self.nodes[t]
        for p in preds:
            got = self.out_shape(p)
            if t not in self.pops:
                params = param_shape(t, node)
                if shape_size(params) not in (1, shape_size(got)):
                    raise NetworkError(
                        f"{node_place(t, node)}: input shape {got} from {p!r} "
                        f"({node_type(self.nodes[p])}) does not match the neuron shape {params}"
                    )
                self.pops[t] = params if shape_size(params) == shape_size(got) and params else got
            if shape_size(got) != shape_size(self.pops[t]):
                raise NetworkError(
                    f"{node_place(t, node)}: input shape {got} from {p!r} "
                    f"({node_type(self.nodes[p])}) does not match the neuron shape {self.pops[t]}"
                )


def _linear_map(node, in_shape: tuple, dt: float | None = None) -> _Map:
    """The map of one linear node given its input shape (raises ValueError on a mismatch)."""
    t = node_type(node)
    if t == "Delay":
        return _Map(in_shape, in_shape, None, None, delay_frames(node, in_shape, dt))
    if t == "Conv1d":
        return _conv1d_map(node, in_shape)
    if t in ("Affine", "Linear"):
        w = _values("weight", node.weight)
        if w.ndim != 2:
            raise ValueError(f"weight has shape {w.shape}; only 2-D weights are supported")
        if shape_size(in_shape) != w.shape[1] or (len(in_shape) == 1 and in_shape[0] != w.shape[1]):
            raise ValueError(
                f"input shape {in_shape} does not match weight shape {w.shape} (expects {w.shape[1]} inputs)"
            )
        bias = None
        if t == "Affine" and node.bias is not None:
            bias = np.broadcast_to(_values("bias", node.bias), (w.shape[0],)).copy()
        if w.shape[0] == 0:
            raise ValueError(f"weight has shape {w.shape}: no outputs")
        return _Map(in_shape, (w.shape[0],), sp.csr_array(w.T), bias)
    if t == "Scale":
        s = _values("scale", node.scale)
        try:
            s = np.broadcast_to(s, in_shape).ravel()
        except ValueError:
            raise ValueError(f"scale of shape {s.shape} does not fit input shape {in_shape}") from None
        return _Map(in_shape, in_shape, sp.diags_array(s).tocsr(), None)
    if t == "Flatten":
        declared = node.input_type.get("input") if node.input_type else None
        if declared is not None and shape_size(tuple(np.asarray(declared).ravel())) != shape_size(in_shape):
            raise ValueError(
                f"input shape {in_shape} does not match its input_type "
                f"{tuple(int(x) for x in np.asarray(declared).ravel())}"
            )
        return _Map(in_shape, _flatten_shape(in_shape, int(node.start_dim), int(node.end_dim), declared), None, None)
    if t == "Conv2d":
        w = _values("weight", node.weight)
        if w.ndim != 4:
            raise ValueError(f"weight has shape {w.shape}; Conv2d needs (C_out, C_in/groups, kh, kw)")
        in_shape = _image_shape(in_shape, node, w.shape[1] * int(node.groups))
        out_shape, mat = _conv2d_matrix(in_shape, w, node.stride, node.padding, node.dilation, int(node.groups))
        return _Map(in_shape, out_shape, mat, _conv_bias(node, w.shape[0], out_shape[1] * out_shape[2]))
    if t in ("SumPool2d", "AvgPool2d"):
        if len(in_shape) != 3:
            raise ValueError(f"input shape {in_shape} is not (C, H, W)")
        kh, kw = _pair(node.kernel_size, "kernel_size")
        if kh < 1 or kw < 1:
            raise ValueError(f"kernel_size {(kh, kw)} must be at least 1")
        _check_size(0, in_shape[0] * kh * kw)  # the kernel itself, before it is built
        stride = (kh, kw) if node.stride is None else node.stride
        ones = np.full((in_shape[0], 1, kh, kw), 1.0 if t == "SumPool2d" else 1.0 / (kh * kw))
        out_shape, mat = _conv2d_matrix(in_shape, ones, stride, node.padding, 1, in_shape[0])
        return _Map(in_shape, out_shape, mat, None)
    raise ValueError(f"unsupported linear node {t}")  # unreachable: checked in _structure


def _conv_bias(node, c_out: int, per_channel: int) -> np.ndarray | None:
    """A conv node's bias repeated over its output positions (None when absent or all zero)."""
    if node.bias is None:
        return None
    b = _values("bias", node.bias)
    if not np.any(b):
        return None
    try:
        b = np.broadcast_to(b.ravel() if b.size == c_out else b, (c_out,))
    except ValueError:
        raise ValueError(f"bias has shape {b.shape}, {c_out} output channels") from None
    return np.repeat(b, per_channel)


def _conv1d_map(node, in_shape: tuple) -> _Map:
    """``Conv1d`` as a ``Conv2d`` of height 1: weight ``(C_out, C_in/groups, k)``, input ``(C, N)``,
    stride, padding (a number, ``'same'`` or ``'valid'``), dilation and groups as PyTorch."""
    w = _values("weight", node.weight)
    if w.ndim != 3:
        raise ValueError(f"weight has shape {w.shape}; Conv1d needs (C_out, C_in/groups, k)")
    groups = int(node.groups)
    channels = w.shape[1] * groups
    declared = None
    if node.input_shape is not None:
        declared = (channels, *(int(x) for x in np.asarray(node.input_shape).ravel()))
    if len(in_shape) == 2:
        if declared is not None and tuple(in_shape) != declared:
            raise ValueError(
                f"input shape {in_shape} does not match its input_shape {declared[1:]} with {channels} channels"
            )
        shape = tuple(in_shape)
    elif declared is not None and len(declared) == 2 and shape_size(declared) == shape_size(in_shape):
        shape = declared
    else:
        raise ValueError(f"input shape {in_shape} is not (C, N)")
    if shape[0] != channels:
        raise ValueError(f"input shape {shape} has {shape[0]} channels, weight expects {channels}")
    padding = node.padding
    if isinstance(padding, bytes):
        padding = padding.decode()
    pad = padding if isinstance(padding, str) else (0, _single(padding, "padding"))
    stride, dilation = (1, _single(node.stride, "stride")), (1, _single(node.dilation, "dilation"))
    out, mat = _conv2d_matrix((shape[0], 1, shape[1]), w[:, :, None, :], stride, pad, dilation, groups)
    out_shape = (out[0], out[2])
    return _Map(shape, out_shape, mat, _conv_bias(node, w.shape[0], out[2]))


def _single(x, what: str) -> int:
    a = np.asarray(x).ravel()
    if a.size != 1:
        raise ValueError(f"{what} {x!r} is not an int")
    return int(a[0])


def delay_frames(node, in_shape: tuple, dt: float | None) -> np.ndarray:
    """A Delay node's delays in whole frames per (flattened) channel: ``delay / dt``, refused when
    negative or not a whole number (within a relative ``1e-6``, float32 rounding of the file)."""
    d = _values("delay", node.delay)
    n = shape_size(in_shape)
    if d.size not in (1, n):
        raise ValueError(f"delay has shape {d.shape}, its input {in_shape}")
    d = np.broadcast_to(d.ravel(), (n,))
    if np.any(d < 0):
        i = int(np.flatnonzero(d < 0)[0])
        raise ValueError(f"delay {d[i]:g} s at flat index {i} is negative")
    if not np.any(d):
        return np.zeros(n, np.int64)
    if dt is None:
        raise ValueError("delays in seconds need dt: pass dt= (CLI --dt) or store metadata['dt'] in the NIR graph")
    frames = d / dt
    whole = np.round(frames)
    bad = np.flatnonzero(np.abs(frames - whole) > 1e-6 * np.maximum(1.0, whole))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"delay {d[i]:g} s at flat index {i} is {frames[i]:g} frames of dt = {dt:g} s, not a whole number: "
            "pass the dt the model was trained with (--dt)"
        )
    if whole.max() > MAX_DELAY_FRAMES:
        raise ValueError(f"delay of {int(whole.max())} frames is over the limit of {MAX_DELAY_FRAMES}")
    return whole.astype(np.int64)


def _image_shape(in_shape: tuple, node, channels: int) -> tuple:
    """The (C, H, W) input of a Conv2d: the upstream shape, or a flat upstream vector reshaped by
    the node's own ``input_shape``; checked against ``input_shape`` when both exist."""
    declared = None
    if node.input_shape is not None:
        declared = (channels, *(int(x) for x in np.asarray(node.input_shape).ravel()))
    if len(in_shape) == 3:
        if declared is not None and tuple(in_shape) != declared:
            raise ValueError(
                f"input shape {in_shape} does not match its input_shape {declared[1:]} with {channels} channels"
            )
        shape = tuple(in_shape)
    elif declared is not None and len(declared) == 3 and shape_size(declared) == shape_size(in_shape):
        shape = declared
    else:
        raise ValueError(f"input shape {in_shape} is not (C, H, W)")
    if shape[0] != channels:
        raise ValueError(f"input shape {shape} has {shape[0]} channels, weight expects {channels}")
    return shape


def _flatten_shape(shape: tuple, start: int, end: int, declared) -> tuple:
    """Output shape of a Flatten over an (unbatched) input ``shape``.

    NIR shapes exclude the batch dimension, but torch exporters (snnTorch, Norse via nirtorch) copy
    ``nn.Flatten``'s dims, which count it. So: ``start_dim`` 0 or negative is read as NIR writes
    it (no batch dimension); a positive ``start_dim`` counts the batch dimension (``start_dim=1``,
    torch's default, flattens the whole sample), and so do the positive dims of a node whose
    declared ``input_type`` has one dimension more than its input. Flatten never moves a value in
    C order, so this choice only affects the tracked shape, never the weights.
    """
    nd = len(shape)
    batched_decl = declared is not None and np.asarray(declared).size == nd + 1
    shift = lambda d: d - 1 if d > 0 else d
    if batched_decl or start > 0:
        start, end = shift(start), shift(end)
    start, end = (start + nd if start < 0 else start), (end + nd if end < 0 else end)
    if nd == 0:
        return (1,)
    if not (0 <= start <= end < nd):
        return (shape_size(shape),)
    return tuple(shape[:start]) + (shape_size(shape[start : end + 1]),) + tuple(shape[end + 1 :])


def _pair(x, what: str) -> tuple[int, int]:
    a = np.asarray(x).ravel()
    if a.size == 1:
        a = np.repeat(a, 2)
    if a.size != 2:
        raise ValueError(f"{what} {x!r} is not an int or a pair")
    return int(a[0]), int(a[1])


def _conv2d_matrix(in_shape: tuple, weight: np.ndarray, stride, padding, dilation, groups: int):
    """PyTorch ``conv2d`` (cross-correlation) as a sparse ``[C_in*H*W, C_out*Ho*Wo]`` matrix.

    ``weight`` is ``(C_out, C_in/groups, kh, kw)``; ``padding`` an int, a pair, ``'valid'`` or
    ``'same'`` (stride 1 only; ``d*(k-1)`` zeros split with the smaller half first, as torch).
    Zero weights give no entries.
    """
    c_in, h, w = (int(x) for x in in_shape)
    c_out, cg, kh, kw = weight.shape
    if groups < 1 or c_in != cg * groups or c_out % groups:
        raise ValueError(
            f"groups={groups} does not fit {c_in} input and {c_out} output channels (weight shape {weight.shape})"
        )
    (sh, sw), (dh, dw) = _pair(stride, "stride"), _pair(dilation, "dilation")
    if min(sh, sw, dh, dw) < 1:
        raise ValueError(f"stride {(sh, sw)} and dilation {(dh, dw)} must be at least 1")
    if isinstance(padding, bytes):
        padding = padding.decode()
    if isinstance(padding, str):
        if padding == "valid":
            (pt, pl), (ho, wo) = (0, 0), _conv_out((h, w), (0, 0), (dh, dw), (kh, kw), (sh, sw))
        elif padding == "same":
            if (sh, sw) != (1, 1):
                raise ValueError("padding='same' needs stride 1")
            pt, pl, ho, wo = dh * (kh - 1) // 2, dw * (kw - 1) // 2, h, w
        else:
            raise ValueError(f"padding {padding!r} is not 'same', 'valid' or a number")
    else:
        pt, pl = _pair(padding, "padding")
        if min(pt, pl) < 0:
            raise ValueError(f"padding {(pt, pl)} is negative")
        ho, wo = _conv_out((h, w), (pt, pl), (dh, dw), (kh, kw), (sh, sw))
    if ho <= 0 or wo <= 0:
        raise ValueError(f"input {in_shape} is too small for kernel {(kh, kw)} (output {(ho, wo)})")
    _check_size(c_out * ho * wo, int(np.count_nonzero(weight)) * ho * wo)
    per_group = c_out // groups
    oy = np.arange(ho)[None, :, None]
    ox = np.arange(wo)[None, None, :]
    rows, cols, vals = [], [], []
    for co in range(c_out):
        ci, ki, kj = np.nonzero(weight[co])
        if not len(ci):
            continue
        val = weight[co][ci, ki, kj][:, None, None]
        iy = oy * sh - pt + ki[:, None, None] * dh
        ix = ox * sw - pl + kj[:, None, None] * dw
        chan = (co // per_group * cg + ci)[:, None, None]
        src = (chan * h + iy) * w + ix
        dst = (co * ho + oy) * wo + ox
        src, dst, val, iy, ix = np.broadcast_arrays(src, dst, val, iy, ix)
        ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        rows.append(src[ok])
        cols.append(dst[ok])
        vals.append(val[ok])
    shape = (c_in * h * w, c_out * ho * wo)
    if not rows:
        return (c_out, ho, wo), sp.csr_array(shape, dtype=np.float64)
    mat = sp.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape)
    mat.sum_duplicates()
    return (c_out, ho, wo), mat


def _conv_out(hw, pad, dil, k, stride) -> tuple[int, int]:
    return tuple((hw[i] + 2 * pad[i] - dil[i] * (k[i] - 1) - 1) // stride[i] + 1 for i in range(2))


def shape_size(shape) -> int:
    """Entries of a shape (Python integers: no overflow, whatever the dimensions)."""
    return math.prod(int(x) for x in shape)


def declared_shape(name: str, node, shape) -> tuple:
    """A declared shape (an Input's ``input_type``) as positive integers, within ``MAX_NEURONS``."""
    a = np.asarray(shape).ravel()
    try:
        dims = tuple(int(x) for x in a)
        ok = all(float(x) == d for x, d in zip(a, dims))
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or not dims or min(dims) < 1:
        raise NetworkError(f"{node_place(name, node)}: shape {a.tolist()} is not a list of positive integers")
    if shape_size(dims) > MAX_NEURONS:
        raise NetworkError(
            f"{node_place(name, node)}: shape {dims} has {shape_size(dims)} neurons, over the limit of {MAX_NEURONS}"
        )
    return dims


def _check_size(outputs: int, entries: int) -> None:
    """A linear node's outputs within ``MAX_NEURONS`` and its matrix entries (an upper bound)
    within ``MAX_SYNAPSES``, checked before the matrix is built."""
    if outputs > MAX_NEURONS:
        raise ValueError(f"{outputs} outputs, over the limit of {MAX_NEURONS} neurons")
    if entries > MAX_SYNAPSES:
        raise ValueError(f"up to {entries} weights, over the limit of {MAX_SYNAPSES} synapses")


def _values(key: str, value) -> np.ndarray:
    """A weight, bias or scale as a float64 array with every entry finite (else ValueError)."""
    try:
        a = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"parameter {key} is not numeric, got {type(value).__name__}") from None
    bad = np.flatnonzero(~np.isfinite(a.ravel()))
    if bad.size:
        raise ValueError(f"parameter {key} must be finite, got {a.ravel()[bad[0]]} at flat index {int(bad[0])}")
    return a


def _sum_delays(parts) -> dict[int, sp.csr_array]:
    """The sum of several ``{delay: matrix}``, delay by delay."""
    total: dict[int, sp.csr_array] = {}
    for part in parts:
        for d, m in part.items():
            total[d] = m if d not in total else total[d] + m
    return total


def _split_delays(x: dict[int, sp.csr_array], delays: np.ndarray) -> dict[int, sp.csr_array]:
    """``x`` through a Delay: the columns (channels) of each matrix move to their delay's matrix."""
    out: dict[int, sp.csr_array] = {}
    for d0, m in x.items():
        for k in np.unique(delays):
            part = sp.csr_array(m @ sp.diags_array((delays == k).astype(np.float64)))
            part.eliminate_zeros()
            key = d0 + int(k)
            out[key] = part if key not in out else out[key] + part
    return out
