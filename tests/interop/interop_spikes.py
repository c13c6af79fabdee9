"""What the interop tests share: neurosim's spikes per frame, from the numpy reference and from
the simulated chip in sync mode, to compare with a framework's own forward. Imported as
``from interop_spikes import ...`` (a name no other test folder uses)."""

from __future__ import annotations

import importlib.util

import numpy as np

from neurosim.io.hardware_file import load_hardware
from neurosim.mapping.registry import map_network
from neurosim.paths import HW_DIR
from neurosim.sim.chip import Chip
from neurosim.sim.reference import sync_frames


def framework_available(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def reference_trace(net, stimulus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spikes (frames x neurons, bool) and membranes after each frame (frames x neurons) of the
    numpy reference for one sample (``stimulus``: frames x input channels)."""
    frames = stimulus.shape[0]
    spikes = np.zeros((frames, net.n_neurons), bool)
    v = np.zeros((frames, net.n_neurons), np.float32)
    for f, (s, vf) in enumerate(sync_frames(net, stimulus)):
        spikes[f], v[f] = s, vf
    return spikes, v


def chip_spikes(net, stimulus: np.ndarray, hw_name: str = "loihi") -> np.ndarray:
    """Spikes (frames x neurons, bool) of the simulated chip in sync mode for one sample."""
    hw = load_hardware(HW_DIR / f"{hw_name}.yaml")
    chip = Chip(hw, net, map_network(net, hw))
    chip.configure(mode="sync")
    chip.run_sample(np.asarray(stimulus).astype(bool))
    out = np.zeros((stimulus.shape[0], net.n_neurons), bool)
    for f, _, ids, _ in chip.spike_log:
        out[f, ids] = True
    return out


def neurosim_spikes(net, stimulus: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(reference spikes, chip spikes), each frames x neurons bool, inputs included; the two
    are asserted equal here, so a test may compare either with the framework."""
    ref, _ = reference_trace(net, stimulus)
    got = chip_spikes(net, stimulus)
    np.testing.assert_array_equal(got, ref, err_msg="chip sync mode differs from the numpy reference")
    return ref, got
