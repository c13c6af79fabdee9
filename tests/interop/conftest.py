"""Fixtures of the interop tests; the shared functions are in interop_spikes.py (re-exported
here for the modules that import them from conftest)."""

from __future__ import annotations

import numpy as np
import pytest
from interop_spikes import chip_spikes, framework_available, neurosim_spikes, reference_trace

__all__ = ["chip_spikes", "framework_available", "neurosim_spikes", "reference_trace"]


@pytest.fixture
def seeded():
    """A numpy Generator with a fixed seed."""
    return np.random.default_rng(0)
