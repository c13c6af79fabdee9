"""backward="bptt" (asynctorch's estimator: autograd through every send step, the reset keeps its
gradient): the same forward as replay and steps, a different gradient, and the reset's gradient
checked against a hand-derived value."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurosim.train.model import LIFParams, forward_unlayered  # noqa: E402
from neurosim.train.trainer import TrainConfig, TrainError, run_forward  # noqa: E402

BACKWARDS = ("replay", "steps", "bptt")


def _net(seed=0, sizes=(20, 16, 16, 5), B=6, T=6):
    g = torch.Generator().manual_seed(seed)
    ws = [
        ((torch.rand(b, a, generator=g) * 2 - 1) * 2.5 / math.sqrt(a)).requires_grad_()
        for a, b in zip(sizes, sizes[1:])
    ]
    x = (torch.rand(B, T, sizes[0], generator=g) < 0.3).float()
    return ws, x


def _run(ws, x, backward, **kw):
    gen = torch.Generator().manual_seed(3)
    r = forward_unlayered(ws, x, record=True, backward=backward, generator=gen, **kw)
    grads = torch.autograd.grad(r.counts.sum() + 0.1 * r.counts.pow(2).sum(), ws)
    return r, [g.flatten() for g in grads]


@pytest.mark.parametrize("scheduler", ["momentum", "random"])
@pytest.mark.parametrize("extra", [{}, {"frame_dropout": 0.2, "input_dropout": 0.1}])
def test_forward_is_the_same_for_every_backward(scheduler, extra):
    ws, x = _net()
    runs = {b: _run(ws, x, b, group_size=2, scheduler=scheduler, **extra)[0] for b in BACKWARDS}
    ref = runs["replay"]
    assert int(ref.spikes.sum()) > 20  # the network is active
    assert int(ref.steps.max()) > 1  # group size 2 binds: real scheduling
    for b in ("steps", "bptt"):
        assert torch.equal(runs[b].spikes, ref.spikes), b
        assert torch.equal(runs[b].steps, ref.steps), b
        assert torch.equal(runs[b].counts.detach(), ref.counts.detach()), b


def test_bptt_gradient_differs_from_the_detached_reset():
    ws, x = _net()
    _, g_rep = _run(ws, x, "replay", group_size=2)
    _, g_steps = _run(ws, x, "steps", group_size=2)
    _, g_bptt = _run(ws, x, "bptt", group_size=2)
    for a, b in zip(g_rep, g_steps):  # replay == steps up to rounding
        assert float(torch.nn.functional.cosine_similarity(a, b, dim=0)) > 0.9999
    cos = [float(torch.nn.functional.cosine_similarity(a, b, dim=0)) for a, b in zip(g_steps, g_bptt)]
    assert max(cos) < 0.999  # the reset's gradient changes every layer's gradient


def test_bptt_reset_gradient_by_hand():
    """One input -> one neuron (w = 1.5, beta 0.5, threshold 1): it crosses in both frames.
    Detached reset: d counts / d w = 2 sg(1.5). Kept reset: frame 1's membrane is
    beta * w * (1 - s0) + w, so d v1 / d w = 1 - beta * w * sg(1.5), and
    d counts / d w = sg(1.5) * (2 - beta * 1.5 * sg(1.5)); sg = arctan surrogate, slope 2."""
    sg = 1.0 / (1.0 + (math.pi / 2 * 2.0 * 0.5) ** 2)
    x = torch.ones(1, 2, 1)
    grads = {}
    for b in BACKWARDS:
        w = torch.tensor([[1.5]], requires_grad=True)
        r = forward_unlayered([w], x, LIFParams(beta=0.5), backward=b)
        assert r.counts.tolist() == [[2.0]]
        (grads[b],) = torch.autograd.grad(r.counts.sum(), [w])
    assert grads["replay"].item() == pytest.approx(2 * sg, rel=1e-6)
    assert grads["steps"].item() == pytest.approx(2 * sg, rel=1e-6)
    assert grads["bptt"].item() == pytest.approx(sg * (2 - 0.5 * 1.5 * sg), rel=1e-6)


def test_bptt_reset_gradient_only_where_the_step_changed_the_membrane():
    """asynctorch's update mask: the factor (1 - s) multiplies the membranes a step changed (or
    that crossed), once per such step. Input -> h1 (w 1.5, crosses at step 0), h2 (w 0.5, silent)
    -> output (0.5, 0.3; silent). h2 changes only at step 0, so its ghost gradient is the
    detached one times (1 - 0.5 sg(0.5)) exactly once (twice, were it applied at step 1 too)."""
    sg = 1.0 / (1.0 + (math.pi / 2 * 2.0 * 0.5) ** 2)
    x = torch.ones(1, 1, 1)
    gs = {}
    for b in ("steps", "bptt"):
        w1 = torch.tensor([[1.5], [0.5]], requires_grad=True)
        w2 = torch.tensor([[0.5, 0.3]], requires_grad=True)
        r = forward_unlayered([w1, w2], x, LIFParams(beta=0.9), backward=b, record=True)
        assert r.spikes[0, 0].tolist() == [1, 0, 0] and int(r.steps[0, 0]) == 1
        (gs[b],) = torch.autograd.grad(r.counts.sum(), [w1])
    assert gs["steps"][1, 0].item() == pytest.approx(sg * 0.3 * sg, rel=1e-6)
    assert gs["bptt"][1, 0].item() == pytest.approx(sg * 0.3 * sg * (1 - 0.5 * sg), rel=1e-6)


def test_trainer_passes_backward():
    ws, x = _net()
    cfg = TrainConfig(mode="unlayered", group_size=2, backward="bptt").validate()
    r = run_forward(ws, x, cfg, generator=torch.Generator().manual_seed(3), train=True)
    (g_cfg,) = torch.autograd.grad(r.counts.sum(), ws[:1])
    r2 = forward_unlayered(ws, x, group_size=2, backward="bptt")
    (g_direct,) = torch.autograd.grad(r2.counts.sum(), ws[:1])
    r3 = forward_unlayered(ws, x, group_size=2, backward="replay")
    (g_rep,) = torch.autograd.grad(r3.counts.sum(), ws[:1])
    np.testing.assert_allclose(g_cfg.numpy(), g_direct.numpy(), rtol=1e-6, atol=1e-7)
    assert not np.allclose(g_cfg.numpy(), g_rep.numpy(), rtol=1e-3, atol=1e-6)
    with pytest.raises(TrainError, match="backward"):
        TrainConfig(backward="adjoint").validate()
    with pytest.raises(ValueError, match="backward"):
        forward_unlayered(ws, x, backward="adjoint")


def test_cli_backward_option():
    import argparse

    from neurosim.cli.train import register

    sub = argparse.ArgumentParser().add_subparsers()
    p = register(sub)
    args = p.parse_args(["--backward", "bptt", "--out", "m.nir"])
    assert args.backward == "bptt"
    with pytest.raises(SystemExit):
        p.parse_args(["--backward", "adjoint", "--out", "m.nir"])
