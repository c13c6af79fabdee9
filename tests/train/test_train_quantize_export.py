"""Quantisation to the 8-bit power-of-two grid and NIR export (numpy + nir; no torch needed)."""

import numpy as np
import pytest

from neurosim.train.export import ExportError, check_decay_roundtrip, lif_tau, read_metadata, write_nir
from neurosim.train.quantize import is_on_grid, pow2_scale, quantize


def test_pow2_scale():
    assert pow2_scale(127.0) == 1.0
    assert pow2_scale(127.5) == 2.0
    assert pow2_scale(1.0) == 2.0**-6  # 1/127 -> next power of two is 1/64
    assert pow2_scale(0.0) == 1.0
    assert pow2_scale(127 * 2.0**-10) == 2.0**-10


@pytest.mark.parametrize("seed", range(5))
def test_quantize_puts_weights_on_the_grid(seed):
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 10.0 ** rng.uniform(-3, 1), (17, 33))
    q, scale = quantize(w)
    assert q.dtype == np.float32
    assert np.log2(scale) == np.round(np.log2(scale))  # a power of two
    ints = q.astype(np.float64) / scale
    assert np.all(ints == np.round(ints)) and np.abs(ints).max() <= 127
    assert np.abs(ints).max() >= 64  # the grid is the finest that fits
    assert np.max(np.abs(q - w)) <= scale / 2 + 1e-12
    assert is_on_grid(q) and not is_on_grid(w)
    q2, s2 = quantize(q)  # idempotent
    assert s2 == scale and np.array_equal(q2, q)


def test_on_grid_sums_are_exact_in_any_order():
    rng = np.random.default_rng(0)
    q, _ = quantize(rng.normal(0, 0.3, 2000))
    a = np.float32(0)
    for v in q:
        a = np.float32(a + v)
    b = np.float32(0)
    for v in q[::-1]:
        b = np.float32(b + v)
    assert a == b == np.float32(np.sum(q.astype(np.float64)))


def test_decay_roundtrips_for_the_default_beta():
    assert check_decay_roundtrip(0.9, 1e-3) == float(np.float32(0.9))
    tau = lif_tau(0.9, 1e-3)
    assert np.float32(1 - 1e-3 / tau) == np.float32(0.9)
    with pytest.raises(ExportError):
        lif_tau(1.5, 1e-3)


def test_export_writes_nir_whose_metadata_roundtrips(tmp_path):
    import nir

    rng = np.random.default_rng(1)
    ws = [quantize(rng.normal(0, 0.3, (8, 5)))[0], quantize(rng.normal(0, 0.3, (3, 8)))[0]]
    meta = {
        "mode": "unlayered",
        "scheduler": "momentum",
        "group_size": 8,
        "max_steps": 11,
        "dt": 1e-3,
        "threshold_convention": ">",
        "reset": "hard",
        "dataset": "digits",
        "encoding": {"frames": 16, "seed": 0, "max_rate": 0.5},
        "test_accuracy": 0.9,
        "seed": 3,
        "epochs": 2,
        "neurosim_version": "0.1.0",
        "architecture": "5-8-3",
        "sizes": [5, 8, 3],
        "bias": False,
        "stop": None,
    }
    path = write_nir(tmp_path / "m.nir", ws, beta=0.9, dt=1e-3, metadata=meta)
    back = read_metadata(path)
    assert back["dt"] == 1e-3
    expected = dict(meta, stop="none")
    assert back["neurosim"] == expected
    g = nir.read(str(path))
    assert set(g.nodes) == {"input", "fc1", "lif1", "fc2", "lif2", "output"}
    assert ("input", "fc1") in g.edges and ("lif2", "output") in g.edges
    for l, w in enumerate(ws, 1):
        assert g.nodes[f"fc{l}"].weight.dtype == np.float32
        np.testing.assert_array_equal(g.nodes[f"fc{l}"].weight, w)
        assert not np.any(g.nodes[f"fc{l}"].bias)
        lif = g.nodes[f"lif{l}"]
        decay = np.float32(1 - 1e-3 / lif.tau)
        assert np.all(decay == np.float32(0.9))
        np.testing.assert_allclose(lif.r, lif.tau / 1e-3)
        assert np.all(lif.v_threshold == 1.0) and not np.any(lif.v_reset) and not np.any(lif.v_leak)
        assert "fire_equal" not in (lif.metadata or {})  # NIR's own v > threshold: nothing to say


def test_export_fire_equal_marks_every_lif_node_and_neurosim_reads_it(tmp_path):
    import nir

    from neurosim.io.nir_read import load_network

    rng = np.random.default_rng(2)
    ws = [quantize(rng.normal(0, 0.3, (6, 4)))[0], quantize(rng.normal(0, 0.3, (2, 6)))[0]]
    from neurosim.describe.network import INPUT

    eq = write_nir(tmp_path / "eq.nir", ws, beta=0.9, fire_equal=True)
    g = nir.read(str(eq))
    assert [bool(g.nodes[f"lif{l}"].metadata["fire_equal"]) for l in (1, 2)] == [True, True]
    for pop in (p for p in load_network(eq).populations if p.kind != INPUT):  # read back: v >= threshold
        assert np.all(pop.neurons.fire_equal)
    net = load_network(write_nir(tmp_path / "gt.nir", ws, beta=0.9))
    for pop in (p for p in net.populations if p.kind != INPUT):  # v > threshold, hard reset to 0
        assert not np.any(pop.neurons.fire_equal) and not np.any(pop.neurons.subtract)


def test_export_rejects_mismatched_layers(tmp_path):
    with pytest.raises(ExportError):
        write_nir(tmp_path / "bad.nir", [np.zeros((4, 3)), np.zeros((2, 5))], beta=0.9)


def test_quantize_layer_puts_weights_and_bias_on_one_grid():
    from neurosim.train.quantize import quantize_layer

    rng = np.random.default_rng(3)
    w, b = rng.normal(0, 0.1, (6, 5)), rng.normal(0, 2.0, 6)  # the bias sets the grid here
    wq, bq, scale = quantize_layer(w, b)
    assert scale == pow2_scale(np.abs(b).max())
    assert np.all(np.round(wq / scale) == wq / scale) and np.all(np.round(bq / scale) == bq / scale)
    assert np.max(np.abs(bq - b)) <= scale / 2 and wq.dtype == bq.dtype == np.float32
    w2, none, s2 = quantize_layer(w, None)  # without a bias: quantize()
    assert none is None and s2 == quantize(w)[1] and np.array_equal(w2, quantize(w)[0])
