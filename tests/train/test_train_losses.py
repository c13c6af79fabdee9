"""The trainer's losses (neurosim.train.losses): values by hand on a 2-frame toy output, equal to
snnTorch's ce_count_loss / ce_rate_loss / ce_temporal_loss (values and the first-spike sign
estimator's gradient); the forwards' per-frame outputs and hidden spike counts (with biases too,
and the numpy reference with biases); replay == step-by-step gradients for the new losses; and
short trainings that lower each loss."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurosim.train.losses import (  # noqa: E402
    ce_count_loss,
    ce_rate_loss,
    first_spike_frames,
    first_spike_loss,
    spike_penalty,
    total_loss,
)
from neurosim.train.model import ForwardResult, forward_layered, forward_unlayered  # noqa: E402
from neurosim.train.quantize import quantize  # noqa: E402

# one sample, two frames, three outputs: frame 0 output 0 spikes, frame 1 outputs 0 and 1
TOY = torch.tensor([[[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]])
LABEL = torch.tensor([1])
e = math.e


def test_ce_count_by_hand():
    # counts [2, 1, 0]: -log(e / (e^2 + e + 1))
    assert float(ce_count_loss(TOY.sum(1), LABEL)) == pytest.approx(math.log(e**2 + e + 1) - 1, rel=1e-6)
    assert float(ce_count_loss(TOY.sum(1), LABEL, 0.5)) == pytest.approx(math.log(e + e**0.5 + 1) - 0.5, rel=1e-6)


def test_ce_rate_by_hand():
    # frame 0 logits [1, 0, 0]: log(e + 2); frame 1 [1, 1, 0]: log(2e + 1) - 1; mean over frames
    want = (math.log(e + 2) + math.log(2 * e + 1) - 1) / 2
    assert float(ce_rate_loss(TOY, LABEL)) == pytest.approx(want, rel=1e-6)


def test_first_spike_by_hand():
    # first frames [0, 1, T-1 = 1 (never)]; logits -f = [0, -1, -1]: log(1 + 2/e) + 1
    assert first_spike_frames(TOY).tolist() == [[0.0, 1.0, 1.0]]
    assert float(first_spike_loss(TOY, LABEL)) == pytest.approx(math.log(1 + 2 / e) + 1, rel=1e-6)


def test_spike_penalty_by_hand_and_in_the_total():
    hidden = torch.tensor([3.0, 5.0])
    assert float(spike_penalty(hidden, 0.1)) == pytest.approx(0.4)
    r = ForwardResult(counts=TOY.sum(1).repeat(2, 1), frame_counts=TOY.repeat(2, 1, 1), hidden_spikes=hidden)
    labels = LABEL.repeat(2)
    base = math.log(e**2 + e + 1) - 1
    assert float(total_loss(r, labels, "ce-count", penalty=0.1)) == pytest.approx(base + 0.4, rel=1e-6)
    with pytest.raises(ValueError, match="track=True"):
        total_loss(ForwardResult(counts=TOY.sum(1)), LABEL, "ce-rate")


def test_losses_equal_snntorch():
    sf = pytest.importorskip("snntorch.functional")
    rng = np.random.default_rng(0)
    y = torch.tensor(rng.random((5, 7, 4)) < 0.3, dtype=torch.float32)  # (B, T, n)
    y[0, :, 2] = 0  # an output that never spikes
    labels = torch.tensor(rng.integers(0, 4, 5))
    spk_rec = y.transpose(0, 1).contiguous()  # snnTorch: (T, B, n)
    torch.testing.assert_close(ce_count_loss(y.sum(1), labels), sf.ce_count_loss()(spk_rec, labels))
    torch.testing.assert_close(ce_rate_loss(y, labels), sf.ce_rate_loss()(spk_rec, labels).reshape(()))
    # first spike: the value and the sign-estimator gradient (-1 at the first spike's frame)
    ours_in = y.clone().requires_grad_(True)
    theirs_in = spk_rec.clone().requires_grad_(True)
    a, b = first_spike_loss(ours_in, labels), sf.ce_temporal_loss()(theirs_in, labels)
    torch.testing.assert_close(a, b)
    a.backward()
    b.backward()
    torch.testing.assert_close(ours_in.grad, theirs_in.grad.transpose(0, 1))
    assert ours_in.grad.abs().sum() > 0


def _net(seed, sizes=(24, 20, 16, 6), B=10, T=8, bias=0.0):
    rng = np.random.default_rng(seed)
    ws = [quantize(rng.normal(0, 0.6, (b, a)))[0] for a, b in zip(sizes[:-1], sizes[1:])]
    step = 2.0**-5
    bs = [(np.round(rng.normal(bias, 0.4, b) / step) * step).astype(np.float32) for b in sizes[1:]]
    x = torch.tensor(rng.random((B, T, sizes[0])) < 0.3, dtype=torch.float32)
    return ws, bs, x


def _check_tracking(r, n_out):
    assert r.frame_counts is not None and r.hidden_spikes is not None
    torch.testing.assert_close(r.frame_counts.detach().sum(1), r.counts.detach(), rtol=0, atol=0)
    np.testing.assert_array_equal(r.frame_counts.detach().numpy(), r.spikes[:, :, -n_out:].numpy())
    np.testing.assert_array_equal(r.hidden_spikes.detach().numpy(), r.spikes[:, :, :-n_out].sum((1, 2)).numpy())


@pytest.mark.parametrize("with_bias", [False, True])
def test_forwards_track_frames_and_hidden_spikes_and_biases_match_the_reference(with_bias):
    from neurosim.train.reference import layered_spikes, unlayered_spikes

    ws, bs, x = _net(3, bias=0.3 if with_bias else 0.0)
    bs_t = [torch.tensor(b) for b in bs] if with_bias else None
    n_out = ws[-1].shape[0]
    for grad in (False, True):
        params = [torch.tensor(w, requires_grad=grad) for w in ws]
        lay = forward_layered(params, x, record=True, track=True, biases=bs_t)
        _check_tracking(lay, n_out)
        for how in ("replay", "steps"):
            unl = forward_unlayered(params, x, record=True, track=True, biases=bs_t, group_size=3, backward=how)
            _check_tracking(unl, n_out)
    for b in range(len(x)):
        ref_b = bs if with_bias else None
        np.testing.assert_array_equal(lay.spikes[b].numpy(), layered_spikes(ws, x[b].numpy(), biases=ref_b))
        s, steps = unlayered_spikes(ws, x[b].numpy(), group_size=3, biases=ref_b)
        np.testing.assert_array_equal(unl.spikes[b].numpy(), s)
        np.testing.assert_array_equal(unl.steps[b].numpy(), steps)
    if with_bias:  # deeper neurons crossed at step 0 on their bias alone: the replay's case c = 0
        assert unl.spikes.sum() > 0


@pytest.mark.parametrize(
    ("loss", "kw"),
    [
        ("ce-rate", dict(scheduler="momentum", group_size=2)),
        ("first-spike", dict(scheduler="random", group_size=3, frame_dropout=0.2, input_dropout=0.1)),
        ("ce-count", dict(scheduler="momentum", group_size=2, stop_after_output=2)),
    ],
)
def test_replay_gradients_equal_step_by_step_gradients_with_biases_and_the_new_losses(loss, kw):
    ws, bs, x = _net(11, bias=0.2)
    y = torch.tensor(np.random.default_rng(1).integers(0, 6, len(x)))
    out = {}
    for how in ("steps", "replay"):
        params = [torch.tensor(w, requires_grad=True) for w in ws] + [torch.tensor(b, requires_grad=True) for b in bs]
        g = torch.Generator().manual_seed(5)
        r = forward_unlayered(
            params[:3], x, record=True, generator=g, backward=how, biases=params[3:], track=True, **kw
        )
        total_loss(r, y, loss, penalty=0.01).backward()
        out[how] = (r, [p.grad for p in params])
    (ra, ga), (rb, gb) = out["steps"], out["replay"]
    assert torch.equal(ra.spikes, rb.spikes) and torch.equal(ra.frame_counts.detach(), rb.frame_counts.detach())
    torch.testing.assert_close(ra.hidden_spikes.detach(), rb.hidden_spikes.detach(), rtol=0, atol=0)
    for a, b in zip(ga, gb):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert all(a.abs().sum() > 0 for a in ga)  # weights and biases get gradients


@pytest.mark.parametrize(
    ("mode", "loss", "penalty"),
    [
        ("layered", "ce-count", 0.0),
        ("layered", "ce-rate", 0.0),
        ("layered", "first-spike", 0.0),
        ("layered", "ce-count", 0.02),
        ("unlayered", "ce-rate", 0.001),
        ("unlayered", "first-spike", 0.0),
    ],
)
def test_training_with_each_loss_lowers_it(mode, loss, penalty):
    from neurosim.train.trainer import TrainConfig, train

    kw = dict(epochs=3, hidden=(16,), limit=96, batch_size=32, lr=0.02, threshold=0.5, group_size=4, progress=False)
    r = train(TrainConfig(mode=mode, loss=loss, spike_penalty=penalty, **kw))
    losses = [h["loss"] for h in r.history]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.95 * losses[0], losses
    assert r.metadata["test_spikes_per_sample"] > 5  # lowered by learning, not by falling silent
    assert r.metadata["loss_name"] == loss and r.metadata["spike_penalty"] == penalty


def test_the_spike_penalty_lowers_the_hidden_spikes():
    from neurosim.data.registry import load_dataset
    from neurosim.train.trainer import TrainConfig, evaluate, train

    kw = dict(epochs=2, hidden=(16,), limit=96, batch_size=32, lr=5e-3, progress=False)
    data = load_dataset("digits", "test", limit=48)
    hidden = {}
    for lam in (0.0, 0.05):
        cfg = TrainConfig(spike_penalty=lam, **kw)
        r = train(cfg)
        spikes = evaluate(r.weights, data, cfg, record=True)["spikes"]
        hidden[lam] = int(spikes[:, :, :16].sum())
    assert hidden[0.05] < 0.8 * hidden[0.0], hidden
