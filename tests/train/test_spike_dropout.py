"""Network spike dropout (asynctorch's SpikeDropoutExtension(apply_to_network=True)): each new
spike is, with probability p, not passed on; the neuron still resets. Layered and unlayered,
seeded, identity at p = 0, training only in the trainer."""

import math

import pytest

torch = pytest.importorskip("torch")

from neurosim.train.model import LIFParams, forward_layered, forward_unlayered  # noqa: E402
from neurosim.train.trainer import TrainConfig, TrainError, run_forward  # noqa: E402

FORWARDS = {
    "layered": lambda ws, x, **kw: forward_layered(ws, x, record=True, **kw),
    "unlayered": lambda ws, x, **kw: forward_unlayered(ws, x, record=True, group_size=3, **kw),
}


def _net(seed=0, sizes=(20, 16, 16, 5), B=6, T=8):
    g = torch.Generator().manual_seed(seed)
    ws = [(torch.rand(b, a, generator=g) * 2 - 1) * 2.5 / math.sqrt(a) for a, b in zip(sizes, sizes[1:])]
    x = (torch.rand(B, T, sizes[0], generator=g) < 0.3).float()
    return ws, x


def _gen(seed=5):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("mode", FORWARDS)
def test_identity_at_zero_and_changes_spikes_above(mode):
    fwd = FORWARDS[mode]
    ws, x = _net()
    base = fwd(ws, x, generator=_gen())
    g0 = _gen()
    zero = fwd(ws, x, generator=g0, spike_dropout=0.0)
    assert torch.equal(zero.spikes, base.spikes)
    assert torch.equal(g0.get_state(), _gen().get_state())  # p = 0 draws nothing
    a = fwd(ws, x, generator=_gen(), spike_dropout=0.3)
    b = fwd(ws, x, generator=_gen(), spike_dropout=0.3)
    c = fwd(ws, x, generator=_gen(9), spike_dropout=0.3)
    assert torch.equal(a.spikes, b.spikes)  # seeded
    assert not torch.equal(a.spikes, c.spikes)
    assert not torch.equal(a.spikes, base.spikes)
    assert a.n_spikes < base.n_spikes


@pytest.mark.parametrize("mode", FORWARDS)
def test_a_dropped_spike_still_resets(mode):
    """One neuron, w = 0.6, no leak: it crosses at 1.2 every second frame (odd frames) when every
    crossing resets it; were a dropped crossing not reset it would cross again at an even frame."""
    w = [torch.tensor([[0.6]])]
    x = torch.ones(1, 40, 1)
    r = FORWARDS[mode](w, x, generator=_gen(1), spike_dropout=0.5)
    frames = torch.nonzero(r.spikes[0, :, 0]).flatten().tolist()
    assert 0 < len(frames) < 20  # some crossings kept, some dropped
    assert all(t % 2 == 1 for t in frames)


@pytest.mark.parametrize("scheduler", ["momentum", "random"])
def test_unlayered_same_forward_for_every_backward(scheduler):
    ws, x = _net()
    ws = [w.requires_grad_() for w in ws]
    runs = {}
    for b in ("replay", "steps", "bptt"):
        r = forward_unlayered(
            ws, x, record=True, group_size=3, scheduler=scheduler, backward=b, generator=_gen(), spike_dropout=0.3
        )
        (grad,) = torch.autograd.grad(r.counts.sum(), ws[:1])
        runs[b] = (r, grad)
    ref, g_ref = runs["replay"]
    r_steps, g_steps = runs["steps"]
    assert torch.equal(r_steps.spikes, ref.spikes) and torch.equal(runs["bptt"][0].spikes, ref.spikes)
    assert torch.allclose(g_steps, g_ref, rtol=1e-4, atol=1e-6)  # dropped spikes carry no gradient in both


def test_trainer_drops_only_in_training():
    ws, x = _net()
    cfg = TrainConfig(mode="unlayered", group_size=3, spike_dropout=0.3).validate()
    plain = TrainConfig(mode="unlayered", group_size=3).validate()
    ev = run_forward(ws, x, cfg, generator=_gen(), record=True)
    assert torch.equal(ev.spikes, run_forward(ws, x, plain, generator=_gen(), record=True).spikes)
    tr = run_forward(ws, x, cfg, generator=_gen(), record=True, train=True)
    assert tr.n_spikes < ev.n_spikes
    with pytest.raises(TrainError, match="spike_dropout"):
        TrainConfig(spike_dropout=1.0).validate()
    with pytest.raises(ValueError, match="spike_dropout"):
        forward_layered(ws, x, LIFParams(), spike_dropout=-0.1)
