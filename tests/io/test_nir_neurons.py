"""NIR neuron nodes (LIF, IF, CubaLIF, LI, CubaLI, I, Threshold) as neurosim neurons: golden
parameter values, the metadata keys that override NIR's conventions, the refusals (one line each),
and the behaviour of the loaded network against NIR's own equations stepped with forward Euler."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from neurosim import from_nir
from neurosim.describe.network import IF, LIF
from neurosim.errors import NetworkError
from neurosim.neuron import DTYPE
from neurosim.sim.reference import sync_states

DT = 1e-3
N = 3
F32 = np.float32


def chain(neuron, n_in=2, weight=None, bias=None, meta=None):
    """Input(n_in) -> Linear/Affine -> neuron(N) -> Output, dt = 1 ms unless ``meta`` says."""
    w = np.full((N, n_in), 0.25) if weight is None else weight
    fc = nir.Linear(w) if bias is None else nir.Affine(w, bias)
    return nir.NIRGraph(
        nodes={"in": nir.Input(np.array([n_in])), "fc": fc, "n": neuron, "out": nir.Output(np.array([N]))},
        edges=[("in", "fc"), ("fc", "n"), ("n", "out")],
        metadata={"dt": DT} if meta is None else meta,
        type_check=False,
    )


def full(x):
    return np.full(N, x, np.float64)


def lif(tau=0.01, r=10.0, v_leak=0.0, thr=1.0, v_reset=0.0, **meta):
    return nir.LIF(
        tau=full(tau), r=full(r), v_leak=full(v_leak), v_threshold=full(thr), v_reset=full(v_reset), metadata=meta
    )


def cubalif(tau_syn=0.002, tau_mem=0.01, r=10.0, w_in=2.0, v_leak=0.0, thr=1.0, **meta):
    return nir.CubaLIF(
        tau_syn=full(tau_syn),
        tau_mem=full(tau_mem),
        r=full(r),
        v_leak=full(v_leak),
        v_threshold=full(thr),
        v_reset=full(0.0),
        w_in=full(w_in),
        metadata=meta,
    )


def params(neuron, **kw):
    net = from_nir(chain(neuron, **kw))
    return net, net.by_name["n"]


def weights(net):
    (pr,) = net.projections
    return pr.weights.toarray()


# -------------------------------------------------------------------------------- golden values
def test_lif_golden_values():
    """decay = 1 - dt/tau, gain dt r / tau folded into weights and bias, v_leak -> dt v_leak / tau."""
    net, pop = params(lif(tau=0.01, r=20.0, v_leak=0.5, thr=0.75, v_reset=-0.25), bias=full(0.125))
    p = pop.neurons
    assert pop.kind == LIF
    assert np.array_equal(p.decay, full(0.9).astype(F32))
    assert np.array_equal(weights(net), np.full((2, N), 0.5, F32))  # 0.25 * gain 2
    assert np.array_equal(p.bias, full(1e-3 * 0.5 / 0.01 + 2 * 0.125).astype(F32))  # 0.05 + 0.25
    assert np.array_equal(p.threshold, full(0.75).astype(F32)) and np.array_equal(p.v_reset, full(-0.25).astype(F32))
    assert not p.subtract.any() and p.resets.all() and p.spiking.all()
    assert not (p.fire_equal.any() or p.delayed_reset.any() or p.cuba.any() or p.current_lag.any())


@pytest.mark.parametrize(
    "meta,subtract,resets,delayed,equal",
    [
        ({}, False, True, False, False),
        ({"reset": "hard"}, False, True, False, False),
        ({"reset": "subtract"}, True, True, False, False),
        ({"reset": b"subtract"}, True, True, False, False),
        ({"reset": "none"}, False, False, False, False),
        ({"reset": "subtract", "reset_delay": True}, True, True, True, False),
        ({"fire_equal": True, "reset_delay": np.bool_(False)}, False, True, False, True),
    ],
)
def test_reset_and_firing_metadata(tmp_path, meta, subtract, resets, delayed, equal):
    """In memory and through a file (h5py gives numpy bools back)."""
    path = tmp_path / "m.nir"
    nir.write(path, chain(lif(**meta)))
    for net in (from_nir(chain(lif(**meta))), from_nir(path, dt=DT)):
        p = net.by_name["n"].neurons
        assert (p.subtract.all(), p.resets.all(), p.delayed_reset.all(), p.fire_equal.all()) == (
            subtract,
            resets,
            delayed,
            equal,
        )
        assert p.subtract.any() == subtract and p.fire_equal.any() == equal


def test_cubalif_golden_values():
    net, pop = params(cubalif(tau_syn=0.002, tau_mem=0.01, r=20.0, w_in=2.0, v_leak=0.25))
    p = pop.neurons
    assert pop.kind == LIF and p.cuba.all() and p.spiking.all()
    assert np.array_equal(p.syn_decay, full(0.5).astype(F32)) and np.array_equal(p.decay, full(0.9).astype(F32))
    # gain (dt w_in / tau_syn) (dt r / tau_mem) = 1 * 2
    assert np.array_equal(weights(net), np.full((2, N), 0.5, F32))
    assert np.array_equal(p.bias, full(1e-3 * 0.25 / 0.01).astype(F32))
    assert p.current_lag.all()  # NIR's forward Euler: the membrane takes the previous current
    _, pop = params(cubalif(current_lag=False))
    assert not pop.neurons.current_lag.any()


def test_snntorch_style_cubalif_has_unit_gains():
    """snnTorch writes tau = dt/(1-alpha|beta), r = tau_mem/dt, w_in = tau_syn/dt (float32)."""
    dt, alpha, beta = F32(1e-4), F32(0.75), F32(0.875)
    tau_syn, tau_mem = dt / (1 - alpha), dt / (1 - beta)
    node = nir.CubaLIF(
        tau_syn=np.full(N, tau_syn),
        tau_mem=np.full(N, tau_mem),
        r=np.full(N, tau_mem / dt),
        v_leak=np.zeros(N, F32),
        v_threshold=np.ones(N, F32),
        w_in=np.full(N, tau_syn / dt),
    )
    net = from_nir(chain(node, meta={}), dt=1e-4)
    p = net.by_name["n"].neurons
    assert np.array_equal(weights(net), np.full((2, N), 0.25, F32))
    assert np.allclose(p.syn_decay, alpha, atol=1e-6) and np.allclose(p.decay, beta, atol=1e-6)


@pytest.mark.parametrize("kind", ["LI", "CubaLI", "I"])
def test_non_spiking_readouts(kind):
    if kind == "LI":
        node = nir.LI(tau=full(0.01), r=full(20.0), v_leak=full(0.5))
    elif kind == "CubaLI":
        node = nir.CubaLI(tau_syn=full(0.002), tau_mem=full(0.01), r=full(20.0), v_leak=full(0.5), w_in=full(2.0))
    else:
        node = nir.I(r=full(2.0))
    net, pop = params(node)
    p = pop.neurons
    assert not p.spiking.any() and not p.resets.any() and np.all(np.isinf(p.threshold))
    assert np.array_equal(weights(net), np.full((2, N), 0.5, F32))
    assert p.cuba.all() == (kind == "CubaLI")
    if kind == "I":
        assert pop.kind == IF and np.all(p.decay == 1) and np.all(p.bias == 0)
    else:
        assert np.array_equal(p.decay, full(0.9).astype(F32))
        assert np.array_equal(p.bias, full(0.05).astype(F32))
    assert net.output == "n"


def test_if_and_threshold():
    net, pop = params(nir.IF(r=full(4.0), v_threshold=full(2.0), v_reset=full(0.5)), meta={})  # no dt needed
    p = pop.neurons
    assert pop.kind == IF and np.all(p.decay == 1) and np.all(p.v_reset == 0.5) and p.spiking.all()
    assert np.array_equal(weights(net), np.ones((2, N), F32))
    net, pop = params(nir.Threshold(full(0.5)), meta={})
    p = pop.neurons
    assert np.all(p.decay == 0) and np.all(p.threshold == 0.5) and np.all(p.v_reset == 0) and not p.subtract.any()
    assert np.array_equal(weights(net), np.full((2, N), 0.25, F32))


# -------------------------------------------------------------------------------- refusals
def _line(graph, **kw):
    with pytest.raises(NetworkError) as info:
        from_nir(graph, **kw)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(
    "neuron,expected",
    [
        (
            lif(tau=1e-5),
            "node 'n' (LIF): tau = 1e-05 s is shorter than dt = 0.001 s (decay -99): "
            "pass the dt the model was trained with (--dt)",
        ),
        (lif(tau=0.0), "node 'n' (LIF): tau = 0 s at flat index 0 must be positive"),
        (lif(tau=-0.01), "node 'n' (LIF): tau = -0.01 s at flat index 0 must be positive"),
        (
            cubalif(tau_mem=5e-4),
            "node 'n' (CubaLIF): tau_mem = 0.0005 s is shorter than dt = 0.001 s (decay -1): "
            "pass the dt the model was trained with (--dt)",
        ),
        (
            nir.LI(tau=full(1e-4), r=full(1.0), v_leak=full(0.0)),
            "node 'n' (LI): tau = 0.0001 s is shorter than dt = 0.001 s (decay -9): "
            "pass the dt the model was trained with (--dt)",
        ),
        (
            lif(r=0.0),
            "node 'n' (LIF): the input gain dt r / tau = 0 at flat index 0 is not a positive finite number: "
            "check r (and w_in, tau) and dt",
        ),
        (
            cubalif(w_in=-1.0),
            "node 'n' (CubaLIF): the input gain dt w_in / tau_syn = -0.5 at flat index 0 is not a positive finite "
            "number: check r (and w_in, tau) and dt",
        ),
        (
            nir.IF(r=full(-1.0), v_threshold=full(1.0)),
            "node 'n' (IF): the input gain r = -1 at flat index 0 is not a positive finite number: "
            "check r (and w_in, tau) and dt",
        ),
        (lif(reset="soft"), "node 'n' (LIF): metadata['reset'] = 'soft' is not one of 'hard', 'subtract', 'none'"),
        (lif(reset=3), "node 'n' (LIF): metadata['reset'] = 3 is not one of 'hard', 'subtract', 'none'"),
        (lif(reset_delay="yes"), "node 'n' (LIF): metadata['reset_delay'] = 'yes' is not a boolean"),
        (
            lif(current_lag=True),
            "node 'n' (LIF): metadata['current_lag'] applies to CubaLIF/CubaLI nodes only (it has no current)",
        ),
    ],
)
def test_refusals_name_the_node_and_the_numbers(neuron, expected):
    assert _line(chain(neuron)) == expected


def test_bias_into_a_synaptic_current_is_refused():
    msg = _line(chain(cubalif(), bias=full(0.5)))
    assert msg.startswith("node 'n' (CubaLIF): a bias (Affine/Conv) would enter its synaptic current")
    # without a synaptic decay and without the lag the current is the input: the bias is exact
    net, pop = params(cubalif(tau_syn=DT, w_in=1.0, current_lag=False), bias=full(0.5))
    assert np.array_equal(pop.neurons.bias, full(0.5).astype(F32))  # both gains 1
    assert np.all(pop.neurons.syn_decay == 0)


@pytest.mark.parametrize(
    "neuron",
    [lif(), cubalif(), nir.LI(tau=full(0.01), r=full(1.0), v_leak=full(0.0))],
    ids=["LIF", "CubaLIF", "LI"],
)
def test_dt_is_required_by_time_constants(neuron):
    msg = _line(chain(neuron, meta={}))
    assert msg.startswith("dt unknown: pass dt= (CLI --dt)") and f"(needed by {type(neuron).__name__} node 'n')" in msg
    assert from_nir(chain(neuron, meta={}), dt=DT).dt == DT


# -------------------------------------------------------------------------------- behaviour
def nir_euler(node, drive: np.ndarray, dt: float, meta: dict) -> tuple[np.ndarray, np.ndarray]:
    """NIR's equations of ``node`` stepped with forward Euler in float64 (both derivatives from the
    state at the start of the step; the NIR paper's numpy CubaLIF reference), the reset after the
    threshold test: (spikes, membranes) per frame. ``drive`` is the node's input per frame."""
    t = type(node).__name__
    g = lambda k, default=0.0: np.broadcast_to(np.asarray(getattr(node, k, default), np.float64), (N,))
    v, cur = np.zeros(N), np.zeros(N)
    spikes, mems = [], []
    for x in drive:
        if t in ("LIF", "LI"):
            v = v + dt / g("tau") * (g("v_leak") - v + g("r") * x)
        elif t in ("CubaLIF", "CubaLI"):
            old = cur
            cur = cur + dt / g("tau_syn") * (-cur + g("w_in") * x)
            seen = old if meta.get("current_lag", True) else cur
            v = v + dt / g("tau_mem") * (g("v_leak") - v + g("r") * seen)
        elif t in ("IF", "I"):
            v = v + g("r") * x
        else:  # Threshold
            v = x.astype(np.float64)
        spiking = t in ("LIF", "CubaLIF", "IF", "Threshold")
        thr = g("threshold") if t == "Threshold" else (g("v_threshold") if spiking else None)
        z = (v > thr) if spiking else np.zeros(N, bool)
        mode = meta.get("reset", "hard")
        if mode == "subtract":
            v = np.where(z, v - thr, v)
        elif mode == "hard":
            v = np.where(z, g("v_reset"), v)
        spikes.append(z)
        mems.append(v.copy())
    return np.array(spikes), np.array(mems)


BEHAVIOUR = {
    "LIF hard": (lif(tau=0.004, r=4.0, thr=0.6), {}),
    "LIF subtract v_leak": (lif(tau=0.004, r=4.0, v_leak=0.5, thr=0.6, reset="subtract"), {"reset": "subtract"}),
    "LIF none": (lif(tau=0.004, r=4.0, thr=0.6, reset="none"), {"reset": "none"}),
    "CubaLIF lag": (cubalif(tau_syn=0.002, tau_mem=0.004, r=4.0, w_in=2.0, thr=0.6), {}),
    "CubaLIF no lag": (
        cubalif(tau_syn=0.002, tau_mem=0.004, r=4.0, w_in=2.0, thr=0.6, current_lag=False),
        {"current_lag": False},
    ),
    "LI": (nir.LI(tau=full(0.004), r=full(4.0), v_leak=full(0.25)), {}),
    "CubaLI": (nir.CubaLI(tau_syn=full(0.002), tau_mem=full(0.004), r=full(4.0), v_leak=full(0.0), w_in=full(2.0)), {}),
    "I": (nir.I(r=full(1.0)), {}),
    "IF": (nir.IF(r=full(1.0), v_threshold=full(0.6)), {}),
    "Threshold": (nir.Threshold(full(0.3)), {}),
}


@pytest.mark.parametrize("case", sorted(BEHAVIOUR))
def test_behaviour_matches_nir_euler(case):
    """neurosim's sync reference (float32) against NIR's equations (float64): the same spikes and
    membranes within float32 rounding. Weights on a 1/16 grid; thresholds chosen off the grid."""
    node, meta = BEHAVIOUR[case]
    rng = np.random.default_rng(7)
    w = rng.integers(-4, 9, (N, 4)) / 16
    g = chain(node, n_in=4, weight=w)
    net = from_nir(g)
    stim = rng.random((30, 4)) < 0.4
    drive = stim.astype(np.float64) @ w.T
    want_s, want_v = nir_euler(node, drive, DT, meta)
    got_s, got_v = [], []
    for s, v, _ in sync_states(net, stim):
        got_s.append(s[net.span("n")].copy())
        got_v.append(v[net.span("n")].astype(np.float64))
    np.testing.assert_array_equal(np.array(got_s), want_s)
    np.testing.assert_allclose(np.array(got_v), want_v, rtol=1e-5, atol=1e-5)
    assert want_s.any() == (case not in ("LI", "CubaLI", "I"))  # the spiking cases do spike


def test_strict_threshold_and_fire_equal():
    """NIR fires at v > threshold; fire_equal adds v == threshold (an exact tie: 0.5 + 0.5 = 1)."""
    stim = np.array([[True, True]])
    for meta, fires in (({}, False), ({"fire_equal": True}, True)):
        net = from_nir(chain(nir.IF(r=full(1.0), v_threshold=full(1.0), metadata=meta), weight=np.full((N, 2), 0.5)))
        ((s, _, _),) = list(sync_states(net, stim))
        assert s[net.span("n")].all() == fires and s[net.span("n")].any() == fires


def test_params_are_float32():
    _, pop = params(cubalif())
    for field in ("decay", "threshold", "v_reset", "bias", "syn_decay"):
        assert getattr(pop.neurons, field).dtype == DTYPE


@pytest.mark.parametrize("kind", ["LI", "I"])
def test_a_non_spiking_node_may_feed_only_the_output(kind):
    """Its NIR output is the membrane (graded), which neurosim's synapses cannot carry."""
    readout = nir.LI(tau=full(0.01), r=full(1.0), v_leak=full(0.0)) if kind == "LI" else nir.I(r=full(1.0))
    g = nir.NIRGraph(
        nodes={
            "in": nir.Input(np.array([2])),
            "fc": nir.Linear(np.ones((N, 2))),
            "ro": readout,
            "fc2": nir.Linear(np.ones((N, N))),
            "n": lif(),
            "out": nir.Output(np.array([N])),
        },
        edges=[("in", "fc"), ("fc", "ro"), ("ro", "fc2"), ("fc2", "n"), ("n", "out")],
        metadata={"dt": DT},
        type_check=False,
    )
    assert _line(g) == (
        f"node 'ro' ({kind}) feeds 'fc2': its output is its membrane, not spikes, and neurosim sends only "
        "spikes through synapses: only an Output may follow it"
    )
