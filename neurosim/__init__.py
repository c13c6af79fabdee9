"""neurosim: a discrete-event simulator of neuromorphic hardware for spiking neural networks.

The simulator imports and runs without torch; the trainer (``neurosim.train``) is an extra.
The public API is imported lazily (``neurosim.load_hardware`` etc.), so ``import neurosim`` is
cheap and never touches torch.

In a notebook::

    import neurosim as ns
    hw = ns.load_hardware("hw_configs/loihi.yaml")
    net = ns.from_nir("models/digits_layered.nir")   # or a nir.NIRGraph in memory (docs/nir.md)
    result = ns.simulate(hw, net, ns.map_network(net, hw), inputs, labels)
    result                      # one line (an HTML table in Jupyter): accuracy, energy, latency
    result.to_pandas()          # one row per sample, the columns of samples.csv (needs pandas)
    ns.summarize(result)        # every figure of the report, as the dict written to summary.json

The API reference is built from the docstrings with pdoc (docs/api.md).
"""

import importlib

__version__ = "0.1.0"

_API = {
    "load_hardware": "neurosim.io.hardware_file",
    "load_network": "neurosim.io.nir_read",
    "from_nir": "neurosim.io.nir_read",
    "save_network": "neurosim.io.nir_write",
    "map_network": "neurosim.mapping.registry",
    "load_mapping": "neurosim.io.mapping_file",
    "save_mapping": "neurosim.io.mapping_file",
    "load_dataset": "neurosim.data.registry",
    "simulate": "neurosim.sim.engine",
    "write_report": "neurosim.report.writer",
    "summarize": "neurosim.analysis.summary",
    "energy_breakdown": "neurosim.describe.cost",
    "hardware_schema": "neurosim.describe.hardware_schema",
    "RunResult": "neurosim.sim.counters",
    "SampleRecord": "neurosim.sim.counters",
}

__all__ = sorted(_API) + ["__version__"]


def __getattr__(name):
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'neurosim' has no attribute {name!r}")
