"""The dataset container holds boolean spikes or non-negative integer event counts (a count k is
k input spikes) and refuses negative counts, floats and other dtypes with one line."""

import numpy as np
import pytest

from neurosim.data import nmnist_like
from neurosim.data.dataset import DatasetError, SpikeDataset
from neurosim.data.registry import load_dataset


def make(inputs, name="toy"):
    inputs = np.asarray(inputs)
    return SpikeDataset(name, inputs, np.zeros(inputs.shape[0], np.int64), 2, (inputs.shape[2],), "toy")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32, np.int64])
def test_integer_counts_are_kept_as_counts(dtype):
    x = np.array([[[0, 3], [1, 0]], [[2, 2], [0, 5]]], dtype)
    d = make(x)
    assert d.is_counts and d.inputs.dtype == dtype
    np.testing.assert_array_equal(d.inputs, x)
    assert d.n_input_spikes() == 13  # the sum of the counts, not the 5 nonzero entries
    sub = d.subset([1])
    assert sub.is_counts and sub.n_input_spikes() == 9


def test_boolean_spikes_still_count_one_each():
    d = make(np.array([[[True, False], [True, True]]]))
    assert not d.is_counts and d.n_input_spikes() == 3


@pytest.mark.parametrize(
    ("inputs", "match"),
    [
        (np.array([[[0, -1]]], np.int16), "negative event counts"),
        (np.array([[[0.0, 1.0]]]), "got dtype float64"),
        (np.array([[[0.5, 1.0]]], np.float32), "got dtype float32"),
        (np.array([[["a", "b"]]]), "got dtype <U1"),
        (np.array([[[1 + 0j, 0j]]]), "got dtype complex128"),
    ],
)
def test_negative_float_and_other_inputs_are_refused_in_one_line(inputs, match):
    with pytest.raises(DatasetError, match=match) as exc:
        make(inputs, name="mine")
    msg = str(exc.value)
    assert "\n" not in msg and msg.startswith("dataset 'mine':")


def test_nmnist_like_counts_are_the_event_counts():
    ec = nmnist_like.load_counts("test", frames=3, limit=3)
    c = load_dataset("nmnist-like", "test", frames=3, limit=3, values="counts")
    b = load_dataset("nmnist-like", "test", frames=3, limit=3)
    assert c.is_counts and c.params["values"] == "counts" and not b.is_counts and b.params["values"] == "binary"
    np.testing.assert_array_equal(c.inputs, ec.counts)
    np.testing.assert_array_equal(b.inputs, ec.counts > 0)
    assert ec.counts.max() > 1  # several events per channel and frame: counts differ from spikes
    assert c.n_input_spikes() == int(ec.counts.sum()) > b.n_input_spikes()
