"""Norse 1.1.0 models against neurosim, spike for spike per neuron and frame.

Every network is seeded; weights and biases lie on a power-of-two grid (multiples of 1/32) and
``dt * tau_inv`` is a power of two (``dt = 2**-10`` s, ``tau_mem_inv = 512``: a = 1/2) unless a
test says otherwise, so float32 sums are exact in any order and Norse's Euler form
``v + a (x - v)`` and neurosim's ``(1 - a) v + a x`` round alike while a membrane fits in
float32 (spikes are compared exactly; LI readout membranes, which gain a bit every frame, with
rtol 1e-6: see the adapter's caveat). Routes: the adapter
(``neurosim.interop.from_norse``), the file route (Norse's ``to_nir`` -> ``nir.write`` ->
``neurosim.from_nir(path, dt=...)``) and the round trip (``save_network`` -> ``norse.torch.from_nir``).
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

pytest.importorskip("norse")

import nir
import norse.torch as nt
import torch
from interop_spikes import neurosim_spikes, reference_trace  # noqa: E402

import neurosim
from neurosim.errors import NetworkError
from neurosim.interop import from_norse
from neurosim.io.nir_write import save_network

DT = 2.0**-10
FRAMES = 24
GRID = 32


def _grid(model, seed: int, scale: float = 1.0) -> None:
    """Seeded weights and biases of every Linear/Conv, rounded to multiples of 1/GRID."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            for name in ("weight", "bias", "input_weights", "recurrent_weights"):
                t = getattr(m, name, None)
                if isinstance(t, torch.Tensor) and t.dtype == torch.float32:
                    w = torch.randn(t.shape, generator=g) * scale / np.sqrt(max(t.shape[-1], 1))
                    if name == "recurrent_weights":
                        w.fill_diagonal_(0.0)
                    t.copy_(torch.round(w * GRID) / GRID)


def _stimulus(seed: int, shape: tuple, rate: float = 0.3) -> np.ndarray:
    return (np.random.default_rng(seed).random((FRAMES, *shape)) < rate).astype(np.float32)


def _frames(stim: np.ndarray) -> np.ndarray:
    """The stimulus as neurosim takes it: frames x input neurons, bool."""
    return stim.reshape(FRAMES, -1).astype(bool)


def _neuron_layers(model) -> dict[str, torch.nn.Module]:
    kinds = (nt.LIFBoxCell, nt.LIFCell, nt.LIFRecurrentCell, nt.LIBoxCell, nt.LICell, nt.IAFCell)
    kinds += (nt.LIF, nt.LIFRecurrent, nt.LI, nt.IAF)
    return {n: m for n, m in model.named_modules() if isinstance(m, kinds)}


def _norse_trace(model, stim: np.ndarray, timed: bool = False) -> dict[str, np.ndarray]:
    """Each neuron layer's output per frame (frames x neurons): spikes, or the membrane of an LI."""
    out: dict[str, list] = {}
    hooks = [
        m.register_forward_hook(lambda mod, a, o, n=n: out.setdefault(n, []).append(o[0].detach().clone()))
        for n, m in _neuron_layers(model).items()
    ]
    with torch.no_grad():
        if timed:
            model(torch.from_numpy(stim)[:, None])
        else:
            state = None
            for x in stim:
                _, state = model(torch.from_numpy(x)[None], state)
    for h in hooks:
        h.remove()
    return {n: torch.cat(v).reshape(FRAMES, -1).numpy() for n, v in out.items()}


def _assert_same(net, trace: dict, stim: np.ndarray, readouts=()) -> dict[str, int]:
    """neurosim (reference and chip) equals Norse per neuron and frame; returns spike counts."""
    spikes, _ = neurosim_spikes(net, _frames(stim))
    _, v = reference_trace(net, _frames(stim))
    counts = {}
    for name, got in trace.items():
        if name in readouts:
            np.testing.assert_allclose(v[:, net.span(name)], got, rtol=1e-6, atol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(spikes[:, net.span(name)], got.astype(bool), err_msg=name)
            counts[name] = int(got.sum())
    return counts


def _active(counts: dict, trace: dict) -> None:
    """Every spiking layer spikes, and not on every neuron and frame (else the test proves little)."""
    for name, c in counts.items():
        assert 0 < c < trace[name].size, f"layer {name}: {c} spikes of {trace[name].size}"


def _box(**kw) -> nt.LIFBoxCell:
    return nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.tensor(512.0), **kw), dt=DT)


# --------------------------------------------------------------------------------- adapter
@pytest.mark.parametrize("reset", ["value", "subtract"])
def test_feed_forward_lif_box_each_reset(reset):
    from norse.torch.functional.reset import reset_subtract, reset_value

    method = reset_value if reset == "value" else reset_subtract
    model = nt.SequentialState(
        torch.nn.Linear(10, 12),
        _box(v_th=torch.tensor(0.5), reset_method=method),
        torch.nn.Linear(12, 6),
        _box(v_th=torch.tensor(0.25), reset_method=method),
    )
    _grid(model, seed=1, scale=2.0)
    stim = _stimulus(2, (10,))
    trace = _norse_trace(model, stim)
    net = from_norse(model, torch.zeros(1, 10))
    assert net.dt == DT
    _active(_assert_same(net, trace, stim), trace)


def test_lif_box_with_leak_and_reset_potential_is_shifted():
    """Norse starts at v_leak and leaks towards it; neurosim's shifted membrane gives the same spikes."""
    model = nt.SequentialState(
        torch.nn.Linear(8, 10),
        _box(v_leak=torch.tensor(-0.5), v_th=torch.tensor(0.0), v_reset=torch.tensor(-0.75)),
    )
    _grid(model, seed=3, scale=2.0)
    stim = _stimulus(4, (8,))
    trace = _norse_trace(model, stim)
    _active(_assert_same(from_norse(model, torch.zeros(1, 8)), trace, stim), trace)


def test_generic_decay_measured():
    """Norse's defaults (tau_mem_inv = 100/s, dt = 1 ms: a = 0.1, not a power of two): the Euler
    form and neurosim's multiply form differ in float32 rounding. Measured on this seed: spikes
    equal on every neuron and frame; 62 of 96 readout membranes differ in the last bits (at most
    3.3e-7 relative)."""
    model = nt.SequentialState(torch.nn.Linear(10, 12), nt.LIFBoxCell(), torch.nn.Linear(12, 4), nt.LIBoxCell())
    _grid(model, seed=5, scale=4.0)
    stim = _stimulus(6, (10,), rate=0.5)
    trace = _norse_trace(model, stim)
    net = from_norse(model, torch.zeros(1, 10))
    assert net.dt == pytest.approx(1e-3)
    spikes, _ = neurosim_spikes(net, _frames(stim))
    _, v = reference_trace(net, _frames(stim))
    np.testing.assert_array_equal(spikes[:, net.span("1")], trace["1"].astype(bool))
    assert 0 < trace["1"].sum()
    np.testing.assert_allclose(v[:, net.span("3")], trace["3"], rtol=1e-6, atol=0)


def test_cuba_lif_cell_and_li_cell_readout():
    """LIFCell (CubaLIF: the input jumps the current, which the membrane takes in the same step)
    into an LICell readout, whose membrane is compared."""
    p = nt.LIFParameters(tau_mem_inv=torch.tensor(512.0), tau_syn_inv=torch.tensor(256.0), v_th=torch.tensor(0.5))
    li = nt.LIParameters(tau_mem_inv=torch.tensor(256.0), tau_syn_inv=torch.tensor(512.0))
    model = nt.SequentialState(
        torch.nn.Linear(10, 12, bias=False),
        nt.LIFCell(p, dt=DT),
        torch.nn.Linear(12, 4, bias=False),
        nt.LICell(li, dt=DT),
    )
    _grid(model, seed=7, scale=2.0)
    stim = _stimulus(8, (10,))
    trace = _norse_trace(model, stim)
    net = from_norse(model, torch.zeros(1, 10))
    assert bool(net.by_name["1"].neurons.cuba.all()) and not bool(net.by_name["1"].neurons.current_lag.any())
    _active(_assert_same(net, trace, stim, readouts=("3",)), trace)


def test_lif_cell_membrane_takes_the_current_of_the_same_step():
    """Golden value: one input of w at step 0 moves Norse's LIFCell membrane to a w in that
    step (i <- i + x before v integrates i), so there is no one-step current lag."""
    p = nt.LIFParameters(tau_mem_inv=torch.tensor(512.0), tau_syn_inv=torch.tensor(256.0), v_th=torch.tensor(9.0))
    cell = nt.LIFCell(p, dt=DT)
    _, s = cell(torch.tensor([[0.75]]))
    assert float(s.v) == 0.5 * 0.75 and float(s.i) == 0.75 * 0.75
    model = nt.SequentialState(torch.nn.Linear(1, 1, bias=False), cell)
    with torch.no_grad():
        model[0].weight.fill_(0.75)
    net = from_norse(model, torch.zeros(1, 1))
    _, v = reference_trace(net, np.array([[True], [False]]))
    assert v[:, net.span("1")].ravel().tolist() == [0.375, 0.375 * 0.5 + 0.5625 * 0.5]


def test_recurrent_lif_cell_into_li_box_readout():
    p = nt.LIFParameters(tau_mem_inv=torch.tensor(512.0), tau_syn_inv=torch.tensor(512.0), v_th=torch.tensor(0.5))
    model = nt.SequentialState(
        nt.LIFRecurrentCell(8, 10, p, dt=DT),
        torch.nn.Linear(10, 3, bias=False),
        nt.LIBoxCell(nt.LIBoxParameters(tau_mem_inv=torch.tensor(256.0)), dt=DT),
    )
    _grid(model, seed=9, scale=3.0)
    stim = _stimulus(10, (8,))
    trace = _norse_trace(model, stim)
    net = from_norse(model, torch.zeros(1, 8))
    assert any(net.is_recurrent(pr) for pr in net.projections)
    _active(_assert_same(net, trace, stim, readouts=("2",)), trace)


@pytest.mark.parametrize("bias", [True, False])
def test_conv_avgpool_flatten_linear(bias):
    """Conv2d (without bias too, on which Norse's own exporter crashes: 'NoneType' object has no
    attribute 'detach'), AvgPool2d and Flatten, which that exporter leaves out."""
    model = nt.SequentialState(
        torch.nn.Conv2d(2, 4, 3, bias=bias),
        _box(v_th=torch.tensor(0.5)),
        torch.nn.AvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 3 * 3, 5),
        _box(v_th=torch.tensor(0.25)),
    )
    _grid(model, seed=11, scale=2.0)
    stim = _stimulus(12, (2, 8, 8))
    trace = _norse_trace(model, stim)
    _active(_assert_same(from_norse(model, torch.zeros(1, 2, 8, 8)), trace, stim), trace)


def test_iaf_cell_with_reset_potential():
    ip = nt.IAFParameters(v_th=torch.tensor(0.5), v_reset=torch.tensor(-0.25))
    model = nt.SequentialState(torch.nn.Linear(10, 8), nt.IAFCell(ip, dt=DT), torch.nn.Linear(8, 4), nt.IAFCell(dt=DT))
    _grid(model, seed=13, scale=2.0)
    stim = _stimulus(14, (10,))
    trace = _norse_trace(model, stim)
    _active(_assert_same(from_norse(model, torch.zeros(1, 10)), trace, stim), trace)


def test_layers_that_loop_over_time():
    """norse.LIF and norse.LI take the whole (time, batch, ...) sequence."""
    p = nt.LIFParameters(tau_mem_inv=torch.tensor(512.0), tau_syn_inv=torch.tensor(256.0), v_th=torch.tensor(0.5))
    li = nt.LIParameters(tau_mem_inv=torch.tensor(256.0), tau_syn_inv=torch.tensor(512.0))
    model = nt.SequentialState(
        torch.nn.Linear(6, 8, bias=False), nt.LIF(p, dt=DT), torch.nn.Linear(8, 3, bias=False), nt.LI(li, dt=DT)
    )
    _grid(model, seed=15, scale=2.0)
    stim = _stimulus(16, (6,))
    trace = _norse_trace(model, stim, timed=True)
    net = from_norse(model, torch.zeros(FRAMES, 1, 6))
    _active(_assert_same(net, trace, stim, readouts=("3",)), trace)


# ------------------------------------------------------------------------------ file route
def _file_route(model, sample, tmp_path, dt=DT):
    """Norse's exporter, ``nir.write``, ``neurosim.from_nir(path, dt=...)``. Norse writes scalar
    (0-d) parameters, which ``nir.write``'s default gzip compression cannot store for LIF, CubaLIF
    and IF nodes (h5py: "Scalar datasets don't support chunk/filter options"); such files are
    written uncompressed."""
    graph = nt.to_nir(model, sample, dt=dt)
    path = tmp_path / "norse.nir"
    try:
        nir.write(path, graph)
    except TypeError as e:
        assert "Scalar datasets" in str(e)
        nir.write(path, graph, compression=None)
    return neurosim.from_nir(path, dt=dt)


def test_file_route_if_is_spike_exact(tmp_path):
    """IAF exports as NIR IF (r = 1, v > threshold, hard reset to 0): the file is enough."""
    model = nt.SequentialState(torch.nn.Linear(10, 8), nt.IAFCell(dt=DT), torch.nn.Linear(8, 4), nt.IAFCell(dt=DT))
    _grid(model, seed=17, scale=2.0)
    stim = _stimulus(18, (10,))
    trace = _norse_trace(model, stim)
    net = _file_route(model, torch.zeros(1, 10), tmp_path)
    _active(_assert_same(net, trace, stim), trace)


def test_conv_export_cannot_be_written_but_loads_in_memory(tmp_path):
    """Norse's Conv2d node has input_shape=None, which nir.write cannot store (h5py: "One of
    data, shape or dtype must be specified"); the exporter's graph in memory (Input with its
    batch dimension of 1) is enough for conv + IAF and spike-exact."""
    model = nt.SequentialState(torch.nn.Conv2d(2, 3, 3), nt.IAFCell(nt.IAFParameters(v_th=torch.tensor(0.5)), dt=DT))
    _grid(model, seed=19, scale=2.0)
    graph = nt.to_nir(model, torch.zeros(1, 2, 6, 6), dt=DT)
    with pytest.raises(TypeError, match="One of data, shape or dtype must be specified"):
        nir.write(tmp_path / "conv.nir", graph, compression=None)
    stim = _stimulus(20, (2, 6, 6))
    trace = _norse_trace(model, stim)
    _active(_assert_same(neurosim.from_nir(graph, dt=DT), trace, stim), trace)


@pytest.mark.parametrize("layer", ["flatten", "avgpool", "recurrent"])
def test_file_route_layers_the_exporter_leaves_out(tmp_path, layer):
    """Norse's exporter writes None for Flatten, AvgPool2d and LIFRecurrentCell: nir.write cannot
    store the graph; neurosim.from_nir refuses it in memory, naming the node (the adapter
    handles all three, tests above)."""
    model = {
        "flatten": nt.SequentialState(torch.nn.Conv2d(1, 2, 3), nt.IAFCell(), torch.nn.Flatten()),
        "avgpool": nt.SequentialState(torch.nn.Conv2d(1, 2, 3), nt.IAFCell(), torch.nn.AvgPool2d(2)),
        "recurrent": nt.SequentialState(torch.nn.Conv2d(1, 2, 3), nt.IAFCell(), nt.LIFRecurrentCell(3, 3)),
    }[layer]
    graph = nt.to_nir(model, torch.zeros(1, 1, 5, 5))
    with pytest.raises(AttributeError, match="'NoneType' object has no attribute 'to_dict'"):
        nir.write(tmp_path / "none.nir", graph)
    with pytest.raises(NetworkError, match=r"node '2' is None: the exporter could not translate this layer") as e:
        neurosim.from_nir(graph, dt=1e-3)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("cell", ["box", "cuba", "li"])
def test_file_route_garbled_tau_is_refused(tmp_path, cell):
    """Norse 1.1.0 writes tau = dt / tau_mem_inv (1e-3 / 512 s here, shorter than dt): refused,
    naming the node and telling to pass the dt the model was trained with (or use the adapter)."""
    neuron = {
        "box": _box(),
        "cuba": nt.LIFCell(nt.LIFParameters(tau_mem_inv=torch.tensor(512.0)), dt=DT),
        "li": nt.LIBoxCell(nt.LIBoxParameters(tau_mem_inv=torch.tensor(512.0)), dt=DT),
    }[cell]
    model = nt.SequentialState(torch.nn.Linear(4, 3, bias=False), neuron)
    with pytest.raises(NetworkError, match=r"node '1' .*shorter than dt") as e:
        _file_route(model, torch.zeros(1, 4), tmp_path)
    assert "\n" not in str(e.value)


# ------------------------------------------------------------------------------ round trip
def _run_imported(back, stim: np.ndarray) -> np.ndarray:
    state, got = None, []
    with torch.no_grad():
        for x in stim:
            y, state = back(torch.from_numpy(x)[None], state)
            got.append(y[0].numpy())
    return np.array(got)


def test_round_trip_if_through_norse_importer_is_spike_exact(tmp_path):
    """neurosim -> save_network -> norse.torch.from_nir (IF r = 1, hard reset to 0): exact."""
    model = nt.SequentialState(torch.nn.Linear(10, 8), nt.IAFCell(dt=DT), torch.nn.Linear(8, 4), nt.IAFCell(dt=DT))
    _grid(model, seed=19, scale=2.0)
    net = from_norse(model, torch.zeros(1, 10))
    save_network(net, tmp_path / "rt.nir")
    back = nt.from_nir(nir.read(tmp_path / "rt.nir"), dt=DT)
    stim = _stimulus(20, (10,))
    got = _run_imported(back, stim)
    spikes, _ = neurosim_spikes(net, _frames(stim))
    np.testing.assert_array_equal(spikes[:, net.span(net.output)], got.astype(bool))
    assert 0 < got.sum() < got.size


def test_round_trip_lif_norse_importer_drops_r(tmp_path, caplog):
    """Importer bug (Norse 1.1.0): ``from_nir`` builds a LIFBoxCell with ``tau_mem_inv = 1/tau``
    but drops ``r`` (it only logs a warning), so the gain ``dt r / tau`` that save_network leaves
    in r (weights written as they are, r = tau/dt) is lost: the imported cell scales its input by
    ``a = dt/tau`` once more. It also drops metadata['reset'] (always reset_value) and takes dt
    from its own argument, not from the graph."""
    from norse.torch.functional.reset import reset_subtract

    model = nt.SequentialState(torch.nn.Linear(10, 8), _box(v_th=torch.tensor(0.5), reset_method=reset_subtract))
    _grid(model, seed=21, scale=2.0)
    net = from_norse(model, torch.zeros(1, 10))
    save_network(net, tmp_path / "rt.nir")
    with caplog.at_level(logging.WARNING):
        back = nt.from_nir(nir.read(tmp_path / "rt.nir"), dt=DT)
    assert "parameter r is expected to be set to 1" in caplog.text
    cells = [m for m in back.modules() if isinstance(m, nt.LIFBoxCell)]
    linear = [m for m in back.modules() if isinstance(m, torch.nn.Linear)]
    assert len(cells) == 1 and len(linear) == 1
    # weights already hold a = 1/2 and the cell applies a again; the reset is value, not subtract
    np.testing.assert_array_equal(linear[0].weight.detach().numpy(), net.projections[0].weights.toarray().T)
    assert float(DT * cells[0].p.tau_mem_inv[0]) == 0.5
    assert cells[0].p.reset_method is not reset_subtract


# -------------------------------------------------------------------------------- refusals
def _refused(model, sample, match, **kw):
    with pytest.raises(NetworkError, match=match) as e:
        from_norse(model, sample, **kw)
    assert "\n" not in str(e.value)


def test_refuses_max_pooling():
    model = nt.SequentialState(torch.nn.Conv2d(1, 2, 3), _box(), torch.nn.MaxPool2d(2))
    _refused(model, torch.zeros(1, 1, 8, 8), r"layer '2' \(MaxPool2d\): max pooling .*use AvgPool2d")


def test_refuses_other_neuron_models():
    model = nt.SequentialState(torch.nn.Linear(4, 3), nt.LSNNCell())
    _refused(model, torch.zeros(1, 4), r"layer '1' \(LSNNCell\): not a layer neurosim can run")


def test_refuses_unknown_spike_method():
    model = nt.SequentialState(torch.nn.Linear(4, 3), _box(method="adjoint"))
    with pytest.raises(Exception):  # noqa: B017 - Norse itself cannot run this cell
        model(torch.zeros(1, 4))
    _refused(model, torch.zeros(1, 4), r"does not run|spike method 'adjoint'")


def test_refuses_a_dt_the_cells_do_not_use():
    model = nt.SequentialState(torch.nn.Linear(4, 3), _box())
    _refused(model, torch.zeros(1, 4), r"dt=0.001 s but the Norse layers integrate with dt=0.000976562 s", dt=1e-3)


def test_refuses_cells_with_different_dt():
    model = nt.SequentialState(torch.nn.Linear(4, 3), _box(), torch.nn.Linear(3, 2), nt.LIBoxCell(dt=1e-3))
    _refused(model, torch.zeros(1, 4), r"different dt")


def test_refuses_unstable_euler_step():
    model = nt.SequentialState(torch.nn.Linear(4, 3), nt.LIFBoxCell(nt.LIFBoxParameters(tau_mem_inv=torch.tensor(2e3))))
    _refused(model, torch.zeros(1, 4), r"layer '1' \(LIFBoxCell\): dt \* tau_mem_inv = 2 is outside \(0, 1\]")


def test_refuses_li_readout_with_leak():
    li = nt.LIBoxCell(nt.LIBoxParameters(tau_mem_inv=torch.tensor(512.0), v_leak=torch.tensor(0.5)), dt=DT)
    _refused(nt.SequentialState(torch.nn.Linear(4, 3), li), torch.zeros(1, 4), r"layer '1' \(LIBoxCell\): v_leak != 0")


def test_refuses_bias_into_a_synaptic_current():
    """Norse adds a Linear's bias to LIFCell's current every step, where it accumulates: refused
    (by neurosim.from_nir, which the adapter calls)."""
    p = nt.LIFParameters(tau_mem_inv=torch.tensor(512.0), tau_syn_inv=torch.tensor(256.0))
    model = nt.SequentialState(torch.nn.Linear(4, 3), nt.LIFCell(p, dt=DT))
    _refused(model, torch.zeros(1, 4), r"node '1' \(CubaLIF\): a bias .* synaptic current")


def test_refuses_subtract_reset_with_leak():
    from norse.torch.functional.reset import reset_subtract

    model = nt.SequentialState(torch.nn.Linear(4, 3), _box(v_leak=torch.tensor(0.5), reset_method=reset_subtract))
    _refused(model, torch.zeros(1, 4), r"layer '1' \(LIFBoxCell\): reset_subtract with v_leak != 0")


def test_refuses_custom_reset_method():
    model = nt.SequentialState(torch.nn.Linear(4, 3), _box(reset_method=lambda z, v, r, th: v))
    _refused(model, torch.zeros(1, 4), r"reset_method '<lambda>' is not Norse's reset_value or reset_subtract")
