"""The digits dataset (scikit-learn's 8x8 digits, rate-coded) and load_dataset's dispatch."""

import numpy as np
import pytest

from neurosim.data.dataset import DatasetError, SpikeDataset
from neurosim.data.registry import load_dataset
from neurosim.errors import NeurosimError


def test_shapes_and_split_sizes():
    tr, te = load_dataset("digits", "train"), load_dataset("digits", "test")
    assert isinstance(te, SpikeDataset)
    assert len(tr) == 1437 and len(te) == 360
    assert te.inputs.shape == (360, 16, 64) and te.inputs.dtype == np.bool_
    assert te.labels.dtype == np.int64 and te.n_classes == 10 and te.input_shape == (8, 8)
    assert te.params["frames"] == 16 and te.params["seed"] == 0
    assert np.bincount(te.labels).min() >= 35  # stratified: every class about 36 times


def test_deterministic_and_subset_consistent():
    a = load_dataset("digits", "test", seed=1)
    b = load_dataset("digits", "test", seed=1, limit=20)
    assert np.array_equal(a.inputs[:20], b.inputs) and np.array_equal(a.labels[:20], b.labels)
    assert np.array_equal(a.inputs, load_dataset("digits", "test", seed=1).inputs)
    assert not np.array_equal(a.inputs, load_dataset("digits", "test", seed=2).inputs)


def test_rate_follows_intensity():
    from sklearn.datasets import load_digits

    d = load_dataset("digits", "train", frames=200, limit=50)
    imgs = load_digits().data
    # pixels that are 0 never spike; rates follow intensity/16 * max_rate
    idx = np.asarray(__import__("neurosim.data.digits", fromlist=["digit_images"]).digit_images()[2]["train"][:50])
    p = imgs[idx] / 16 * d.params["max_rate"]
    rate = d.inputs.mean(axis=1)
    assert not rate[p == 0].any()
    assert abs(rate.mean() - p.mean()) < 0.01


def test_frames_parameter():
    d = load_dataset("digits", "test", frames=5, limit=3)
    assert d.inputs.shape == (3, 5, 64) and d.params["frames"] == 5


def test_errors():
    with pytest.raises(NeurosimError, match="known datasets: digits, temporal, nmnist, shd, dvsgesture"):
        load_dataset("mnist")
    with pytest.raises(DatasetError, match="split"):
        load_dataset("digits", "validation")
    with pytest.raises(DatasetError):
        load_dataset("digits", frames=0)
    with pytest.raises(DatasetError):
        load_dataset("digits", limit=-1)
