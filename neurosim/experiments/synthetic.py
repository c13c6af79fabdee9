"""Synthetic networks of known structure, for mapping benchmarks and tests: a conv net lowered
from NIR as a trained model would be, and sparse random nets with or without hidden communities.
Seeded; the weights are placeholders (traffic and capacity depend only on the connectivity)."""

from __future__ import annotations

import nir
import numpy as np
import scipy.sparse as sp

from neurosim.describe.network import Network, Population, Projection
from neurosim.io.nir_read import nir_to_network
from neurosim.neuron import NeuronParams

DT = 1e-3


def _lif(shape) -> nir.LIF:
    tau = np.full(shape, DT / (1 - 0.9))
    return nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(shape), v_threshold=np.ones(shape), v_reset=np.zeros(shape))


def conv_network(convs=((4, 2), (16, 2)), seed: int = 0, name: str = "conv") -> Network:
    """Input 1x32x32, then 3x3 convolutions (channels, stride; padding 1) each into a LIF layer,
    then a dense layer into 10 LIF neurons; lowered from NIR. The default is 3,082 neurons and
    52,932 synapses; ``((8, 1), (12, 2))`` gives 12,298 neurons and 313,472 synapses."""
    rng = np.random.default_rng(seed)

    def weights(shape):
        w = rng.integers(-8, 9, shape).astype(np.float32) / 16
        w[w == 0] = 1 / 16
        return w

    nodes: dict = {"in": nir.Input(np.array([1, 32, 32]))}
    c, size = 1, 32
    for i, (co, stride) in enumerate(convs):
        nodes[f"c{i}"] = nir.Conv2d((size, size), weights((co, c, 3, 3)), stride, 1, 1, 1, np.zeros(co))
        c, size = co, (size - 1) // stride + 1
        nodes[f"n{i}"] = _lif((c, size, size))
    nodes["flat"] = nir.Flatten(input_type={"input": np.array([c, size, size])}, start_dim=0, end_dim=-1)
    nodes["fc"] = nir.Linear(weights((10, c * size * size)) / 4)
    nodes["nout"] = _lif((10,))
    nodes["out"] = nir.Output(np.array([10]))
    names = list(nodes)
    graph = nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:])), metadata={"dt": DT}, type_check=False)
    return nir_to_network(graph, name=name)


def sparse_network(
    seed: int = 0, modular: bool = True, sizes=(1000, 1100, 1000), groups: int = 25, name: str | None = None
) -> Network:
    """A sparse random net: every neuron belongs to a random one of ``groups`` groups and sends 6
    synapses to random neurons of its group in the next layer and one to any neuron of it
    (``modular``), or 6 + 1 anywhere (uniform). Neuron order says nothing about the groups."""
    rng = np.random.default_rng(seed)
    group = [rng.integers(0, groups, n) for n in sizes]
    pops = [Population("in", "input", (sizes[0],))]
    projs = []
    for i in range(1, len(sizes)):
        n = sizes[i]
        pops.append(Population(f"l{i}", "lif", (n,), NeuronParams.uniform(n, decay=0.9, threshold=1.0)))
        members = [np.flatnonzero(group[i] == g) for g in range(groups)]
        rows, cols = [], []
        for u in range(sizes[i - 1]):
            pool = members[group[i - 1][u]] if modular else np.arange(n)
            tgt = np.unique(np.append(rng.choice(pool, min(6, pool.size), replace=False), rng.integers(0, n)))
            rows += [u] * tgt.size
            cols += tgt.tolist()
        w = sp.csr_array((np.full(len(rows), 0.25, np.float32), (rows, cols)), shape=(sizes[i - 1], n))
        projs.append(Projection(pops[i - 1].name, pops[i].name, w))
    name = name or f"{'modular' if modular else 'uniform'}{seed}"
    return Network(name, tuple(pops), tuple(projs), "in", pops[-1].name, dt=DT)
