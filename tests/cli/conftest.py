"""Shared fixtures of the CLI tests."""

import pytest
from builders import random_network

from neurosim.io.nir_write import save_network


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small model with the digits dataset's 64 inputs (no metadata: digits test split)."""
    path = tmp_path_factory.mktemp("m") / "m.nir"
    save_network(random_network([64, 20, 10], seed=0, density=0.3, name="m"), path)
    return path
