"""The shipped models (models/*.nir): metadata, weights on the 8-bit grid, and the recorded test
accuracy reproduced by the trainer's forward on the weights read back from the file."""

import numpy as np
import pytest

from neurosim.paths import MODELS_DIR
from neurosim.train.export import read_metadata
from neurosim.train.quantize import is_on_grid

MODELS = {
    "digits_layered.nir": ("layered", "none", "digits"),
    "digits_unlayered_random.nir": ("unlayered", "random", "digits"),
    "digits_unlayered_momentum.nir": ("unlayered", "momentum", "digits"),
    "temporal_layered.nir": ("layered", "none", "temporal"),
    "temporal_unlayered_momentum.nir": ("unlayered", "momentum", "temporal"),
}


def _weights(path):
    import nir

    g = nir.read(str(path))
    ws, l = [], 1
    while f"fc{l}" in g.nodes:
        ws.append(np.asarray(g.nodes[f"fc{l}"].weight, np.float32))
        l += 1
    return g, ws


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shipped_model_metadata_and_grid(name):
    path = MODELS_DIR / name
    if not path.exists():
        pytest.skip(f"{name} not built")
    assert path.stat().st_size < 200_000
    meta = read_metadata(path)
    m = meta["neurosim"]
    mode, sched, dataset = MODELS[name]
    assert (m["mode"], m["scheduler"]) == (mode, sched)
    assert meta["dt"] == m["dt"]
    assert m["threshold_convention"] == ">" and m["reset"] == "hard" and m["bias"] is False
    assert m["dataset"] == dataset and m["test_accuracy"] >= 0.85
    assert m["group_size"] == (8 if mode == "unlayered" else 0)
    g, ws = _weights(path)
    assert [w.shape[1] for w in ws] + [ws[-1].shape[0]] == m["sizes"]
    assert all(is_on_grid(w) for w in ws)
    assert max(m["sizes"][1:]) <= 1024 and max(m["sizes"][:-1]) <= 4096  # fits one core
    for l in range(1, len(ws) + 1):
        lif = g.nodes[f"lif{l}"]
        assert np.all(np.float32(1 - m["dt"] / lif.tau) == np.float32(m["beta"]))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shipped_model_accuracy_reproduces(name):
    pytest.importorskip("torch")
    from neurosim.data.registry import load_dataset
    from neurosim.train.trainer import TrainConfig, evaluate

    path = MODELS_DIR / name
    if not path.exists():
        pytest.skip(f"{name} not built")
    m = read_metadata(path)["neurosim"]
    _, ws = _weights(path)
    data = load_dataset(m["dataset"], "test", frames=m["encoding"]["frames"], seed=m["encoding"]["seed"])
    cfg = TrainConfig(
        mode=m["mode"],
        scheduler=m["scheduler"] if m["mode"] == "unlayered" else "momentum",
        group_size=max(1, m["group_size"]),
        max_steps=m["max_steps"],
        beta=m["beta"],
        threshold=m["threshold"],
        fire_equal=m["threshold_convention"] == ">=",
        seed=m["eval_seed"],
    )
    ev = evaluate(ws, data, cfg)
    assert ev["accuracy"] == pytest.approx(m["test_accuracy"], abs=1e-12)
