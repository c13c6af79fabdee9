"""The trainer: layered BPTT and unlayered backprop (the asynchronous schedule in the loop,
Koopman et al., TMLR 2025, arXiv:2408.05098) for small spiking MLPs, exported to NIR.

This is the only part of neurosim that imports torch (an optional extra:
``pip install -e .[train]``). Importing this package does not import torch; the torch-based
names below are loaded on first use:

* :mod:`neurosim.train.model`: ``forward_layered``, ``forward_unlayered``, ``SpikingMLP``,
  ``LIFParams``, ``spike_fn``, ``count_loss``;
* :mod:`neurosim.train.trainer`: ``TrainConfig``, ``train``, ``evaluate``;
* :mod:`neurosim.train.export` (numpy + nir): ``write_nir``, ``read_metadata``;
* :mod:`neurosim.train.quantize` (numpy): ``quantize``, ``quantize_layer``, ``is_on_grid`` (import from there);
* :mod:`neurosim.train.losses`: ``LOSSES``, ``total_loss`` and the losses (import from there);
* :mod:`neurosim.train.reference` (numpy): per-sample reference forwards (the test oracle);
* :mod:`neurosim.train.cli`: ``register(subparsers)`` for ``neurosim train``.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "forward_layered": "model",
    "forward_unlayered": "model",
    "forward": "model",
    "SpikingMLP": "model",
    "LIFParams": "model",
    "spike_fn": "model",
    "count_loss": "model",
    "ForwardResult": "model",
    "TrainConfig": "trainer",
    "TrainResult": "trainer",
    "TrainError": "trainer",
    "train": "trainer",
    "evaluate": "trainer",
    "write_nir": "export",
    "read_metadata": "export",
    "ExportError": "export",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'neurosim.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"neurosim.train.{mod}"), name)
    globals()[name] = value
    return value
