"""Shared fixtures: the shipped presets."""

import pytest

from neurosim.io.hardware_file import load_hardware
from neurosim.paths import HW_DIR


@pytest.fixture
def small_hw():
    return load_hardware(HW_DIR / "small.yaml")


@pytest.fixture
def loihi_hw():
    return load_hardware(HW_DIR / "loihi.yaml")


@pytest.fixture
def roomy_hw():
    """The small preset on a 4x4 mesh (32 cores), for tests that spread a network thinly."""
    return load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "mesh.height": 4})
