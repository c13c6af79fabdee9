"""Training loop, evaluation with quantised weights, and the `train` CLI."""

import subprocess
import sys

import numpy as np
import pytest

from neurosim.errors import NeurosimError


def test_cli_registration_and_package_import_do_not_import_torch():
    code = (
        "import argparse, sys\n"
        "import neurosim.train\n"
        "from neurosim.cli.train import register\n"
        "p = argparse.ArgumentParser(); sub = p.add_subparsers(dest='command')\n"
        "register(sub)\n"
        "a = p.parse_args(['train', '--out', 'x.nir', '--mode', 'unlayered', '--hidden', '32,16'])\n"
        "assert a.hidden == (32, 16) and a.func.__name__ == 'run'\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


torch = pytest.importorskip("torch")

from neurosim.train.quantize import is_on_grid  # noqa: E402
from neurosim.train.trainer import TrainConfig, TrainError, evaluate, train  # noqa: E402


def test_short_unlayered_training_lowers_the_loss():
    cfg = TrainConfig(
        mode="unlayered",
        scheduler="momentum",
        group_size=8,
        epochs=4,
        hidden=(32,),
        limit=256,
        batch_size=64,
        lr=5e-3,
        progress=False,
        seed=0,
    )
    r = train(cfg)
    losses = [h["loss"] for h in r.history]
    assert losses[-1] < 0.9 * losses[0] and losses == sorted(losses, reverse=True)
    assert all(is_on_grid(w) for w in r.weights)
    assert r.metadata["architecture"] == "64-32-10"
    # the reported accuracy is the quantised weights with the same forward
    from neurosim.data.registry import load_dataset

    test = load_dataset("digits", "test", limit=256)
    assert evaluate(r.weights, test, cfg)["accuracy"] == r.test_accuracy


def test_training_is_deterministic_on_cpu():
    cfg = dict(
        mode="unlayered",
        scheduler="random",
        epochs=1,
        hidden=(16,),
        limit=128,
        progress=False,
        seed=3,
        frame_dropout=0.1,
        input_dropout=0.1,
    )
    a, b = train(TrainConfig(**cfg)), train(TrainConfig(**cfg))
    assert all(np.array_equal(x, y) for x, y in zip(a.weights, b.weights))
    assert a.history == b.history


def test_evaluate_records_spikes_per_neuron_per_frame():
    from neurosim.data.registry import load_dataset
    from neurosim.train.reference import unlayered_spikes

    rng = np.random.default_rng(0)
    from neurosim.train.quantize import quantize

    ws = [quantize(rng.normal(0, 0.4, (20, 64)))[0], quantize(rng.normal(0, 0.5, (10, 20)))[0]]
    data = load_dataset("digits", "test", limit=5)
    cfg = TrainConfig(mode="unlayered", group_size=4)
    ev = evaluate(ws, data, cfg, record=True)
    assert ev["spikes"].shape == (5, data.n_frames, 30)
    for b in range(5):
        s, steps = unlayered_spikes(ws, data.inputs[b], group_size=4)
        np.testing.assert_array_equal(ev["spikes"][b], s)
        np.testing.assert_array_equal(ev["steps"][b], steps)


@pytest.mark.parametrize(
    "bad",
    [
        dict(mode="sync"),
        dict(scheduler="fifo"),
        dict(group_size=0),
        dict(hidden=()),
        dict(beta=1.5),
        dict(beta=-0.1),
        dict(device="tpu"),
        dict(loss="mse"),
        dict(spike_penalty=-1.0),
        dict(weight_decay=float("nan")),
        dict(bias=1),
        dict(threshold=0.0),
        dict(init_gain=0.0),
        dict(input_dropout=1.0),
        dict(fire_equal=1),
    ],
)
def test_bad_config_raises(bad):
    with pytest.raises(TrainError):
        TrainConfig(**bad).validate()


def test_cli_trains_and_writes_nir(tmp_path, capsys):
    from neurosim.cli.train import main
    from neurosim.train.export import read_metadata

    out = tmp_path / "tiny.nir"
    rc = main(
        [
            "train",
            "--dataset",
            "digits",
            "--mode",
            "unlayered",
            "--scheduler",
            "random",
            "--group-size",
            "4",
            "--epochs",
            "1",
            "--hidden",
            "16",
            "--limit",
            "64",
            "--device",
            "cpu",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert rc == 0 and out.exists()
    meta = read_metadata(out)["neurosim"]
    assert meta["mode"] == "unlayered" and meta["scheduler"] == "random" and meta["group_size"] == 4
    assert meta["threshold_convention"] == ">" and meta["reset"] == "hard"
    assert meta["encoding"]["frames"] == 16 and meta["dataset"] == "digits"
    assert "wrote" in capsys.readouterr().out


def test_cli_bad_input_is_a_neurosim_error(tmp_path):
    import argparse

    from neurosim.cli.train import main, register

    assert main(["train", "--dataset", "nope", "--epochs", "1", "--out", str(tmp_path / "a.nir")]) == 2
    p = argparse.ArgumentParser()
    register(p.add_subparsers(dest="command"))
    args = p.parse_args(["train", "--out", str(tmp_path / "a.txt")])
    with pytest.raises(NeurosimError):
        args.func(args)


def test_fire_equal_reaches_the_forward_the_metadata_and_the_file(tmp_path):
    import nir

    from neurosim.data.registry import load_dataset
    from neurosim.train.trainer import _neuron_metadata, lif_params

    assert _neuron_metadata(TrainConfig())["threshold_convention"] == ">"
    cfg = TrainConfig(fire_equal=True)
    assert lif_params(cfg).fire_equal is True and lif_params(TrainConfig()).fire_equal is False
    assert _neuron_metadata(cfg)["threshold_convention"] == ">="
    # weights of 1.0 from every input channel: exact ties v == 1.0 occur, and only >= fires on them
    ws = [np.ones((4, 64), np.float32) / 8, np.eye(10, 4, dtype=np.float32)]
    data = load_dataset("digits", "test", limit=8)
    gt, ge = evaluate(ws, data, TrainConfig()), evaluate(ws, data, cfg)
    assert ge["spikes_per_sample"] > gt["spikes_per_sample"]
    r = train(TrainConfig(fire_equal=True, epochs=1, hidden=(8,), limit=64, progress=False))
    path = r.export(tmp_path / "eq.nir")
    g = nir.read(str(path))
    assert all(bool(g.nodes[f"lif{l}"].metadata["fire_equal"]) for l in (1, 2))
