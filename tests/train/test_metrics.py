"""The trainer's paper metrics (neurosim.train.metrics) equal the simulator's on the same model
and input: layered training vs sync mode, unlayered momentum training vs async mode with a global
scheduler (per sample and frame, and the per-sample aggregates); and a hand-checked forward."""

import numpy as np
import pytest
from builders import mlp

from neurosim.mapping.registry import map_network
from neurosim.sim.engine import simulate

torch = pytest.importorskip("torch")

from neurosim.train.metrics import SAMPLE_FIGURES, frame_table  # noqa: E402
from neurosim.train.model import ForwardResult, LIFParams, forward_layered, forward_unlayered  # noqa: E402

FIELDS = ("network_spikes", "steps", "first_output_step", "spikes_to_first_output", "target_step", "spikes_to_target")


SIZES = [16, 24, 12, 5]


@pytest.fixture(scope="module")
def model():
    net, weights = mlp(SIZES, seed=3)
    stim = np.random.default_rng(5).random((4, 10, 16)) < 0.35
    labels = np.array([0, 2, 4, 1])
    return net, [torch.from_numpy(w.T.copy()) for w in weights], stim, labels


def agree(table, res, labels):
    for b, s in enumerate(res.samples):
        for k in FIELDS:
            np.testing.assert_array_equal(getattr(table, k)[b], getattr(s.frames, k), err_msg=k)
        assert table.sample_figures(b) == s.frames.sample_figures()
    assert (table.first_output_step >= 0).sum() > 5  # the comparison sees output spikes


def test_layered_training_metrics_equal_sync_mode(roomy_hw, model):
    net, w, stim, labels = model
    with torch.no_grad():
        fwd = forward_layered(w, torch.from_numpy(stim).float(), LIFParams(beta=0.9, threshold=1.0), record=True)
    table = frame_table(fwd, labels, SIZES, "layered")
    res = simulate(roomy_hw, net, map_network(net, roomy_hw, neurons_per_core=7), stim, labels)
    agree(table, res, labels)
    assert (table.steps == 3).all()


@pytest.mark.parametrize("F", [1, 3, 8])
def test_unlayered_training_metrics_equal_async_global(roomy_hw, model, F):
    net, w, stim, labels = model
    with torch.no_grad():
        fwd = forward_unlayered(
            w,
            torch.from_numpy(stim).float(),
            LIFParams(beta=0.9, threshold=1.0),
            group_size=F,
            scheduler="momentum",
            record=True,
        )
    table = frame_table(fwd, labels, SIZES, "unlayered")
    m = map_network(net, roomy_hw, neurons_per_core=5)
    res = simulate(roomy_hw, net, m, stim, labels, mode="async", policy="momentum", group_size=F)
    agree(table, res, labels)


def test_a_hand_built_forward():
    # 1 sample, 2 frames, layers [2 inputs, 2 hidden, 2 outputs]; send steps per neuron:
    # frame 0: hidden 0 at step 1, hidden 1 at step 2, output 1 at step 3; frame 1: hidden 0 only
    send = torch.tensor([[[1, 2, 0, 3], [1, 0, 0, 0]]], dtype=torch.int32)
    fwd = ForwardResult(
        counts=torch.zeros(1, 2),
        spikes=(send > 0).to(torch.uint8),
        steps=torch.tensor([[3, 1]], dtype=torch.int32),
        send_steps=send,
    )
    t = frame_table(fwd, [1], [2, 2, 2], "unlayered")
    assert t.network_spikes.tolist() == [[3, 1]]
    assert t.first_output_step.tolist() == [[3, -1]] and t.spikes_to_first_output.tolist() == [[3, -1]]
    assert t.target_step.tolist() == [[3, -1]]
    fig = t.sample_figures(0)
    assert list(fig) == list(SAMPLE_FIGURES)
    assert fig["spike_density"] == 4 / 8 and fig["steps_per_frame"] == 2.0
    assert fig["spikes_to_first_output"] == 3.0 and fig["frames_without_output"] == 1
    assert frame_table(fwd, [0], [2, 2, 2], "unlayered").sample_figures(0)["spikes_to_target"] is None
    # layered: the step is the layer
    lay = frame_table(fwd, [1], [2, 2, 2], "layered")
    assert lay.first_output_step.tolist() == [[2, -1]] and lay.steps.tolist() == [[2, 2]]
    with pytest.raises(ValueError, match="record=True"):
        frame_table(ForwardResult(counts=torch.zeros(1, 2)), [0], [2, 2, 2], "layered")


@pytest.mark.parametrize(("name", "mode"), [("digits_layered.nir", "sync"), ("digits_unlayered_momentum.nir", "async")])
def test_shipped_models_trainer_metrics_equal_the_simulators(name, mode):
    from neurosim.experiments.runner import prepare
    from neurosim.paths import DEFAULT_HW, MODELS_DIR
    from neurosim.train.export import read_metadata

    path = MODELS_DIR / name
    if not path.exists():
        pytest.skip(f"{name} not built")
    setup = prepare(path, DEFAULT_HW, samples=10)
    net, data = setup.network, setup.data
    m = read_metadata(path)["neurosim"]
    F = max(1, m["group_size"])
    res = simulate(
        setup.hardware,
        net,
        setup.mapping,
        data.inputs,
        data.labels,
        mode=mode,
        policy="momentum",
        group_size=F,
        max_steps=m["max_steps"],
    )
    w = [torch.from_numpy(pr.weights.toarray().T.copy()) for pr in net.projections]
    sizes = [net.by_name[net.input].size] + [int(x.shape[0]) for x in w]
    x = torch.from_numpy(data.inputs).float()
    p = LIFParams(beta=m["beta"], threshold=m["threshold"], fire_equal=m["threshold_convention"] == ">=")
    with torch.no_grad():
        if mode == "sync":
            fwd, how = forward_layered(w, x, p, record=True), "layered"
        else:
            fwd = forward_unlayered(w, x, p, group_size=F, scheduler="momentum", max_steps=m["max_steps"], record=True)
            how = "unlayered"
    agree(frame_table(fwd, data.labels, sizes, how), res, data.labels)


def test_trainer_figures_are_the_simulators_columns():
    from neurosim.sim.counters import PAPER_SAMPLE_COLUMNS

    assert SAMPLE_FIGURES == PAPER_SAMPLE_COLUMNS
