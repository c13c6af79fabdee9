"""NIR import/export (neurosim.io.nir_read): round trips, neuron conversion, conv/pool expansion, shape
tracking, recurrence and the error messages of malformed models."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import scipy.sparse as sp

from neurosim.describe.network import IF, INPUT, LIF, Network, Population, Projection
from neurosim.errors import NetworkError
from neurosim.io.nir_read import load_network, nir_to_network
from neurosim.io.nir_write import network_to_nir, save_network
from neurosim.neuron import NeuronParams

DT = 1e-3


# ------------------------------------------------------------------------------------ helpers
def graph(nodes, edges, **metadata):
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)


def write(tmp_path, g, name="model.nir"):
    path = tmp_path / name
    nir.write(path, g)
    return path


def if_node(shape, thr=1.0, **kw):
    return nir.IF(r=np.ones(shape), v_threshold=np.full(shape, thr), v_reset=np.zeros(shape), **kw)


def lif_node(n, beta=0.9, dt=DT, thr=1.0, r=None, v_leak=0.0, dtype=np.float64, **kw):
    beta = np.broadcast_to(np.asarray(beta, dtype), (n,))
    tau = (dtype(dt) / (dtype(1) - beta)).astype(dtype)
    r = tau / dtype(dt) if r is None else np.full(n, r, dtype)
    return nir.LIF(
        tau=tau,
        r=r.astype(dtype),
        v_leak=np.full(n, v_leak, dtype),
        v_threshold=np.full(n, thr, dtype),
        v_reset=np.zeros(n, dtype),
        **kw,
    )


def grid(rng, shape, sparsity=0.4):
    """Random float32 values on a power-of-two grid (exact sums), some zeros."""
    w = rng.integers(-8, 9, shape).astype(np.float32) / 16
    w[rng.random(shape) < sparsity] = 0
    return w


def dense(net, src, tgt):
    """Dense ``[source, target]`` weights of the projection ``src -> tgt``."""
    (pr,) = [p for p in net.projections if (p.source, p.target) == (src, tgt)]
    return pr.weights.toarray().astype(np.float64)


def conv_ref(x, w, stride, padding, dilation, groups):
    """Loop-based PyTorch conv2d (cross-correlation) of one sample x (C, H, W)."""
    c, h, wd = x.shape
    c_out, cg, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    xp = np.zeros((c, h + 2 * ph, wd + 2 * pw))
    xp[:, ph : ph + h, pw : pw + wd] = x
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (wd + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((c_out, ho, wo))
    per = c_out // groups
    for co in range(c_out):
        for ci in range(cg):
            cin = co // per * cg + ci
            for i in range(kh):
                for j in range(kw):
                    for oy in range(ho):
                        for ox in range(wo):
                            out[co, oy, ox] += w[co, ci, i, j] * xp[cin, oy * sh + i * dh, ox * sw + j * dw]
    return out


def pool_ref(x, k, stride, padding, average):
    c = x.shape[0]
    w = np.ones((c, 1, *k)) / (k[0] * k[1] if average else 1)
    return conv_ref(x, w, stride, padding, (1, 1), c)


# ------------------------------------------------------------------------------- round trip
def _example_network(rng) -> Network:
    def proj(s, t, a, b):
        return Projection(s, t, sp.csr_array(grid(rng, (a, b))))

    decay = rng.random(8).astype(np.float32)
    decay[[0, 3]] = [1.0, 0.0]  # IF-like and memoryless neurons inside a LIF population
    hidden = NeuronParams(
        decay,
        (rng.random(8) + 0.5).astype(np.float32),
        rng.normal(size=8).astype(np.float32),
        grid(rng, (8,), 0.3),
        np.zeros(8, bool),
    )
    out = NeuronParams.uniform(4, decay=1.0, threshold=2.0, v_reset=-0.5, bias=0.25, subtract=True)
    side = NeuronParams.uniform(3, decay=0.75, threshold=1.0, bias=0.5)  # bias only, no input
    pops = [
        Population("in", INPUT, (2, 3, 3)),
        Population("hidden", LIF, (8,), hidden),
        Population("side", LIF, (3,), side),
        Population("output", IF, (4,), out),
    ]
    projs = [
        proj("in", "hidden", 18, 8),
        proj("hidden", "output", 8, 4),
        proj("side", "output", 3, 4),
        proj("output", "hidden", 4, 8),
        proj("hidden", "hidden", 8, 8),
    ]
    return Network(
        "example",
        pops,
        projs,
        "in",
        "output",
        dt=2.5e-4,
        metadata={"dataset": "toy", "classes": [0, 1, 2, 3], "train": {"epochs": 3, "lr": 0.5}},
    )


def test_round_trip_is_exact(tmp_path):
    net = _example_network(np.random.default_rng(1))
    path = tmp_path / "example.nir"
    save_network(net, path)
    back = load_network(path)

    assert back.name == "example" and back.input == "in" and back.output == "output"
    assert back.dt == net.dt
    assert back.metadata == {**net.metadata, "dt": net.dt}
    assert [p.name for p in back.populations] == [p.name for p in net.populations]
    assert back.by_name["in"].shape == (2, 3, 3)
    for p in net.populations:
        q = back.by_name[p.name]
        assert q.kind == p.kind and q.size == p.size
        if p.params is not None:
            for field in ("decay", "threshold", "v_reset", "bias", "subtract"):
                a, b = getattr(p.params, field), getattr(q.params, field)
                assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), (p.name, field)
    assert len(back.projections) == len(net.projections) + 1  # + the empty one carrying side's bias
    for pr in net.projections:
        (qr,) = [q for q in back.projections if (q.source, q.target) == (pr.source, pr.target)]
        assert qr.weights.dtype == np.float32
        assert np.array_equal(qr.weights.toarray(), pr.weights.toarray())
        assert back.is_recurrent(qr) == net.is_recurrent(pr)
    (extra,) = [q for q in back.projections if q.target == "side"]
    assert extra.source == "in" and extra.n_synapses == 0

    # a second round trip changes nothing, and NIR's own type checker accepts the file
    save_network(back, tmp_path / "again.nir")
    again = load_network(tmp_path / "again.nir", name="x")
    assert again.name == "x" and again.metadata == back.metadata
    nir.read(path)  # type_check=True


def test_exported_graph_layout():
    net = _example_network(np.random.default_rng(2))
    g = network_to_nir(net)
    kinds = {n: type(node).__name__ for n, node in g.nodes.items()}
    assert kinds["in"] == "Input" and kinds["hidden"] == "LIF" and kinds["output"] == "IF"
    assert sum(k == "Affine" for k in kinds.values()) == 6
    assert sum(k == "Output" for k in kinds.values()) == 1
    assert g.metadata["dt"] == net.dt
    assert g.nodes["output"].metadata == {"reset": "subtract"} and g.nodes["hidden"].metadata == {"reset": "hard"}
    assert np.all(g.nodes["output"].r == 1)
    lif = g.nodes["hidden"]
    assert np.all(lif.v_leak == 0) and np.allclose(lif.r, lif.tau / net.dt)
    rec = [n for n, node in g.nodes.items() if kinds[n] == "Affine" and node.metadata.get("recurrent")]
    assert len(rec) == 2
    into_output = [a for a, b in g.edges if b == "output"]
    assert sorted(into_output) == ["hidden_to_output", "side_to_output"]
    # the population's bias sits on exactly one of its incoming Affines
    assert sum(bool(np.any(g.nodes[a].bias)) for a in into_output) == 1


def test_round_trip_keeps_recurrence_without_a_cycle(tmp_path):
    """A backward projection in an acyclic network stays recurrent (explicit 'recurrent' mark)."""
    rng = np.random.default_rng(3)
    p = NeuronParams.uniform(3, decay=0.5)
    pops = [Population("in", INPUT, (2,)), Population("b", IF, (3,), p), Population("a", LIF, (3,), p)]
    projs = [
        Projection("in", "b", sp.csr_array(grid(rng, (2, 3), 0))),
        Projection("in", "a", sp.csr_array(grid(rng, (2, 3), 0))),
        Projection("a", "b", sp.csr_array(grid(rng, (3, 3), 0))),
    ]
    net = Network("n", pops, projs, "in", "a")
    assert net.is_recurrent(projs[2])
    save_network(net, tmp_path / "n.nir")
    back = load_network(tmp_path / "n.nir")
    (ab,) = [q for q in back.projections if q.source == "a"]
    assert back.is_recurrent(ab)
    assert [q.name for q in back.populations] == ["in", "b", "a"]


# ------------------------------------------------------------------------- neuron conversion
def _snntorch_graph(rng, beta1, beta2, dtype=np.float64, **meta):
    w1, b1 = grid(rng, (5, 6)), grid(rng, (5,), 0)
    w2, b2 = grid(rng, (3, 5)), grid(rng, (3,), 0)
    nodes = {
        "input": nir.Input(np.array([6])),
        "fc1": nir.Affine(w1, b1),
        "lif1": lif_node(5, beta1, dtype=dtype),
        "fc2": nir.Affine(w2, b2),
        "lif2": lif_node(3, beta2, dtype=dtype),
        "output": nir.Output(np.array([3])),
    }
    edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    return graph(nodes, edges, **meta), (w1, b1, w2, b2)


def test_snntorch_style_lif_loads_with_decay_beta_and_unit_gain(tmp_path):
    rng = np.random.default_rng(4)
    beta1 = rng.uniform(0.05, 0.99, 5).astype(np.float32)
    g, (w1, b1, w2, b2) = _snntorch_graph(rng, beta1, np.float32(0.8))
    net = load_network(write(tmp_path, g, "snn.nir"), dt=DT)
    assert net.name == "snn"
    assert [p.name for p in net.populations] == ["input", "lif1", "lif2"]
    assert net.output == "lif2" and net.input == "input"
    lif1, lif2 = net.by_name["lif1"].params, net.by_name["lif2"].params
    assert np.array_equal(lif1.decay, beta1) and np.all(lif2.decay == np.float32(0.8))
    assert np.array_equal(dense(net, "input", "lif1"), w1.T) and np.array_equal(dense(net, "lif1", "lif2"), w2.T)
    assert np.array_equal(lif1.bias, b1) and np.array_equal(lif2.bias, b2)
    assert np.all(lif1.threshold == 1) and np.all(lif1.v_reset == 0) and not lif1.subtract.any()
    assert not any(net.is_recurrent(p) for p in net.projections)


def test_float32_exported_lif_is_within_rounding(tmp_path):
    """snnTorch writes tau and r in float32: the gain still snaps to 1; decay is beta to ~1e-7."""
    rng = np.random.default_rng(5)
    beta = np.linspace(0.05, 0.99, 5).astype(np.float32)
    g, (w1, *_rest) = _snntorch_graph(rng, beta, 0.5, dtype=np.float32)
    net = load_network(write(tmp_path, g), dt=DT)
    assert np.array_equal(dense(net, "input", "lif1"), w1.T)
    assert np.allclose(net.by_name["lif1"].params.decay, beta, rtol=0, atol=1e-6)


def test_dt_from_metadata_and_argument(tmp_path):
    rng = np.random.default_rng(6)
    g, _ = _snntorch_graph(rng, 0.5, 0.5, dt=DT)
    path = write(tmp_path, g)
    assert load_network(path).dt == DT
    assert np.all(load_network(path).by_name["lif1"].params.decay == np.float32(0.5))
    other = load_network(path, dt=2 * DT)  # the argument wins: tau = 2 dt, so decay 0 and gain 2
    assert other.dt == 2 * DT
    assert np.all(other.by_name["lif1"].params.decay == 0)
    assert np.array_equal(dense(other, "input", "lif1"), 2 * dense(load_network(path), "input", "lif1"))


def test_gain_and_bias_folding(tmp_path):
    """LIF gain g = dt r / tau multiplies the incoming weights and the bias; an Affine's bias is
    carried through the later linear nodes; IF gain is r; subtract reset from metadata."""
    rng = np.random.default_rng(7)
    w1, b1 = grid(rng, (5, 4)), grid(rng, (5,), 0)
    w2, b2 = grid(rng, (3, 5)), grid(rng, (3,), 0)
    scale = np.array([1.0, -2.0, 0.5])
    tau = 4 * DT  # decay 0.75; r = 2 gives gain 0.5
    nodes = {
        "in": nir.Input(np.array([4])),
        "a1": nir.Affine(w1, b1),
        "a2": nir.Affine(w2, b2),
        "s": nir.Scale(scale),
        "lif": nir.LIF(
            tau=np.full(3, tau),
            r=np.full(3, 2.0),
            v_leak=np.zeros(3),
            v_threshold=np.full(3, 1.5),
            v_reset=np.full(3, 0.25),
            metadata={"reset": "subtract"},
        ),
        "lin": nir.Linear(grid(rng, (2, 3), 0)),
        "if": nir.IF(r=np.full(2, 3.0), v_threshold=np.ones(2), v_reset=np.zeros(2)),
        "out": nir.Output(np.array([2])),
    }
    edges = [("in", "a1"), ("a1", "a2"), ("a2", "s"), ("s", "lif"), ("lif", "lin"), ("lin", "if"), ("if", "out")]
    net = load_network(write(tmp_path, graph(nodes, edges, dt=DT)))
    lif = net.by_name["lif"].params
    assert np.all(lif.decay == np.float32(0.75))
    assert np.array_equal(dense(net, "in", "lif"), 0.5 * (w1.T @ w2.T) * scale)
    assert np.allclose(lif.bias, 0.5 * scale * (w2 @ b1 + b2), rtol=1e-6)
    assert np.all(lif.threshold == 1.5) and np.all(lif.v_reset == 0.25) and lif.subtract.all()
    ifp = net.by_name["if"].params
    assert np.all(ifp.decay == 1) and np.all(ifp.bias == 0) and not ifp.subtract.any()
    assert np.array_equal(dense(net, "lif", "if"), 3 * nodes["lin"].weight.T)


def test_parallel_paths_sum(tmp_path):
    rng = np.random.default_rng(8)
    w1, w2, w3 = grid(rng, (3, 4)), grid(rng, (3, 4)), grid(rng, (3, 3))
    nodes = {
        "in": nir.Input(np.array([4])),
        "a": nir.Linear(w1),
        "b": nir.Affine(w2, np.ones(3)),
        "c": nir.Linear(w3),
        "n": if_node(3),
        "out": nir.Output(np.array([3])),
    }
    edges = [("in", "a"), ("in", "b"), ("a", "n"), ("b", "c"), ("a", "c"), ("c", "n"), ("n", "out")]
    net = load_network(write(tmp_path, graph(nodes, edges)))
    assert np.allclose(dense(net, "in", "n"), w1.T + (w1.T + w2.T) @ w3.T)
    assert np.allclose(net.by_name["n"].params.bias, w3 @ np.ones(3))
    assert len(net.projections) == 1


# ------------------------------------------------------------------------- conv and pooling
@pytest.mark.parametrize(
    "stride,padding,dilation,groups",
    [
        ((1, 1), (0, 0), (1, 1), 1),
        ((2, 2), (1, 1), (1, 1), 2),
        ((2, 1), (1, 2), (1, 2), 2),
        ((1, 2), (2, 0), (2, 1), 1),
    ],
)
def test_conv2d_expansion_matches_loop(stride, padding, dilation, groups):
    rng = np.random.default_rng(9)
    c_in, c_out, h, w = 4, 6, 7, 8
    weight = grid(rng, (c_out, c_in // groups, 3, 2), 0.2)
    bias = grid(rng, (c_out,), 0)
    ref_shape = conv_ref(np.zeros((c_in, h, w)), weight, stride, padding, dilation, groups).shape
    nodes = {
        "in": nir.Input(np.array([c_in, h, w])),
        "conv": nir.Conv2d(None, weight, stride, padding, dilation, groups, bias),  # shape from upstream
        "n": if_node(ref_shape),
        "out": nir.Output(np.array(ref_shape)),
    }
    net = nir_to_network(graph(nodes, [("in", "conv"), ("conv", "n"), ("n", "out")]))
    assert net.by_name["n"].shape == ref_shape
    mat = dense(net, "in", "n")
    for _ in range(3):
        x = rng.normal(size=(c_in, h, w))
        assert np.allclose(x.ravel() @ mat, conv_ref(x, weight, stride, padding, dilation, groups).ravel())
    assert np.allclose(net.by_name["n"].params.bias, np.repeat(bias, ref_shape[1] * ref_shape[2]))


def test_conv2d_string_padding_and_file(tmp_path):
    rng = np.random.default_rng(10)
    weight = grid(rng, (2, 3, 3, 3), 0.2)
    x = rng.normal(size=(3, 5, 6))
    for padding, pad in (("same", (1, 1)), ("valid", (0, 0))):
        ref = conv_ref(x, weight, (1, 1), pad, (1, 1), 1)
        nodes = {
            "in": nir.Input(np.array(x.shape)),
            "conv": nir.Conv2d((5, 6), weight, 1, padding, 1, 1, np.zeros(2)),
            "n": if_node(ref.shape),
            "out": nir.Output(np.array(ref.shape)),
        }
        net = load_network(
            write(tmp_path, graph(nodes, [("in", "conv"), ("conv", "n"), ("n", "out")]), f"{padding}.nir")
        )
        assert np.allclose(x.ravel() @ dense(net, "in", "n"), ref.ravel())


@pytest.mark.parametrize("kind", ["SumPool2d", "AvgPool2d"])
@pytest.mark.parametrize("k,stride,padding", [((2, 2), (2, 2), (0, 0)), ((3, 2), (2, 1), (1, 1))])
def test_pool_expansion_matches_loop(tmp_path, kind, k, stride, padding):
    rng = np.random.default_rng(11)
    x = rng.normal(size=(3, 6, 7))
    ref = pool_ref(x, k, stride, padding, average=kind == "AvgPool2d")
    pool = getattr(nir, kind)(kernel_size=np.array(k), stride=np.array(stride), padding=np.array(padding))
    nodes = {
        "in": nir.Input(np.array(x.shape)),
        "pool": pool,
        "n": if_node(ref.shape),
        "out": nir.Output(np.array(ref.shape)),
    }
    net = load_network(write(tmp_path, graph(nodes, [("in", "pool"), ("pool", "n"), ("n", "out")])))
    assert np.allclose(x.ravel() @ dense(net, "in", "n"), ref.ravel())


def test_flatten_conv_pool_affine_chain_composes():
    """Input -> Conv2d -> SumPool2d -> Flatten(torch start_dim=1) -> Affine -> LIF: one matrix."""
    rng = np.random.default_rng(12)
    wc, bc = grid(rng, (2, 1, 3, 3), 0.2), np.array([0.5, -0.25])
    nodes = {
        "in": nir.Input(np.array([1, 8, 8])),
        "conv": nir.Conv2d((8, 8), wc, 1, 1, 1, 1, bc),  # -> (2, 8, 8)
        "pool": nir.SumPool2d(np.array([3, 3]), np.array([3, 3]), np.array([0, 0])),  # -> (2, 2, 2)
        "flat": nir.Flatten(input_type={"input": np.array([2, 2, 2])}, start_dim=1, end_dim=-1),
        "fc": nir.Affine(grid(rng, (4, 8)), np.zeros(4)),
        "lif": lif_node(4, 0.5),
        "out": nir.Output(np.array([4])),
    }
    edges = [("in", "conv"), ("conv", "pool"), ("pool", "flat"), ("flat", "fc"), ("fc", "lif"), ("lif", "out")]
    net = nir_to_network(graph(nodes, edges, dt=DT))
    x = rng.normal(size=(1, 8, 8))
    pooled = pool_ref(conv_ref(x, wc, (1, 1), (1, 1), (1, 1), 1) + bc[:, None, None], (3, 3), (3, 3), (0, 0), False)
    expect = nodes["fc"].weight @ pooled.ravel()
    got = x.ravel() @ dense(net, "in", "lif") + net.by_name["lif"].params.bias
    assert np.allclose(got, expect, rtol=1e-6)
    assert len(net.projections) == 1


@pytest.mark.parametrize("start_dim,end_dim,shape", [(1, -1, (24,)), (0, -1, (24,)), (0, 1, (6, 4)), (2, 3, (2, 12))])
def test_flatten_shapes(start_dim, end_dim, shape):
    """start_dim 0 / negative: NIR dims (no batch); positive: torch dims (counting the batch)."""
    nodes = {
        "in": nir.Input(np.array([2, 3, 4])),
        "flat": nir.Flatten(input_type={"input": np.array([2, 3, 4])}, start_dim=start_dim, end_dim=end_dim),
        "n": if_node(shape),
        "out": nir.Output(np.array(shape)),
    }
    net = nir_to_network(graph(nodes, [("in", "flat"), ("flat", "n"), ("n", "out")]))
    assert net.by_name["n"].shape == shape
    assert np.array_equal(dense(net, "in", "n"), np.eye(24))


def test_flatten_with_batch_in_declared_type():
    nodes = {
        "in": nir.Input(np.array([2, 3])),
        "flat": nir.Flatten(input_type={"input": np.array([1, 2, 3])}, start_dim=1, end_dim=-1),
        "fc": nir.Linear(np.ones((1, 6))),
        "n": if_node(1),
        "out": nir.Output(np.array([1])),
    }
    net = nir_to_network(graph(nodes, [("in", "flat"), ("flat", "fc"), ("fc", "n"), ("n", "out")]))
    assert np.array_equal(dense(net, "in", "n"), np.ones((6, 1)))


# ---------------------------------------------------------------------------------- recurrence
def test_recurrent_edges_are_detected(tmp_path):
    rng = np.random.default_rng(13)
    nodes = {
        "in": nir.Input(np.array([3])),
        "fa": nir.Linear(grid(rng, (4, 3), 0)),
        "a": if_node(4),
        "fb": nir.Linear(grid(rng, (2, 4), 0)),
        "b": if_node(2),
        "back": nir.Linear(grid(rng, (4, 2), 0)),
        "self": nir.Linear(grid(rng, (4, 4), 0)),
        "out": nir.Output(np.array([2])),
    }
    edges = [
        ("in", "fa"),
        ("fa", "a"),
        ("a", "fb"),
        ("fb", "b"),
        ("b", "back"),
        ("back", "a"),
        ("a", "self"),
        ("self", "a"),
        ("b", "out"),
    ]
    net = load_network(write(tmp_path, graph(nodes, edges)))
    assert [p.name for p in net.populations] == ["in", "a", "b"]
    rec = {(p.source, p.target): net.is_recurrent(p) for p in net.projections}
    assert rec == {("in", "a"): False, ("a", "b"): False, ("b", "a"): True, ("a", "a"): True}
    assert np.array_equal(dense(net, "b", "a"), nodes["back"].weight.T)
    assert (
        net.recurrent_weights.nnz == dense(net, "b", "a").astype(bool).sum() + dense(net, "a", "a").astype(bool).sum()
    )


# --------------------------------------------------------------------------- malformed models
def _base_nodes():
    return {
        "in": nir.Input(np.array([3])),
        "fc": nir.Affine(np.ones((4, 3)), np.zeros(4)),
        "lif": lif_node(4),
        "out": nir.Output(np.array([4])),
    }


_BASE_EDGES = [("in", "fc"), ("fc", "lif"), ("lif", "out")]


def _malformed(case):
    nodes, edges, meta = _base_nodes(), list(_BASE_EDGES), {"dt": DT}
    if case == "cubalif":
        nodes["lif"] = nir.CubaLIF(
            tau_syn=np.full(4, 1e-5), tau_mem=np.ones(4), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.ones(4)
        )
    elif case == "no_output":
        del nodes["out"]
        edges.remove(("lif", "out"))
    elif case == "no_input":
        del nodes["in"]
        edges.remove(("in", "fc"))
    elif case == "shape":
        nodes["fc"] = nir.Affine(np.ones((5, 3)), np.zeros(5))
    elif case == "short_tau":
        nodes["lif"] = nir.LIF(
            tau=np.full(4, 1e-5), r=np.ones(4), v_leak=np.zeros(4), v_threshold=np.ones(4), v_reset=np.zeros(4)
        )
    elif case == "reset":
        nodes["lif"] = lif_node(4, metadata={"reset": "soft"})
    elif case == "no_dt":
        meta = {}
    elif case == "missing_node":
        edges.append(("lif", "ghost"))
    elif case == "linear_cycle":
        nodes["loop"] = nir.Linear(np.eye(4))
        edges += [("fc", "loop"), ("loop", "fc2"), ("fc2", "loop")]
        nodes["fc2"] = nir.Linear(np.eye(4))
    elif case == "output_from_affine":
        nodes["fc3"] = nir.Affine(np.ones((4, 4)), np.zeros(4))
        edges[-1:] = [("lif", "fc3"), ("fc3", "out")]
    elif case == "delay":
        nodes["d"] = nir.Delay(np.full(4, 2.5 * DT))
        edges[1:2] = [("fc", "d"), ("d", "lif")]
    elif case == "nested":
        nodes["sub"] = graph({"i": nir.Input(np.array([4])), "o": nir.Output(np.array([4]))}, [("i", "o")])
        edges.append(("lif", "sub"))
    return graph(nodes, edges, **meta)


@pytest.mark.parametrize(
    "case,pattern",
    [
        (
            "cubalif",
            r"node 'lif' \(CubaLIF\): tau_syn = 1e-05 s is shorter than dt = 0.001 s \(decay -99\): "
            r"pass the dt the model was trained with \(--dt\)$",
        ),
        (
            "short_tau",
            r"node 'lif' \(LIF\): tau = 1e-05 s is shorter than dt = 0.001 s \(decay -99\): "
            r"pass the dt the model was trained with \(--dt\)$",
        ),
        ("reset", r"node 'lif' \(LIF\): metadata\['reset'\] = 'soft' is not one of 'hard', 'subtract', 'none'$"),
        ("no_output", r"no Output node"),
        ("no_input", r"no Input node"),
        (
            "shape",
            r"node 'lif' \(LIF\): input shape \(5,\) from 'fc' \(Affine\) does not match the neuron shape \(4,\)",
        ),
        ("no_dt", r"dt unknown: pass dt= \(CLI --dt\) or store metadata\['dt'\] in the NIR graph"),
        ("missing_node", r"edge \('lif', 'ghost'\) names node 'ghost', which does not exist"),
        ("linear_cycle", r"cycle through linear nodes only \((loop -> fc2 -> loop|fc2 -> loop -> fc2)\)"),
        (
            "output_from_affine",
            r"node 'out' \(Output\) must be fed by exactly one neuron population .*'fc3' \(Affine\)",
        ),
        (
            "delay",
            r"node 'd' \(Delay\): delay 0.0025 s at flat index 0 is 2.5 frames of dt = 0.001 s, not a whole "
            r"number: pass the dt the model was trained with \(--dt\)$",
        ),
        ("nested", r"subgraph 'sub' \(NIRGraph\) wires its Input 'i' straight to its Output 'o'$"),
    ],
)
def test_malformed_models_raise_one_line_errors(tmp_path, case, pattern):
    path = write(tmp_path, _malformed(case), f"{case}.nir")
    with pytest.raises(NetworkError, match=pattern) as info:
        load_network(path)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith(str(path))


def test_conv_shape_mismatch_names_node():
    nodes = {
        "in": nir.Input(np.array([2, 5, 5])),
        "conv": nir.Conv2d((5, 5), np.ones((1, 3, 3, 3)), 1, 0, 1, 1, np.zeros(1)),
        "n": if_node((1, 3, 3)),
        "out": nir.Output(np.array([1, 3, 3])),
    }
    with pytest.raises(NetworkError, match=r"node 'conv' \(Conv2d\): input shape \(2, 5, 5\)"):
        nir_to_network(graph(nodes, [("in", "conv"), ("conv", "n"), ("n", "out")]))


def test_missing_file(tmp_path):
    path = tmp_path / "nope.nir"
    with pytest.raises(NetworkError, match=r"nope.nir: cannot read NIR file: no such file"):
        load_network(path)


def test_text_file_is_not_nir(tmp_path):
    path = tmp_path / "model.nir"
    path.write_text("this is not HDF5\n")
    with pytest.raises(NetworkError, match=r"model.nir: cannot read NIR file: .*signature") as info:
        load_network(path)
    assert "\n" not in str(info.value)


def test_hdf5_without_nir_graph(tmp_path):
    import h5py

    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.arange(3))
    with pytest.raises(NetworkError, match=r"other.h5: cannot read NIR file: "):
        load_network(path)


def test_save_rejects_mixed_reset_and_bad_metadata(tmp_path):
    p = NeuronParams(
        np.full(2, 0.5, np.float32),
        np.ones(2, np.float32),
        np.zeros(2, np.float32),
        np.zeros(2, np.float32),
        np.array([True, False]),
    )
    net = Network(
        "m",
        [Population("in", INPUT, (1,)), Population("n", LIF, (2,), p)],
        [Projection("in", "n", sp.csr_array(np.ones((1, 2))))],
        "in",
        "n",
    )
    with pytest.raises(NetworkError, match="mixes hard and subtractive reset"):
        save_network(net, tmp_path / "m.nir")
    q = NeuronParams.uniform(2, decay=0.5)
    net = Network(
        "m",
        [Population("in", INPUT, (1,)), Population("n", LIF, (2,), q)],
        [Projection("in", "n", sp.csr_array(np.ones((1, 2))))],
        "in",
        "n",
        metadata={"x": None},
    )
    with pytest.raises(NetworkError, match=r"metadata.x: NoneType value None cannot be stored"):
        save_network(net, tmp_path / "m.nir")


# ------------------------------------------------------------------------- non-finite and limits
def _chain(n_in=4, n_out=3, weight=None, lif=None, inp=None):
    return graph(
        {
            "in": inp or nir.Input(np.array([n_in])),
            "fc": nir.Linear(np.ones((n_out, n_in)) if weight is None else weight),
            "lif": lif or lif_node(n_out),
            "out": nir.Output(np.array([n_out])),
        },
        [("in", "fc"), ("fc", "lif"), ("lif", "out")],
        dt=DT,
    )


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_weight_is_refused_naming_node_and_parameter(bad):
    w = np.ones((3, 4))
    w[1, 2] = bad
    with pytest.raises(NetworkError) as info:
        nir_to_network(_chain(weight=w))
    assert str(info.value) == f"node 'fc' (Linear): parameter weight must be finite, got {bad} at flat index 6"


@pytest.mark.parametrize("key", ["tau", "r", "v_threshold", "v_reset", "v_leak"])
def test_non_finite_neuron_parameter_is_refused(key):
    node = lif_node(3)
    values = np.array(getattr(node, key), dtype=np.float64)
    values[0] = np.nan
    setattr(node, key, values)
    with pytest.raises(NetworkError, match=f"node 'lif' \\(LIF\\): parameter {key} must be finite"):
        nir_to_network(_chain(lif=node))


def test_values_beyond_float32_are_refused():
    with pytest.raises(NetworkError, match="v_threshold is out of the float32 range"):
        nir_to_network(_chain(lif=lif_node(3, thr=1e39)))
    with pytest.raises(NetworkError, match="overflow float32"):
        nir_to_network(_chain(lif=lif_node(3, r=1e300)))


def test_sizes_are_checked_before_allocation():
    from neurosim.io.nir_nodes import MAX_NEURONS

    with pytest.raises(NetworkError, match=f"over the limit of {MAX_NEURONS}"):
        nir_to_network(_chain(inp=nir.Input(np.array([10**10]))))
    with pytest.raises(NetworkError, match="is not a list of positive integers"):
        nir_to_network(_chain(inp=nir.Input(np.array([0]))))
    pool = graph(
        {
            "in": nir.Input(np.array([1, 8, 8])),
            "pool": nir.SumPool2d(np.array([1, 1]), np.array([1, 1]), np.array([10**6, 10**6])),
            "if": if_node((1,)),
            "out": nir.Output(np.array([1])),
        },
        [("in", "pool"), ("pool", "if"), ("if", "out")],
    )
    with pytest.raises(NetworkError, match="node 'pool' \\(SumPool2d\\): .* outputs, over the limit"):
        nir_to_network(pool)


def test_declared_dataset_sizes_are_checked_before_reading(tmp_path):
    import h5py

    path = write(tmp_path, _chain())
    with h5py.File(path, "a") as f:
        f["node/nodes/fc"].create_dataset("huge", shape=(10**10,), dtype="f4", chunks=(1 << 16,), compression="gzip")
    with pytest.raises(NetworkError, match="declares 10000000.* values .*over the limit"):
        load_network(path)


def test_a_synapse_unit_is_refused_not_dropped(tmp_path):
    """NIR has no field for a projection's synapse unit: writing one is refused in one line, and
    nothing is written (a file without it would cost its synapses at another figure)."""
    pops = (Population("in", INPUT, (2,)), Population("out", LIF, (2,), NeuronParams.uniform(2)))
    w = sp.csr_array(np.eye(2, dtype=np.float32))
    net = Network("u", pops, (Projection("in", "out", w, synapse_unit="dense"),), "in", "out", dt=1e-3)
    with pytest.raises(NetworkError, match="synapse_unit 'dense'") as e:
        save_network(net, tmp_path / "u.nir")
    assert "\n" not in str(e.value) and not (tmp_path / "u.nir").exists()
    plain = Network("u", pops, (Projection("in", "out", w),), "in", "out", dt=1e-3)
    save_network(plain, tmp_path / "u.nir")
    assert (tmp_path / "u.nir").exists()
