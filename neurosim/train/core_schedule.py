"""The per-core scheduler scope of the trainer's unlayered forward (``scope="core"``).

The global scope sends, in every send step, at most ``F`` ready neurons of the whole network.
On a chip each core has its own ready queue and issues at most ``issue_width`` spikes per step:
with :class:`CoreScope` every core sends, in every send step, at most ``width`` of ITS OWN ready
neurons, picked by the policy (``momentum``: highest priority first, ties to the lower global
index; ``random``: uniformly, seeded) among that core's ready ones; there is no global limit.

The neuron -> core assignment is the simulator's (:func:`neurosim.mapping.registry.map_network`
on the hardware description, e.g. at most ``neurons_per_core`` neurons per core), the width the
hardware's ``core.issue_width``. The send steps stay lock-step (every core issues once per step,
then all the sent spikes are integrated together): the simulator's async per-core mode
(:mod:`neurosim.sim.async_core`) lets cores progress independently by their timing, so the
trainer's core-scope forward is an idealisation of it, not a copy (measured, not asserted equal).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch  # noqa: TID253 - the trainer is the torch extra (pyproject lists model, trainer, losses)

from neurosim.errors import ConfigError
from neurosim.io.hardware_file import load_hardware
from neurosim.io.nir_read import from_nir
from neurosim.mapping.registry import map_network
from neurosim.train.export import build_graph


@dataclass(frozen=True, eq=False)
class CoreScope:
    """``core_of[n]``: the core (0..C-1) of global neuron ``n`` (the trainer's numbering: hidden
    layers then the output layer, the input channels excluded); ``width``: spikes a core sends
    per send step."""

    core_of: np.ndarray
    width: int
    _onehot: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        core_of = np.asarray(self.core_of)
        if core_of.ndim != 1 or core_of.size == 0 or core_of.min() < 0:
            raise ConfigError(f"core scope: core_of must list a core index >= 0 per neuron, got shape {core_of.shape}")
        if int(self.width) < 1:
            raise ConfigError(f"core scope: issue width must be >= 1, got {self.width}")
        _, compact = np.unique(core_of, return_inverse=True)
        object.__setattr__(self, "core_of", compact.astype(np.int64))

    @property
    def n_cores(self) -> int:
        return int(self.core_of.max()) + 1

    def onehot(self, device: torch.device) -> torch.Tensor:
        """``(N, C)`` float32 0/1: neuron ``n`` belongs to core ``c``."""
        key = str(device)
        if key not in self._onehot:
            idx = torch.as_tensor(self.core_of, device=device)
            self._onehot[key] = torch.nn.functional.one_hot(idx, self.n_cores).to(torch.float32)
        return self._onehot[key]

    def check(self, n_neurons: int) -> None:
        if self.core_of.size != n_neurons:
            raise ConfigError(
                f"core scope: {self.core_of.size} neurons assigned to cores, the network has {n_neurons}; "
                "map the same network"
            )

    def overfull(self, ready: torch.Tensor) -> bool:
        """Whether some core of some sample has more than ``width`` ready neurons (then the policy
        must choose; otherwise every ready neuron is sent)."""
        per_core = ready.to(torch.float32) @ self.onehot(ready.device)  # (B, C)
        return bool((per_core > self.width).any())

    def pick(self, score: Callable[[], torch.Tensor], ready: torch.Tensor) -> torch.Tensor:
        """The mask (``ready``'s dtype) of the neurons sent in this step: per sample and core the
        (at most) ``width`` ready ones with the largest ``score()`` (positive float keys, computed
        only when some core must choose)."""
        if not self.overfull(ready):
            return ready.clone()
        key = score() * ready.to(torch.float64)  # non-ready -> 0, below every ready key
        keep = self._top_by_max(key)
        if bool(((keep.to(torch.float32) @ self.onehot(ready.device)) > self.width).any()):
            keep = self._top_by_sort(key)  # equal keys in a core (random draws): the exact way
        if ready.dtype == torch.bool:
            return keep & ready
        return keep.to(ready.dtype) * ready

    def _top_by_max(self, key: torch.Tensor) -> torch.Tensor:
        """``width`` rounds of "the largest key of each core" (fast; exact when the keys of a core
        are distinct)."""
        B, N = key.shape
        idx = torch.as_tensor(self.core_of, device=key.device).expand(B, N)
        keep = torch.zeros(B, N, dtype=torch.bool, device=key.device)
        k = key
        for _ in range(self.width):
            best = torch.zeros(B, self.n_cores, dtype=key.dtype, device=key.device).scatter_reduce_(
                1, idx, k, "amax", include_self=True
            )
            top = (k == best.gather(1, idx)) & (k > 0)
            keep |= top
            k = k.masked_fill(top, 0.0)
        return keep

    def _top_by_sort(self, key: torch.Tensor) -> torch.Tensor:
        """Per core the ``width`` largest keys, ties to the lower index (a stable sort)."""
        order = torch.sort(key, dim=1, descending=True, stable=True).indices  # (B, N)
        core_sorted = torch.as_tensor(self.core_of, device=key.device)[order]  # (B, N)
        oh = self.onehot(key.device)[order]  # (B, N, C): the core of each sorted neuron
        rank = torch.gather(torch.cumsum(oh, dim=1), 2, core_sorted.unsqueeze(2)).squeeze(2)  # 1-based, per core
        keep_sorted = (rank <= self.width) & (torch.gather(key, 1, order) > 0)
        return torch.zeros_like(keep_sorted).scatter_(1, order, keep_sorted)


def scores(prio: torch.Tensor, scheduler: str, generator: torch.Generator | None, positive_thr: bool) -> torch.Tensor:
    """The scheduler's float64 keys (positive, distinct per row for momentum; the largest are sent
    first): as the replay's ``_Schedule._score`` (momentum: the float32 bits of the priority times
    N+1 plus N-index; random: one ``torch.rand(B, N)`` draw plus 1)."""
    B, N = prio.shape
    if scheduler == "momentum":
        bits = prio.contiguous().view(torch.int32)
        if not positive_thr:
            bits = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits).to(torch.float64) + 2.0**31
        tie = (N - torch.arange(N, device=prio.device)).to(torch.float64)
        return torch.addcmul(tie, bits.to(torch.float64), torch.tensor(float(N + 1), dtype=torch.float64))
    return torch.rand(B, N, device=prio.device, generator=generator).to(torch.float64) + 1.0


@lru_cache(maxsize=16)
def _mapped(hw_path: str, sizes: tuple[int, ...], neurons_per_core: int | None, strategy: str) -> tuple[tuple, int]:

    hw = load_hardware(hw_path)
    ws = [np.ones((n_out, n_in), np.float32) for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    net = from_nir(build_graph(ws, beta=0.5), name="trainer")
    opts: dict[str, Any] = {} if neurons_per_core is None else {"neurons_per_core": int(neurons_per_core)}
    m = map_network(net, hw, strategy=strategy, **opts)
    core_of = np.asarray(m.core_of)[sizes[0] :]  # drop the input channels (the trainer does not number them)
    return tuple(int(c) for c in core_of), int(hw.core.issue_width)


def core_scope_from_hardware(
    hw_path: str, sizes, *, neurons_per_core: int | None = None, strategy: str = "sequential"
) -> CoreScope:
    """The :class:`CoreScope` of an MLP with layer ``sizes`` (``[n_in, h_1, ..., n_out]``) mapped on
    the hardware file ``hw_path`` as ``neurosim run`` maps it (``strategy``, at most
    ``neurons_per_core`` per core; input channels dropped), with the hardware's issue width."""
    core_of, width = _mapped(str(hw_path), tuple(int(s) for s in sizes), neurons_per_core, strategy)
    return CoreScope(np.asarray(core_of, np.int64), width)
