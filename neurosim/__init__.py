"""neurosim: a discrete-event simulator of neuromorphic hardware for spiking neural networks.

The simulator imports and runs without torch; the trainer (``neurosim.train``) is an extra.
The public API is imported lazily (``neurosim.load_hardware`` etc.), so ``import neurosim`` is
cheap and never touches torch.
"""

import importlib

__version__ = "0.1.0"

_API = {
    "load_hardware": "neurosim.io.hardware_file",
    "load_network": "neurosim.io.nir_read",
    "save_network": "neurosim.io.nir_write",
    "map_network": "neurosim.mapping.registry",
    "load_mapping": "neurosim.io.mapping_file",
    "save_mapping": "neurosim.io.mapping_file",
    "load_dataset": "neurosim.data.registry",
    "simulate": "neurosim.sim.engine",
    "write_report": "neurosim.report.writer",
    "summarize": "neurosim.analysis.summary",
    "energy_breakdown": "neurosim.describe.cost",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'neurosim' has no attribute {name!r}")
