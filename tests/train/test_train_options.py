"""The trainer's options --threshold, --bias, --weight-decay, --init-gain and small decays (beta
down to asynctorch's e**-10): each reaches the model and the exported NIR, and a tiny model
trained with it runs in the simulator exactly as in the trainer (spikes per neuron and frame:
layered training vs sync mode, unlayered momentum training vs async mode with a global momentum
scheduler)."""

import math

import numpy as np
import pytest
from builders import chip_spikes

from neurosim.paths import DEFAULT_HW

torch = pytest.importorskip("torch")

from neurosim.train.trainer import TrainConfig, evaluate, train  # noqa: E402

E10 = math.exp(-10)  # asynctorch's notebooks: tau_m = 1000, dt = 10000 -> exp(-dt/tau_m)
SAMPLES = 12  # test samples simulated


def _tiny(mode: str, **kw) -> TrainConfig:
    base = dict(mode=mode, epochs=1, hidden=(12,), limit=48, batch_size=16, progress=False, seed=1, group_size=4)
    base.update(kw)
    return TrainConfig(**base)


def _lif_pops(net):
    from neurosim.describe.network import INPUT

    return [p for p in net.populations if p.kind != INPUT]


def _simulate(path, mode: str, group_size: int):
    """``(trainer's evaluate on the weights and biases read back, simulator spikes, data, net)``."""
    from neurosim.experiments.runner import prepare
    from neurosim.train.export import read_metadata

    setup = prepare(path, DEFAULT_HW, samples=SAMPLES)
    net, data = setup.network, setup.data
    m = read_metadata(path)["neurosim"]
    weights = [pr.weights.toarray().T for pr in net.projections]  # (n_out, n_in)
    biases = [np.asarray(p.neurons.bias, np.float32) for p in _lif_pops(net)]
    cfg = TrainConfig(
        mode=m["mode"],
        group_size=group_size,
        max_steps=m["max_steps"],
        beta=float(_lif_pops(net)[0].neurons.decay[0]),
        threshold=float(_lif_pops(net)[0].neurons.threshold[0]),
        seed=m["eval_seed"],
    )
    ev = evaluate(weights, data, cfg, record=True, biases=biases if m["bias"] else None)
    ours = chip_spikes(setup, mode, group_size, m["max_steps"])
    return ev, ours, data, net


def _check_equal(result, path, cfg):
    sim_mode = "sync" if cfg.mode == "layered" else "async"
    ev, ours, data, net = _simulate(path, sim_mode, cfg.group_size)
    assert ours.sum() > 0  # the model spikes: the comparison says something
    np.testing.assert_array_equal(ours, ev["spikes"].astype(np.int64))
    n_out = data.n_classes
    np.testing.assert_array_equal(ours[:, :, -n_out:].sum(1).argmax(1), ev["predictions"])
    # the file holds the trained (quantised) model: the same spikes as the trainer's own arrays
    own = evaluate(result.weights, data, cfg, record=True, biases=result.biases)
    np.testing.assert_array_equal(own["spikes"], ev["spikes"])
    return ev, net


MODES = ["layered", "unlayered"]


@pytest.mark.parametrize("mode", MODES)
def test_threshold_reaches_the_forward_the_file_and_the_simulator(tmp_path, mode):
    from neurosim.train.export import read_metadata
    from neurosim.train.trainer import lif_params

    cfg = _tiny(mode, threshold=0.3, init_gain=0.5)
    assert lif_params(cfg).threshold32 == float(np.float32(0.3))
    r = train(cfg)
    path = r.export(tmp_path / "thr.nir")
    assert read_metadata(path)["neurosim"]["threshold"] == 0.3
    ev, net = _check_equal(r, path, cfg)
    for p in _lif_pops(net):
        assert np.all(p.neurons.threshold == np.float32(0.3))
    # the threshold decides: at 1.0 the same weights spike less
    hi = evaluate(r.weights, load_test(), _tiny(mode, threshold=1.0))
    assert hi["spikes_per_sample"] < evaluate(r.weights, load_test(), cfg)["spikes_per_sample"]


def load_test():
    from neurosim.data.registry import load_dataset

    return load_dataset("digits", "test", limit=SAMPLES)


@pytest.mark.parametrize("mode", MODES)
def test_bias_is_trained_quantised_exported_and_simulated(tmp_path, mode):
    import nir

    from neurosim.train.export import read_metadata
    from neurosim.train.quantize import is_on_grid

    cfg = _tiny(mode, bias=True, lr=0.03, threshold=0.5)
    r = train(cfg)
    assert r.biases is not None and r.float_biases is not None
    assert any(np.count_nonzero(b) for b in r.biases)  # trained away from 0 and kept by the grid
    for w, b, scale in zip(r.weights, r.biases, r.scales):
        assert is_on_grid(np.concatenate([w.ravel(), b]))  # one grid per layer
        assert np.all(np.round(b / scale) == b / scale) and np.all(np.round(w / scale) == w / scale)
    path = r.export(tmp_path / "bias.nir")
    g = nir.read(str(path))
    for l, b in enumerate(r.biases, 1):
        np.testing.assert_array_equal(np.asarray(g.nodes[f"fc{l}"].bias, np.float32), b)
    assert read_metadata(path)["neurosim"]["bias"] is True
    ev, net = _check_equal(r, path, cfg)
    for p, b in zip(_lif_pops(net), r.biases):  # neurosim reads the Affine bias as the neurons' bias
        np.testing.assert_array_equal(p.neurons.bias, b)
    # the biases matter: without them the same weights spike differently
    no_bias = evaluate(r.weights, load_test(), cfg, record=True)
    assert not np.array_equal(no_bias["spikes"], ev["spikes"])


def test_bias_model_has_bias_parameters_and_a_bias_free_one_does_not():
    from neurosim.train.model import SpikingMLP

    a, b = SpikingMLP([4, 3, 2], bias=True), SpikingMLP([4, 3, 2])
    assert [tuple(p.shape) for p in a.biases] == [(3,), (2,)] and all(not p.any() for p in a.biases)
    assert b.biases is None and len(list(b.parameters())) == 2


@pytest.mark.parametrize("mode", MODES)
def test_weight_decay_reaches_adam_and_shrinks_the_weights(tmp_path, mode):
    from neurosim.train.export import read_metadata
    from neurosim.train.trainer import _Fit

    cfg = _tiny(mode, weight_decay=0.5, lr=0.01, epochs=2)
    fit = _Fit(cfg, [64, 12, 10], load_test(), torch.device("cpu"))
    assert fit.opt.param_groups[0]["weight_decay"] == 0.5
    r, r0 = train(cfg), train(_tiny(mode, lr=0.01, epochs=2))
    norm = lambda ws: sum(float(np.abs(w).sum()) for w in ws)
    assert norm(r.float_weights) < norm(r0.float_weights)
    path = r.export(tmp_path / "wd.nir")
    assert read_metadata(path)["neurosim"]["weight_decay"] == 0.5
    _check_equal(r, path, cfg)


@pytest.mark.parametrize("mode", MODES)
def test_init_gain_scales_the_initial_weights(tmp_path, mode):
    from neurosim.train.export import read_metadata
    from neurosim.train.trainer import _Fit

    data = load_test()
    w1 = _Fit(_tiny(mode), [64, 12, 10], data, torch.device("cpu")).model.weights[0].detach()
    w3 = _Fit(_tiny(mode, init_gain=3.0), [64, 12, 10], data, torch.device("cpu")).model.weights[0].detach()
    torch.testing.assert_close(w3, 3.0 * w1)  # the same draws, scaled
    assert float(w3.abs().max()) <= 3.0 / 8 and float(w3.abs().max()) > 2.5 / 8  # +-gain / sqrt(64)
    cfg = _tiny(mode, init_gain=3.0)
    r = train(cfg)
    path = r.export(tmp_path / "gain.nir")
    assert read_metadata(path)["neurosim"]["init_gain"] == 3.0
    _check_equal(r, path, cfg)


@pytest.mark.parametrize("beta", [0.0, 1e-4, E10, 0.5, 0.9, 0.999, 1.0])
def test_decays_down_to_zero_export_and_read_back_bit_exact(tmp_path, beta):
    import nir

    from neurosim.io.nir_read import load_network
    from neurosim.train.export import write_nir
    from neurosim.train.quantize import quantize

    rng = np.random.default_rng(0)
    ws = [quantize(rng.normal(0, 0.3, (5, 4)))[0], quantize(rng.normal(0, 0.3, (3, 5)))[0]]
    path = write_nir(tmp_path / "d.nir", ws, beta=beta, dt=1e-3)
    g = nir.read(str(path))
    assert np.all(np.float32(1.0 - 1e-3 / np.asarray(g.nodes["lif1"].tau, np.float64)) == np.float32(beta))
    for p in _lif_pops(load_network(path)):
        assert p.neurons.decay.dtype == np.float32
        assert np.all(p.neurons.decay == np.float32(beta)), (p.neurons.decay, np.float32(beta))


def test_decays_that_no_time_constant_gives_are_refused_in_one_line(tmp_path):
    from neurosim.train.export import ExportError, lif_tau, write_nir

    with pytest.raises(ExportError, match="cannot be written as a NIR time constant") as info:
        write_nir(tmp_path / "x.nir", [np.eye(2, dtype=np.float32)], beta=1e-12, dt=1e-3)
    assert "\n" not in str(info.value) and not (tmp_path / "x.nir").exists()
    with pytest.raises(ExportError):
        lif_tau(-0.5, 1e-3)


@pytest.mark.parametrize("mode", MODES)
def test_a_model_trained_with_decay_e_minus_10_equals_the_simulator(tmp_path, mode):
    from neurosim.train.export import read_metadata

    cfg = _tiny(mode, beta=E10, threshold=0.3)
    r = train(cfg)
    path = r.export(tmp_path / "e10.nir")
    assert read_metadata(path)["neurosim"]["beta"] == float(np.float32(E10))
    ev, net = _check_equal(r, path, cfg)
    assert all(np.all(p.neurons.decay == np.float32(E10)) for p in _lif_pops(net))


def test_cli_passes_the_options_to_the_model_and_the_file(tmp_path):
    import nir

    from neurosim.cli.train import main
    from neurosim.train.export import read_metadata

    out = tmp_path / "opts.nir"
    args = ["train", "--epochs", "1", "--hidden", "8", "--limit", "32", "--device", "cpu", "--no-progress"]
    args += ["--threshold", "0.3", "--bias", "--weight-decay", "1e-5", "--init-gain", "2.0", "--beta", str(E10)]
    args += ["--loss", "ce-rate", "--spike-penalty", "0.01", "--lr", "0.05", "--out", str(out)]
    assert main(args) == 0
    m = read_metadata(out)["neurosim"]
    assert (m["threshold"], m["bias"], m["weight_decay"], m["init_gain"]) == (0.3, True, 1e-5, 2.0)
    assert (m["loss_name"], m["spike_penalty"], m["beta"]) == ("ce-rate", 0.01, float(np.float32(E10)))
    g = nir.read(str(out))
    assert np.all(np.asarray(g.nodes["lif1"].v_threshold) == 0.3)
    assert any(np.any(np.asarray(g.nodes[f"fc{l}"].bias)) for l in (1, 2))


def test_quantisation_aware_training_puts_weights_and_biases_on_one_grid():
    from neurosim.train.quantize import quantize_layer
    from neurosim.train.trainer import fake_quant_layers

    ws = [torch.randn(4, 3, generator=torch.Generator().manual_seed(0)) * 0.1]
    bs = [torch.tensor([3.0, -0.01, 0.2, 0.0], requires_grad=True)]
    qw, qb = fake_quant_layers(ws, bs)
    want_w, want_b, _ = quantize_layer(ws[0].numpy(), bs[0].detach().numpy())
    np.testing.assert_array_equal(qw[0].numpy(), want_w)
    np.testing.assert_array_equal(qb[0].detach().numpy(), want_b)
    qb[0].sum().backward()  # straight through
    assert bs[0].grad.tolist() == [1.0] * 4
    r = train(_tiny("layered", bias=True, lr=0.03, epochs=2, qat_epochs=1))
    assert r.biases is not None and all(np.isfinite(b).all() for b in r.biases)
