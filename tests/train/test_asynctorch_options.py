"""asynctorch's semantics in the trainer's unlayered forward (docs/asynctorch.md): a golden case
of refractory dropout's values, per-frame stop-on-output, queued input, momentum noise, the
renamed frame dropout, and the gradients of both backward modes."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurosim.train.model import count_loss, forward_layered, forward_unlayered  # noqa: E402
from neurosim.train.trainer import TrainConfig, TrainError  # noqa: E402


def _net(seed=11, sizes=(24, 20, 16, 6), B=8, T=6):
    rng = np.random.default_rng(seed)
    ws = [rng.normal(0.2, 0.6, (b, a)).astype(np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
    x = torch.tensor(rng.random((B, T, sizes[0])) < 0.3, dtype=torch.float32)
    return ws, x, torch.tensor(rng.integers(0, sizes[-1], B))


def test_refrac_dropout_golden_a_value_of_two_sends_twice_the_weights():
    """in -> h1 (2) -> h2 (1) -> out (1), F = 1, momentum. Both h1 neurons cross at step 0 and
    feed h2 1.5 each in steps 1 and 2. Refractory (p = 0), h2 crosses once and sends 0.6 to out:
    no output spike. Never refractory (p = 1), h2 crosses again while queued: its value 2 sends
    1.2, and out fires."""
    ws = [torch.tensor([[2.0], [2.0]]), torch.tensor([[1.5, 1.5]]), torch.tensor([[0.6]])]
    x = torch.ones(1, 1, 1)
    with torch.no_grad():
        r0 = forward_unlayered(ws, x, group_size=1, record=True, refrac_dropout=0.0)
        r1 = forward_unlayered(ws, x, group_size=1, record=True, refrac_dropout=1.0)
    assert r0.spikes[0, 0].tolist() == [1, 1, 1, 0]
    assert r1.spikes[0, 0].tolist() == [1, 1, 2, 1]
    assert r1.n_spikes == 5 and r1.counts.item() == 1.0


def test_refrac_dropout_zero_is_the_plain_forward_and_one_sends_more():
    ws, x, _ = _net()
    t = [torch.tensor(w) for w in ws]
    with torch.no_grad():
        plain = forward_unlayered(t, x, group_size=3, record=True)
        p0 = forward_unlayered(t, x, group_size=3, record=True, refrac_dropout=0.0)
        p1 = forward_unlayered(t, x, group_size=3, record=True, refrac_dropout=1.0)
    assert torch.equal(plain.spikes, p0.spikes)
    assert p1.n_spikes > plain.n_spikes and int(p1.spikes.max()) > 1


@pytest.mark.parametrize(
    "kw",
    [
        dict(stop_on_output_frame=0),
        dict(stop_on_output_frame=2, group_size=2),
        dict(momentum_noise=0.5, group_size=2),
        dict(momentum_noise=1e-6, group_size=1, frame_dropout=0.2),
        dict(scheduler="random", group_size=2, frame_dropout=0.2, input_dropout=0.1),
    ],
)
def test_replay_gradients_equal_step_by_step_gradients(kw):
    ws, x, y = _net()
    out = {}
    for how in ("steps", "replay"):
        params = [torch.tensor(w, requires_grad=True) for w in ws]
        r = forward_unlayered(params, x, record=True, generator=torch.Generator().manual_seed(5), backward=how, **kw)
        count_loss(r.counts, y).backward()
        out[how] = (r, [p.grad for p in params])
    (ra, ga), (rb, gb) = out["steps"], out["replay"]
    assert torch.equal(ra.spikes, rb.spikes) and torch.equal(ra.steps, rb.steps)
    assert ra.dropped == rb.dropped and ra.n_spikes == rb.n_spikes
    for a, b in zip(ga, gb):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
        assert a.abs().sum() > 0


@pytest.mark.parametrize("kw", [dict(refrac_dropout=0.8), dict(prioritize_input=False)])
def test_replay_builds_the_steps_graph_where_it_cannot_replay(kw):
    ws, x, y = _net()
    grads = {}
    for how in ("steps", "replay"):
        params = [torch.tensor(w, requires_grad=True) for w in ws]
        r = forward_unlayered(params, x, generator=torch.Generator().manual_seed(3), backward=how, group_size=2, **kw)
        count_loss(r.counts, y).backward()
        grads[how] = [p.grad for p in params]
    for a, b in zip(grads["steps"], grads["replay"]):
        assert torch.equal(a, b) and a.abs().sum() > 0


def test_stop_on_output_frame_ends_each_frame_k_steps_after_its_first_output():
    ws, x, _ = _net()
    t = [torch.tensor(w) for w in ws]
    with torch.no_grad():
        full = forward_unlayered(t, x, group_size=1, record=True)
        for K in (0, 1, 3):
            cut = forward_unlayered(t, x, group_size=1, record=True, stop_on_output_frame=K)
            assert cut.n_spikes < full.n_spikes and cut.dropped > 0
            assert bool((cut.steps <= full.steps).all())
            # a frame that sent an output spike sent at most K further steps after it
            assert bool((cut.spikes[:, :, -6:].sum(2) <= K + 1).all())


def test_queued_input_with_a_wide_group_takes_one_more_step_per_frame():
    ws, x, _ = _net()
    t = [torch.tensor(w) for w in ws]
    with torch.no_grad():
        a = forward_unlayered(t, x, group_size=1000, record=True)
        b = forward_unlayered(t, x, group_size=1000, record=True, prioritize_input=False)
    assert torch.equal(a.spikes, b.spikes)
    has_input = (x.sum(2) > 0).to(torch.int32)
    assert torch.equal(b.steps, a.steps + has_input)


def test_event_counts_are_counts_times_weights():
    ws, x, _ = _net()
    t = [torch.tensor(w) for w in ws]
    with torch.no_grad():
        a = forward_layered(t, 2 * x, record=True)
        w0 = [2 * t[0]] + t[1:]
        b = forward_layered(w0, x, record=True)
        c = forward_unlayered(t, 2 * x, record=True, group_size=4)
        d = forward_unlayered(w0, x, record=True, group_size=4)
    assert torch.equal(a.spikes, b.spikes) and torch.equal(c.spikes, d.spikes)


def test_old_refractory_dropout_name_is_refused_and_frame_dropout_is_it():
    ws, x, _ = _net()
    t = [torch.tensor(w) for w in ws]
    with pytest.raises(ValueError, match="frame_dropout .* refrac_dropout"):
        forward_unlayered(t, x, refractory_dropout=0.2)
    with pytest.raises(ValueError, match="renamed"):
        forward_layered(t, x, refractory_dropout=0.2)
    with torch.no_grad():
        a = forward_unlayered(t, x, frame_dropout=0.5, generator=torch.Generator().manual_seed(1), record=True)
        b = forward_unlayered(t, x, record=True)
    assert a.n_spikes < b.n_spikes


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(refrac_dropout=1.5), r"\[0, 1\]"),
        (dict(stop_on_output_frame=-1), ">= 0"),
        (dict(momentum_noise=0.1, scheduler="random"), "momentum"),
    ],
)
def test_forward_refusals(kw, match):
    ws, x, _ = _net()
    with pytest.raises(ValueError, match=match):
        forward_unlayered([torch.tensor(w) for w in ws], x, **kw)


def test_train_config_refuses_asynctorch_options_in_layered_mode():
    with pytest.raises(TrainError, match="unlayered"):
        TrainConfig(mode="layered", refrac_dropout=0.8).validate()
    TrainConfig(mode="unlayered", refrac_dropout=0.8, stop_on_output_frame=2, prioritize_input=False).validate()


def test_cli_refuses_the_old_refractory_dropout_flag(tmp_path, capsys):
    from neurosim.cli.main import main

    assert main(["train", "--refractory-dropout", "0.2", "--out", str(tmp_path / "m.nir")]) != 0
    err = capsys.readouterr().err
    assert "--frame-dropout" in err and "--refrac-dropout" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "m.nir").exists()


def test_momentum_noise_changes_the_order_reproducibly():
    ws, x, _ = _net()
    t = [torch.tensor(w) for w in ws]

    def run(noise, seed=0):
        with torch.no_grad():
            g = torch.Generator().manual_seed(seed)
            return forward_unlayered(t, x, group_size=1, record=True, momentum_noise=noise, generator=g).spikes

    assert torch.equal(run(0.0), forward_unlayered(t, x, group_size=1, record=True).spikes)
    assert not torch.equal(run(5.0), run(0.0))
    assert torch.equal(run(5.0), run(5.0)) and not torch.equal(run(5.0), run(5.0, seed=1))
