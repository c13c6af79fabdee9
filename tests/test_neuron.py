"""Golden values for the neuron step functions (docs/design.md, "Neuron semantics")."""

import numpy as np
import pytest

from neurosim import neuron
from neurosim.neuron import NeuronParams


def P(**kw):
    return NeuronParams.uniform(3, **kw)


def test_frame_start_leaks_then_adds_bias():
    v = np.array([1.0, -2.0, 0.5], np.float32)
    out = neuron.frame_start(v, P(decay=0.5, bias=0.25))
    np.testing.assert_array_equal(out, np.array([0.75, -0.75, 0.5], np.float32))
    assert out.dtype == np.float32


def test_threshold_is_strictly_greater_and_fire_equal_adds_equality():
    v = np.array([0.999, 1.0, 1.001], np.float32)
    np.testing.assert_array_equal(neuron.fire(v, P(threshold=1.0)), [False, False, True])
    np.testing.assert_array_equal(neuron.fire(v, P(threshold=1.0, fire_equal=True)), [False, True, True])
    assert not neuron.fire(np.float32([5, 5, 5]), P(threshold=1.0, spiking=False)).any()


def test_hard_and_subtractive_reset():
    v = np.array([1.5, 1.5, 0.2], np.float32)
    s = np.array([True, True, False])
    p = NeuronParams(
        decay=np.ones(3, np.float32),
        threshold=np.ones(3, np.float32),
        v_reset=np.array([-0.5, 0, 0], np.float32),
        bias=np.zeros(3, np.float32),
        subtract=np.array([False, True, False]),
    )
    np.testing.assert_array_equal(neuron.reset(v, s, p), np.array([-0.5, 0.5, 0.2], np.float32))


def test_refractory_neuron_keeps_its_reset_value():
    v = np.array([0.0, 0.3, 0.3], np.float32)
    out = neuron.integrate(v, np.float32([5, 5, 5]), np.array([True, False, True]))
    np.testing.assert_array_equal(out, np.array([0.0, 5.3, 0.3], np.float32))
    assert not neuron.fire(np.float32([2, 2, 2]), P(), refractory=np.array([True, True, True])).any()


def test_step_sync_golden_sequence():
    # decay 0.5, threshold 1, hard reset to 0; constant input 0.6 per frame
    p = NeuronParams.uniform(1, decay=0.5, threshold=1.0)
    v = np.zeros(1, np.float32)
    trace, spikes = [], []
    for _ in range(5):
        s, v = neuron.step_sync(v, np.float32([0.6]), p)
        spikes.append(bool(s[0]))
        trace.append(float(v[0]))
    # v: 0.6, 0.3+0.6=0.9, 0.45+0.6=1.05 -> spike -> 0, 0.6, 0.9
    assert spikes == [False, False, True, False, False]
    np.testing.assert_allclose(trace, [0.6, 0.9, 0.0, 0.6, 0.9], rtol=1e-6)


def test_params_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="threshold"):
        NeuronParams(
            np.ones(2, np.float32),
            np.ones(3, np.float32),
            np.zeros(2, np.float32),
            np.zeros(2, np.float32),
            np.zeros(2, bool),
        )


def run(p: NeuronParams, inputs) -> tuple[list[bool], list[float], list[float]]:
    """Spikes, membranes and synaptic currents of one neuron over the frames of ``inputs``."""
    v, i, pending = np.zeros(1, np.float32), np.zeros(1, np.float32), np.zeros(1, bool)
    spikes, vs, cs = [], [], []
    for x in inputs:
        s, v, i, pending = neuron.step(v, i, pending, np.float32([x]), p)
        spikes.append(bool(s[0]))
        vs.append(float(v[0]))
        cs.append(float(i[0]))
    return spikes, vs, cs


def one(**kw) -> NeuronParams:
    return NeuronParams.uniform(1, **kw)


def test_cuba_same_frame_current_feeds_the_membrane_of_its_frame():
    # i <- 0.5 i + I; v <- 0.5 v + i: i = 1, 0.5, 0.25; v = 1, 0.5 + 0.5 = 1, 0.5 + 0.25 = 0.75
    spikes, vs, cs = run(one(decay=0.5, threshold=10.0, cuba=True, syn_decay=0.5), [1.0, 0.0, 0.0])
    assert cs == [1.0, 0.5, 0.25] and vs == [1.0, 1.0, 0.75] and not any(spikes)


def test_cuba_current_lag_feeds_last_frames_current():
    # x = old i, then i <- 0.5 i + I: v = 0, 0 + 1 = 1, 0.5 + 0.5 = 1.0, 0.5 + 0.25 = 0.75
    p = one(decay=0.5, threshold=10.0, cuba=True, syn_decay=0.5, current_lag=True)
    spikes, vs, cs = run(p, [1.0, 0.0, 0.0, 0.0])
    assert cs == [1.0, 0.5, 0.25, 0.125] and vs == [0.0, 1.0, 1.0, 0.75] and not any(spikes)


def test_cuba_spikes_and_resets_on_the_membrane_only():
    # syn_decay 1: the current stays 0.75; v = 0.75, 1.5 -> spike -> 0 (hard), 0.75, 1.5 -> spike
    spikes, vs, cs = run(one(decay=1.0, threshold=1.0, cuba=True, syn_decay=1.0), [0.75, 0, 0, 0])
    assert spikes == [False, True, False, True] and vs == [0.75, 0.0, 0.75, 0.0] and cs == [0.75] * 4


def test_no_reset_keeps_the_membrane_and_spikes_every_frame_above_threshold():
    spikes, vs, _ = run(one(decay=1.0, threshold=1.0, resets=False), [0.75] * 4)
    assert spikes == [False, True, True, True] and vs == [0.75, 1.5, 2.25, 3.0]


def test_delayed_subtract_reset_is_applied_in_the_next_frame_after_its_input():
    # frame 0: 1.5 > 1 spikes, keeps 1.5; frame 1: 1.5 + 0.25 = 1.75, minus 1 = 0.75; frame 2: 1.0
    p = one(decay=1.0, threshold=1.0, subtract=True, delayed_reset=True)
    spikes, vs, _ = run(p, [1.5, 0.25, 0.25])
    assert spikes == [True, False, False] and vs == [1.5, 0.75, 1.0]
    # the immediate reset: 0.5, 0.75, 1.0
    assert run(one(decay=1.0, threshold=1.0, subtract=True), [1.5, 0.25, 0.25])[1] == [0.5, 0.75, 1.0]


def test_delayed_hard_reset_discards_the_next_frames_input():
    # frame 1: 1.5 + 2 = 3.5, then the pending reset -> v_reset 0.25: no spike (the input is lost)
    p = one(decay=1.0, threshold=1.0, v_reset=0.25, delayed_reset=True)
    spikes, vs, _ = run(p, [1.5, 2.0, 0.5])
    assert spikes == [True, False, False] and vs == [1.5, 0.25, 0.75]
    assert run(one(decay=1.0, threshold=1.0, v_reset=0.25), [1.5, 2.0, 0.5])[0] == [True, True, False]


def test_delayed_reset_with_resets_false_never_resets():
    spikes, vs, _ = run(one(decay=1.0, threshold=1.0, delayed_reset=True, resets=False), [1.5, 0.25])
    assert spikes == [True, True] and vs == [1.5, 1.75]


def test_non_spiking_neuron_integrates_and_never_fires():
    # LI readout: v = 0.5 v + 2: 2, 3, 3.5
    spikes, vs, _ = run(one(decay=0.5, threshold=1.0, spiking=False), [2.0, 2.0, 2.0])
    assert spikes == [False] * 3 and vs == [2.0, 3.0, 3.5]


def test_fire_equal_fires_on_equality():
    assert run(one(decay=1.0, threshold=1.0, fire_equal=True), [0.5, 0.5])[0] == [False, True]
    assert run(one(decay=1.0, threshold=1.0), [0.5, 0.5])[0] == [False, False]


def test_step_equals_step_sync_for_plain_neurons_and_step_sync_refuses_state():
    rng = np.random.default_rng(0)
    p = NeuronParams.uniform(50, decay=0.75, threshold=1.0, subtract=rng.random(50) < 0.5, bias=0.125)
    v = np.zeros(50, np.float32)
    for _ in range(5):
        cur = (np.round(rng.normal(0.5, 0.5, 50) * 64) / 64).astype(np.float32)
        s1, v1 = neuron.step_sync(v, cur, p)
        s2, v2, _, _ = neuron.step(v, np.zeros(50, np.float32), np.zeros(50, bool), cur, p)
        np.testing.assert_array_equal(s1, s2)
        np.testing.assert_array_equal(v1, v2)
        v = v1
    for stateful in ({"cuba": True}, {"delayed_reset": True}):
        with pytest.raises(ValueError, match="neuron.step"):
            neuron.step_sync(v, v, NeuronParams.uniform(50, **stateful))


def test_uniform_refuses_unknown_switches_and_take_concat_keep_every_field():
    with pytest.raises(TypeError, match="unknown"):
        NeuronParams.uniform(2, cubaa=True)
    p = NeuronParams.concat([one(cuba=True, syn_decay=0.25), one(spiking=False, fire_equal=True)])
    assert p.cuba.tolist() == [True, False] and p.syn_decay.tolist() == [0.25, 0.0]
    q = p.take(np.array([1]))
    assert q.spiking.tolist() == [False] and q.fire_equal.tolist() == [True] and q.resets.tolist() == [True]


def test_the_trainers_numpy_reference_takes_fire_equal():
    from neurosim.train.reference import layered_spikes, unlayered_spikes

    w, x = [np.array([[0.5]], np.float32)], np.ones((3, 1), np.float32)
    assert layered_spikes(w, x, beta=1.0).ravel().tolist() == [0, 0, 1]  # 0.5, 1.0 (not > 1), 1.5
    assert layered_spikes(w, x, beta=1.0, fire_equal=True).ravel().tolist() == [0, 1, 0]  # 1.0 >= 1 -> 0
    assert unlayered_spikes(w, x, beta=1.0, fire_equal=True)[0].ravel().tolist() == [0, 1, 0]
