"""Shared fixtures of the experiments tests."""

import pytest
from builders import random_network

from neurosim.io.nir_write import save_network


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small sparse model with the digits dataset's 64 inputs (no metadata: digits test split)."""
    path = tmp_path_factory.mktemp("models") / "tiny.nir"
    save_network(random_network([64, 24, 10], seed=1, density=0.3, name="tiny"), path)
    return path
