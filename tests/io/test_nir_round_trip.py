"""``load(save(net))`` reproduces every neuron parameter and switch bit for bit, for every kind of
neuron NIR can hold (LIF with each reset mode, reset delay and fire-at-equality; IF; CubaLIF with
and without the current lag; LI, CubaLI and I readouts), and every projection with its delay."""

from __future__ import annotations

import nir
import numpy as np
import pytest
import scipy.sparse as sp

from neurosim import from_nir
from neurosim.describe.network import IF, INPUT, LIF, Network, Population, Projection
from neurosim.errors import NetworkError
from neurosim.io.nir_read import load_network
from neurosim.io.nir_write import network_to_nir, save_network
from neurosim.neuron import NeuronParams

DT = 5e-4
F32 = np.float32


def grid(rng, shape):
    return (rng.integers(-8, 9, shape) / 16).astype(F32)


def decays(rng, n, with_ends=True):
    d = rng.random(n).astype(F32)
    if with_ends:
        d[0], d[-1] = 1.0, 0.0
    return d


def kinds(rng, n=5):
    """Neuron parameters of each kind (what from_nir gives for the matching NIR node)."""
    spiking = lambda **kw: NeuronParams.uniform(
        n,
        decay=decays(rng, n),
        threshold=rng.random(n) + 0.5,
        v_reset=-rng.random(n) / 4,
        bias=grid(rng, n),
        **kw,
    )
    readout = lambda **kw: NeuronParams.uniform(
        n,
        decay=kw.pop("decay", decays(rng, n)),
        threshold=np.inf,
        bias=kw.pop("bias", grid(rng, n)),
        resets=False,
        spiking=False,
        **kw,
    )
    return {
        "lif_hard": (LIF, spiking()),
        "lif_subtract": (LIF, spiking(subtract=True)),
        "lif_none": (LIF, spiking(resets=False)),
        "lif_delayed_reset": (LIF, spiking(subtract=True, delayed_reset=True)),
        "lif_fire_equal": (LIF, spiking(fire_equal=True)),
        "if": (IF, NeuronParams.uniform(n, threshold=rng.random(n) + 0.5, v_reset=0.125, bias=grid(rng, n))),
        "cubalif_lag": (LIF, spiking(cuba=True, current_lag=True, syn_decay=decays(rng, n))),
        "cubalif": (LIF, spiking(cuba=True, syn_decay=decays(rng, n))),
        "li": (LIF, readout()),
        "cubali": (LIF, readout(cuba=True, current_lag=True, syn_decay=decays(rng, n))),
        "i": (IF, readout(decay=1.0, bias=0.0)),
    }


NODE = {
    "lif_hard": "LIF",
    "lif_subtract": "LIF",
    "lif_none": "LIF",
    "lif_delayed_reset": "LIF",
    "lif_fire_equal": "LIF",
    "if": "IF",
    "cubalif_lag": "CubaLIF",
    "cubalif": "CubaLIF",
    "li": "LI",
    "cubali": "CubaLI",
    "i": "I",
}


def network(kind, params, rng):
    n = params.size
    pops = [
        Population("in", INPUT, (4,)),
        Population("h", LIF, (6,), NeuronParams.uniform(6, decay=0.5, subtract=True)),
        Population("x", kind, (n,), params),
    ]
    projs = [
        Projection("in", "h", sp.csr_array(grid(rng, (4, 6)))),
        Projection("h", "x", sp.csr_array(grid(rng, (6, n)))),
        Projection("h", "x", sp.csr_array(grid(rng, (6, n))), delay=2),  # same pair, another delay
        Projection("in", "x", sp.csr_array(grid(rng, (4, n))), delay=5),
        Projection("h", "h", sp.csr_array(grid(rng, (6, 6))), delay=3),  # recurrent, delayed
        Projection("h", "h", sp.csr_array(grid(rng, (6, 6)))),  # recurrent, next frame
    ]
    return Network("rt", pops, projs, "in", "x", dt=DT, metadata={"note": "round trip"})


def assert_identical(a: Network, b: Network):
    assert [(p.name, p.kind, p.shape) for p in a.populations] == [(p.name, p.kind, p.shape) for p in b.populations]
    for pa, pb in zip(a.populations, b.populations):
        if pa.params is None:
            continue
        for f in NeuronParams.field_names():
            x, y = getattr(pa.params, f), getattr(pb.params, f)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), (pa.name, f, x, y)
    key = lambda pr: (pr.source, pr.target, pr.delay)
    assert sorted(map(key, a.projections)) == sorted(map(key, b.projections))
    for pa in a.projections:
        (pb,) = [q for q in b.projections if key(q) == key(pa)]
        np.testing.assert_array_equal(pa.weights.toarray(), pb.weights.toarray())
        assert a.is_recurrent(pa) == b.is_recurrent(pb) and a.delay_of(pa) == b.delay_of(pb)


@pytest.mark.parametrize("case", sorted(NODE))
def test_round_trip_is_bit_exact(tmp_path, case):
    rng = np.random.default_rng(sorted(NODE).index(case))
    kind, params = kinds(rng)[case]
    net = network(kind, params, rng)
    g = network_to_nir(net)
    assert type(g.nodes["x"]).__name__ == NODE[case]
    assert sum(type(node).__name__ == "Delay" for node in g.nodes.values()) == 3
    assert_identical(from_nir(g), net)  # in memory
    save_network(net, tmp_path / "rt.nir")
    back = load_network(tmp_path / "rt.nir")
    assert_identical(back, net)
    assert back.dt == DT and back.metadata == {"note": "round trip", "dt": DT}
    save_network(back, tmp_path / "again.nir")
    assert_identical(load_network(tmp_path / "again.nir"), net)


def test_written_metadata_keys():
    rng = np.random.default_rng(0)
    k = kinds(rng)
    meta = lambda case: network_to_nir(network(*k[case], rng)).nodes["x"].metadata
    assert meta("lif_hard") == {"reset": "hard"} and meta("lif_subtract") == {"reset": "subtract"}
    assert meta("lif_none") == {"reset": "none"} and meta("lif_fire_equal") == {"reset": "hard", "fire_equal": True}
    assert meta("lif_delayed_reset") == {"reset": "subtract", "reset_delay": True}
    assert meta("cubalif") == {"reset": "hard", "current_lag": False}
    assert meta("cubalif_lag") == {"reset": "hard", "current_lag": True}
    assert meta("li") == {} and meta("i") == {}


def test_cuba_bias_is_written_as_v_leak():
    """NIR adds an Affine bias to the synaptic current; neurosim's bias is on the membrane, so a
    cuba population's bias goes to v_leak (bias = dt v_leak / tau_mem)."""
    rng = np.random.default_rng(1)
    net = network(*kinds(rng)["cubalif"], rng)
    g = network_to_nir(net)
    x = g.nodes["x"]
    assert not any(np.any(node.bias) for name, node in g.nodes.items() if name.endswith("_to_x"))
    np.testing.assert_allclose(DT * x.v_leak / x.tau_mem, net.by_name["x"].neurons.bias, rtol=1e-12)
    assert np.all(DT * x.w_in / x.tau_syn == 1) and np.all(DT * x.r / x.tau_mem == 1)
    assert isinstance(x, nir.CubaLIF)


def test_mixed_switches_are_refused():
    p = NeuronParams.uniform(2, decay=0.5, spiking=[True, False])
    net = Network(
        "m",
        [Population("in", INPUT, (1,)), Population("n", LIF, (2,), p)],
        [Projection("in", "n", sp.csr_array(np.ones((1, 2))))],
        "in",
        "n",
    )
    with pytest.raises(NetworkError, match=r"^population 'n' mixes spiking true and false; a NIR node has one mode$"):
        network_to_nir(net)


def test_a_file_without_reset_metadata_gets_a_note(caplog):
    """NIR's hard reset is used for a LIF node that states no reset (as snnTorch's, Sinabs' and
    Rockpool's exporters write them), and the reader says so once; neurosim's own files state it."""
    import logging

    rng = np.random.default_rng(0)
    g = network_to_nir(network(*kinds(rng)["lif_subtract"], rng))
    with caplog.at_level(logging.INFO, logger="neurosim"):
        from_nir(g)
    assert not [r for r in caplog.records if "state no reset mode" in r.getMessage()]
    g.nodes["x"].metadata = {}
    with caplog.at_level(logging.INFO, logger="neurosim"):
        net = from_nir(g)
    notes = [r.getMessage() for r in caplog.records if "state no reset mode" in r.getMessage()]
    assert len(notes) == 1 and "'x'" in notes[0] and "neurosim.interop" in notes[0]
    assert not net.by_name["x"].neurons.subtract.any()
