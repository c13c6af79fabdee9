"""Adapters from the frameworks people train in to neurosim networks.

Each ``from_<framework>(model, example_input, ...)`` reads the framework's model object, takes
what that framework's NIR exporter loses (reset mode and timing, dt, decay form, input gain,
spike timing) and builds a :class:`neurosim.describe.network.Network` whose sync-mode spikes
equal the framework's own forward per neuron and frame. What the chip cannot do is refused with a
one-line :class:`neurosim.errors.NetworkError`. The frameworks are imported only when an adapter
is called (``pip install 'neurosim-hw[interop]'``)."""

from __future__ import annotations

import importlib

_ADAPTERS = {
    "from_snntorch": "neurosim.interop.snntorch_adapter",
    "from_norse": "neurosim.interop.norse_adapter",
    "from_sinabs": "neurosim.interop.sinabs_adapter",
    "from_rockpool": "neurosim.interop.rockpool_adapter",
    "from_spyx": "neurosim.interop.spyx_adapter",
}

__all__ = sorted(_ADAPTERS)


def __getattr__(name):
    if name in _ADAPTERS:
        return getattr(importlib.import_module(_ADAPTERS[name]), name)
    raise AttributeError(f"module 'neurosim.interop' has no attribute {name!r}")
