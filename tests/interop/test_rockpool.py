"""Rockpool 3.1.0 (torch backend) -> neurosim: spikes per neuron and frame equal Rockpool's own
forward, through ``from_rockpool`` and (where the file is enough) through ``to_nir`` -> file ->
``neurosim.from_nir``.

Networks are seeded; weights and biases are on the power-of-two grid ``round(x * 64) / 64`` and
the decays are 0.5 or 1 (``leak_mode='decays'``, or ``tau = dt / ln 2`` whose float32
``exp(-dt/tau)`` is exactly 0.5), so every float32 sum and product of the forward is exact in any
order and neurosim's operation order cannot change a bit (runs of 16 frames keep the membranes'
bits within float32's 24)."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("rockpool")
torch = pytest.importorskip("torch")

import nir  # noqa: E402
from interop_spikes import neurosim_spikes, reference_trace  # noqa: E402
from rockpool.nn.combinators import Sequential  # noqa: E402
from rockpool.nn.modules import ExpSynTorch, LIFNeuronTorch, LIFTorch, LinearTorch  # noqa: E402
from rockpool.nn.modules.torch.nir import from_nir as rockpool_from_nir  # noqa: E402
from rockpool.nn.modules.torch.nir import to_nir  # noqa: E402

import neurosim  # noqa: E402
from neurosim.errors import NetworkError  # noqa: E402
from neurosim.interop import from_rockpool  # noqa: E402

DT = 1e-3
TAU_HALF = DT / math.log(2)  # float32 exp(-DT / TAU_HALF) == 0.5 exactly (checked below)
FRAMES = 16


def grid(t):
    return torch.round(t * 64) / 64


def cuba(n, **kw):
    """A LIFTorch with decays 0.5, one spike per step at most."""
    base = dict(leak_mode="decays", alpha=0.5, beta=0.5, max_spikes_per_dt=1)
    return LIFTorch(n, **{**base, **kw})


def stimulus(channels, frames=FRAMES, p=0.4, seed=0):
    return np.random.default_rng(seed).random((frames, channels)) < p


def rockpool_run(module, stim):
    """Rockpool's own forward from a zero state: the record of every layer."""
    module.reset_state()
    with torch.no_grad():
        _, _, rec = module(torch.tensor(stim[None], dtype=torch.float32), record=True)
    return rec


def assert_spikes_equal(net, module, stim, layers):
    """neurosim (numpy reference and chip, sync mode) == Rockpool for every layer named."""
    rec = rockpool_run(module, stim)
    ref, _ = neurosim_spikes(net, stim)
    total = 0
    for name in layers:
        theirs = rec[name]["spikes"][0].numpy()
        assert set(np.unique(theirs)) <= {0.0, 1.0}
        np.testing.assert_array_equal(ref[:, net.span(name)], theirs.astype(bool), err_msg=name)
        total += int(theirs.sum())
    assert total > 0, "the test network must spike"
    return rec


def test_power_of_two_tau_decays_exactly():
    assert torch.exp(-DT / torch.tensor(TAU_HALF, dtype=torch.float32)).item() == 0.5


def test_cuba_lif_feed_forward_with_bias_is_spike_exact():
    torch.manual_seed(0)
    module = Sequential(
        LinearTorch((6, 8), weight=grid(torch.randn(6, 8))),
        cuba(8, bias=grid(torch.rand(8) * 0.25), threshold=grid(torch.rand(8) + 0.5)),
        LinearTorch((8, 4), weight=grid(torch.randn(8, 4))),
        cuba(4),
    )
    stim = stimulus(6)
    net = from_rockpool(module, stim)
    assert net.dt == DT
    p = net.by_name["1_LIFTorch"].neurons
    assert p.cuba.all() and not p.current_lag.any() and p.subtract.all() and p.fire_equal.all()
    assert_spikes_equal(net, module, stim, ["1_LIFTorch", "3_LIFTorch"])


def test_threshold_equality_fires_as_rockpool():
    """Rockpool fires at v >= threshold (floor(v / threshold) >= 1): a membrane exactly at the
    threshold spikes in both."""
    module = Sequential(LinearTorch((1, 1), weight=torch.tensor([[2.0]])), cuba(1, alpha=0.0))
    stim = np.array([[1], [0], [0], [0]], bool)  # isyn = 0.5 (0 + 2) = 1 = v = threshold in frame 0
    rec = assert_spikes_equal(from_rockpool(module, stim), module, stim, ["1_LIFTorch"])
    assert rec["1_LIFTorch"]["spikes"][0, :, 0].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_recurrent_lif_is_spike_exact():
    torch.manual_seed(1)
    module = Sequential(
        LinearTorch((5, 8), weight=grid(torch.randn(5, 8))),
        cuba(8, has_rec=True, w_rec=grid(torch.randn(8, 8) * 0.5)),
    )
    stim = stimulus(5, seed=1)
    net = from_rockpool(module, stim)
    assert any(net.is_recurrent(pr) for pr in net.projections)
    rec = assert_spikes_equal(net, module, stim, ["1_LIFTorch"])
    assert rec["1_LIFTorch"]["irec"].abs().sum() > 0, "the recurrent weights must carry spikes"


def test_lif_neuron_and_if_layers_are_spike_exact():
    """LIFNeuronTorch (no synaptic current) with decay 0.5, and one with tau so long that its
    float32 decay is 1 (an IF neuron)."""
    torch.manual_seed(2)
    module = Sequential(
        LinearTorch((6, 8), weight=grid(torch.randn(6, 8))),
        LIFNeuronTorch(8, tau_mem=TAU_HALF, bias=grid(torch.rand(8) * 0.25), max_spikes_per_dt=1),
        LinearTorch((8, 4), weight=grid(torch.randn(8, 4) * 0.5)),
        LIFNeuronTorch(4, tau_mem=1e9, max_spikes_per_dt=1),
    )
    stim = stimulus(6, seed=2)
    net = from_rockpool(module, stim)
    assert not net.by_name["1_LIFNeuronTorch"].neurons.cuba.any()
    assert (net.by_name["3_LIFNeuronTorch"].neurons.decay == 1).all()
    assert_spikes_equal(net, module, stim, ["1_LIFNeuronTorch", "3_LIFNeuronTorch"])


def test_exp_syn_readout_membrane_matches():
    torch.manual_seed(3)
    module = Sequential(
        LinearTorch((6, 8), weight=grid(torch.randn(6, 8))),
        cuba(8),
        LinearTorch((8, 3), weight=grid(torch.randn(8, 3))),
        ExpSynTorch(3, tau=TAU_HALF),
    )
    stim = stimulus(6, seed=3)
    net = from_rockpool(module, stim)
    assert not net.by_name["3_ExpSynTorch"].neurons.spiking.any()
    rec = assert_spikes_equal(net, module, stim, ["1_LIFTorch"])
    _, v = reference_trace(net, stim)
    theirs = rec["3_ExpSynTorch_output"][0].numpy()
    assert np.abs(theirs).max() > 0
    np.testing.assert_allclose(v[:, net.span("3_ExpSynTorch")], theirs, rtol=1e-6, atol=0)


def test_default_time_constants_with_allow_rounding_measured_equal():
    """Rockpool's defaults (tau_mem = tau_syn = 20 ms, so beta = 0.951...; ExpSyn 10 ms): refused
    without ``allow_rounding``; with it the spikes of this seeded network were measured equal over
    40 frames and the readout within 1e-5."""
    torch.manual_seed(4)
    module = Sequential(
        LinearTorch((6, 8), weight=grid(torch.randn(6, 8) * 0.5)),
        LIFTorch(8, max_spikes_per_dt=1),
        LinearTorch((8, 3), weight=grid(torch.randn(8, 3))),
        ExpSynTorch(3),
    )
    stim = stimulus(6, frames=40, seed=4)
    with pytest.raises(NetworkError, match=r"LIFTorch '1_LIFTorch': beta \(synaptic decay\)\[0\] = 0\.95122\d* is not"):
        from_rockpool(module, stim)
    net = from_rockpool(module, stim, allow_rounding=True)
    rec = assert_spikes_equal(net, module, stim, ["1_LIFTorch"])
    _, v = reference_trace(net, stim)
    np.testing.assert_allclose(v[:, net.span("3_ExpSynTorch")], rec["3_ExpSynTorch_output"][0].numpy(), rtol=1e-5)


def test_lone_module_and_unmodified_state():
    """A module exported on its own (not in a Sequential); the adapter does not touch its state."""
    module = cuba(4, bias=grid(torch.rand(4)))
    module.vmem = torch.full((4,), 0.25)
    stim = stimulus(4)
    net = from_rockpool(module, stim)
    assert (module.vmem == 0.25).all()
    rec = rockpool_run(module, stim)
    ref, _ = neurosim_spikes(net, stim)
    np.testing.assert_array_equal(ref[:, net.span(net.output)], rec["spikes"][0].numpy().astype(bool))


# ------------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LIFTorch(3), r"LIFTorch 'rockpool': max_spikes_per_dt = 65536 lets a neuron send floor"),
        (lambda: cuba(3, noise_std=0.1), r"noise_std = 0\.1: the chip is noiseless"),
        (lambda: cuba((6, 3)), r"2 synaptic states per neuron"),
        (lambda: cuba(3, threshold=0.0), r"threshold\[0\] = 0; Rockpool counts floor"),
        (lambda: cuba(3, beta=0.75), r"beta \(synaptic decay\)\[0\] = 0\.75 is not a power of two"),
        (lambda: ExpSynTorch(3, tau=0.02), r"ExpSynTorch 'rockpool': exp\(-dt/tau\)\[0\] = 0\.95\d* is not"),
        (lambda: cuba(3, alpha=1.5), r"alpha \(membrane decay\)\[0\] = 1\.5 is outside \[0, 1\]"),
        (lambda: cuba(3, alpha=1e-30), r"membrane decay 1e-30 cannot be written as a NIR time constant"),
        (
            lambda: Sequential(LinearTorch((3, 3), has_bias=True), cuba(3)),
            r"'1_LIFTorch' \(CubaLIF\): a bias .* enter its synaptic current",
        ),
    ],
)
def test_refusals_name_the_layer_and_the_remedy(make, message):
    module = make()
    with pytest.raises(NetworkError, match=message) as e:
        from_rockpool(module, np.zeros((2, module.size_in), bool))
    assert "\n" not in str(e.value)


def test_refuses_other_module_types_and_mismatched_dt():
    from rockpool.nn.modules import LIFBitshiftTorch

    stim = np.zeros((2, 3), bool)
    with pytest.raises(NetworkError, match=r"LIFBitshiftTorch '1_LIFBitshiftTorch': this Rockpool module type"):
        from_rockpool(Sequential(LinearTorch((3, 3)), LIFBitshiftTorch(3)), stim)
    with pytest.raises(NetworkError, match=r"dt = 0\.002 s differs from '0_LIFTorch'"):
        from_rockpool(Sequential(cuba(3), LinearTorch((3, 3)), cuba(3, dt=2e-3)), stim)
    with pytest.raises(NetworkError, match=r"dt = 0\.002 s was given but the Rockpool layers run with dt = 0\.001"):
        from_rockpool(cuba(3), stim, dt=2e-3)
    with pytest.raises(NetworkError, match=r"example_input has 4 channels .* takes 3"):
        from_rockpool(cuba(3), np.zeros((2, 4), bool))


# ----------------------------------------------------------------------------------- file route
def _exported_file(module, tmp_path):
    path = tmp_path / "rockpool.nir"
    nir.write(path, to_nir(module, torch.zeros((1, module.size_in))))
    return path


def test_file_route_needs_dt_and_then_runs_other_dynamics(tmp_path):
    """Rockpool's file has no dt, a CubaLIF with forward-Euler tau (Rockpool decays
    exponentially), NIR's hard reset and lagged current, no bias and no recurrent weights. Without
    dt it is refused; with dt it loads and its spikes differ from Rockpool's (measured: the
    adapter is the route for Rockpool models)."""
    torch.manual_seed(5)
    module = Sequential(
        LinearTorch((6, 8), weight=grid(torch.randn(6, 8))),
        cuba(8, has_rec=True, w_rec=grid(torch.randn(8, 8) * 0.5), bias=grid(torch.rand(8) * 0.25)),
    )
    path = _exported_file(module, tmp_path)
    with pytest.raises(NetworkError, match=r"dt unknown: pass dt="):
        neurosim.from_nir(path)
    net = neurosim.from_nir(path, dt=DT)
    assert not any(net.is_recurrent(pr) for pr in net.projections), "the file lost w_rec"
    stim = stimulus(6, seed=5)
    ref, _ = neurosim_spikes(net, stim)
    theirs = rockpool_run(module, stim)["1_LIFTorch"]["spikes"][0].numpy().astype(bool)
    differ = int((ref[:, net.span("1_LIFTorch")] != theirs).sum())
    assert differ > 0
    adapted = from_rockpool(module, stim)
    ref_a, _ = neurosim_spikes(adapted, stim)
    assert int((ref_a[:, adapted.span("1_LIFTorch")] != theirs).sum()) == 0


def test_file_route_of_exp_syn_cannot_be_written(tmp_path):
    """Rockpool's exporter stores ExpSynTorch's ``tau`` as the trainable Parameter itself, so
    ``nir.write`` fails (exporter bug, measured); the adapter reads the module instead."""
    module = Sequential(LinearTorch((3, 2)), ExpSynTorch(2, tau=TAU_HALF))
    with pytest.raises(RuntimeError, match="requires grad"):
        nir.write(tmp_path / "expsyn.nir", to_nir(module, torch.zeros((1, 3))))


# ------------------------------------------------------------------------ neurosim -> Rockpool
def test_round_trip_into_rockpool_importer(tmp_path):
    """neurosim -> NIR (save_network) -> rockpool's from_nir. Importer bugs (rockpool 3.1.0,
    measured): a ``LIF`` node fails (it reads ``node.tau_mem``, which NIR's LIF has not); a
    ``CubaLIF`` loads as a LIFTorch with ``dt = tau_mem / (1 + r)`` (here 2/3 of the true dt, so
    every decay is exp(-1/3) instead of 0.5), ``bias = v_leak`` (not ``v_leak dt / tau``),
    ``v >= threshold`` and up to 65536 spikes per step: its spikes differ from neurosim's."""
    from neurosim.io.nir_write import save_network

    torch.manual_seed(6)
    lif = Sequential(
        LinearTorch((6, 8), weight=grid(torch.randn(6, 8))), LIFNeuronTorch(8, tau_mem=TAU_HALF, max_spikes_per_dt=1)
    )
    stim = stimulus(6, seed=6)
    path = tmp_path / "lif.nir"
    save_network(from_rockpool(lif, stim), path)
    with pytest.raises(AttributeError, match="tau_mem"):
        rockpool_from_nir(nir.read(path))

    module = Sequential(LinearTorch((6, 8), weight=grid(torch.randn(6, 8))), cuba(8, bias=grid(torch.rand(8) * 0.25)))
    net = from_rockpool(module, stim)
    path = tmp_path / "cuba.nir"
    save_network(net, path)
    imported = rockpool_from_nir(nir.read(path))
    lifs = [m for m in imported.modules() if isinstance(m, LIFTorch)]
    assert len(lifs) == 1 and lifs[0].dt == pytest.approx(2 * DT / 3)
    with torch.no_grad():
        out = imported(torch.tensor(stim[None], dtype=torch.float32))
    theirs = np.asarray((out[0] if isinstance(out, tuple) else out).detach()).reshape(FRAMES, -1)
    ref, _ = neurosim_spikes(net, stim)
    assert (ref[:, net.span(net.output)] != (theirs > 0)).any()
