"""NIR files under mutation: NaN and infinity in every parameter of every node kind, values that
overflow float32 once folded, wrong shapes, absurd declared sizes (refused before allocation,
memory bounded), cycles, time constants and delays that make no sense for dt, unknown node types
and metadata values, broken structure (nested graphs too), malformed model metadata, files that
are not NIR; and every NIR node kind in a legal file runs.
Each goes through ``neurosim run MODEL`` and must be refused in one line naming the file and the
node (and parameter) or metadata key."""

from __future__ import annotations

import math

import h5py
import nir
import numpy as np
import pytest
from fuzz_harness import ran, refused

N_IN, N_OUT = 64, 10  # the digits dataset has 64 channels
DT = 1e-3


def _with(node, **attrs):
    """``node`` with attributes set past the constructor's own checks (as a file may hold them)."""
    for k, v in attrs.items():
        setattr(node, k, v)
    return node


def _with_node(graph, name, **attrs):
    _with(graph[0][name], **attrs)
    return graph


def _lif(n, **kw):
    p = {
        "tau": np.full(n, 2 * DT),
        "r": np.full(n, 2.0),
        "v_leak": np.zeros(n),
        "v_threshold": np.ones(n),
        "v_reset": np.zeros(n),
    }
    p.update(kw)
    return nir.LIF(**p)


def _base(**over):
    """Input(64) -> Affine -> LIF(10) -> Output; ``over`` replaces nodes, ``edges`` the edges."""
    rng = np.random.default_rng(0)
    nodes = {
        "in": nir.Input(np.array([N_IN])),
        "fc": nir.Affine(rng.integers(-4, 5, (N_OUT, N_IN)) / 8, np.zeros(N_OUT)),
        "lif": _lif(N_OUT),
        "out": nir.Output(np.array([N_OUT])),
    }
    edges = over.pop("edges", [("in", "fc"), ("fc", "lif"), ("lif", "out")])
    nodes.update(over)
    return nodes, edges


def _affine(**kw):
    p = {"weight": np.ones((N_OUT, N_IN)) / 8, "bias": np.zeros(N_OUT)}
    p.update(kw)
    return nir.Affine(**p)


def _if(**kw):
    p = {"r": np.ones(N_OUT), "v_threshold": np.ones(N_OUT), "v_reset": np.zeros(N_OUT)}
    p.update(kw)
    return nir.IF(**p)


def _conv_graph(**conv):
    """Input(1, 8, 8) -> Conv2d -> IF -> Output; ``conv`` set on the node after construction
    (past NIR's own checks, as a file may hold it)."""
    node = nir.Conv2d(np.array([8, 8]), np.ones((2, 1, 3, 3)) / 8, 1, 0, 1, 1, np.zeros(2))
    nodes = {
        "in": nir.Input(np.array([1, 8, 8])),
        "conv": _with(node, **conv),
        "if": nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1)),
        "out": nir.Output(np.array([2, 6, 6])),
    }
    return nodes, [("in", "conv"), ("conv", "if"), ("if", "out")]


def _pool_graph(in_shape=(1, 8, 8), kernel=(2, 2), stride=None, padding=(0, 0)):
    nodes = {
        "in": nir.Input(np.array(in_shape)),
        "pool": nir.SumPool2d(np.array(kernel), np.array(kernel if stride is None else stride), np.array(padding)),
        "if": nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1)),
        "out": nir.Output(np.array([1])),
    }
    return nodes, [("in", "pool"), ("pool", "if"), ("if", "out")]


def _nan_cases():
    """A non-finite value in every parameter of every node kind: (case, graph, node, parameter)."""
    for bad in (math.nan, math.inf, -math.inf):
        tag = str(bad)
        w = np.ones((N_OUT, N_IN)) / 8
        w[3, 5] = bad
        yield f"affine weight {tag}", _base(fc=_affine(weight=w)), "fc", "weight"
        yield f"affine bias {tag}", _base(fc=_affine(bias=np.full(N_OUT, bad))), "fc", "bias"
        for key in ("tau", "r", "v_leak", "v_threshold", "v_reset"):
            v = np.full(N_OUT, 2 * DT if key == "tau" else 1.0)
            v[-1] = bad
            yield f"lif {key} {tag}", _base(lif=_lif(N_OUT, **{key: v})), "lif", key
        for key in ("r", "v_threshold", "v_reset"):
            yield f"if {key} {tag}", _base(lif=_if(**{key: np.full(N_OUT, bad)})), "lif", key
        scale = np.ones(N_IN)
        scale[0] = bad
        nodes, _ = _base(sc=nir.Scale(scale))
        yield (
            f"scale {tag}",
            (nodes, [("in", "sc"), ("sc", "fc"), ("fc", "lif"), ("lif", "out")]),
            "sc",
            "scale",
        )
        cw = np.ones((2, 1, 3, 3))
        cw[1, 0, 2, 2] = bad
        yield f"conv weight {tag}", _conv_graph(weight=cw), "conv", "weight"
        yield f"conv bias {tag}", _conv_graph(bias=np.array([0.0, bad])), "conv", "bias"
        for kind, make in NEURONS.items():
            for key in PARAMS[kind]:
                node = make()
                v = np.array(getattr(node, key), np.float64)
                v.ravel()[-1] = bad
                yield f"{kind} {key} {tag}", _base(lif=_with(node, **{key: v})), "lif", key
        d = np.zeros(N_OUT)
        d[2] = bad
        yield f"delay {tag}", _delayed(_delay(d)), "d", "delay"
        c1 = np.ones((1, 1, 3))
        c1[0, 0, 1] = bad
        yield f"conv1d weight {tag}", _conv1d_graph(weight=c1), "c1", "weight"


def _full(x):
    return np.full(N_OUT, x, np.float64)


NEURONS = {
    "CubaLIF": lambda: nir.CubaLIF(
        tau_syn=_full(2 * DT),
        tau_mem=_full(4 * DT),
        r=_full(4.0),
        v_leak=_full(0.0),
        v_threshold=_full(1.0),
        v_reset=_full(0.0),
        w_in=_full(2.0),
    ),
    "LI": lambda: nir.LI(tau=_full(2 * DT), r=_full(2.0), v_leak=_full(0.0)),
    "CubaLI": lambda: nir.CubaLI(
        tau_syn=_full(2 * DT), tau_mem=_full(4 * DT), r=_full(4.0), v_leak=_full(0.0), w_in=_full(2.0)
    ),
    "I": lambda: nir.I(r=_full(1.0)),
    "Threshold": lambda: nir.Threshold(_full(0.5)),
}
PARAMS = {
    "CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
    "LI": ("tau", "r", "v_leak"),
    "CubaLI": ("tau_syn", "tau_mem", "r", "v_leak", "w_in"),
    "I": ("r",),
    "Threshold": ("threshold",),
}


def _delay(d):
    return _with(nir.Delay(np.zeros(N_OUT)), delay=d)


def _delayed(delay, fc=None):
    """Input -> Affine -> Delay -> LIF -> Output."""
    nodes, _ = _base(d=delay, **({} if fc is None else {"fc": fc}))
    return nodes, [("in", "fc"), ("fc", "d"), ("d", "lif"), ("lif", "out")]


def _conv1d_graph(**conv):
    """Input(1, 64) -> Conv1d -> IF -> Output; ``conv`` set past NIR's checks."""
    node = nir.Conv1d(64, np.ones((1, 1, 3)) / 8, 1, 0, 1, 1, np.zeros(1))
    nodes = {
        "in": nir.Input(np.array([1, 64])),
        "c1": _with(node, **conv),
        "if": nir.IF(r=np.ones(1), v_threshold=np.ones(1), v_reset=np.zeros(1)),
        "out": nir.Output(np.array([62])),
    }
    return nodes, [("in", "c1"), ("c1", "if"), ("if", "out")]


NAN_CASES = list(_nan_cases())

OVERFLOW_CASES = {
    "gain overflows the weights": (_base(lif=_lif(N_OUT, r=np.full(N_OUT, 1e300))), "lif"),
    "threshold beyond float32": (_base(lif=_lif(N_OUT, v_threshold=np.full(N_OUT, 1e39))), "lif"),
    "v_reset beyond float32": (_base(lif=_lif(N_OUT, v_reset=np.full(N_OUT, -1e39))), "lif"),
    "bias beyond float32": (_base(fc=_affine(bias=np.full(N_OUT, 1e300))), "lif"),
}

SHAPE_CASES = {
    "affine weight vs input": (_base(fc=_affine(weight=np.ones((N_OUT, N_IN + 1)))), "fc"),
    "affine 1-d weight": (_base(fc=_with(nir.Linear(np.ones((N_OUT, N_IN))), weight=np.ones(N_IN))), "fc"),
    "affine 3-d weight": (_base(fc=_with(nir.Linear(np.ones((N_OUT, N_IN))), weight=np.ones((2, N_OUT, N_IN)))), "fc"),
    "affine no outputs": (_base(fc=_with(nir.Linear(np.ones((N_OUT, N_IN))), weight=np.ones((0, N_IN)))), "fc"),
    "lif params vs input": (_base(lif=_lif(N_OUT - 3)), "lif"),
    "lif params do not broadcast": (_base(lif=_with(_lif(N_OUT), r=np.ones(3))), "lif"),
    "input shape 0": (_base(**{"in": nir.Input(np.array([0]))}), "in"),
    "input shape -1": (_base(**{"in": nir.Input(np.array([-1]))}), "in"),
    "input shape 2.5": (_base(**{"in": nir.Input(np.array([2.5]))}), "in"),
    "input shape nan": (_base(**{"in": nir.Input(np.array([math.nan]))}), "in"),
    "input shape empty": (_base(**{"in": nir.Input(np.array([], dtype=np.int64))}), "in"),
    "conv on a vector": (_base(fc=_with(_conv_graph()[0]["conv"], input_shape=np.array([7, 7]))), "fc"),
    "conv stride 0": (_conv_graph(stride=0), "conv"),
    "conv dilation 0": (_conv_graph(dilation=0), "conv"),
    "conv padding -1": (_conv_graph(padding=-1), "conv"),
    "conv padding nan": (_conv_graph(padding=math.nan), "conv"),
    # NIR's reader refuses this one itself, before any node is named: the line names the reason
    "conv padding bogus": (_conv_graph(padding="bogus"), "padding must be"),
    "conv groups 0": (_conv_graph(groups=0), "conv"),
    "conv 2-d weight": (_conv_graph(weight=np.ones((2, 3))), "conv"),
    "pool kernel over input": (_pool_graph(kernel=(9, 9)), "pool"),
    "pool kernel 0": (_pool_graph(kernel=(0, 2)), "pool"),
    "pool stride 0": (_pool_graph(stride=(0, 0)), "pool"),
    "pool on a vector": (_pool_graph(in_shape=(64,)), "pool"),
}

SIZE_CASES = {
    "input 1e9": (_base(**{"in": nir.Input(np.array([10**9]))}), "in"),
    "input 1e10": (_base(**{"in": nir.Input(np.array([10**10]))}), "in"),
    "input 1e5 x 1e5": (_base(**{"in": nir.Input(np.array([10**5, 10**5]))}), "in"),
    "input dims overflow int64": (_base(**{"in": nir.Input(np.array([2**62, 2**62]))}), "in"),
    "pool over 1e10 inputs": (_pool_graph(in_shape=(1, 10**5, 10**5)), "in"),
    "pool kernel 1e5 x 1e5": (_pool_graph(kernel=(10**5, 10**5)), "pool"),
    "pool padding 1e9": (_pool_graph(kernel=(1, 1), padding=(10**9, 10**9)), "pool"),
    "conv padding 1e5": (_conv_graph(padding=10**5), "conv"),
}

CONVENTIONS = {
    "lif tau shorter than dt": (_base(lif=_lif(N_OUT, tau=np.full(N_OUT, DT / 100))), "lif", "shorter than dt"),
    "lif tau 1e-300 (decay -1e297)": (_base(lif=_lif(N_OUT, tau=np.full(N_OUT, 1e-300))), "lif", "shorter than dt"),
    "lif tau 0": (_base(lif=_lif(N_OUT, tau=np.zeros(N_OUT))), "lif", "must be positive"),
    "cubalif tau_syn shorter than dt": (
        _base(lif=_with(NEURONS["CubaLIF"](), tau_syn=_full(DT / 2))),
        "lif",
        "shorter than dt",
    ),
    "li tau negative": (_base(lif=_with(NEURONS["LI"](), tau=_full(-1.0))), "lif", "must be positive"),
    "lif r 0": (_base(lif=_lif(N_OUT, r=np.zeros(N_OUT))), "lif", "input gain"),
    "cubali w_in negative": (_base(lif=_with(NEURONS["CubaLI"](), w_in=_full(-1.0))), "lif", "input gain"),
    "if r negative": (_base(lif=_if(r=np.full(N_OUT, -1.0))), "lif", "input gain"),
    "delay 2.5 frames": (_delayed(_delay(np.full(N_OUT, 2.5 * DT))), "d", "not a whole number"),
    "delay negative": (_delayed(_delay(np.full(N_OUT, -DT))), "d", "negative"),
    "delay 1e9 frames": (_delayed(_delay(np.full(N_OUT, 1e9 * DT))), "d", "limit"),
    "bias through a delay": (
        _delayed(_delay(np.full(N_OUT, DT)), fc=_affine(bias=np.ones(N_OUT))),
        "d",
        "bias",
    ),
    "bias into a synaptic current": (
        _base(lif=NEURONS["CubaLIF"](), fc=_affine(bias=np.ones(N_OUT))),
        "lif",
        "synaptic current",
    ),
    "reset soft": (_base(lif=_lif(N_OUT, metadata={"reset": "soft"})), "lif", "reset"),
    "reset_delay text": (_base(lif=_lif(N_OUT, metadata={"reset_delay": "yes"})), "lif", "reset_delay"),
    "current_lag on a LIF": (_base(lif=_lif(N_OUT, metadata={"current_lag": True})), "lif", "current_lag"),
    "input batch 2 into a conv": (
        (lambda g: (g[0] | {"in": nir.Input(np.array([2, 1, 8, 8]))}, g[1]))(_conv_graph()),
        "in",
        "batch",
    ),
}

LEGAL = {
    **{kind: _base(odd=make()) for kind, make in NEURONS.items()},
    "IF": _base(odd=_if()),
    "Delay": _delayed(_delay(np.arange(N_OUT) * DT)),
    "Conv1d": _conv1d_graph(),
    "input with a batch dimension": (lambda g: (g[0] | {"in": nir.Input(np.array([1, 1, 8, 8]))}, g[1]))(_conv_graph()),
}

STRUCTURE = {
    "linear-only cycle": (
        _base(fc2=_affine(weight=np.ones((N_IN, N_OUT))), edges=[("in", "fc"), ("fc", "fc2"), ("fc2", "fc")])[0],
        [("in", "fc"), ("fc", "fc2"), ("fc2", "fc"), ("fc", "lif"), ("lif", "out")],
        "cycle",
    ),
    "no output": (_base()[0] | {"out": _affine()}, [("in", "fc"), ("fc", "lif"), ("lif", "out")], "Output"),
    "two inputs": (
        _base()[0] | {"in2": nir.Input(np.array([N_IN]))},
        [("in", "fc"), ("in2", "fc"), ("fc", "lif"), ("lif", "out")],
        "Input",
    ),
    "output fed by a linear node": (_base()[0], [("in", "fc"), ("fc", "lif"), ("fc", "out")], "out"),
    "edge to a missing node": (_base()[0], [("in", "fc"), ("fc", "lif"), ("lif", "out"), ("lif", "ghost")], "ghost"),
    "dangling linear node": (_base()[0] | {"fc9": _affine()}, [("in", "fc"), ("fc", "lif"), ("lif", "out")], "fc9"),
}

METADATA = {
    "frames 1e9": ({"neurosim": {"frames": 10**9}}, "frames"),
    "frames float 1e9": ({"neurosim": {"encoding": {"frames": 1e9}}}, "frames"),
    "frames -1": ({"neurosim": {"frames": -1}}, "frames"),
    "frames nan": ({"neurosim": {"frames": math.nan}}, "frames"),
    "frames 2.5": ({"neurosim": {"frames": 2.5}}, "frames"),
    "frames text": ({"neurosim": {"frames": "many"}}, "frames"),
    "dataset number": ({"neurosim": {"dataset": 5}}, "dataset"),
    "dataset unknown": ({"neurosim": {"dataset": "imagenet"}}, "dataset"),
    "encoding seed -1": ({"neurosim": {"encoding": {"seed": -1}}}, "seed"),
    "encoding seed 1.5": ({"neurosim": {"encoding": {"seed": 1.5}}}, "seed"),
    "data seed text": ({"neurosim": {"data_seed": "x"}}, "seed"),
    "dt text": ({"dt": "soon"}, "dt"),
    "dt negative": ({"dt": -1.0}, "dt"),
    "dt nan": ({"dt": math.nan}, "dt"),
}


def _write(tmp_path, nodes, edges, metadata=None):
    path = tmp_path / "inputs" / "model.nir"
    path.parent.mkdir(exist_ok=True)
    meta = {"dt": DT} if metadata is None else metadata
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False))
    return path


def _refused(tmp_path, path, names, kind, **kw):
    out = tmp_path / "report"
    argv = ["run", str(path), "--hw", "small", "--samples", "2", "--out", str(out), "-q"]
    line = refused(kind, argv, path.parent, names, out=out, **kw)
    assert str(path) in line, line
    return line


@pytest.mark.parametrize("case", NAN_CASES, ids=[c[0] for c in NAN_CASES])
def test_non_finite_parameters(tmp_path, case):
    _, (nodes, edges), node, key = case
    line = _refused(tmp_path, _write(tmp_path, nodes, edges), [f"node {node!r}"], "nir non-finite")
    assert key in line and "finite" in line, line


@pytest.mark.parametrize("case", sorted(OVERFLOW_CASES))
def test_values_overflowing_float32(tmp_path, case):
    (nodes, edges), node = OVERFLOW_CASES[case]
    line = _refused(tmp_path, _write(tmp_path, nodes, edges), [f"node {node!r}"], "nir overflow")
    assert "float32" in line or "finite" in line, line


@pytest.mark.parametrize("case", sorted(SHAPE_CASES))
def test_wrong_shapes(tmp_path, case):
    (nodes, edges), node = SHAPE_CASES[case]
    names = [node] if " " in node else [f"node {node!r}"]
    _refused(tmp_path, _write(tmp_path, nodes, edges), names, "nir shape")


@pytest.mark.parametrize("case", sorted(SIZE_CASES))
def test_absurd_sizes_refused_before_allocation(tmp_path, case):
    (nodes, edges), node = SIZE_CASES[case]
    line = _refused(tmp_path, _write(tmp_path, nodes, edges), [f"node {node!r}"], "nir size", max_mib=64)
    assert "limit" in line or "too small" in line, line


def test_declared_dataset_too_big(tmp_path):
    """A dataset of 1e10 values declared in the file (chunked, compressed: a small file) is
    refused from its declared shape before nir.read would load it."""
    path = _write(tmp_path, *_base())
    with h5py.File(path, "a") as f:
        f["node/nodes/fc"].create_dataset(
            "weight_big", shape=(10**10,), dtype="f4", chunks=(1 << 16,), compression="gzip"
        )
    line = _refused(tmp_path, path, ["weight_big"], "nir size", max_mib=64)
    assert "over the limit" in line


@pytest.mark.parametrize("case", sorted(CONVENTIONS))
def test_parameters_that_make_no_sense(tmp_path, case):
    (nodes, edges), node, what = CONVENTIONS[case]
    line = _refused(tmp_path, _write(tmp_path, nodes, edges), [f"node {node!r}"], "nir convention")
    assert what in line, line


def test_unknown_node_type(tmp_path):
    """A node whose type NIR 1.0.8 does not define (a newer NIR, a custom exporter) is refused."""
    path = _write(tmp_path, *_base())
    with h5py.File(path, "a") as f:
        del f["node/nodes/lif/type"]
        f["node/nodes/lif/type"] = "FancyLIF"
    _refused(tmp_path, path, ["node 'lif'"], "nir unsupported")


def test_bad_nested_graph(tmp_path):
    inner = nir.NIRGraph(
        nodes=dict(_base()[0]) | {"in2": nir.Input(np.array([N_IN]))}, edges=_base()[1], type_check=False
    )
    nodes, _ = _base(sub=inner)
    edges = [("in", "fc"), ("fc", "lif"), ("lif", "sub"), ("sub", "out")]
    _refused(tmp_path, _write(tmp_path, nodes, edges), ["subgraph 'sub'"], "nir structure")


def _run(tmp_path, nodes, edges):
    path = _write(tmp_path, nodes, edges)
    out = tmp_path / "report"
    ran("nir legal mutation", ["run", str(path), "--hw", "small", "--samples", "2", "--out", str(out), "-q"], out)


@pytest.mark.slow  # ~15 s a case: a whole `neurosim run`
@pytest.mark.parametrize("case", sorted(LEGAL))
def test_every_node_kind_runs(tmp_path, case):
    nodes, edges = LEGAL[case]
    if "odd" in nodes:
        edges = [("in", "fc"), ("fc", "lif"), ("lif", "odd"), ("odd", "out")]
    _run(tmp_path, nodes, edges)


@pytest.mark.slow
def test_nested_graph_runs(tmp_path):
    """A NIRGraph node (flattened: its inner nodes join as 'sub.NAME') runs."""
    inner = nir.NIRGraph(
        nodes={"i": nir.Input(np.array([N_OUT])), "lif": _lif(N_OUT), "o": nir.Output(np.array([N_OUT]))},
        edges=[("i", "lif"), ("lif", "o")],
        type_check=False,
    )
    nodes, _ = _base(sub=inner)
    _run(tmp_path, nodes, [("in", "fc"), ("fc", "lif"), ("lif", "sub"), ("sub", "out")])


@pytest.mark.parametrize("case", sorted(STRUCTURE))
def test_broken_structure(tmp_path, case):
    nodes, edges, name = STRUCTURE[case]
    _refused(tmp_path, _write(tmp_path, nodes, edges), [name], "nir structure")


@pytest.mark.parametrize("case", sorted(METADATA))
def test_malformed_metadata(tmp_path, case):
    meta, key = METADATA[case]
    line = _refused(tmp_path, _write(tmp_path, *_base(), {"dt": DT} | meta), [key], "nir metadata", max_mib=64)
    assert key in line


def test_recurrent_cycle_through_neurons_runs(tmp_path):
    """A cycle through a neuron node is legal (a recurrent projection): it runs."""
    nodes, _ = _base(rec=nir.Linear(np.eye(N_OUT) / 8))
    path = _write(tmp_path, nodes, [("in", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "out")])
    out = tmp_path / "report"
    ran("nir legal mutation", ["run", str(path), "--hw", "small", "--samples", "2", "--out", str(out), "-q"], out)


NOT_NIR = {
    "random bytes": np.random.default_rng(0).bytes(4096),
    "empty": b"",
    "yaml text": b"format: neurosim-hardware/1\n",
    "hdf5 signature only": b"\x89HDF\r\n\x1a\n" + b"\0" * 100,
}


@pytest.mark.parametrize("case", sorted(NOT_NIR) + ["truncated", "directory", "missing"])
def test_not_nir_files(tmp_path, case):
    path = tmp_path / "inputs" / "model.nir"
    path.parent.mkdir()
    if case in NOT_NIR:
        path.write_bytes(NOT_NIR[case])
    elif case == "truncated":
        good = _write(tmp_path, *_base())
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "directory":
        path.mkdir()
    out = tmp_path / "report"
    argv = ["run", str(path), "--hw", "small", "--samples", "2", "--out", str(out), "-q"]
    refused("nir not a file", argv, tmp_path / "inputs", [str(path)], out=out)
