"""Counting index values: the compiled loop of large arrays gives ``np.bincount``'s counts, and
out-of-range values still take bincount's error or its longer result."""

import numpy as np
import pytest

from neurosim.describe import network

pytest.importorskip("numba")


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint16])
def test_the_compiled_count_is_bincount(dtype):
    n = 5000 if dtype != np.uint16 else 60000
    values = np.random.default_rng(0).integers(0, n - 7, (1 << 22) + 123).astype(dtype)
    got = network.count_values(values, n)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.bincount(values, minlength=n))
    assert got[-7:].sum() == 0


def test_values_beyond_the_length_or_negative_keep_bincounts_result():
    big = np.zeros((1 << 22) + 5, np.int32)
    big[-1] = 900
    np.testing.assert_array_equal(network.count_values(big, 10), np.bincount(big, minlength=10))
    big[-1] = -1
    with pytest.raises(ValueError):
        network.count_values(big, 10)
