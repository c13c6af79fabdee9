"""A spiking CNN for the trainer: conv layers (and pools folded into the next layer) run by the
same forwards as the MLP, :func:`neurosim.train.model.forward_layered` and
:func:`~neurosim.train.model.forward_unlayered`, with the same neuron semantics.

Each layer's trainable parameter (a conv kernel ``(C_out, C_in, K, K)`` or a dense weight
``(n_out, n_in)``) is turned into the dense ``(n_out, n_in)`` matrix the forwards take by a fixed
index map (:func:`neurosim.train.conv_arch.conv_index`): ``dense.view(-1)[rows * n_in + cols] =
kernel.view(-1)[kidx]``, a differentiable gather/scatter, so the kernel's gradient is the sum of
the gradients of its copies. Every output position of a conv is one LIF neuron (numbered in C
order ``(C, H, W)``, as NIR and the simulator flatten). A pool has no neurons: its matrix (0/1,
or ``1/K**2``) multiplies the next layer's, as a NIR chain ``LIF -> SumPool2d -> Conv2d`` is
composed by the loader. The layered forward uses the dense matrices too (not ``F.conv2d``): its
float32 sums are then ordered as the matrix form's and the layered and unlayered forwards see the
same weights; with 8-bit power-of-two weights every sum is exact anyway (see
:mod:`neurosim.train.quantize`). Spec, shapes and index maps: :mod:`neurosim.train.conv_arch`.
"""

from __future__ import annotations

import math

import numpy as np
import torch  # noqa: TID253 - the trainer is the torch extra

from neurosim.train.conv_arch import (
    LayerPlan,
    conv_index,
    dense_matrix,
    expand_bias,
    parse_spec,
    plan,
    pool_matrix,
    spec_string,
)
from neurosim.train.model import ForwardResult, LIFParams, forward
from neurosim.train.quantize import QMAX, pow2_scale, quantize_layer


class SpikingCNN(torch.nn.Module):
    """Conv / pool / dense LIF layers from a spec (``"8k3s2,16k3s2p1,32k3s2p1"`` or
    ``"paper-cnn"``) over a ``(C, H, W)`` input, then a dense layer to ``n_classes``.

    ``weights`` (a property) gives the dense matrices of the current parameters, ``biases`` the
    per-neuron biases (None without ``bias``), both differentiable; ``forward(x, mode=...)`` is
    :class:`~neurosim.train.model.SpikingMLP`'s. Parameters start uniform in
    ``+-gain / sqrt(fan_in)`` (fan-in ``C_in*K*K`` for a conv), biases at 0.
    """

    def __init__(
        self,
        spec: str,
        input_shape,
        n_classes: int,
        params: LIFParams | None = None,
        *,
        gain: float = 1.0,
        generator: torch.Generator | None = None,
        bias: bool = False,
    ):
        super().__init__()
        self.tokens = parse_spec(spec)
        self.spec = spec_string(self.tokens)
        self.plan: list[LayerPlan] = plan(self.tokens, input_shape, n_classes)
        self.input_shape = self.plan[0].pools[0][1] if self.plan[0].pools else self.plan[0].in_shape
        self.params = LIFParams() if params is None else params
        self.sizes = [self.plan[0].n_in] + [lp.n_out for lp in self.plan]
        ps = []
        for i, lp in enumerate(self.plan):
            shape = lp.param_shape
            bound = gain / math.sqrt(math.prod(shape[1:]))
            ps.append(torch.nn.Parameter((torch.rand(shape, generator=generator) * 2 - 1) * bound))
            if lp.conv is not None:
                rows, cols, kidx, _ = conv_index(lp.in_shape, lp.conv)
                n_in = math.prod(lp.in_shape)
                self.register_buffer(f"_flat{i}", torch.from_numpy(rows * n_in + cols), persistent=False)
                self.register_buffer(f"_kidx{i}", torch.from_numpy(kidx), persistent=False)
            pm = None
            for pool, shp in lp.pools:  # the pools' product, applied right of the layer's matrix
                p = torch.from_numpy(pool_matrix(shp, pool))
                pm = p if pm is None else p @ pm
            self.register_buffer(f"_pool{i}", pm, persistent=False)
        self.kernels = torch.nn.ParameterList(ps)
        self.bias_params = (
            torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(lp.bias_shape)) for lp in self.plan])
            if bias
            else None
        )

    @property
    def architecture(self) -> str:
        """``2x34x34-8k3s2-16k3s2p1-32k3s2p1-10``."""
        return "-".join(["x".join(map(str, self.input_shape)), *(t.token for t in self.tokens), str(self.sizes[-1])])

    def _dense(self, i: int, param: torch.Tensor) -> torch.Tensor:
        lp = self.plan[i]
        if lp.conv is not None:
            flat, kidx = getattr(self, f"_flat{i}"), getattr(self, f"_kidx{i}")
            n_in = math.prod(lp.in_shape)
            m = param.new_zeros(lp.n_out * n_in).index_put((flat,), param.reshape(-1)[kidx])
            m = m.view(lp.n_out, n_in)
        else:
            m = param
        pm = getattr(self, f"_pool{i}")
        return m if pm is None else m @ pm

    def _expand(self, i: int, b: torch.Tensor) -> torch.Tensor:
        lp = self.plan[i]
        return b.repeat_interleave(lp.n_out // lp.out_shape[0]) if lp.conv is not None else b

    def dense_weights(self, params=None) -> list[torch.Tensor]:
        """The dense ``(n_out, n_in)`` matrix of every layer (differentiable) from ``params``
        (default: the model's kernels and weights)."""
        ps = list(self.kernels) if params is None else list(params)
        return [self._dense(i, p) for i, p in enumerate(ps)]

    def neuron_biases(self, bias_params=None) -> list[torch.Tensor] | None:
        bs = bias_params if bias_params is not None else self.bias_params
        return None if bs is None else [self._expand(i, b) for i, b in enumerate(bs)]

    @property
    def weights(self) -> list[torch.Tensor]:
        return self.dense_weights()

    @property
    def biases(self) -> list[torch.Tensor] | None:
        return self.neuron_biases()

    def fake_quant_weights(self) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """Straight-through 8-bit power-of-two quantisation of the kernels (and biases, one grid
        per layer), then the dense matrices: the forward of quantisation-aware training."""
        ks, bs = list(self.kernels), None if self.bias_params is None else list(self.bias_params)
        qk, qb = [], []
        for i, k in enumerate(ks):
            m = float(k.detach().abs().max())
            if bs is not None:
                m = max(m, float(bs[i].detach().abs().max()))
            s = pow2_scale(m)
            qk.append(_ste(k, s))
            if bs is not None:
                qb.append(_ste(bs[i], s))
        return self.dense_weights(qk), None if bs is None else self.neuron_biases(qb)

    def quantized(self) -> dict:
        """The 8-bit power-of-two quantisation of every layer's parameter (and bias, on one grid):
        ``{"params", "biases" (per channel / neuron, or None), "scales", "weights" (dense float32),
        "neuron_biases" (or None)}``, numpy. The dense matrices are built from the quantised
        kernels (pools folded in float64), so they are what the NIR file describes."""
        ps, bs, scales = [], [], []
        for i, k in enumerate(self.kernels):
            b = None if self.bias_params is None else self.bias_params[i].detach().cpu().numpy()
            q, qb, s = quantize_layer(k.detach().cpu().numpy(), b, QMAX)
            ps.append(q)
            bs.append(qb)
            scales.append(s)
        dense = [dense_matrix(lp, p) for lp, p in zip(self.plan, ps)]
        has_b = self.bias_params is not None
        return {
            "params": ps,
            "biases": bs if has_b else None,
            "scales": scales,
            "weights": dense,
            "neuron_biases": [expand_bias(lp, b) for lp, b in zip(self.plan, bs) if b is not None] if has_b else None,
        }

    def float_arrays(self) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
        """The float dense matrices and per-neuron biases (numpy float32)."""
        with torch.no_grad():
            ws = [w.cpu().numpy().astype(np.float32) for w in self.dense_weights()]
            nb = self.neuron_biases()
            return ws, None if nb is None else [b.cpu().numpy().astype(np.float32) for b in nb]

    def forward(self, x, *, mode: str = "layered", weights=None, biases=None, **kw) -> ForwardResult:
        if biases is None and self.bias_params is not None:
            biases = self.neuron_biases()
        return forward(
            self.dense_weights() if weights is None else weights, x, self.params, mode=mode, biases=biases, **kw
        )


def _ste(w: torch.Tensor, scale: float) -> torch.Tensor:
    q = torch.clamp(torch.round(w.detach() / scale), -QMAX, QMAX) * scale
    return w + (q - w).detach()
