"""Lowering of NIR connection nodes: Delay (per-channel delays in whole frames, projections split
by delay), Conv1d (against torch's conv1d), nested NIRGraph nodes (flattened, names prefixed),
Input nodes with leading batch / time dimensions, and the refusal of None and unknown nodes."""

from __future__ import annotations

import dataclasses

import nir
import numpy as np
import pytest

from neurosim import from_nir
from neurosim.describe.network import Network
from neurosim.errors import NetworkError
from neurosim.io.nir_nodes import SUPPORTED_NODES
from neurosim.neuron import NeuronParams
from neurosim.sim.reference import forward_sync

DT = 1e-3


def graph(nodes, edges, dt=DT):
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={} if dt is None else {"dt": dt}, type_check=False)


def if_node(n, thr=0.5):
    return nir.IF(r=np.ones(n), v_threshold=np.full(n, thr), v_reset=np.zeros(n))


def lif_node(n, beta=0.5):
    tau = np.full(n, DT / (1 - beta))
    return nir.LIF(tau=tau, r=tau / DT, v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n))


def by_delay(net, src, tgt):
    return {pr.delay: pr.weights.toarray() for pr in net.projections if (pr.source, pr.target) == (src, tgt)}


def line(g, **kw):
    with pytest.raises(NetworkError) as info:
        from_nir(g, **kw)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


# ------------------------------------------------------------------------------------- Delay
W = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]], float) / 16  # (4 out, 3 in)


def test_delay_after_linear_splits_by_target_channel():
    """Input(3) -> Linear -> Delay([0, 2, 2, 5] frames) -> IF(4): one projection per delay, each
    holding the columns (targets) of its delay."""
    d = np.array([0, 2, 2, 5]) * DT
    g = graph(
        {
            "in": nir.Input(np.array([3])),
            "fc": nir.Linear(W),
            "d": nir.Delay(d),
            "n": if_node(4),
            "out": nir.Output(np.array([4])),
        },
        [("in", "fc"), ("fc", "d"), ("d", "n"), ("n", "out")],
    )
    got = by_delay(from_nir(g), "in", "n")
    full = W.T.astype(np.float32)
    mask = lambda cols: full * np.isin(np.arange(4), cols)[None, :]
    assert sorted(got) == [0, 2, 5]
    np.testing.assert_array_equal(got[0], mask([0]))
    np.testing.assert_array_equal(got[2], mask([1, 2]))
    np.testing.assert_array_equal(got[5], mask([3]))


def test_delay_before_linear_splits_by_source_channel_and_delays_add():
    """Input(3) -> Delay([1, 0, 1]) -> Linear -> Delay(2, every channel) -> IF(4)."""
    g = graph(
        {
            "in": nir.Input(np.array([3])),
            "d1": nir.Delay(np.array([1, 0, 1]) * DT),
            "fc": nir.Linear(W),
            "d2": nir.Delay(np.full(4, 2 * DT)),
            "n": if_node(4),
            "out": nir.Output(np.array([4])),
        },
        [("in", "d1"), ("d1", "fc"), ("fc", "d2"), ("d2", "n"), ("n", "out")],
    )
    got = by_delay(from_nir(g), "in", "n")
    full = W.T.astype(np.float32)
    rows = lambda r: full * np.isin(np.arange(3), r)[:, None]
    assert sorted(got) == [2, 3]
    np.testing.assert_array_equal(got[2], rows([1]))
    np.testing.assert_array_equal(got[3], rows([0, 2]))


def test_delayed_spikes_arrive_frames_later():
    """Behaviour: a spike of input channel c in frame 0 makes target j fire in frame delay[j]."""
    d = np.array([0, 1, 3])
    g = graph(
        {
            "in": nir.Input(np.array([3])),
            "fc": nir.Linear(np.eye(3)),
            "d": nir.Delay(d * DT),
            "n": if_node(3),
            "out": nir.Output(np.array([3])),
        },
        [("in", "fc"), ("fc", "d"), ("d", "n"), ("n", "out")],
    )
    net = from_nir(g)
    stim = np.zeros((5, 3), bool)
    stim[0] = True
    out = forward_sync(net, stim)[:, net.span("n")]
    assert [list(np.flatnonzero(out[:, j])) for j in range(3)] == [[0], [1], [3]]


def test_delay_on_a_recurrent_loop_is_the_loops_delay():
    """LIF -> Linear -> Delay(3) -> LIF: a recurrent projection of delay 3 (at least 1)."""
    g = graph(
        {
            "in": nir.Input(np.array([2])),
            "fc": nir.Linear(np.ones((2, 2))),
            "n": if_node(2),
            "rec": nir.Linear(np.eye(2) / 4),
            "d": nir.Delay(np.full(2, 3 * DT)),
            "out": nir.Output(np.array([2])),
        },
        [("in", "fc"), ("fc", "n"), ("n", "rec"), ("rec", "d"), ("d", "n"), ("n", "out")],
    )
    net = from_nir(g)
    (rec,) = [pr for pr in net.projections if pr.source == "n"]
    assert net.is_recurrent(rec) and rec.delay == 3 and net.delay_of(rec) == 3


@pytest.mark.parametrize(
    "delay,dt,expected",
    [
        (
            np.array([0.0, 2.5e-3]),
            DT,
            "node 'd' (Delay): delay 0.0025 s at flat index 1 is 2.5 frames of dt = 0.001 s, not a whole number: "
            "pass the dt the model was trained with (--dt)",
        ),
        (np.array([-1e-3, 0.0]), DT, "node 'd' (Delay): delay -0.001 s at flat index 0 is negative"),
        (np.array([np.nan, 0.0]), DT, "node 'd' (Delay): parameter delay must be finite, got nan at flat index 0"),
        (
            np.array([1e-3, 0.0]),
            None,
            "node 'd' (Delay): delays in seconds need dt: pass dt= (CLI --dt) or store metadata['dt'] in the NIR graph",
        ),
    ],
)
def test_bad_delays_are_refused(delay, dt, expected):
    g = graph(
        {"in": nir.Input(np.array([2])), "d": nir.Delay(delay), "n": if_node(2), "out": nir.Output(np.array([2]))},
        [("in", "d"), ("d", "n"), ("n", "out")],
        dt=dt,
    )
    assert line(g) == expected


def test_float32_delays_round_to_whole_frames():
    g = graph(
        {
            "in": nir.Input(np.array([2])),
            "d": nir.Delay(np.array([3e-3, 7e-3], np.float32)),
            "n": if_node(2),
            "out": nir.Output(np.array([2])),
        },
        [("in", "d"), ("d", "n"), ("n", "out")],
    )
    assert sorted(by_delay(from_nir(g), "in", "n")) == [3, 7]


def test_bias_through_a_delay_is_refused():
    g = graph(
        {
            "in": nir.Input(np.array([3])),
            "fc": nir.Affine(W, np.full(4, 0.5)),
            "d": nir.Delay(np.full(4, DT)),
            "n": if_node(4),
            "out": nir.Output(np.array([4])),
        },
        [("in", "fc"), ("fc", "d"), ("d", "n"), ("n", "out")],
    )
    assert line(g).startswith("node 'd' (Delay): a bias (Affine/Conv) passes this delay and would be 0")


# ------------------------------------------------------------------------------------ Conv1d
@pytest.mark.parametrize(
    "stride,padding,dilation,groups,bias",
    [(1, 0, 1, 1, False), (2, 1, 1, 1, True), (1, "same", 2, 2, True), (1, "valid", 1, 2, False), (3, 2, 2, 1, True)],
)
def test_conv1d_matches_torch(stride, padding, dilation, groups, bias):
    """Every option of Conv1d, against torch.nn.functional.conv1d on random inputs."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    c_in, c_out, n, k = 4, 6, 11, 3
    w = rng.integers(-4, 5, (c_out, c_in // groups, k)) / 8
    b = rng.integers(-4, 5, c_out) / 8 if bias else np.zeros(c_out)
    conv = nir.Conv1d(n, w, stride, padding, dilation, groups, b)
    n_out = int(conv.output_type["output"][1])
    size = c_out * n_out
    g = graph(
        {
            "in": nir.Input(np.array([c_in, n])),
            "c": conv,
            "n": if_node(size, thr=100.0),
            "out": nir.Output(np.array([size])),
        },
        [("in", "c"), ("c", "n"), ("n", "out")],
    )
    net = from_nir(g)
    assert net.by_name["n"].shape == (c_out, n_out) or net.by_name["n"].size == size
    (pr,) = net.projections
    x = rng.integers(0, 2, (5, c_in, n)).astype(np.float64)
    want = torch.nn.functional.conv1d(
        torch.tensor(x),
        torch.tensor(w),
        torch.tensor(b),
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    ).numpy()
    got = x.reshape(5, -1) @ pr.weights.toarray().astype(np.float64) + net.by_name["n"].neurons.bias
    np.testing.assert_allclose(got, want.reshape(5, -1), atol=1e-12)


def test_conv1d_takes_a_flat_input_with_its_declared_shape():
    w = np.ones((2, 1, 2))
    g = graph(
        {
            "in": nir.Input(np.array([6])),
            "c": nir.Conv1d(6, w, 1, 0, 1, 1, np.zeros(2)),
            "n": if_node(10),
            "out": nir.Output(np.array([10])),
        },
        [("in", "c"), ("c", "n"), ("n", "out")],
    )
    (pr,) = from_nir(g).projections
    assert pr.weights.shape == (6, 10) and pr.n_synapses == 20


def test_conv1d_wrong_input_is_refused():
    g = graph(
        {
            "in": nir.Input(np.array([3, 6])),
            "c": nir.Conv1d(None, np.ones((2, 1, 2)), 1, 0, 1, 1, None),
            "n": if_node(10),
            "out": nir.Output(np.array([10])),
        },
        [("in", "c"), ("c", "n"), ("n", "out")],
    )
    assert line(g) == "node 'c' (Conv1d): input shape (3, 6) has 3 channels, weight expects 1"


# ---------------------------------------------------------------------------- nested graphs
def _spyx_like_rlif():
    """The layout spyx writes for an RLIF layer: a NIRGraph node 'layer_1' whose inner nodes are
    already named 'layer_1.*', the recurrent Linear inside."""
    inner = nir.NIRGraph(
        nodes={
            "layer_1.input": nir.Input(np.array([3])),
            "layer_1.lif": lif_node(3),
            "layer_1.w_rec": nir.Linear(np.eye(3) / 4),
            "layer_1.output": nir.Output(np.array([3])),
        },
        edges=[
            ("layer_1.input", "layer_1.lif"),
            ("layer_1.lif", "layer_1.w_rec"),
            ("layer_1.w_rec", "layer_1.lif"),
            ("layer_1.lif", "layer_1.output"),
        ],
        type_check=False,
    )
    return graph(
        {
            "input": nir.Input(np.array([2])),
            "layer_0": nir.Linear(np.ones((3, 2)) / 2),
            "layer_1": inner,
            "output": nir.Output(np.array([3])),
        },
        [("input", "layer_0"), ("layer_0", "layer_1"), ("layer_1", "output")],
    )


def _flat_rlif():
    return graph(
        {
            "input": nir.Input(np.array([2])),
            "layer_0": nir.Linear(np.ones((3, 2)) / 2),
            "layer_1.lif": lif_node(3),
            "layer_1.w_rec": nir.Linear(np.eye(3) / 4),
            "output": nir.Output(np.array([3])),
        },
        [
            ("input", "layer_0"),
            ("layer_0", "layer_1.lif"),
            ("layer_1.lif", "layer_1.w_rec"),
            ("layer_1.w_rec", "layer_1.lif"),
            ("layer_1.lif", "output"),
        ],
    )


def _same(a: Network, b: Network):
    assert [p.name for p in a.populations] == [p.name for p in b.populations]
    assert [(pr.source, pr.target, pr.delay) for pr in a.projections] == [
        (pr.source, pr.target, pr.delay) for pr in b.projections
    ]
    for pa, pb in zip(a.projections, b.projections):
        np.testing.assert_array_equal(pa.weights.toarray(), pb.weights.toarray())
    for pa, pb in zip(a.populations, b.populations):
        if pa.params is not None:
            for f in NeuronParams.field_names():
                assert getattr(pa.params, f).tobytes() == getattr(pb.params, f).tobytes()


def test_nested_graph_is_flattened_with_prefixed_names(tmp_path):
    """spyx's RLIF layout equals the hand-flattened graph, in memory and through a file."""
    want = from_nir(_flat_rlif())
    got = from_nir(_spyx_like_rlif())
    _same(got, want)
    assert got.output == "layer_1.lif"
    (rec,) = [pr for pr in got.projections if pr.source == "layer_1.lif"]
    assert got.is_recurrent(rec)
    nir.write(tmp_path / "rlif.nir", _spyx_like_rlif())
    _same(from_nir(tmp_path / "rlif.nir"), want)


def test_nested_names_are_prefixed_and_nesting_recurses():
    """snnTorch's RLeaky layout (inner names 'input', 'lif', ...), nested once more."""
    inner = nir.NIRGraph(
        nodes={
            "input": nir.Input(np.array([3])),
            "lif": if_node(3),
            "w_rec": nir.Linear(np.eye(3)),
            "output": nir.Output(np.array([3])),
        },
        edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
        type_check=False,
    )
    outer = nir.NIRGraph(
        nodes={"i": nir.Input(np.array([3])), "rleaky": inner, "o": nir.Output(np.array([3]))},
        edges=[("i", "rleaky"), ("rleaky", "o")],
        type_check=False,
    )
    g = graph(
        {
            "input": nir.Input(np.array([2])),
            "fc": nir.Linear(np.ones((3, 2))),
            "block": outer,
            "output": nir.Output(np.array([3])),
        },
        [("input", "fc"), ("fc", "block"), ("block", "output")],
    )
    net = from_nir(g)
    assert [p.name for p in net.populations] == ["input", "block.rleaky.lif"]
    assert {(pr.source, pr.target) for pr in net.projections} == {
        ("input", "block.rleaky.lif"),
        ("block.rleaky.lif", "block.rleaky.lif"),
    }


@pytest.mark.slow
def test_real_spyx_rlif_export_loads():
    """spyx 1.0.0's own exporter (an RLIF layer becomes a nested NIRGraph) loads, names prefixed
    with the layer. spyx routes the layer's input through ``w_rec`` inside the subgraph
    (``input -> w_rec -> lif``), so by NIR's rules the feed-forward weights are ``W0 then W_rec``:
    neurosim lowers what the graph says (the spyx adapter corrects spyx's layout)."""
    pytest.importorskip("spyx")
    import spyx.nir  # noqa: PLC0415
    import spyx.nn  # noqa: PLC0415
    from flax import nnx  # noqa: PLC0415

    rngs = nnx.Rngs(0)
    model = nnx.Sequential(nnx.Linear(2, 3, use_bias=False, rngs=rngs), spyx.nn.RLIF((3,), beta=0.5, rngs=rngs))
    g = spyx.nir.to_nir(model, {"input": np.array([2])}, {"output": np.array([3])}, dt=1.0)
    assert type(g.nodes["layer_1"]).__name__ == "NIRGraph"
    net = from_nir(g, dt=1.0)
    assert [p.name for p in net.populations] == ["input", "layer_1.lif"] and net.output == "layer_1.lif"
    w0 = np.asarray(g.nodes["layer_0"].weight, np.float64)
    w_rec = np.asarray(g.nodes["layer_1"].nodes["layer_1.w_rec"].weight, np.float64)
    gain = 0.5 * (1 - 0.5)  # spyx writes r = beta: dt r / tau = beta (1 - beta)
    ff, rec = by_delay(net, "input", "layer_1.lif")[0], by_delay(net, "layer_1.lif", "layer_1.lif")[0]
    np.testing.assert_allclose(ff, (w0.T @ w_rec.T * gain).astype(np.float32), rtol=1e-6)
    np.testing.assert_allclose(rec, (w_rec.T * gain).astype(np.float32), rtol=1e-6)


def test_bad_subgraphs_are_refused():
    two_inputs = nir.NIRGraph(
        nodes={
            "a": nir.Input(np.array([2])),
            "b": nir.Input(np.array([2])),
            "n": if_node(2),
            "o": nir.Output(np.array([2])),
        },
        edges=[("a", "n"), ("b", "n"), ("n", "o")],
        type_check=False,
    )
    g = graph(
        {"in": nir.Input(np.array([2])), "sub": two_inputs, "out": nir.Output(np.array([2]))},
        [("in", "sub"), ("sub", "out")],
    )
    assert line(g) == "subgraph 'sub' (NIRGraph) has 2 Input and 1 Output nodes; exactly one of each is supported"


# ---------------------------------------------------------------------- Input batch dimensions
def _conv_graph(in_shape, input_shape=None):
    conv = nir.Conv2d(input_shape, np.ones((2, 1, 3, 3)) / 8, 1, 1, 1, 1, np.zeros(2))
    return graph(
        {"in": nir.Input(np.array(in_shape)), "c": conv, "n": if_node(2 * 8 * 8), "out": nir.Output(np.array([128]))},
        [("in", "c"), ("c", "n"), ("n", "out")],
    )


@pytest.mark.parametrize("in_shape", [(1, 8, 8), (1, 1, 8, 8), (1, 1, 1, 8, 8)])
def test_leading_batch_and_time_dimensions_of_size_one_are_stripped(in_shape):
    """Norse's conv export keeps the batch dimension in the Input node ((1, 1, 28, 28))."""
    net = from_nir(_conv_graph(in_shape))
    assert net.by_name["in"].shape == (1, 8, 8)
    assert net.projections[0].weights.shape == (64, 128)


def test_leading_ones_before_a_linear_are_stripped():
    g = graph(
        {"in": nir.Input(np.array([1, 1, 3])), "fc": nir.Linear(W), "n": if_node(4), "out": nir.Output(np.array([4]))},
        [("in", "fc"), ("fc", "n"), ("n", "out")],
    )
    net = from_nir(g)
    assert net.by_name["in"].shape == (3,)
    np.testing.assert_array_equal(net.projections[0].weights.toarray(), W.T.astype(np.float32))


def test_real_norse_conv_export():
    """Norse 1.1.0's exporter writes Input (1, 1, 8, 8), torch tensors as parameters, and
    ``tau = dt / tau_mem_inv`` (1e-5 s for its default 100 /s at dt 1e-3): refused at the dt the
    model runs with, naming the numbers; at a dt the tau allows it loads, batch dimension stripped."""
    torch = pytest.importorskip("torch")
    norse = pytest.importorskip("norse.torch")
    torch.manual_seed(0)
    g = norse.to_nir(norse.SequentialState(torch.nn.Conv2d(1, 2, 3), norse.LIFBoxCell()), torch.zeros(1, 1, 8, 8))
    assert tuple(g.nodes["input"].input_type["input"]) == (1, 1, 8, 8) and isinstance(g.nodes["1"].tau, torch.Tensor)
    assert line(g, dt=1e-3) == (
        "node '1' (LIF): tau = 1e-05 s is shorter than dt = 0.001 s (decay -99): "
        "pass the dt the model was trained with (--dt)"
    )
    net = from_nir(g, dt=1e-5)
    assert net.by_name["input"].shape == (1, 8, 8) and net.by_name["1"].size == 2 * 6 * 6


def test_other_leading_dimensions_are_refused():
    assert line(_conv_graph((2, 1, 8, 8))) == (
        "node 'in' (Input): shape (2, 1, 8, 8) does not fit 'c' (Conv2d), which takes one sample of shape "
        "(C, H, W): only leading batch/time dimensions of size 1 are accepted (export one sample)"
    )
    assert "which takes one sample of shape (1, 8, 8)" in line(_conv_graph((3, 1, 8, 8), input_shape=(8, 8)))


# ------------------------------------------------------------------------ None / unknown nodes
def test_none_node_is_refused_with_the_exporters_likely_cause():
    g = graph(
        {
            "in": nir.Input(np.array([2])),
            "fc": nir.Linear(np.ones((2, 2))),
            "2": None,
            "n": if_node(2),
            "out": nir.Output(np.array([2])),
        },
        [("in", "fc"), ("fc", "2"), ("2", "n"), ("n", "out")],
    )
    assert line(g) == (
        "node '2' is None: the exporter could not translate this layer to NIR (a module its NIR export "
        "does not know: custom, dropout, activation...); remove or replace the layer before exporting"
    )


def test_unknown_node_types_are_refused():
    @dataclasses.dataclass(eq=False)
    class Custom(nir.NIRNode):
        pass

    g = graph(
        {"in": nir.Input(np.array([2])), "x": Custom(), "n": if_node(2), "out": nir.Output(np.array([2]))},
        [("in", "x"), ("x", "n"), ("n", "out")],
    )
    assert line(g).startswith(
        "node 'x' (Custom) is not supported (not a NIR 1.0.8 node: a newer NIR or the exporter's own)"
    )
    g.nodes["x"] = "relu"
    assert line(g).startswith("node 'x' is a str, not a NIR node")


def test_every_nir_node_class_is_read():
    """All 19 classes of nir 1.0.8 (nir.ir's __all_ir) are known to neurosim."""
    classes = {
        name
        for name in dir(nir.ir)
        if isinstance(getattr(nir.ir, name), type) and issubclass(getattr(nir.ir, name), nir.NIRNode)
    }
    classes -= {"NIRNode"}
    assert len(classes) == 19
    assert classes - set(SUPPORTED_NODES) == {"NIRGraph"}  # flattened before lowering


def test_threshold_population_runs_as_a_heaviside():
    """Threshold: v = input each frame, spikes where it exceeds the threshold."""
    g = graph(
        {
            "in": nir.Input(np.array([2])),
            "fc": nir.Linear(np.array([[0.5, 0.25]])),
            "t": nir.Threshold(np.array([0.5])),
            "out": nir.Output(np.array([1])),
        },
        [("in", "fc"), ("fc", "t"), ("t", "out")],
        dt=None,
    )
    net = from_nir(g)
    stim = np.array([[1, 0], [1, 1], [0, 1], [1, 1]], bool)
    assert list(forward_sync(net, stim)[:, net.span("t")].ravel()) == [False, True, False, True]
