"""A small CNN trained on nmnist-like, quantised and exported to NIR (Conv2d, SumPool2d, Flatten,
Affine, LIF nodes) runs on the simulated chip exactly as in the trainer: layered training vs
sync mode, unlayered momentum training vs async mode with a global momentum scheduler, spikes
per neuron and frame and predictions."""

import nir
import numpy as np
import pytest
from builders import chip_spikes

from neurosim.paths import DEFAULT_HW

torch = pytest.importorskip("torch")

from neurosim.train.trainer import TrainConfig, evaluate, train  # noqa: E402

SAMPLES = 4


def _cfg(mode: str, conv: str, **kw) -> TrainConfig:
    base = dict(
        dataset="nmnist-like",
        conv=conv,
        mode=mode,
        epochs=1,
        limit=24,
        frames=5,
        batch_size=12,
        progress=False,
        seed=3,
        group_size=16,
        init_gain=2.5,
        threshold=0.5,
    )
    base.update(kw)
    return TrainConfig(**base)


def _simulate(path, mode: str, group_size: int):
    from neurosim.experiments.runner import prepare
    from neurosim.train.export import read_metadata

    setup = prepare(path, DEFAULT_HW, samples=SAMPLES)
    net, data = setup.network, setup.data
    m = read_metadata(path)["neurosim"]
    ours = chip_spikes(setup, mode, group_size, m["max_steps"])
    return ours, data, net


@pytest.mark.parametrize(
    ("mode", "conv", "bias"),
    [("layered", "4k3s2,sum2,8k3s2p1", False), ("unlayered", "4k3s2,8k3s2p1", True)],
)
def test_cnn_trainer_equals_the_simulator(tmp_path, mode, conv, bias):
    cfg = _cfg(mode, conv, bias=bias)
    result = train(cfg)
    path = result.export(tmp_path / "cnn.nir")
    types = {type(n).__name__ for n in nir.read(str(path)).nodes.values()}
    assert {"Conv2d", "Flatten", "Affine", "LIF"} <= types
    assert ("SumPool2d" in types) == ("sum" in conv)
    ours, data, net = _simulate(path, "sync" if mode == "layered" else "async", cfg.group_size)
    ev = evaluate(result.weights, data, cfg, record=True, biases=result.biases)
    assert ours.sum() > 0 and ours[:, :, -data.n_classes :].sum() > 0  # hidden and output spikes
    np.testing.assert_array_equal(ours, ev["spikes"].astype(np.int64))
    np.testing.assert_array_equal(ours[:, :, -data.n_classes :].sum(1).argmax(1), ev["predictions"])
    if mode == "unlayered":  # layer 1 crosses at step 0 only: more than F at once, so the schedule orders them
        assert ours[:, :, : net.projections[0].weights.shape[1]].sum(2).max() > cfg.group_size
    # the simulator's weights, read back from the file, are the trainer's dense matrices
    for w, pr in zip(result.weights, net.projections):
        np.testing.assert_array_equal(pr.weights.toarray().T.astype(np.float32), w)


def test_export_refuses_dense_weights_that_are_not_the_kernels(tmp_path):
    from neurosim.train.export import ExportError

    result = train(_cfg("layered", "4k3s2", limit=12, frames=2))
    bad = [w.copy() for w in result.weights]
    bad[0][0, 0] += result.scales[0] if bad[0][0, 0] == 0 else 0  # a weight outside the kernel's pattern
    bad[0][0, -1] = result.scales[0]
    with pytest.raises(ExportError, match="layer 1"):
        from neurosim.train.export import write_nir

        write_nir(tmp_path / "x.nir", bad, beta=0.9, conv=result.conv)


def test_cli_paper_cnn_arch(tmp_path):
    from neurosim.cli.train import main
    from neurosim.train.export import read_metadata

    out = tmp_path / "p.nir"
    argv = ["train", "--dataset", "nmnist-like", "--arch", "paper-cnn", "--limit", "8", "--frames", "2"]
    assert main([*argv, "--epochs", "1", "--batch-size", "8", "--out", str(out)]) == 0
    m = read_metadata(out)["neurosim"]
    assert m["architecture"] == "2x34x34-8k3s2-16k3s2p1-32k3s2p1-10"
    assert m["sizes"] == [2312, 2048, 1024, 512, 10]
    g = nir.read(str(out))
    assert [tuple(g.nodes[f"conv{i}"].weight.shape) for i in (1, 2, 3)] == [(8, 2, 3, 3), (16, 8, 3, 3), (32, 16, 3, 3)]
    assert tuple(g.nodes["fc4"].weight.shape) == (10, 512)


def test_cli_refuses_hidden_with_a_cnn(tmp_path, capsys):
    """``--hidden`` would be silently unused with a CNN: refused in one line, nothing written."""
    from neurosim.cli.main import main

    out = tmp_path / "p.nir"
    argv = ["train", "--dataset", "nmnist-like", "--arch", "paper-cnn", "--hidden", "32", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "--hidden" in err and len(err.splitlines()) == 1 and not out.exists()
