"""Sinabs 3.1.3 models against neurosim, spike for spike per neuron and frame.

Every network is seeded; weights and biases lie on a power-of-two grid (multiples of 1/32) and
the decays are 1/2 (``train_alphas`` layers with ``alpha = 0.5``) or 1 (IAF) unless a test says
otherwise, so float32 sums are exact in any order. Spikes are compared exactly, ExpLeak readout
membranes with rtol 1e-6. Routes: the adapter (``neurosim.interop.from_sinabs``), the file route
(``sinabs.to_nir`` -> ``nir.write`` -> ``neurosim.from_nir(path, dt=...)``) and the round trip
(``save_network`` -> ``sinabs.from_nir``).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sinabs")

import nir
import sinabs
import sinabs.layers as sl
import torch
from interop_spikes import neurosim_spikes, reference_trace  # noqa: E402
from sinabs.activation import MaxSpike, MembraneReset, MembraneSubtract, MultiSpike, SingleSpike

import neurosim
from neurosim.errors import NetworkError
from neurosim.interop import from_sinabs
from neurosim.io.nir_write import network_to_nir

FRAMES = 24
GRID = 32
NEURONS = (
    sl.LIF,
    sl.LIFSqueeze,
    sl.LIFRecurrent,
    sl.IAF,
    sl.IAFSqueeze,
    sl.IAFRecurrent,
    sl.ExpLeak,
    sl.ExpLeakSqueeze,
)


def _grid(model, seed: int, scale: float = 1.0) -> None:
    """Seeded weights and biases of every Linear/Conv, rounded to multiples of 1/GRID."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Linear | torch.nn.Conv2d):
                for t in (m.weight, m.bias):
                    if t is not None:
                        w = torch.randn(t.shape, generator=g) * scale / np.sqrt(m.weight[0].numel())
                        t.copy_(torch.round(w * GRID) / GRID)


def _half(layer):
    """A train_alphas layer with alpha_mem (and alpha_syn) exactly 1/2."""
    with torch.no_grad():
        layer.alpha_mem.fill_(0.5)
        if layer.alpha_syn is not None:
            layer.alpha_syn.fill_(0.5)
    return layer


def _stimulus(seed: int, shape: tuple, rate: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).random((FRAMES, *shape)) < rate).astype(np.float32)


def _frames(stim: np.ndarray) -> np.ndarray:
    return stim.reshape(FRAMES, -1).astype(bool)


def _sinabs_trace(model, stim: np.ndarray, squeeze: bool = False) -> dict[str, np.ndarray]:
    """Each Sinabs neuron layer's output per frame (frames x neurons), from fresh states: spikes,
    or the membrane of an ExpLeak."""
    for m in model.modules():
        if isinstance(m, NEURONS):
            m.reset_states()
    out: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda mod, a, o, n=n: out.setdefault(n, o.detach().clone()))
        for n, m in model.named_modules()
        if isinstance(m, NEURONS)
    ]
    x = torch.from_numpy(stim) if squeeze else torch.from_numpy(stim)[None]
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return {n: v.reshape(FRAMES, -1).numpy() for n, v in out.items()}


def _assert_same(net, trace: dict, stim: np.ndarray, readouts=()) -> None:
    """neurosim (reference and chip) equals Sinabs per neuron and frame; every spiking layer is
    active but not saturated (else the test proves little)."""
    spikes, _ = neurosim_spikes(net, _frames(stim))
    _, v = reference_trace(net, _frames(stim))
    for name, got in trace.items():
        if name in readouts:
            np.testing.assert_allclose(v[:, net.span(name)], got, rtol=1e-6, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(spikes[:, net.span(name)], got.astype(bool), err_msg=name)
            assert 0 < got.sum() < got.size, f"layer {name}: {got.sum()} spikes of {got.size}"


def _lif(**kw):
    return _half(sl.LIF(tau_mem=2.0, train_alphas=True, spike_fn=SingleSpike, **kw))


# --------------------------------------------------------------------------------- adapter
@pytest.mark.parametrize("norm_input", [False, True])
@pytest.mark.parametrize("reset", [MembraneSubtract(), MembraneReset()], ids=["subtract", "reset"])
def test_feed_forward_lif_each_reset(reset, norm_input):
    model = torch.nn.Sequential(
        torch.nn.Linear(10, 12),
        _lif(reset_fn=reset, norm_input=norm_input, spike_threshold=torch.tensor(0.5)),
        torch.nn.Linear(12, 6),
        _lif(reset_fn=reset, norm_input=norm_input, spike_threshold=torch.tensor(0.25)),
    )
    _grid(model, seed=1, scale=4.0 if norm_input else 2.0)
    stim = _stimulus(2, (10,))
    trace = _sinabs_trace(model, stim)
    net = from_sinabs(model, torch.zeros(1, 1, 10))
    assert bool(net.by_name["1"].neurons.fire_equal.all())
    _assert_same(net, trace, stim)


def _generic_lif_model():
    """tau_mem = 4 and 8 steps (alpha = exp(-1/4), exp(-1/8): not powers of two), norm_input=False,
    with biases."""
    model = torch.nn.Sequential(
        torch.nn.Linear(10, 12),
        sl.LIF(tau_mem=4.0, spike_fn=SingleSpike, norm_input=False),
        torch.nn.Linear(12, 6),
        sl.LIF(tau_mem=8.0, spike_fn=SingleSpike, norm_input=False, spike_threshold=torch.tensor(0.5)),
    )
    _grid(model, seed=5, scale=3.0)
    return model


def test_the_model_state_is_left_as_it_was():
    """from_sinabs runs the model twice (shapes, then the exporter's trace) and puts the neuron
    states back, so a later forward starts where it would have."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), sl.IAF(spike_fn=SingleSpike))
    model(torch.ones(1, 2, 4))
    before = model[1].v_mem.clone()
    from_sinabs(model, torch.zeros(1, 1, 4))
    assert torch.equal(model[1].v_mem, before)


def test_generic_tau_measured():
    """Sinabs computes ``alpha v + (sum(w x) + b)``, neurosim ``(alpha v + b) + sum(w x)``, alpha
    not a power of two. Measured on this seed: spikes equal on every neuron and frame."""
    model = _generic_lif_model()
    stim = _stimulus(6, (10,))
    trace = _sinabs_trace(model, stim)
    _assert_same(from_sinabs(model, torch.zeros(1, 1, 10)), trace, stim)


def test_iaf_subtract_into_exp_leak_readout():
    model = torch.nn.Sequential(
        torch.nn.Linear(10, 12),
        sl.IAF(spike_fn=SingleSpike),
        torch.nn.Linear(12, 4),
        _half(sl.ExpLeak(tau_mem=2.0, train_alphas=True)),
    )
    _grid(model, seed=5, scale=3.0)
    stim = _stimulus(6, (10,))
    trace = _sinabs_trace(model, stim)
    _assert_same(from_sinabs(model, torch.zeros(1, 1, 10)), trace, stim, readouts=("3",))


def test_recurrent_lif():
    rec = torch.nn.Linear(10, 10, bias=False)
    model = torch.nn.Sequential(
        torch.nn.Linear(8, 10),
        _half(sl.LIFRecurrent(tau_mem=2.0, rec_connect=rec, train_alphas=True, spike_fn=SingleSpike, norm_input=False)),
    )
    _grid(model, seed=7, scale=3.0)
    stim = _stimulus(8, (8,))
    trace = _sinabs_trace(model, stim)
    net = from_sinabs(model, torch.zeros(1, 1, 8))
    assert any(net.is_recurrent(pr) for pr in net.projections)
    _assert_same(net, trace, stim)


def test_cuba_lif_with_synaptic_current():
    """tau_syn: i <- alpha_syn (i + I), the membrane takes i in the same step (CubaLIF, no lag)."""
    model = torch.nn.Sequential(
        torch.nn.Linear(10, 12, bias=False),
        _half(sl.LIF(tau_mem=2.0, tau_syn=2.0, train_alphas=True, spike_fn=SingleSpike, norm_input=False)),
    )
    _grid(model, seed=9, scale=4.0)
    stim = _stimulus(10, (10,))
    trace = _sinabs_trace(model, stim)
    net = from_sinabs(model, torch.zeros(1, 1, 10))
    assert bool(net.by_name["1"].neurons.cuba.all()) and not bool(net.by_name["1"].neurons.current_lag.any())
    _assert_same(net, trace, stim)


@pytest.mark.parametrize("pool", ["sum", "avg"])
def test_conv_pool_flatten_linear(pool):
    pooling = sl.SumPool2d(2) if pool == "sum" else torch.nn.AvgPool2d(2)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3),
        sl.IAFSqueeze(batch_size=1, spike_fn=SingleSpike, spike_threshold=torch.tensor(0.5)),
        pooling,
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 3 * 3, 5),
        sl.IAFSqueeze(batch_size=1, spike_fn=SingleSpike, reset_fn=MembraneReset()),
    )
    _grid(model, seed=11, scale=2.0 if pool == "sum" else 6.0)
    stim = _stimulus(12, (2, 8, 8))
    trace = _sinabs_trace(model, stim, squeeze=True)
    _assert_same(from_sinabs(model, torch.zeros(1, 2, 8, 8)), trace, stim)


# ------------------------------------------------------------------------------ file route
def _file_route(model, sample, tmp_path, dt):
    """Sinabs' exporter, ``nir.write``, ``neurosim.from_nir(path, dt=...)``. A LIF's scalar (0-d)
    tau cannot be stored by ``nir.write``'s default gzip compression (h5py: "Scalar datasets
    don't support chunk/filter options"); such files are written uncompressed."""
    graph = sinabs.to_nir(model, sample)
    path = tmp_path / "sinabs.nir"
    try:
        nir.write(path, graph)
    except TypeError as e:
        assert "Scalar datasets" in str(e)
        nir.write(path, graph, compression=None)
    return neurosim.from_nir(path, dt=dt)


def _mismatch(net, trace: dict, stim: np.ndarray) -> int:
    spikes, _ = neurosim_spikes(net, _frames(stim))
    return sum(int((spikes[:, net.span(n)] != t.astype(bool)).sum()) for n, t in trace.items())


def test_file_route_lif_loads_with_other_dynamics(tmp_path):
    """Sinabs writes tau_mem in time steps, no dt, no reset mode, not SingleSpike's >=: read with
    dt = 1 (s per step) the file gives decay 1 - 1/tau (Euler) instead of exp(-1/tau), a hard
    reset instead of subtraction and v > threshold. It loads; neurosim cannot tell; the spikes
    differ (measured: 117 of 432 neuron-frames on this seed; the adapter's: 0). Use the adapter."""
    model = _generic_lif_model()
    stim = _stimulus(6, (10,))
    trace = _sinabs_trace(model, stim)
    net = _file_route(model, torch.zeros(1, 1, 10), tmp_path, dt=1.0)
    p = net.by_name["1"].neurons
    assert float(p.decay[0]) == np.float32(0.75) and not p.subtract.any() and not p.fire_equal.any()
    assert _mismatch(net, trace, stim) > 0


def test_file_route_iaf_loses_reset_mode_and_equality(tmp_path):
    """An IAF file loads (NIR IF) but with a hard reset and v > threshold: measured 80 of 432
    neuron-frames differ on this seed, while the adapter's network is exact."""
    model = torch.nn.Sequential(torch.nn.Linear(10, 12), sl.IAF(spike_fn=SingleSpike), torch.nn.Linear(12, 6))
    model.append(sl.IAF(spike_fn=SingleSpike))
    _grid(model, seed=13, scale=2.0)
    stim = _stimulus(14, (10,))
    trace = _sinabs_trace(model, stim)
    net = _file_route(model, torch.zeros(1, 1, 10), tmp_path, dt=1e-3)
    assert not net.by_name["1"].neurons.subtract.any() and not net.by_name["1"].neurons.fire_equal.any()
    _assert_same(from_sinabs(model, torch.zeros(1, 1, 10)), trace, stim)
    assert _mismatch(net, trace, stim) > 0


def test_file_route_iaf_hard_reset_off_grid_threshold_is_spike_exact(tmp_path):
    """Where the file is enough: IAFSqueeze layers with MembraneReset (NIR IF's hard reset to 0)
    and thresholds off the weight grid (0.5 + 1/64 with weights on multiples of 1/32, so v never
    equals the threshold and >= is >), conv and SumPool2d. Sinabs' Conv2d node has
    input_shape=None, which nir.write cannot store (h5py: "One of data, shape or dtype must be
    specified"): the exporter's graph is read in memory, and is spike-exact."""
    thr = torch.tensor(0.5 + 1 / 64)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 4, 3),
        sl.IAFSqueeze(batch_size=1, spike_fn=SingleSpike, reset_fn=MembraneReset(), spike_threshold=thr),
        sl.SumPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 3 * 3, 5),
        sl.IAFSqueeze(batch_size=1, spike_fn=SingleSpike, reset_fn=MembraneReset(), spike_threshold=thr),
    )
    _grid(model, seed=15, scale=2.0)
    stim = _stimulus(16, (2, 8, 8))
    trace = _sinabs_trace(model, stim, squeeze=True)
    graph = sinabs.to_nir(model, torch.zeros(1, 2, 8, 8))
    with pytest.raises(TypeError, match="One of data, shape or dtype must be specified"):
        nir.write(tmp_path / "conv.nir", graph)
    _assert_same(neurosim.from_nir(graph, dt=1e-3), trace, stim)


def test_file_route_exporter_refuses_avgpool_and_recurrent():
    """Sinabs' own exporter raises on AvgPool2d and on LIFRecurrent (its type check is exact);
    the adapter handles both (tests above)."""
    with pytest.raises(NotImplementedError, match="AvgPool2d"):
        sinabs.to_nir(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.AvgPool2d(2)), torch.zeros(1, 1, 8, 8))
    rec = sl.LIFRecurrent(tau_mem=2.0, rec_connect=torch.nn.Linear(3, 3, bias=False), spike_fn=SingleSpike)
    with pytest.raises(NotImplementedError, match="LIFRecurrent"):
        sinabs.to_nir(torch.nn.Sequential(torch.nn.Linear(4, 3), rec), torch.zeros(1, 1, 4))


# ------------------------------------------------------------------------------ round trip
def test_round_trip_sinabs_importer_bugs():
    """neurosim -> network_to_nir -> sinabs.from_nir. Importer bugs (Sinabs 3.1.3): a LIF's tau
    (seconds) becomes tau_mem in steps (alpha = exp(-1/0.002) = 0 here); r and the metadata
    (reset, fire_equal) are ignored; every layer gets the default MultiSpike; an IF gets
    min_v_mem = -v_threshold, a floor NIR does not have."""
    model = torch.nn.Sequential(torch.nn.Linear(10, 12), sl.IAF(spike_fn=SingleSpike), torch.nn.Linear(12, 6))
    model.append(_lif(spike_threshold=torch.tensor(0.5)))
    net = from_sinabs(model, torch.zeros(1, 1, 10))
    back = sinabs.from_nir(network_to_nir(net), batch_size=1)
    layers = {n: m for n, m in back.named_modules() if isinstance(m, NEURONS)}
    iaf, lif = layers["1"], layers["3"]
    assert iaf.spike_fn is MultiSpike and lif.spike_fn is MultiSpike
    assert float(iaf.min_v_mem.min()) == -1.0
    assert float(lif.alpha_mem_calculated.max()) < 1e-30  # tau_mem = 2 ms read as 0.002 steps


def test_round_trip_iaf_through_sinabs_importer_is_not_exact():
    """An IAF network (the adapter's, exact against Sinabs) back through sinabs.from_nir: the
    imported IAFSqueeze layers send several spikes per step (MultiSpike) and clip at
    -threshold; measured 20 of 144 output neuron-frames differ on this seed, up to 4 spikes in
    one step."""
    model = torch.nn.Sequential(torch.nn.Linear(10, 12), sl.IAF(spike_fn=SingleSpike), torch.nn.Linear(12, 6))
    model.append(sl.IAF(spike_fn=SingleSpike))
    _grid(model, seed=13, scale=2.0)
    stim = _stimulus(14, (10,))
    net = from_sinabs(model, torch.zeros(1, 1, 10))
    back = sinabs.from_nir(network_to_nir(net), batch_size=1)
    with torch.no_grad():
        got, _ = back(torch.from_numpy(stim))
    spikes, _ = neurosim_spikes(net, _frames(stim))
    assert float(got.max()) > 1  # several spikes per neuron and step: what neurosim refuses
    assert int((spikes[:, net.span(net.output)] != got.numpy().astype(bool)).sum()) > 0


# -------------------------------------------------------------------------------- refusals
def _refused(model, sample, match):
    with pytest.raises(NetworkError, match=match) as e:
        from_sinabs(model, sample)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("fn", [MultiSpike, MaxSpike(max_num_spikes_per_bin=2)], ids=["multi", "max"])
def test_refuses_several_spikes_per_step(fn):
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), sl.IAF(spike_fn=fn))
    _refused(model, torch.zeros(1, 1, 4), r"layer '1' \(IAF\): spike_fn .* several spikes .*use spike_fn=SingleSpike")


def test_refuses_min_v_mem():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), sl.IAF(spike_fn=SingleSpike, min_v_mem=-1.0))
    _refused(model, torch.zeros(1, 1, 4), r"layer '1' \(IAF\): min_v_mem .*set min_v_mem=None")


def test_refuses_membrane_reset_to_non_zero():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), sl.IAF(spike_fn=SingleSpike, reset_fn=MembraneReset(0.5)))
    _refused(model, torch.zeros(1, 1, 4), r"MembraneReset\(reset_value=0.5\) adds reset_value .*use reset_value=0")


def test_refuses_subtract_value_other_than_threshold():
    layer = sl.IAF(spike_fn=SingleSpike, reset_fn=MembraneSubtract(subtract_value=0.5))
    _refused(torch.nn.Sequential(torch.nn.Linear(4, 3), layer), torch.zeros(1, 1, 4), r"subtract_value=0.5")


def test_refuses_bias_into_a_synaptic_current():
    """Sinabs adds a Linear's bias to i_syn every step, where it accumulates: refused (by
    neurosim.from_nir, which the adapter calls)."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), sl.LIF(tau_mem=4.0, tau_syn=2.0, spike_fn=SingleSpike))
    _refused(model, torch.zeros(1, 1, 4), r"node '1' \(CubaLIF\): a bias .* synaptic current")


def test_refuses_max_pooling():
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), sl.IAFSqueeze(batch_size=1, spike_fn=SingleSpike))
    model.append(torch.nn.MaxPool2d(2))
    _refused(model, torch.zeros(1, 1, 8, 8), r"layer '2' \(MaxPool2d\): max pooling .*use SumPool2d or AvgPool2d")


def test_refuses_recurrent_bias():
    rec = sl.LIFRecurrent(tau_mem=2.0, rec_connect=torch.nn.Linear(3, 3), spike_fn=SingleSpike)
    _refused(torch.nn.Sequential(torch.nn.Linear(4, 3), rec), torch.zeros(1, 1, 4), r"rec_connect must be a Linear")


def test_refuses_mixed_squeeze_and_plain_layers():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), sl.IAFSqueeze(batch_size=1), torch.nn.Linear(3, 2), sl.IAF())
    _refused(model, torch.zeros(1, 4), r"use the Squeeze forms throughout or none")


def test_refuses_other_sinabs_neurons():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), sl.ALIF(tau_mem=2.0, tau_adapt=4.0, spike_fn=SingleSpike))
    _refused(model, torch.zeros(1, 1, 4), r"layer '1' \(ALIF\): a Sinabs layer neurosim cannot run")
