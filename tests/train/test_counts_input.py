"""Event-count input end to end (issue 11): ``neurosim train --input-values counts`` trains on
nmnist-like's event counts, records them in the model, and ``neurosim run`` feeds the same counts
(a count k is k input spikes); the trainer's evaluation equals the simulator on them."""

import json

import numpy as np
import pytest
from builders import chip_spikes

from neurosim.paths import DEFAULT_HW

torch = pytest.importorskip("torch")

HW = str(DEFAULT_HW)  # 2312 inputs: a fan-in the small preset's cores do not take
FRAMES, LIMIT = 3, 8


def train_cli(tmp_path, values):
    from neurosim.cli.main import main

    out = tmp_path / f"{values}.nir"
    argv = ["train", "--dataset", "nmnist-like", "--input-values", values, "--limit", str(LIMIT)]
    argv += ["--frames", str(FRAMES), "--epochs", "1", "--hidden", "16", "--device", "cpu", "--no-progress"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("counts")
    return {v: train_cli(tmp, v) for v in ("counts", "binary")}


def run_summary(capsys, model, out):
    from neurosim.cli.main import main

    code = main(["run", str(model), "--hw", HW, "-q", "--samples", str(LIMIT), "--out", str(out)])
    capsys.readouterr()
    assert code == 0
    return json.loads((out / "summary.json").read_text())


def test_counts_model_records_counts_and_run_feeds_them(models, capsys, tmp_path):
    from neurosim.data import nmnist_like
    from neurosim.train.export import read_metadata

    counts = nmnist_like.load_counts("test", frames=FRAMES, limit=LIMIT).counts
    assert counts.max() > 1
    meta = {v: read_metadata(p)["neurosim"] for v, p in models.items()}
    assert meta["counts"]["encoding"]["values"] == "counts" and meta["binary"]["encoding"]["values"] == "binary"
    s_counts = run_summary(capsys, models["counts"], tmp_path / "c")
    s_binary = run_summary(capsys, models["binary"], tmp_path / "b")

    n_counts, n_binary = (s["input_spikes_per_inference"] for s in (s_counts, s_binary))
    assert n_counts == pytest.approx(counts.sum() / LIMIT)  # a count k is k input spikes
    assert n_binary == pytest.approx((counts > 0).sum() / LIMIT)
    assert n_counts > n_binary
    # the trained models differ too: their network spikes in the simulator
    assert s_counts["spikes_per_inference"] != s_binary["spikes_per_inference"]


@pytest.mark.parametrize("values", ["counts", "binary"])
def test_trainer_evaluation_equals_the_simulator_on_counts(models, values):
    from neurosim.experiments.runner import prepare
    from neurosim.train.export import read_metadata
    from neurosim.train.trainer import TrainConfig, evaluate

    path = models[values]
    setup = prepare(path, HW, samples=LIMIT)
    net, data = setup.network, setup.data
    assert data.is_counts == (values == "counts")
    m = read_metadata(path)["neurosim"]
    weights = [pr.weights.toarray().T for pr in net.projections]
    cfg = TrainConfig(beta=m["beta"], threshold=m["threshold"], fire_equal=m["threshold_convention"] == ">=")
    ev = evaluate(weights, data, cfg, record=True)
    ours = chip_spikes(setup)
    assert ours.sum() > 0
    np.testing.assert_array_equal(ours, ev["spikes"].astype(np.int64))
    sim_acc = np.mean(ours[:, :, -10:].sum(1).argmax(1) == data.labels)
    assert sim_acc == ev["accuracy"] == pytest.approx(m["test_accuracy"], abs=1e-12)
    assert ev["spikes_per_sample"] == pytest.approx(m["test_spikes_per_sample"])


def test_a_model_without_the_key_stays_binary_and_bad_values_are_refused(models, capsys, tmp_path):
    from neurosim.cli.main import main
    from neurosim.errors import NeurosimError
    from neurosim.experiments.runner import dataset_for
    from neurosim.io.nir_read import load_network

    net = load_network(models["counts"])
    assert dataset_for(net, samples=2).is_counts
    del net.metadata["neurosim"]["encoding"]["values"]
    assert not dataset_for(net, samples=2).is_counts
    net.metadata["neurosim"]["encoding"]["values"] = 3
    with pytest.raises(NeurosimError, match="neurosim.encoding.values"):
        dataset_for(net, samples=2)
    argv = ["train", "--dataset", "digits", "--input-values", "counts", "--epochs", "1", "--limit", "8"]
    assert main([*argv, "--out", str(tmp_path / "d.nir")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--input-values counts" in err and "digits" in err and "\n" not in err
