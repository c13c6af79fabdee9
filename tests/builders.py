"""Networks built in code for the tests (imported as `from builders import ...`)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from neurosim.describe.network import Network, Population, Projection
from neurosim.neuron import NeuronParams


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
