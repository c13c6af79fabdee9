"""The momentum-noise schedule over epochs (asynctorch's StepNoiseScheduler: lambda_epoch =
start * gamma ** (epoch // step_size)), passed to every training forward, not to evaluation."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import neurosim.train.trainer as trainer  # noqa: E402
from neurosim.data.dataset import SpikeDataset  # noqa: E402
from neurosim.train.trainer import TrainConfig, TrainError  # noqa: E402


def test_noise_at_is_the_step_schedule():
    cfg = TrainConfig(mode="unlayered", momentum_noise=0.4, noise_step_size=3, noise_gamma=0.5).validate()
    assert [cfg.noise_at(e) for e in range(7)] == [0.4, 0.4, 0.4, 0.2, 0.2, 0.2, 0.1]
    assert TrainConfig().noise_at(5) == 0.0
    with pytest.raises(TrainError, match="noise_step_size"):
        TrainConfig(mode="unlayered", momentum_noise=0.1, noise_step_size=0).validate()
    with pytest.raises(TrainError, match="momentum"):
        TrainConfig(mode="unlayered", scheduler="random", momentum_noise=0.1).validate()
    with pytest.raises(TrainError, match="global"):
        TrainConfig(mode="unlayered", momentum_noise=0.1, scheduler_scope="core", hw="x.yaml").validate()


def _data(n=16, T=4, C=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, T, C)) < 0.4
    labels = rng.integers(0, 3, n).astype(np.int64)
    return SpikeDataset(name="toy", inputs=x, labels=labels, n_classes=3, input_shape=(C,), description="toy")


def test_training_passes_each_epochs_lambda(monkeypatch):
    seen: list[tuple[bool, float]] = []
    real = trainer.run_forward

    def spy(weights, x, cfg, **kw):
        seen.append((bool(kw.get("train", False)), float(kw.get("momentum_noise", 0.0))))
        return real(weights, x, cfg, **kw)

    monkeypatch.setattr(trainer, "run_forward", spy)
    cfg = TrainConfig(
        mode="unlayered",
        epochs=4,
        batch_size=8,
        hidden=(6,),
        momentum_noise=0.2,
        noise_step_size=2,
        noise_gamma=0.5,
        progress=False,
        group_size=2,
    )
    res = trainer.train(cfg, train_data=_data(), test_data=_data(8, seed=1))
    train_calls = [lam for t, lam in seen if t]
    assert train_calls == [0.2, 0.2, 0.2, 0.2, 0.1, 0.1, 0.1, 0.1]  # 2 batches per epoch
    assert all(lam == 0.0 for t, lam in seen if not t)  # evaluation: no noise
    assert [h["momentum_noise"] for h in res.history] == [0.2, 0.2, 0.1, 0.1]
    assert res.metadata["momentum_noise"] == 0.2 and res.metadata["noise_gamma"] == 0.5
