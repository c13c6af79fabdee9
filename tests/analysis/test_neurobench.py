"""NeuroBench's metrics in ``summary.json`` against the real ``neurobench`` package (the optional
``neurobench`` test extra) on the shipped ``digits_layered`` model: the equivalent snnTorch model
is built from the NIR file, fed the same test samples, and every metric NeuroBench reports is
compared with neurosim's."""

import numpy as np
import pytest

from neurosim.analysis.neurobench import membrane_updates, neurobench_metrics
from neurosim.analysis.summary import summarize
from neurosim.data.registry import load_dataset
from neurosim.describe.network import INPUT
from neurosim.io.nir_read import load_network
from neurosim.mapping.registry import map_network
from neurosim.paths import MODELS_DIR
from neurosim.sim.engine import simulate

N_SAMPLES = 24


@pytest.fixture(scope="module")
def shipped():
    net = load_network(MODELS_DIR / "digits_layered.nir")
    data = load_dataset("digits", "test", limit=N_SAMPLES)
    return net, data


def snntorch_model(net):
    """The equivalent snnTorch model: Linear (no bias) per projection, Leaky per population;
    the threshold one float32 step below neurosim's so that snnTorch's ``mem > thr`` is ``v >= thr``."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    pops = [p for p in net.populations if p.kind != INPUT]
    by_target = {pr.target: pr for pr in net.projections}

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fcs, self.lifs = torch.nn.ModuleList(), torch.nn.ModuleList()
            for p in pops:
                pr = by_target[p.name]
                fc = torch.nn.Linear(net.by_name[pr.source].size, p.size, bias=False)
                fc.weight.data = torch.from_numpy(pr.weights.toarray().T.astype(np.float32))
                self.fcs.append(fc)
                thr = float(p.neurons.threshold[0])
                beta = float(p.neurons.decay[0])
                self.lifs.append(snn.Leaky(beta=beta, threshold=thr, reset_mechanism="zero", reset_delay=False))

        def reset(self):  # SNNTorchModel calls it before every batch
            for lif in self.lifs:
                lif.reset_mem()

        def forward(self, x):
            for fc, lif in zip(self.fcs, self.lifs):
                x, mem = lif(fc(x))
            return x, mem

    return Net()


def neurobench_results(net, data):
    pytest.importorskip("neurobench")
    import torch  # noqa: PLC0415 - optional extra
    from neurobench.benchmarks import Benchmark  # noqa: PLC0415 - optional extra
    from neurobench.metrics.static import ConnectionSparsity, Footprint, ParameterCount  # noqa: PLC0415
    from neurobench.metrics.workload import ActivationSparsity, MembraneUpdates, SynapticOperations  # noqa: PLC0415
    from neurobench.models import SNNTorchModel  # noqa: PLC0415 - optional extra

    x = torch.from_numpy(data.inputs.astype(np.float32))
    y = torch.from_numpy(data.labels)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8)
    model = SNNTorchModel(snntorch_model(net))
    metrics = [
        [Footprint, ConnectionSparsity, ParameterCount],
        [ActivationSparsity, MembraneUpdates, SynapticOperations],
    ]
    bench = Benchmark(model, loader, [], [], metrics)
    return bench.run(quiet=True)


@pytest.fixture(scope="module")
def compared(shipped):
    net, data = shipped
    nb = neurobench_results(net, data)
    from neurosim.io.hardware_file import load_hardware  # noqa: PLC0415 - fixture helper
    from neurosim.paths import HW_DIR  # noqa: PLC0415 - fixture helper

    hw = load_hardware(HW_DIR / "loihi.yaml")
    res = simulate(hw, net, map_network(net, hw), data.inputs, data.labels, mode="sync")
    return nb, summarize(res)["neurobench"], res


def test_effective_acs_and_dense_equal_neurobench(compared):
    nb, ours, res = compared
    syn = nb["SynapticOperations"]
    assert ours["time_stepped"] is True and ours["version"] == "2.3.0"
    assert syn["Effective_ACs"] == ours["Effective_ACs"]  # exact: integer counts over 24 samples
    assert ours["Effective_ACs"] == np.mean([s.synops for s in res.samples])
    assert syn["Effective_MACs"] == ours["Effective_MACs"] == 0
    assert syn["Dense"] == ours["Dense"] == 16 * (64 * 64 + 64 * 64 + 64 * 10)


def test_sparsities_equal_neurobench(compared):
    nb, ours, _ = compared
    assert ours["ActivationSparsity"] == pytest.approx(nb["ActivationSparsity"], rel=1e-12, abs=0)
    assert ours["ConnectionSparsity"] == nb["ConnectionSparsity"] == round(1 - 8630 / 8832, 4)


def test_static_metrics_equal_neurobench(compared):
    nb, ours, _ = compared
    assert ours["ParameterCount"] == nb["ParameterCount"] == 8832
    assert ours["Footprint"] == nb["Footprint"] == 8832 * 4 + 3 * 20


def test_membrane_updates_equal_neurobench(compared, shipped):
    nb, ours, res = compared
    net, data = shipped
    assert ours["MembraneUpdates"] is None  # counters hold no membranes
    mu = membrane_updates(net, data.inputs)
    assert mu == nb["MembraneUpdates"]
    # ours counts an update only for a neuron with input or a spike: fewer than NeuroBench's
    active = ours["neurosim"]["neuron_update_active_per_inference"]
    assert active < mu <= ours["neurosim"]["neuron_updates_per_inference"] == 138 * 16


def test_weight_memory_from_the_mapping(compared):
    _, ours, res = compared
    wm = ours["weight_memory"]
    assert wm["weight_bits"] == 8
    assert sum(r["synapses"] for r in wm["per_core"]) == res.network.n_synapses == 8630
    assert wm["total_bytes"] == sum(r["bytes"] for r in wm["per_core"])
    assert all(r["bytes"] == r["synapses"] for r in wm["per_core"])  # one byte per 8-bit weight


def test_no_network_no_block():
    class Bare:
        network = None

    assert neurobench_metrics(Bare()) is None


def test_membrane_updates_by_hand():
    """One LIF neuron (decay 0.5, threshold 0.25) fed by one input of weight 0.5: a spike that
    resets the neuron to where it was (0) is no membrane update for NeuroBench; a leak is."""
    import scipy.sparse as sp  # noqa: PLC0415 - test helper

    from neurosim.describe.network import LIF, Network, Population, Projection  # noqa: PLC0415
    from neurosim.neuron import NeuronParams  # noqa: PLC0415

    def one_neuron(threshold):
        pops = (
            Population("in", INPUT, (1,)),
            Population("out", LIF, (1,), NeuronParams.uniform(1, decay=0.5, threshold=threshold)),
        )
        return Network("one", pops, (Projection("in", "out", sp.csr_array(np.array([[0.5]]))),), "in", "out")

    stim = np.array([[[1], [0], [1], [1], [0]]], bool)
    assert membrane_updates(one_neuron(0.25), stim) == 1  # frame 0; then 0 -> spike (0.5 > 0.25) -> 0 every time
    assert membrane_updates(one_neuron(2.0), stim) == 5  # never spikes: the membrane moves every frame
    assert membrane_updates(one_neuron(0.25), stim[:, :0]) == 0
