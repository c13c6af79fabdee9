"""The trainer's forwards: golden values, equality with the numpy reference built on
neurosim.neuron, async-with-unlimited-group == layered, scheduler tie-breaking and seeding."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurosim.neuron import NeuronParams, fire  # noqa: E402
from neurosim.train.model import LIFParams, count_loss, forward_layered, forward_unlayered, spike_fn  # noqa: E402
from neurosim.train.quantize import quantize  # noqa: E402
from neurosim.train.reference import layered_spikes, unlayered_spikes  # noqa: E402


def _t(ws):
    return [torch.tensor(np.asarray(w, np.float32)) for w in ws]


def _net(seed, sizes=(24, 20, 16, 6), density=0.3, B=12, T=10, std=0.6):
    rng = np.random.default_rng(seed)
    ws = [quantize(rng.normal(0, std, (b, a)))[0] for a, b in zip(sizes[:-1], sizes[1:])]
    x = rng.random((B, T, sizes[0])) < density
    return ws, x


def test_layered_golden_two_neurons():
    # one input channel spiking every frame -> hidden (w=0.75) -> output (w=0.875), beta 0.5
    # hidden v: 0.75, 0.375+0.75=1.125 (spike, reset), 0.75, 1.125 (spike), ...
    # output v: 0, 0.875, 0.4375, 0.21875+0.875=1.09375 (spike), 0, 0.875
    ws = _t([[[0.75]], [[0.875]]])
    x = torch.ones(1, 6, 1)
    r = forward_layered(ws, x, LIFParams(beta=0.5), record=True)
    assert r.spikes[0, :, 0].tolist() == [0, 1, 0, 1, 0, 1]
    assert r.spikes[0, :, 1].tolist() == [0, 0, 0, 1, 0, 0]
    assert r.counts.tolist() == [[1.0]]
    assert r.n_spikes == 4


def test_threshold_is_strictly_greater():
    # v reaches exactly 1.0 in frames 0 and 2: no spike at equality (NIR's v > threshold);
    # frame 1: 0.9 + 1.0 = 1.9 spikes and resets to 0
    ws = _t([[[1.0]]])
    x = torch.ones(1, 3, 1)
    for fwd in (forward_layered, forward_unlayered):
        assert fwd(ws, x, LIFParams(beta=0.9), record=True).spikes[0, :, 0].tolist() == [0, 1, 0]
        # fire_equal: v >= threshold, every frame
        assert fwd(ws, x, LIFParams(beta=0.9, fire_equal=True), record=True).spikes[0, :, 0].tolist() == [1, 1, 1]


@pytest.mark.parametrize("fire_equal", [False, True])
def test_threshold_convention_is_neurosim_neuron_fire(fire_equal):
    """The trainer's Heaviside is :func:`neurosim.neuron.fire` with the same ``fire_equal``, on
    values at, just below and just above the threshold."""
    thr = np.float32(1.0)
    v = np.array([np.nextafter(thr, np.float32(0)), thr, np.nextafter(thr, np.float32(2)), 0.0, 2.0], np.float32)
    p = NeuronParams.uniform(len(v), threshold=thr, fire_equal=fire_equal)
    ours = spike_fn(torch.from_numpy(v), float(thr), 2.0, fire_equal).numpy().astype(bool)
    np.testing.assert_array_equal(ours, fire(v, p))
    assert ours.tolist() == [False, fire_equal, True, False, True]


def test_surrogate_gradient_golden():
    v = torch.tensor([1.0, 0.0, 2.0], requires_grad=True)
    s = spike_fn(v, 1.0, 2.0)
    assert s.tolist() == [0.0, 0.0, 1.0]  # v == threshold does not fire
    assert spike_fn(v, 1.0, 2.0, True).tolist() == [1.0, 0.0, 1.0]
    s.sum().backward()
    # the surrogate is centred on the threshold whatever the convention
    expected = [1.0 / (1 + (np.pi / 2 * 2 * x) ** 2) for x in (0.0, -1.0, 1.0)]
    np.testing.assert_allclose(v.grad.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_layered_equals_numpy_step_sync(seed):
    ws, x = _net(seed)
    with torch.no_grad():
        r = forward_layered(_t(ws), torch.tensor(x, dtype=torch.float32), LIFParams(beta=0.9), record=True)
    for b in range(len(x)):
        np.testing.assert_array_equal(r.spikes[b].numpy(), layered_spikes(ws, x[b], beta=0.9))
    assert r.spikes.sum() > 0


@pytest.mark.parametrize("F", [1, 3, 8, 20])
def test_unlayered_momentum_equals_numpy_reference(F):
    ws, x = _net(3)
    with torch.no_grad():
        r = forward_unlayered(
            _t(ws),
            torch.tensor(x, dtype=torch.float32),
            LIFParams(beta=0.9),
            group_size=F,
            scheduler="momentum",
            record=True,
        )
    for b in range(len(x)):
        s, steps = unlayered_spikes(ws, x[b], beta=0.9, group_size=F)
        np.testing.assert_array_equal(r.spikes[b].numpy(), s)
        np.testing.assert_array_equal(r.steps[b].numpy(), steps)


def test_unlayered_step_cap_drops_ready_neurons():
    ws, x = _net(4)
    with torch.no_grad():
        r = forward_unlayered(_t(ws), torch.tensor(x, dtype=torch.float32), group_size=1, max_steps=2, record=True)
    for b in range(len(x)):
        s, steps = unlayered_spikes(ws, x[b], group_size=1, max_steps=2)
        np.testing.assert_array_equal(r.spikes[b].numpy(), s)
    assert int(r.steps.max()) <= 2 and r.dropped > 0


@pytest.mark.parametrize("scheduler", ["momentum", "random"])
def test_unlayered_with_unlimited_group_equals_layered(scheduler):
    ws, x = _net(5)
    xt = torch.tensor(x, dtype=torch.float32)
    with torch.no_grad():
        lay = forward_layered(_t(ws), xt, record=True)
        g = torch.Generator().manual_seed(0)
        unl = forward_unlayered(_t(ws), xt, group_size=20, scheduler=scheduler, generator=g, record=True)
    assert torch.equal(lay.spikes, unl.spikes)
    assert torch.equal(lay.counts, unl.counts)
    # each send step carries one layer: at most 3 send steps per frame here
    assert int(unl.steps.max()) <= 3


def test_momentum_ties_go_to_the_lower_index():
    # n0 and n1 (layer 1) cross with the same priority 1.5; F=1 sends n0 first.
    # output A gets +1.5 from n0 (crosses at once: v=1.5 > 1, refractory) then -1.5 from n1
    # (ignored). n1 first would give -1.5 then +1.5 -> v=0, no spike.
    w1 = [[1.5], [1.5]]
    w2 = [[1.5, -1.5]]
    x = torch.ones(1, 1, 1)
    r = forward_unlayered(_t([w1, w2]), x, group_size=1, scheduler="momentum", record=True)
    assert r.spikes[0, 0].tolist() == [1, 1, 1]
    # swap which neuron has the higher priority: n1 (index 1) crosses higher, goes first
    w1b = [[1.5], [2.0]]
    r = forward_unlayered(_t([w1b, w2]), x, group_size=1, scheduler="momentum", record=True)
    assert r.spikes[0, 0].tolist() == [1, 1, 0]
    # mirrored weights: tie again, but now the lower-index neuron inhibits: no output spike
    r = forward_unlayered(_t([w1, [[-1.5, 1.5]]]), x, group_size=1, scheduler="momentum", record=True)
    assert r.spikes[0, 0].tolist() == [1, 1, 0]


def test_momentum_ties_are_global_across_layers():
    # layer 1 = [a, b], layer 2 = [c], output = [o]; F=1 and a cap of 2 send steps.
    # step 0: a crosses at 3.0, b at 1.5. step 1: a (highest) is sent; c gets 1.5 and crosses
    # with priority 1.5, tying with b. The tie goes to the lower global index: b (layer 1)
    # is sent at step 2 and c is dropped at the cap. (c first would drop b instead.)
    w1 = [[3.0], [1.5]]
    w2 = [[1.5, 0.0]]
    w3 = [[1.5]]
    r = forward_unlayered(_t([w1, w2, w3]), torch.ones(1, 1, 1), group_size=1, max_steps=2, record=True)
    assert r.spikes[0, 0].tolist() == [1, 1, 0, 0]
    assert r.dropped == 1
    s, steps = unlayered_spikes([np.array(w) for w in (w1, w2, w3)], np.ones((1, 1)), group_size=1, max_steps=2)
    assert s[0].tolist() == [1, 1, 0, 0] and steps[0] == 2
    # without the cap everything is eventually sent
    r = forward_unlayered(_t([w1, w2, w3]), torch.ones(1, 1, 1), group_size=1, record=True)
    assert r.spikes[0, 0].tolist() == [1, 1, 1, 1] and r.steps[0, 0].item() == 4


def test_random_scheduler_is_reproducible():
    ws, x = _net(6)
    xt = torch.tensor(x, dtype=torch.float32)

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            return forward_unlayered(_t(ws), xt, group_size=2, scheduler="random", generator=g, record=True)

    a, b, c = run(7), run(7), run(8)
    assert torch.equal(a.spikes, b.spikes) and torch.equal(a.steps, b.steps)
    assert not torch.equal(a.spikes, c.spikes)


def test_stop_after_output():
    ws, x = _net(7)
    xt = torch.tensor(x, dtype=torch.float32)
    with torch.no_grad():
        full = forward_unlayered(_t(ws), xt, record=True)
        late = forward_unlayered(_t(ws), xt, record=True, stop_after_output=10**6)
        early = forward_unlayered(_t(ws), xt, record=True, stop_after_output=0)
    assert torch.equal(full.spikes, late.spikes)
    assert early.n_spikes < full.n_spikes
    n_out = ws[-1].shape[0]
    out_early = early.spikes[:, :, -n_out:].sum(dim=2)
    for b in range(len(x)):
        frames = torch.nonzero(out_early[b]).flatten()
        if len(frames):  # nothing after the frame of the first output spike
            assert early.spikes[b, frames[0] + 1 :].sum() == 0


def test_ghost_pass_leaves_the_forward_unchanged_and_gives_gradients():
    ws, x = _net(8)
    xt = torch.tensor(x, dtype=torch.float32)
    params = [torch.tensor(w, requires_grad=True) for w in ws]
    r1 = forward_unlayered(params, xt, ghost=True, record=True)
    with torch.no_grad():
        r0 = forward_unlayered(_t(ws), xt, ghost=False, record=True)
    assert torch.equal(r1.counts.detach(), r0.counts) and torch.equal(r1.spikes, r0.spikes)
    count_loss(r1.counts, torch.zeros(len(x), dtype=torch.long)).backward()
    for p in params:
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0


def test_layered_gradients_flow_to_every_layer():
    ws, x = _net(9)
    params = [torch.tensor(w, requires_grad=True) for w in ws]
    r = forward_layered(params, torch.tensor(x, dtype=torch.float32))
    count_loss(r.counts, torch.ones(len(x), dtype=torch.long)).backward()
    assert all(p.grad.abs().sum() > 0 for p in params)


def test_argmax_takes_the_first_maximum():
    from neurosim.train.model import ForwardResult

    r = ForwardResult(counts=torch.tensor([[1.0, 3.0, 3.0], [0.0, 0.0, 0.0]]))
    assert r.prediction.tolist() == [1, 0]


@pytest.mark.parametrize(
    "kw",
    [
        dict(scheduler="momentum", group_size=2),
        dict(scheduler="random", group_size=3),
        dict(scheduler="momentum", group_size=1, max_steps=3),
        dict(scheduler="random", group_size=2, frame_dropout=0.2, input_dropout=0.1),
        dict(scheduler="momentum", group_size=2, stop_after_output=2),
    ],
)
def test_replay_gradients_equal_step_by_step_gradients(kw):
    rng = np.random.default_rng(11)
    sizes = (24, 20, 16, 6)
    ws = [rng.normal(0, 0.6, (b, a)).astype(np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
    x = torch.tensor(rng.random((10, 8, 24)) < 0.3, dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 6, 10))
    out = {}
    for how in ("steps", "replay"):
        params = [torch.tensor(w, requires_grad=True) for w in ws]
        g = torch.Generator().manual_seed(5)
        r = forward_unlayered(params, x, record=True, generator=g, backward=how, **kw)
        count_loss(r.counts, y).backward()
        out[how] = (r, [p.grad for p in params])
    (ra, ga), (rb, gb) = out["steps"], out["replay"]
    assert torch.equal(ra.spikes, rb.spikes) and torch.equal(ra.steps, rb.steps)
    assert torch.equal(ra.counts.detach(), rb.counts.detach())
    assert ra.dropped == rb.dropped and ra.n_spikes == rb.n_spikes
    for a, b in zip(ga, gb):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
        assert a.abs().sum() > 0
