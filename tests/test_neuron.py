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


def test_threshold_is_greater_or_equal():
    p = P(threshold=1.0)
    s = neuron.fire(np.array([0.999, 1.0, 1.001], np.float32), p)
    np.testing.assert_array_equal(s, [False, True, True])


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
