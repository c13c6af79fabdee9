"""Convolutional architectures for the trainer, numpy only: the layer spec, its shapes and the
index maps that turn a kernel into the dense ``(n_out, n_in)`` matrix the forwards run.

Spec (``--conv``): comma-separated tokens, in order from the input,

* ``<C>k<K>[s<S>][p<P>]``: a Conv2d layer of ``C`` LIF feature maps, square kernel ``K``,
  stride ``S`` (default 1), symmetric zero padding ``P`` (default 0), PyTorch's cross-correlation;
  one LIF neuron per output position, numbered in C order ``(C, H, W)``;
* ``sum<K>[s<S>]`` / ``avg<K>[s<S>]``: a sum or average pool (stride default ``K``, no padding)
  with NO neurons of its own: it is folded into the weights of the next layer (the dense matrix
  of the next layer is its own matrix times the pool's), exactly what a NIR chain
  ``LIF -> SumPool2d -> Conv2d -> LIF`` means and what :mod:`neurosim.io.nir_lower` composes.
  ``avg`` needs ``K*K`` a power of two (``1/(K*K)`` exact in float32), else it is refused;
* ``<N>``: a fully connected LIF layer of ``N`` neurons (the image above it flattened in C order).

A final fully connected layer to the classes always follows (the spec ends before it). The
paper's N-MNIST CNN (:data:`PAPER_CNN`, RoelMK/asynctorch ``Conv2dArchitecture``): input 2x34x34,
``8k3s2`` -> 8x16x16, ``16k3s2p1`` -> 16x8x8, ``32k3s2p1`` -> 32x4x4, Linear 512 -> 10. No bias
(asynctorch's convolutions have none) unless the trainer's ``bias`` asks for one: then one bias
per output channel of a conv (NIR's Conv2d bias, repeated over the positions) and one per neuron
of a dense layer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from neurosim.errors import NeurosimError

PAPER_CNN = "8k3s2,16k3s2p1,32k3s2p1"
ARCHS = {"paper-cnn": PAPER_CNN}

_CONV = re.compile(r"^(\d+)k(\d+)(?:s(\d+))?(?:p(\d+))?$")
_POOL = re.compile(r"^(sum|avg)(\d+)(?:s(\d+))?$")


class ConvSpecError(NeurosimError, ValueError):
    """A conv spec that cannot be parsed or does not fit its input."""


@dataclass(frozen=True)
class Conv:
    channels: int
    kernel: int
    stride: int = 1
    padding: int = 0

    @property
    def token(self) -> str:
        return (
            f"{self.channels}k{self.kernel}"
            + (f"s{self.stride}" if self.stride != 1 else "")
            + (f"p{self.padding}" if self.padding else "")
        )


@dataclass(frozen=True)
class Pool:
    kind: str  # "sum" | "avg"
    kernel: int
    stride: int

    @property
    def token(self) -> str:
        return f"{self.kind}{self.kernel}" + (f"s{self.stride}" if self.stride != self.kernel else "")


@dataclass(frozen=True)
class Dense:
    n: int

    @property
    def token(self) -> str:
        return str(self.n)


def parse_spec(text: str) -> list[Conv | Pool | Dense]:
    """The tokens of a spec string (see the module doc); an architecture name of :data:`ARCHS`
    stands for its spec."""
    text = ARCHS.get(text, text)
    out: list[Conv | Pool | Dense] = []
    for tok in (t.strip() for t in text.replace(" ", "").split(",")):
        if not tok:
            continue
        if m := _CONV.match(tok):
            c, k, s, p = (int(g) if g is not None else None for g in m.groups())
            out.append(Conv(int(c or 0), int(k or 0), 1 if s is None else s, 0 if p is None else p))
        elif m := _POOL.match(tok):
            k = int(m.group(2))
            out.append(Pool(m.group(1), k, k if m.group(3) is None else int(m.group(3))))
        elif tok.isdigit():
            out.append(Dense(int(tok)))
        else:
            raise ConvSpecError(
                f"conv spec token {tok!r}: use <C>k<K>[s<S>][p<P>] (conv), sum<K>[s<S>] / avg<K>[s<S>] (pool) "
                "or <N> (dense), e.g. 8k3s2,16k3s2p1,32k3s2p1"
            )
    if not out:
        raise ConvSpecError(f"conv spec {text!r} has no layers")
    for t in out:
        vals = (
            (t.channels, t.kernel, t.stride)
            if isinstance(t, Conv)
            else (t.kernel, t.stride)
            if isinstance(t, Pool)
            else (t.n,)
        )
        if min(vals) < 1:
            raise ConvSpecError(f"conv spec token {t.token!r}: sizes, kernels and strides must be at least 1")
        if isinstance(t, Pool) and t.kind == "avg" and (t.kernel * t.kernel) & (t.kernel * t.kernel - 1):
            raise ConvSpecError(
                f"conv spec token {t.token!r}: an average pool of {t.kernel}x{t.kernel} weighs 1/{t.kernel**2}, "
                "not exact in float32; use sum pooling or a kernel of 1, 2, 4, ..."
            )
    return out


def spec_string(tokens) -> str:
    return ",".join(t.token for t in tokens)


def conv_out(hw: int, k: int, s: int, p: int) -> int:
    return (hw + 2 * p - k) // s + 1


@dataclass(frozen=True)
class LayerPlan:
    """One neuron layer: the pools folded into its input (in order), then its own map.
    ``kind``: ``"conv"`` or ``"dense"``; ``in_shape`` is the shape after the pools."""

    kind: str
    pools: tuple[tuple[Pool, tuple[int, ...]], ...]  # (pool, its input shape)
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    conv: Conv | None = None

    @property
    def n_in(self) -> int:  # before the pools
        return math.prod(self.pools[0][1]) if self.pools else math.prod(self.in_shape)

    @property
    def n_out(self) -> int:
        return math.prod(self.out_shape)

    @property
    def param_shape(self) -> tuple[int, ...]:
        if self.conv is not None:
            return (self.conv.channels, self.in_shape[0], self.conv.kernel, self.conv.kernel)
        return (self.out_shape[0], math.prod(self.in_shape))

    @property
    def bias_shape(self) -> tuple[int]:
        return (self.out_shape[0],)


def plan(tokens, input_shape, n_classes: int) -> list[LayerPlan]:
    """The neuron layers of a spec over ``input_shape`` ``(C, H, W)``, the final dense layer of
    ``n_classes`` included."""
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 2:  # one channel (e.g. the 8x8 digits)
        shape = (1, *shape)
    if len(shape) != 3:
        raise ConvSpecError(f"a conv network needs a (C, H, W) input, the dataset gives {shape}")
    layers: list[LayerPlan] = []
    pools: list[tuple[Pool, tuple[int, ...]]] = []
    for t in [*tokens, Dense(int(n_classes))]:
        if isinstance(t, Pool):
            if len(shape) != 3:
                raise ConvSpecError(f"conv spec token {t.token!r}: a pool needs an image, not a flat layer {shape}")
            ho, wo = conv_out(shape[1], t.kernel, t.stride, 0), conv_out(shape[2], t.kernel, t.stride, 0)
            if ho < 1 or wo < 1:
                raise ConvSpecError(f"conv spec token {t.token!r}: input {shape} is smaller than the pool")
            pools.append((t, shape))
            shape = (shape[0], ho, wo)
        elif isinstance(t, Conv):
            if len(shape) != 3:
                raise ConvSpecError(f"conv spec token {t.token!r}: a convolution cannot follow a dense layer")
            ho, wo = (conv_out(shape[i], t.kernel, t.stride, t.padding) for i in (1, 2))
            if ho < 1 or wo < 1:
                raise ConvSpecError(f"conv spec token {t.token!r}: input {shape} is smaller than the kernel")
            layers.append(LayerPlan("conv", tuple(pools), shape, (t.channels, ho, wo), t))
            pools, shape = [], (t.channels, ho, wo)
        else:
            layers.append(LayerPlan("dense", tuple(pools), shape, (t.n,)))
            pools, shape = [], (t.n,)
    return layers


def layer_sizes(spec: str, input_shape, n_classes: int) -> list[int]:
    """``[n_in, n_1, ..., n_classes]``: the input channels and the neurons of every layer."""
    layers = plan(parse_spec(spec), input_shape, n_classes)
    return [layers[0].n_in] + [lp.n_out for lp in layers]


def conv_index(in_shape, conv: Conv) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int]]:
    """``(rows, cols, kidx, out_shape)``: dense[rows, cols] = kernel.ravel()[kidx] is the conv
    as a ``(C_out*Ho*Wo, C_in*H*W)`` matrix (C order both sides; each pair at most once)."""
    c, h, w = (int(s) for s in in_shape)
    k, s, p = conv.kernel, conv.stride, conv.padding
    ho, wo = conv_out(h, k, s, p), conv_out(w, k, s, p)
    co, oy, ox, ci, ki, kj = np.meshgrid(
        np.arange(conv.channels), np.arange(ho), np.arange(wo), np.arange(c), np.arange(k), np.arange(k), indexing="ij"
    )
    iy, ix = oy * s - p + ki, ox * s - p + kj
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    rows = ((co * ho + oy) * wo + ox)[ok]
    cols = ((ci * h + iy) * w + ix)[ok]
    kidx = (((co * c + ci) * k + ki) * k + kj)[ok]
    return rows.astype(np.int64), cols.astype(np.int64), kidx.astype(np.int64), (conv.channels, ho, wo)


def pool_matrix(in_shape, pool: Pool) -> np.ndarray:
    """The pool as a dense float32 ``(C*Ho*Wo, C*H*W)`` matrix (entries 1, or 1/K**2 for avg)."""
    c, h, w = (int(s) for s in in_shape)
    k, s = pool.kernel, pool.stride
    ho, wo = conv_out(h, k, s, 0), conv_out(w, k, s, 0)
    ch, oy, ox, ki, kj = np.meshgrid(
        np.arange(c), np.arange(ho), np.arange(wo), np.arange(k), np.arange(k), indexing="ij"
    )
    rows = ((ch * ho + oy) * wo + ox).ravel()
    cols = ((ch * h + oy * s + ki) * w + ox * s + kj).ravel()
    m = np.zeros((c * ho * wo, c * h * w), np.float32)
    m[rows, cols] = 1.0 if pool.kind == "sum" else np.float32(1.0 / (k * k))
    return m


def dense_matrix(layer: LayerPlan, param: np.ndarray) -> np.ndarray:
    """The layer's dense float32 ``(n_out, n_in)`` matrix from its parameter (kernel or weight),
    the pools folded in (float64 products, as the NIR loader composes them, then float32)."""
    param = np.asarray(param, np.float32)
    if layer.conv is not None:
        rows, cols, kidx, _ = conv_index(layer.in_shape, layer.conv)
        m = np.zeros((layer.n_out, math.prod(layer.in_shape)), np.float64)
        m[rows, cols] = param.ravel()[kidx]
    else:
        m = param.astype(np.float64)
    for pool, shape in reversed(layer.pools):
        m = m @ pool_matrix(shape, pool).astype(np.float64)
    return m.astype(np.float32)


def expand_bias(layer: LayerPlan, bias: np.ndarray) -> np.ndarray:
    """A layer's bias per neuron: a conv's per-channel bias repeated over the positions."""
    bias = np.asarray(bias, np.float32).reshape(-1)
    if layer.conv is not None:
        return np.repeat(bias, layer.n_out // layer.out_shape[0])
    return bias
