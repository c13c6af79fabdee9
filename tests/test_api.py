"""The public API: importable and runnable without torch."""

import subprocess
import sys

SCRIPT = r"""
import sys


class NoTorch:                        # as if torch were not installed: 'import torch' fails
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}")


sys.meta_path.insert(0, NoTorch())
import numpy as np
import neurosim as ns
from neurosim.cli.main import build_parser
build_parser()                        # the CLI (with its train subcommand) builds without torch
hw = ns.load_hardware("hw_configs/small.yaml")
data = ns.load_dataset("digits", "test", limit=3)
from neurosim.describe.network import Network, Population, Projection
from neurosim.neuron import NeuronParams
import scipy.sparse as sp
net = Network("n", [Population("in", "input", (64,)),
                    Population("out", "lif", (10,), NeuronParams.uniform(10, decay=0.9))],
              [Projection("in", "out", sp.csr_array(np.full((64, 10), 0.125, np.float32)))], "in", "out")
res = ns.simulate(hw, net, ns.map_network(net, hw), data.inputs, data.labels)
print(len(res.samples), "torch" in sys.modules)
"""


def test_simulator_runs_without_torch():
    from neurosim.paths import ROOT

    out = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "False"]


def test_every_public_name_resolves_and_unknown_names_fail():
    import pytest

    import neurosim as ns
    from neurosim.describe.hardware_schema import hardware_schema
    from neurosim.sim.counters import RunResult, SampleRecord

    assert {"RunResult", "SampleRecord", "hardware_schema", "simulate", "summarize"} <= set(ns.__all__)
    assert all(getattr(ns, name) is not None for name in ns.__all__)
    assert (ns.RunResult, ns.SampleRecord, ns.hardware_schema) == (RunResult, SampleRecord, hardware_schema)
    with pytest.raises(AttributeError, match="no attribute 'simulat'"):
        ns.simulat  # noqa: B018 - the attribute access is the test
