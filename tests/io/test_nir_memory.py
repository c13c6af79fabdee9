"""``neurosim.from_nir``: graphs in memory whose parameters are torch tensors (with gradients) or
jax arrays load exactly as the same graph with numpy arrays, the caller's graph is left as it
was, and a path loads the file."""

from __future__ import annotations

import nir
import numpy as np
import pytest

import neurosim
from neurosim.errors import NetworkError
from neurosim.neuron import NeuronParams

DT = 1e-3


def conv_graph(array):
    """Input(1, 6, 6) -> Conv2d (with bias) -> LIF -> Flatten -> Affine -> CubaLIF -> Output, every
    parameter made by ``array`` (numpy, torch or jax)."""
    rng = np.random.default_rng(3)
    w = rng.integers(-4, 5, (2, 1, 3, 3)) / 8
    n = 2 * 4 * 4
    full = np.full
    nodes = {
        "in": nir.Input(np.array([1, 6, 6])),
        "conv": nir.Conv2d((6, 6), w, 1, 0, 1, 1, np.array([0.25, -0.5])),
        "hidden": nir.LIF(
            tau=full((2, 4, 4), 0.004),
            r=full((2, 4, 4), 4.0),
            v_leak=full((2, 4, 4), 0.0),
            v_threshold=full((2, 4, 4), 1.0),
            v_reset=full((2, 4, 4), 0.0),
        ),
        "flat": nir.Flatten({"input": np.array([2, 4, 4])}, 0, -1),
        # zero bias (a bias into the CubaLIF's current would be refused), still an array of the framework
        "fc": nir.Affine(rng.integers(-4, 5, (3, n)) / 8, np.zeros(3)),
        "out_n": nir.CubaLIF(
            tau_syn=full(3, 0.002),
            tau_mem=full(3, 0.004),
            r=full(3, 4.0),
            v_leak=full(3, 0.5),
            v_threshold=full(3, 1.0),
            w_in=full(3, 2.0),
            metadata={"current_lag": False},
        ),
        "out": nir.Output(np.array([3])),
    }
    edges = [("in", "conv"), ("conv", "hidden"), ("hidden", "flat"), ("flat", "fc"), ("fc", "out_n"), ("out_n", "out")]
    for node in nodes.values():  # NIR's constructors compute with numpy: swap the arrays in after
        for k, v in vars(node).items():
            if isinstance(v, np.ndarray) and v.dtype.kind == "f":
                setattr(node, k, array(v))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT}, type_check=False)


def assert_same(a, b):
    assert [p.name for p in a.populations] == [p.name for p in b.populations]
    for pa, pb in zip(a.populations, b.populations):
        assert pa.shape == pb.shape
        if pa.params is not None:
            for f in NeuronParams.field_names():
                assert getattr(pa.params, f).tobytes() == getattr(pb.params, f).tobytes(), (pa.name, f)
    assert len(a.projections) == len(b.projections)
    for pa, pb in zip(a.projections, b.projections):
        assert (pa.source, pa.target, pa.delay) == (pb.source, pb.target, pb.delay)
        np.testing.assert_array_equal(pa.weights.toarray(), pb.weights.toarray())


def test_torch_tensors_with_gradients():
    torch = pytest.importorskip("torch")
    want = neurosim.from_nir(conv_graph(np.asarray))
    g = conv_graph(lambda a: torch.tensor(a, dtype=torch.float32, requires_grad=True))
    before = g.nodes["conv"].bias
    got = neurosim.from_nir(g)
    assert_same(got, neurosim.from_nir(conv_graph(lambda a: np.asarray(a, np.float32))))
    assert g.nodes["conv"].bias is before and isinstance(before, torch.Tensor)  # the caller's graph is untouched
    assert np.any(got.by_name["hidden"].neurons.bias != 0)  # the conv bias (the old np.any failure)
    assert [p.name for p in want.populations] == [p.name for p in got.populations]


def test_jax_arrays():
    jnp = pytest.importorskip("jax.numpy")
    got = neurosim.from_nir(conv_graph(lambda a: jnp.asarray(a, dtype=jnp.float32)))
    assert_same(got, neurosim.from_nir(conv_graph(lambda a: np.asarray(a, np.float32))))


def test_path_and_name(tmp_path):
    path = tmp_path / "model.nir"
    nir.write(path, conv_graph(np.asarray))
    net = neurosim.from_nir(path)
    assert net.name == "model" and net.dt == DT
    assert neurosim.from_nir(str(path), name="x", dt=2 * DT).name == "x"
    assert_same(net, neurosim.from_nir(conv_graph(np.asarray)))
    assert neurosim.load_network(path).name == "model"  # the old entry still works


def test_wrong_argument_is_refused():
    with pytest.raises(NetworkError, match=r"^from_nir takes a nir.NIRGraph or the path of a NIR file, got dict$"):
        neurosim.from_nir({"nodes": {}})
