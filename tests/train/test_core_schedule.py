"""The per-core scheduler scope of the trainer's unlayered forward (neurosim.train.core_schedule):
every core sends at most its issue width of its own ready neurons per send step."""

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurosim.errors import ConfigError  # noqa: E402
from neurosim.train.core_schedule import CoreScope, core_scope_from_hardware  # noqa: E402
from neurosim.train.model import LIFParams, forward_unlayered  # noqa: E402
from neurosim.train.trainer import TrainConfig, TrainError, run_forward  # noqa: E402

LOIHI = Path(__file__).resolve().parents[2] / "hw_configs" / "loihi.yaml"


def test_pick_takes_the_best_per_core():
    cs = CoreScope(np.array([5, 5, 5, 9, 9, 9]), width=2)  # two cores (indices compacted)
    ready = torch.tensor([[1.0, 1.0, 1.0, 1.0, 0.0, 1.0]])
    key = torch.tensor([[3.0, 1.0, 2.0, 1.0, 9.0, 4.0]], dtype=torch.float64)
    picked = cs.pick(lambda: key, ready)
    assert picked.tolist() == [[1.0, 0.0, 1.0, 1.0, 0.0, 1.0]]  # core 5: keys 3, 2; core 9: both ready
    calls = []
    few = torch.tensor([[1.0, 0.0, 1.0, 0.0, 0.0, 1.0]])
    assert torch.equal(cs.pick(lambda: calls.append(1) or key, few), few)  # no core over its width
    assert calls == []  # the scores (random draws) are not computed when no core must choose
    assert cs.pick(lambda: key, ready.bool()).dtype == torch.bool


def test_pick_equal_keys_and_the_two_ways_agree():
    cs = CoreScope(np.array([0, 0, 0, 1, 1]), width=1)
    ready = torch.ones(1, 5)
    tied = torch.tensor([[2.0, 3.0, 3.0, 1.0, 1.0]], dtype=torch.float64)
    assert cs.pick(lambda: tied, ready).tolist() == [[0.0, 1.0, 0.0, 1.0, 0.0]]  # ties to the lower index
    g = torch.Generator().manual_seed(0)
    big = CoreScope(np.repeat(np.arange(6), 7), width=2)
    key = torch.rand(16, 42, generator=g, dtype=torch.float64) + 1.0
    rd = (torch.rand(16, 42, generator=g) < 0.6).to(torch.float64)
    assert torch.equal(big._top_by_max(key * rd), big._top_by_sort(key * rd))
    per_core = big.pick(lambda: key, rd).to(torch.float32) @ big.onehot(torch.device("cpu"))
    assert float(per_core.max()) == 2.0


def test_core_scope_limits_each_core_per_step():
    """Input -> 4 hidden neurons that all cross at step 0 (priorities 1.9, 1.7, 1.5, 1.3) ->
    1 output. Cores {h0, h1}, {h2, h3}, {out}, width 1: h0 and h2 (the higher priority of each
    core) in send step 1, h1 and h3 in step 2 (the output reaches 1.2 and crosses), the output in
    step 3; the global scope with F = 8 sends the four in step 1 and the output in step 2."""
    w1 = torch.tensor([[1.9], [1.7], [1.5], [1.3]])
    w2 = torch.tensor([[0.3, 0.3, 0.3, 0.3]])
    x = torch.ones(1, 1, 1)
    cs = CoreScope(np.array([0, 0, 1, 1, 2]), width=1)
    glob = forward_unlayered([w1, w2], x, LIFParams(), record=True, group_size=8)
    core = forward_unlayered([w1, w2], x, LIFParams(), record=True, group_size=8, cores=cs)
    assert int(glob.steps[0, 0]) == 2 and int(core.steps[0, 0]) == 3
    assert glob.spikes[0, 0].tolist() == core.spikes[0, 0].tolist() == [1, 1, 1, 1, 1]
    assert glob.send_steps[0, 0].tolist() == [1, 1, 1, 1, 2]
    assert core.send_steps[0, 0].tolist() == [1, 2, 1, 2, 3]
    cs2 = CoreScope(np.array([0, 1, 2, 3, 4]), width=1)  # one neuron per core: no core ever chooses
    assert forward_unlayered([w1, w2], x, record=True, cores=cs2).spikes.tolist() == glob.spikes.tolist()


@pytest.mark.parametrize("scheduler", ["momentum", "random"])
def test_core_scope_same_forward_for_every_backward(scheduler):
    g = torch.Generator().manual_seed(0)
    sizes = (20, 16, 16, 5)
    ws = [
        ((torch.rand(b, a, generator=g) * 2 - 1) * 2.5 / math.sqrt(a)).requires_grad_()
        for a, b in zip(sizes, sizes[1:])
    ]
    x = (torch.rand(6, 6, 20, generator=g) < 0.3).float()
    cs = core_scope_from_hardware(LOIHI, sizes, neurons_per_core=8)
    assert cs.width == 1 and cs.n_cores >= 5
    runs = {}
    for b in ("replay", "steps", "bptt"):
        r = forward_unlayered(
            ws, x, record=True, backward=b, scheduler=scheduler, cores=cs, generator=torch.Generator().manual_seed(1)
        )
        runs[b] = r
        (grad,) = torch.autograd.grad(r.counts.sum(), ws[:1])
        assert float(grad.abs().sum()) > 0
    glob = forward_unlayered(ws, x, record=True, scheduler=scheduler, generator=torch.Generator().manual_seed(1))
    assert not torch.equal(glob.steps, runs["replay"].steps)  # the scope is really used
    for b in ("steps", "bptt"):
        assert torch.equal(runs[b].spikes, runs["replay"].spikes), b
        assert torch.equal(runs[b].steps, runs["replay"].steps), b


def test_mapping_is_the_simulators():
    cs = core_scope_from_hardware(LOIHI, [64, 64, 64, 10], neurons_per_core=64)
    assert cs.width == 1  # Loihi preset: core.issue_width 1
    assert cs.core_of.tolist() == [0] * 64 + [1] * 64 + [2] * 10  # one layer per core; inputs dropped
    with pytest.raises(ConfigError, match="neurons"):
        cs.check(100)
    with pytest.raises(ConfigError, match="issue width"):
        CoreScope(np.zeros(3, np.int64), width=0)


def test_trainer_core_scope():
    g = torch.Generator().manual_seed(0)
    ws = [torch.randn(16, 20, generator=g) * 0.6, torch.randn(5, 16, generator=g) * 0.6]
    x = (torch.rand(4, 5, 20, generator=g) < 0.4).float()
    base = dict(mode="unlayered", group_size=8)
    cfg = TrainConfig(**base, scheduler_scope="core", hw=str(LOIHI), neurons_per_core=4).validate()
    r_core = run_forward(ws, x, cfg, record=True)
    r_glob = run_forward(ws, x, TrainConfig(**base).validate(), record=True)
    assert r_core.steps.sum() > r_glob.steps.sum()  # width 1 per core of 4 neurons: more send steps
    with pytest.raises(TrainError, match="--hw"):
        TrainConfig(**base, scheduler_scope="core").validate()
    with pytest.raises(TrainError, match="scheduler_scope"):
        TrainConfig(**base, scheduler_scope="chip").validate()
