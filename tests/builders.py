"""Networks built in code for the tests (imported as `from builders import ...`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neurosim.describe.network import Network, Population, Projection
from neurosim.io.hardware_file import load_hardware, preset_path
from neurosim.neuron import NeuronParams
from neurosim.sim.chip import Chip


def grid(w, step=64):
    """Weights on a 1/step grid: float32 sums of them are exact in any order."""
    return (np.round(np.asarray(w) * step) / step).astype(np.float32)


def random_network(sizes, *, seed=0, recurrent=False, density=1.0, subtract=False, name="rand"):
    """A random feed-forward LIF network (optionally with a recurrent projection)."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", "input", (sizes[0],))]
    for i, n in enumerate(sizes[1:]):
        pops.append(
            Population(
                f"l{i}",
                "lif",
                (n,),
                NeuronParams.uniform(
                    n, decay=rng.uniform(0.5, 1.0, n), threshold=rng.uniform(0.8, 1.2, n), subtract=subtract
                ),
            )
        )
    projs = []
    for i in range(len(sizes) - 1):
        w = grid(rng.normal(0.35 / density, 0.5, (sizes[i], sizes[i + 1])))
        w[rng.random(w.shape) > density] = 0
        projs.append(Projection(pops[i].name, pops[i + 1].name, sp.csr_array(w)))
    if recurrent and len(sizes) > 2:
        projs.append(
            Projection(pops[2].name, pops[1].name, sp.csr_array(grid(rng.normal(0, 0.3, (sizes[2], sizes[1])))))
        )
    return Network(name, pops, projs, "in", pops[-1].name, dt=1e-3)


def write_spec(folder, model=None, **fields):
    """An explore spec in ``folder``/spec.yaml: a 4-sample sweep of ``model`` on the small preset,
    ``fields`` added or replacing these. Returns its path."""
    import yaml

    doc = {"format": "neurosim-explore/1", "name": "t", "hardware": ["small"], "samples": 4, "profile_samples": 2}
    if model is not None:
        doc["models"] = [str(model)]
    doc.update(fields)
    path = folder / "spec.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def comparable(df):
    """A sweep table without its wall-time columns, for comparing sweeps."""
    from neurosim.experiments.explore.point import WALL_COLUMNS

    return df.drop(columns=list(WALL_COLUMNS)).reset_index(drop=True)


def chip_spikes(setup, mode="sync", group_size=1, max_steps=None):
    """Spikes of every non-input neuron per sample and frame (samples x frames x neurons, int64)
    when ``setup``'s test data runs on its chip under ``mode`` (``async``: the global scheduler,
    momentum, ``group_size`` per step): what the trainer-vs-simulator tests compare with
    ``evaluate(..., record=True)["spikes"]``."""
    net, data = setup.network, setup.data
    chip = Chip(setup.hardware, net, setup.mapping)
    chip.options = {
        "mode": mode,
        "scope": "global",
        "policy": "momentum",
        "group_size": group_size,
        "max_steps": max_steps,
        "stop_on_output": None,
        "seed": 0,
    }
    n_in = net.by_name[net.input].size
    ours = np.zeros((len(data), data.n_frames, net.n_neurons - n_in), np.int64)
    for i in range(len(data)):
        chip.run_sample(data.inputs[i], index=i)
        for f, _, ids, _ in chip.spike_log:
            np.add.at(ours[i, f], ids[ids >= n_in] - n_in, 1)
    return ours


def mlp(sizes, seed=0, beta=0.9, mean=0.25):
    """A bias-free LIF MLP with weights on a 1/128 grid (the trainer's kind of network) and its
    weight matrices."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", "input", (sizes[0],))]
    projs, weights = [], []
    for i, n in enumerate(sizes[1:], start=1):
        pops.append(Population(f"l{i}", "lif", (n,), NeuronParams.uniform(n, decay=beta, threshold=1.0)))
        w = grid(rng.normal(mean, 0.45, (sizes[i - 1], n)), 128)
        weights.append(w)
        projs.append(Projection(pops[i - 1].name, pops[i].name, sp.csr_array(w)))
    return Network("mlp", pops, projs, "in", pops[-1].name, dt=1e-3), weights


def hw_small(**over):
    """The small preset on a 4 x 4 mesh; ``a__b=v`` overrides key ``a.b``."""
    base = {"mesh.width": 4, "mesh.height": 4}
    base.update({k.replace("__", "."): v for k, v in over.items()})
    return load_hardware(preset_path("small"), base)


def core_on(hw, x, y, slot=0):
    """The core at slot ``slot`` of tile (x, y)."""
    return (y * hw.grid_width + x) * hw.mesh.cores_per_tile + slot
