"""asynctorch's semantics in the simulator (docs/asynctorch.md): refractory dropout, per-frame
stop-on-output, queued input, event-count input and momentum noise. Every deterministic setting
equals the trainer's unlayered forward (async global) or layered forward (sync) per neuron and
frame; each test also checks that the option changes something, so a bypassed option fails."""

import numpy as np
import pytest
from test_async import mlp, run_chip

from neurosim.errors import SimulationError
from neurosim.mapping.registry import map_network
from neurosim.sim.engine import simulate

torch = pytest.importorskip("torch")
from neurosim.train.model import LIFParams, forward_layered, forward_unlayered  # noqa: E402

SIZES = [16, 24, 12, 5]


def _trainer(weights, stim, layered=False, **kw):
    ws = [torch.from_numpy(w.T.copy()) for w in weights]
    x = torch.from_numpy(np.asarray(stim, np.float32))
    with torch.no_grad():
        if layered:
            return forward_layered(ws, x, LIFParams(beta=0.9, threshold=1.0), record=True)
        return forward_unlayered(ws, x, LIFParams(beta=0.9, threshold=1.0), record=True, **kw)


def _stim(seed=5, shape=(2, 8, 16), p=0.35):
    return np.random.default_rng(seed).random(shape) < p


@pytest.mark.parametrize("F", [2, 5])
def test_refrac_dropout_zero_and_one_equal_the_trainer(roomy_hw, F):
    net, weights = mlp(SIZES, seed=3)
    stim = _stim()
    got = {}
    for p in (0.0, 1.0):
        ours = run_chip(roomy_hw, net, stim, policy="momentum", group_size=F, npc=5, refrac_dropout=p, max_steps=None)
        theirs = _trainer(weights, stim, group_size=F, scheduler="momentum", refrac_dropout=p).spikes.numpy()
        np.testing.assert_array_equal(ours[:, :, 16:], theirs.astype(np.int64))
        got[p] = ours
    assert got[1.0].max() > 1  # some neuron sent a value above 1 (k spikes) in a frame
    assert got[1.0].sum() > got[0.0].sum()


def test_refrac_dropout_values_are_k_messages_and_counted(roomy_hw):
    net, _ = mlp(SIZES, seed=3)
    m = map_network(net, roomy_hw)
    stim = _stim(shape=(2, 8, 16))
    labels = np.zeros(2, np.int64)
    a = simulate(roomy_hw, net, m, stim, labels, mode="async", policy="momentum", group_size=1)
    b = simulate(roomy_hw, net, m, stim, labels, mode="async", policy="momentum", group_size=1, refrac_dropout=1.0)
    for s0, s1 in zip(a.samples, b.samples):
        assert s1.spikes > s0.spikes and s1.messages_sent > s0.messages_sent  # conservation checked inside
    assert b.options["refrac_dropout"] == 1.0 and b.options["max_steps"] is None
    # a random setting: reproducible from the seed, and the seed matters
    c = simulate(roomy_hw, net, m, stim, labels, mode="async", policy="momentum", refrac_dropout=0.5, seed=1)
    d = simulate(roomy_hw, net, m, stim, labels, mode="async", policy="momentum", refrac_dropout=0.5, seed=1)
    e = simulate(roomy_hw, net, m, stim, labels, mode="async", policy="momentum", refrac_dropout=0.5, seed=2)
    assert [s.spikes for s in c.samples] == [s.spikes for s in d.samples]
    assert [s.spikes for s in c.samples] != [s.spikes for s in e.samples]


def test_refrac_dropout_in_core_scope_sends_values(roomy_hw):
    net, _ = mlp(SIZES, seed=3)
    m = map_network(net, roomy_hw, neurons_per_core=8)
    stim = _stim(shape=(2, 6, 16))
    labels = np.zeros(2, np.int64)
    kw = dict(mode="async", scope="core", policy="momentum")
    a = simulate(roomy_hw, net, m, stim, labels, **kw)
    b = simulate(roomy_hw, net, m, stim, labels, refrac_dropout=1.0, **kw)
    assert sum(s.spikes for s in b.samples) > sum(s.spikes for s in a.samples)


@pytest.mark.parametrize("K", [0, 1, 3])
def test_stop_on_output_frame_equals_the_trainer(roomy_hw, K):
    net, weights = mlp(SIZES, seed=3)
    stim = _stim()
    ours = run_chip(roomy_hw, net, stim, policy="momentum", group_size=2, npc=5, stop_on_output_frame=K)
    theirs = _trainer(weights, stim, group_size=2, scheduler="momentum", stop_on_output_frame=K).spikes.numpy()
    np.testing.assert_array_equal(ours[:, :, 16:], theirs.astype(np.int64))
    full = run_chip(roomy_hw, net, stim, policy="momentum", group_size=2, npc=5)
    assert ours.sum() < full.sum()


def test_queued_input_momentum_equals_the_trainer(roomy_hw):
    net, weights = mlp(SIZES, seed=3)
    stim = _stim()
    for F in (2, 5):
        ours = run_chip(
            roomy_hw, net, stim, policy="momentum", group_size=F, npc=5, prioritize_input=False, max_steps=16 + 41
        )
        theirs = _trainer(weights, stim, group_size=F, scheduler="momentum", prioritize_input=False).spikes.numpy()
        np.testing.assert_array_equal(ours[:, :, 16:], theirs.astype(np.int64))
        plain = _trainer(weights, stim, group_size=F, scheduler="momentum").spikes.numpy()
        assert not np.array_equal(theirs, plain)


def test_queued_input_fifo_with_a_wide_group_takes_one_more_step(roomy_hw):
    """fifo with F above every entry: the input events go in send step 1 (not step 0), so the
    spikes are those of prioritised input and each frame with input takes one step more."""
    net, _ = mlp(SIZES, seed=3)
    m = map_network(net, roomy_hw)
    stim = _stim(shape=(2, 6, 16))
    labels = np.zeros(2, np.int64)
    kw = dict(mode="async", policy="fifo", group_size=100, raster_sample=None)
    a = simulate(roomy_hw, net, m, stim, labels, **kw)
    b = simulate(roomy_hw, net, m, stim, labels, prioritize_input=False, **kw)
    for s0, s1 in zip(a.samples, b.samples):
        np.testing.assert_array_equal(s0.output_counts, s1.output_counts)
        assert s1.spikes == s0.spikes and s1.input_spikes == s0.input_spikes
        assert s1.extra["steps"] == s0.extra["steps"] + stim.shape[1]  # every frame has input here


def _counts(seed=7, shape=(3, 8, 16)):
    rng = np.random.default_rng(seed)
    return (rng.random(shape) < 0.3) * rng.integers(1, 4, shape)


def test_event_counts_equal_the_trainer_async_and_sync(roomy_hw):
    net, weights = mlp(SIZES, seed=3, mean=0.15)
    stim = _counts()
    assert stim.max() > 1
    ours = run_chip(roomy_hw, net, stim, policy="momentum", group_size=3, npc=5)
    theirs = _trainer(weights, stim, group_size=3, scheduler="momentum").spikes.numpy()
    np.testing.assert_array_equal(ours[:, :, 16:], theirs.astype(np.int64))
    np.testing.assert_array_equal(ours[:, :, :16], stim)  # k input messages per channel and frame
    sync = run_chip(roomy_hw, net, stim, mode="sync", npc=5)
    layered = _trainer(weights, stim, layered=True).spikes.numpy()
    np.testing.assert_array_equal(sync[:, :, 16:], layered.astype(np.int64))
    binary = run_chip(roomy_hw, net, stim > 0, mode="sync", npc=5)
    assert not np.array_equal(binary[:, :, 16:], sync[:, :, 16:])


@pytest.mark.parametrize("mode", ["sync", "async", "timestep"])
def test_event_counts_are_counted_as_input_messages(roomy_hw, mode):
    net, _ = mlp(SIZES, seed=3, mean=0.15)
    m = map_network(net, roomy_hw)
    stim = _counts(shape=(2, 5, 16))
    res = simulate(roomy_hw, net, m, stim, np.zeros(2, np.int64), mode=mode)
    for k, s in enumerate(res.samples):
        assert s.input_spikes == int(stim[k].sum())


def test_momentum_noise_zero_equals_the_trainer_and_noise_changes_the_order(roomy_hw):
    net, weights = mlp(SIZES, seed=3)
    stim = _stim()
    ours = run_chip(roomy_hw, net, stim, policy="momentum", group_size=2, npc=5, momentum_noise=0.0)
    theirs = _trainer(weights, stim, group_size=2, scheduler="momentum", momentum_noise=0.0).spikes.numpy()
    np.testing.assert_array_equal(ours[:, :, 16:], theirs.astype(np.int64))
    noisy = run_chip(roomy_hw, net, stim, policy="momentum", group_size=2, npc=5, momentum_noise=5.0)
    again = run_chip(roomy_hw, net, stim, policy="momentum", group_size=2, npc=5, momentum_noise=5.0)
    assert not np.array_equal(noisy, ours)
    np.testing.assert_array_equal(noisy, again)  # seeded


@pytest.mark.parametrize(
    ("stim", "kw", "match"),
    [
        (-np.ones((1, 2, 16), np.int64), {}, "negative event count"),
        (np.full((1, 2, 16), 0.5), {}, "non-negative integers"),
        (None, dict(mode="async", scope="core", prioritize_input=False), "global scheduler"),
        (None, dict(mode="async", scope="core", stop_on_output_frame=1), "global scheduler"),
        (None, dict(mode="async", policy="fifo", momentum_noise=0.1), "momentum"),
        (None, dict(mode="sync", refrac_dropout=0.5), "asynchronous option"),
        (None, dict(mode="async", refrac_dropout=1.5), r"\[0, 1\]"),
    ],
)
def test_refusals(roomy_hw, stim, kw, match):
    net, _ = mlp(SIZES, seed=3)
    m = map_network(net, roomy_hw)
    x = np.zeros((1, 2, 16), bool) if stim is None else stim
    with pytest.raises(SimulationError, match=match):
        simulate(roomy_hw, net, m, x, np.zeros(1, np.int64), **kw)


def test_run_options_come_from_the_flags_else_the_models_training():
    import argparse

    from neurosim.cli.args import async_options

    class Net:
        metadata = {"neurosim": {"refrac_dropout": 0.8, "stop_on_output_frame": 2, "prioritize_input": False}}

    def ns(**kw):
        base = dict(mode="async", scheduler_scope="global", scheduler=None, group_size=None, max_steps=None)
        base.update(stop_on_output=None, seed=0, refrac_dropout=None, stop_on_output_frame=None)
        base.update(queued_input=None, momentum_noise=None)
        return argparse.Namespace(**{**base, **kw})

    got = async_options(Net(), ns())
    assert got["refrac_dropout"] == 0.8 and got["stop_on_output_frame"] == 2 and got["prioritize_input"] is False
    got = async_options(Net(), ns(refrac_dropout=0.0, queued_input=False, momentum_noise=1e-6))
    assert "refrac_dropout" not in got and "prioritize_input" not in got and got["momentum_noise"] == 1e-6
    core = async_options(Net(), ns(scheduler_scope="core"))
    assert "stop_on_output_frame" not in core and "prioritize_input" not in core
    assert set(async_options(Net(), ns(mode="sync"))) == {"mode", "scope", "policy", "group_size", "max_steps"} | {
        "stop_on_output",
        "seed",
    }


@pytest.mark.parametrize("mode", ["sync", "timestep"])
def test_event_counts_without_the_batched_path(roomy_hw, monkeypatch, mode):
    """The per-core SimPy path (``batched`` off) takes counts as the batched one does."""
    from neurosim.sim import batched

    net, weights = mlp(SIZES, seed=3, mean=0.15)
    stim = _counts(shape=(2, 6, 16))
    fast = run_chip(roomy_hw, net, stim, mode=mode, npc=5)
    monkeypatch.setattr(batched, "ENABLED", False)
    slow = run_chip(roomy_hw, net, stim, mode=mode, npc=5)
    np.testing.assert_array_equal(fast, slow)
    np.testing.assert_array_equal(slow[:, :, :16], stim)
    if mode == "sync":
        layered = _trainer(weights, stim, layered=True).spikes.numpy()
        np.testing.assert_array_equal(slow[:, :, 16:], layered.astype(np.int64))
