"""The synthetic temporal-order task: determinism, balance, disjoint splits, and that the class
lives in spike timing (a per-channel count classifier is at chance, a timing one is not)."""

import numpy as np
import pytest

from neurosim.data import temporal
from neurosim.data.dataset import DatasetError
from neurosim.errors import NeurosimError


@pytest.fixture(scope="module")
def train():
    return temporal.load("train")


@pytest.fixture(scope="module")
def test():
    return temporal.load("test")


def _nearest_centroid(f_train, y_train, f_test, y_test, n_classes):
    cents = np.stack([f_train[y_train == c].mean(0) for c in range(n_classes)])
    d = ((f_test[:, None, :] - cents[None]) ** 2).sum(-1)
    return float((d.argmin(1) == y_test).mean())


def _counts(ds):
    return ds.inputs.sum(axis=1).astype(float)  # (N, 32) spikes per channel


def _group_times(ds):
    """Centre of mass in time of each group's spikes: (N, 4)."""
    g = ds.inputs.reshape(len(ds), ds.n_frames, temporal.GROUPS, temporal.GROUP_SIZE).sum(3)
    t = np.arange(ds.n_frames)[None, :, None]
    return (g * t).sum(1) / np.maximum(g.sum(1), 1)


def test_shapes_and_metadata(train, test):
    assert train.name == test.name == "temporal"
    assert train.inputs.shape == (2400, 40, 32) and test.inputs.shape == (800, 40, 32)
    assert train.inputs.dtype == np.bool_ and test.labels.dtype == np.int64
    assert test.n_classes == 8 and test.input_shape == (32,)
    assert test.params["frames"] == 40 and test.params["seed"] == 0
    assert test.params["orders"][0] == [0, 1, 2, 3] and test.params["orders"][4] == [0, 3, 2, 1]
    assert len({tuple(o) for o in temporal.ORDERS}) == 8
    assert all(sorted(o) == [0, 1, 2, 3] for o in temporal.ORDERS)


def test_balanced(train, test):
    assert np.bincount(train.labels, minlength=8).tolist() == [300] * 8
    assert np.bincount(test.labels, minlength=8).tolist() == [100] * 8
    # every block of 8 is a permutation, so small prefixes are balanced too
    assert np.bincount(test.labels[:16], minlength=8).tolist() == [2] * 8


def test_deterministic_and_limit_is_a_prefix(test):
    again = temporal.load("test", limit=37)
    assert np.array_equal(again.inputs, test.inputs[:37])
    assert np.array_equal(again.labels, test.labels[:37])
    other = temporal.load("test", seed=1, limit=37)
    assert not np.array_equal(other.inputs, again.inputs)


def test_splits_are_disjoint(train, test):
    seen = {x.tobytes() for x in train.inputs}
    assert not any(x.tobytes() in seen for x in test.inputs)
    assert train.params["split_code"] != test.params["split_code"]


def test_burst_structure():
    for label in range(8):
        rng = np.random.default_rng([123, label])
        for frames in (8, 40, 100):
            x, onsets = temporal.sample(label, rng, frames)
            L = temporal.burst_frames(frames)
            assert x.shape == (frames, 32)
            assert onsets[0] >= 0 and onsets[-1] + L <= frames
            assert np.all(np.diff(onsets) >= L)  # no overlap, in order


def test_class_not_recoverable_from_counts(train, test):
    acc = _nearest_centroid(_counts(train), train.labels, _counts(test), test.labels, 8)
    assert acc < 0.2, acc  # chance is 0.125
    # class-mean count profiles are flat: every group bursts once in every class
    per_class = np.stack([_counts(train)[train.labels == c].mean(0) for c in range(8)])
    assert np.abs(per_class - per_class.mean(0)).max() < 0.35


def test_class_recoverable_from_timing(train, test):
    acc = _nearest_centroid(_group_times(train), train.labels, _group_times(test), test.labels, 8)
    assert acc > 0.9, acc
    # and the burst order read off directly names the class
    lookup = {o: c for c, o in enumerate(temporal.ORDERS)}
    decoded = [lookup.get(tuple(np.argsort(t)), -1) for t in _group_times(test)]
    assert np.mean(np.asarray(decoded) == test.labels) > 0.9


def test_frames_parameter():
    ds = temporal.load("train", frames=20, limit=8)
    assert ds.inputs.shape == (8, 20, 32) and ds.params["burst_frames"] == 2


@pytest.mark.parametrize("kw", [{"frames": 7}, {"frames": 2.5}, {"seed": -1}, {"limit": -3}])
def test_bad_parameters(kw):
    with pytest.raises(NeurosimError):
        temporal.load("test", **kw)


def test_bad_split():
    with pytest.raises(DatasetError, match="split"):
        temporal.load("valid")
