"""spyx 1.0.0 (flax.nnx, CPU jax) -> neurosim: spikes per neuron and frame equal spyx's own
forward, through ``from_spyx`` and (where the file is enough) through ``spyx.nir.to_nir`` -> file
-> ``neurosim.from_nir``.

spyx fires on the membrane before the update, so its spike of step ``t`` is neurosim's spike of
frame ``t - 1`` (the adapter delays the projections leaving such a layer by one frame; see
:mod:`neurosim.interop.spyx_adapter`): hidden and output spikes are compared as
``neurosim[:-1] == spyx[1:]``. Networks are seeded; weights are on the power-of-two grid
``round(x * 64) / 64`` and the decays are 0, 1 or powers of two, so every float32 sum and product
is exact (XLA's fused multiply-add included). The forward runs eagerly, layer by layer, to record
every layer's output (no compilation per model)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("spyx")
jax = pytest.importorskip("jax")

import jax.numpy as jnp  # noqa: E402
import nir  # noqa: E402
import spyx.nn as snn  # noqa: E402
from flax import nnx  # noqa: E402
from interop_spikes import neurosim_spikes, reference_trace  # noqa: E402
from spyx.nir import from_nir as spyx_from_nir  # noqa: E402
from spyx.nir import to_nir  # noqa: E402

import neurosim  # noqa: E402
from neurosim.errors import NetworkError  # noqa: E402
from neurosim.interop import from_spyx  # noqa: E402

DT = 1e-3
FRAMES = 16


def grid(a):
    return jnp.asarray(np.round(np.asarray(a) * 64) / 64, jnp.float32)


def dense(i, o, rng, scale=1.0, bias=False):
    """An ``nnx.Linear`` with weights (and bias) on the grid, given as its initial values (no
    random initialiser to compile)."""
    kernel = grid(rng.normal(size=(i, o)) * scale)
    b = grid(rng.random(o) * 0.25)
    return nnx.Linear(i, o, use_bias=bias, kernel_init=lambda *_: kernel, bias_init=lambda *_: b, rngs=nnx.Rngs(0))


def recurrent(cls, n, rng, **kw):
    layer = cls((n,), rngs=nnx.Rngs(0), **kw)
    layer.recurrent_w[...] = grid(rng.normal(size=(n, n)) * 0.5)
    return layer


def stimulus(channels, frames=FRAMES, p=0.4, seed=0):
    return np.random.default_rng(seed).random((frames, channels)) < p


def spyx_trace(model, stim):
    """spyx's forward (``Sequential.__call__`` step by step, batch 1, one jitted scan): the output
    of every layer, each ``(frames, ...)``."""

    def step(state, x_t):
        new, outs = [], []
        for layer, s in zip(model.layers, state, strict=True):
            if s is None:
                x_t = layer(x_t)
            else:
                x_t, s = layer(x_t, s)
            new.append(s)
            outs.append(x_t[0])
        return new, outs

    _, outs = jax.jit(lambda xs: jax.lax.scan(step, model.initial_state(1), xs))(
        jnp.asarray(stim[:, None], jnp.float32)
    )
    return [np.asarray(o) for o in outs]


def assert_lagged_spikes_equal(net, traces, stim, layers):
    """neurosim's spikes of frame f == spyx's of step f + 1 (spyx's step 0 never spikes)."""
    ref, _ = neurosim_spikes(net, stim)
    total = 0
    for i, pop in layers.items():
        theirs = traces[i].reshape(len(stim), -1)
        assert set(np.unique(theirs)) <= {0.0, 1.0}
        assert not theirs[0].any()
        np.testing.assert_array_equal(ref[:-1, net.span(pop)], theirs[1:].astype(bool), err_msg=pop)
        total += int(theirs.sum())
    assert total > 0, "the test network must spike"
    return ref


ZOO = [  # (index of the neuron layer in the zoo model, its population, one-step lag)
    (1, "layer_1", 1),  # LIF with a Linear bias
    (3, "layer_3", 1),  # IF
    (5, "layer_5.lif", 1),  # RLIF
    (7, "layer_7.lif", 1),  # RIF
    (9, "layer_9", 1),  # CuBaLIF
    (11, "layer_11.lif", 1),  # RCuBaLIF
    (13, "layer_13", 0),  # PSU_LIF: fires on the updated membrane, no reset
    (15, "layer_15", 1),  # LIF
]
ZOO_FRAMES = 24


@pytest.fixture(scope="module")
def zoo():
    """One seeded model with every spyx neuron kind in a chain, ending in an LI readout, traced
    once (one compilation): ``(model, stimulus, traces, network from the adapter)``."""
    rng = np.random.default_rng(0)
    r = nnx.Rngs(0)
    model = snn.Sequential(
        dense(6, 8, rng, bias=True),
        snn.LIF((8,), beta=0.5, rngs=r),
        dense(8, 6, rng),
        snn.IF((6,), threshold=0.75),
        dense(6, 8, rng),
        recurrent(snn.RLIF, 8, rng, beta=0.5),
        dense(8, 6, rng),
        recurrent(snn.RIF, 6, rng),
        dense(6, 8, rng),
        snn.CuBaLIF((8,), alpha=0.5, beta=0.5, rngs=r),
        dense(8, 6, rng),
        recurrent(snn.RCuBaLIF, 6, rng, alpha=0.25, beta=1.0),
        dense(6, 8, rng),
        snn.PSU_LIF((8,), beta=0.5, rngs=r),
        dense(8, 4, rng, scale=0.5),
        snn.LIF((4,), beta=0.25, threshold=0.5, rngs=r),
        dense(4, 3, rng),
        snn.LI((3,), beta=0.5, rngs=r),
    )
    stim = stimulus(6, frames=ZOO_FRAMES)
    net = from_spyx(model, stim)
    return model, stim, spyx_trace(model, stim), net, neurosim_spikes(net, stim)[0]


@pytest.mark.parametrize(("index", "pop", "lag"), ZOO, ids=[p for _, p, _ in ZOO])
def test_every_neuron_kind_is_spike_exact(zoo, index, pop, lag):
    model, stim, traces, net, ref = zoo
    theirs = traces[index].reshape(len(stim), -1)
    assert set(np.unique(theirs)) == {0.0, 1.0}, f"{pop} must spike"
    if lag:
        assert not theirs[0].any()
        np.testing.assert_array_equal(ref[:-1, net.span(pop)], theirs[1:].astype(bool))
    else:
        np.testing.assert_array_equal(ref[:, net.span(pop)], theirs.astype(bool))


def test_switches_delays_and_readout(zoo):
    model, stim, traces, net, _ = zoo
    p = net.by_name["layer_1"].neurons
    assert p.delayed_reset.all() and p.subtract.all() and not p.fire_equal.any() and p.bias.any()
    c = net.by_name["layer_9"].neurons
    assert c.cuba.all() and not c.current_lag.any() and not c.delayed_reset.any() and c.subtract.all()
    assert not net.by_name["layer_13"].neurons.resets.any()
    assert sum(net.is_recurrent(pr) for pr in net.projections) == 3
    delays = {pr.target: net.delay_of(pr) for pr in net.projections if not net.is_recurrent(pr)}
    assert delays == {
        "layer_1": 0,
        "layer_3": 1,
        "layer_5.lif": 1,
        "layer_7.lif": 1,
        "layer_9": 1,
        "layer_11.lif": 1,
        "layer_13": 1,
        "layer_15": 0,
        "layer_17": 1,
    }
    assert net.metadata["output_lag_frames"] == 0
    _, v = reference_trace(net, stim)
    assert np.abs(traces[17]).max() > 0
    np.testing.assert_allclose(v[:, net.span("layer_17")], traces[17], rtol=1e-6, atol=0)


def test_conv_with_sum_pool_is_spike_exact():
    """Channels-last spyx (H, W, C) against neurosim's channels-first input (C*H*W)."""
    rng = np.random.default_rng(4)
    kernel = grid(rng.normal(size=(3, 3, 2, 3)) * 0.5)
    conv = nnx.Conv(2, 3, (3, 3), padding="VALID", use_bias=False, kernel_init=lambda *_: kernel, rngs=nnx.Rngs(0))
    model = snn.Sequential(
        conv,
        snn.SumPool((2, 2), (2, 2), "VALID"),
        snn.LIF((3, 3, 3), beta=0.5, rngs=nnx.Rngs(0)),
        snn.Flatten(),
        dense(27, 4, rng),
        snn.LIF((4,), beta=0.5, rngs=nnx.Rngs(0)),
    )
    stim_hwc = np.random.default_rng(4).random((FRAMES, 8, 8, 2)) < 0.4
    net = from_spyx(model, stim_hwc)
    stim = stim_hwc.transpose(0, 3, 1, 2).reshape(FRAMES, -1)
    traces = spyx_trace(model, stim_hwc)
    traces[2] = traces[2].transpose(0, 3, 1, 2)  # (H, W, C) -> NIR's (C, H, W)
    assert_lagged_spikes_equal(net, traces, stim, {2: "layer_2", 5: "layer_5"})


def test_default_init_needs_allow_rounding_then_measured_equal():
    """spyx's default per-neuron beta (truncated normal + 0.5) is refused without
    ``allow_rounding`` (XLA's fused multiply-add rounds once); with it, this seeded network's
    spikes were measured equal and the LI readout within 1e-5."""
    rng = np.random.default_rng(5)
    model = snn.Sequential(
        dense(6, 8, rng), snn.LIF((8,), rngs=nnx.Rngs(5)), dense(8, 3, rng), snn.LI((3,), beta=0.9, rngs=nnx.Rngs(0))
    )
    stim = stimulus(6, frames=40, seed=5)
    with pytest.raises(NetworkError, match=r"layer 1 \(LIF\): beta\[\d\] = [0-9.]+ is not 0, 1 or a power of two: XLA"):
        from_spyx(model, stim)
    net = from_spyx(model, stim, allow_rounding=True)
    traces = spyx_trace(model, stim)
    assert_lagged_spikes_equal(net, traces, stim, {1: "layer_1"})
    _, v = reference_trace(net, stim)
    np.testing.assert_allclose(v[:, net.span("layer_3")], traces[3], rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------------------- refusals
def _alif():
    return snn.ALIF((3,), beta=0.5, gamma=0.5, rngs=nnx.Rngs(0))


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (lambda r: [dense(4, 3, r), _alif()], r"layer 1 \(ALIF\): not supported: its threshold adapts"),
        (
            lambda r: [dense(4, 3, r), snn.LI((3,), beta=0.5, rngs=nnx.Rngs(0)), dense(3, 2, r), snn.IF((2,))],
            r"layer 1 \(LI\): its output is its membrane, a real number, which the chip cannot send to layer 2",
        ),
        (lambda r: [dense(4, 3, r), snn.IF((3,)), dense(3, 2, r)], r"the spyx model ends with layer 2 \(Linear\)"),
        (
            lambda r: [dense(4, 3, r), snn.IF((3,), activation=lambda x: jnp.where(x >= 0, 1.0, 0.0))],
            r"layer 1 \(IF\): its activation's forward is not the Heaviside step",
        ),
        (
            lambda r: [dense(4, 3, r), snn.LIF((3,), beta=0.75, rngs=nnx.Rngs(0))],
            r"layer 1 \(LIF\): beta\[0\] = 0\.75 is not 0, 1 or a power of two",
        ),
        (
            lambda r: [dense(4, 3, r, bias=True), snn.CuBaLIF((3,), alpha=0.5, beta=0.5, rngs=nnx.Rngs(0))],
            r"'layer_1' \(CubaLIF\): a bias .* enter its synaptic current",
        ),
    ],
)
def test_refusals_name_the_layer_and_the_remedy(layers, message):
    model = snn.Sequential(*layers(np.random.default_rng(0)))
    with pytest.raises(NetworkError, match=message) as e:
        from_spyx(model, np.zeros((2, 4), bool))
    assert "\n" not in str(e.value)


def test_refuses_bad_shapes_and_spyx_ordered_neurons_after_flatten():
    kernel = jnp.zeros((3, 3, 2, 2), jnp.float32)
    conv = nnx.Conv(2, 2, (3, 3), padding="VALID", use_bias=False, kernel_init=lambda *_: kernel, rngs=nnx.Rngs(0))
    model = snn.Sequential(conv, snn.IF((4, 4, 2)), snn.Flatten(), snn.IF((32,)))
    with pytest.raises(NetworkError, match=r"example_input has shape \(4, 72\); a model starting with a Conv takes"):
        from_spyx(model, np.zeros((4, 72), bool))
    with pytest.raises(NetworkError, match=r"layer 3 \(IF\): a neuron layer right after flattening a channels-last"):
        from_spyx(model, np.zeros((4, 6, 6, 2), bool))
    with pytest.raises(NetworkError, match=r"dt must be a positive number of seconds, got -1"):
        from_spyx(snn.IF((3,)), np.zeros((4, 3), bool), dt=-1)


# ----------------------------------------------------------------------------------- file route
def test_file_route_runs_other_dynamics_or_is_refused(zoo, tmp_path):
    """spyx's file: no dt (refused without one), ``LIF(r = beta)`` (an input gain of
    beta (1 - beta)), NIR's hard reset, no output delay, the recurrent layer's input wired through
    ``w_rec``, and the LI readout dropped (the Output is then fed by an Affine: refused).
    Measured on the zoo's first three neuron layers: it loads and its spikes differ from spyx's,
    with or without the one-step lag; the adapter is the route."""
    model, stim, traces, _, _ = zoo
    head = snn.Sequential(*list(model.layers)[:6])
    path = tmp_path / "spyx.nir"
    nir.write(path, to_nir(head, {"input": np.array([6])}, {"output": np.array([8])}, dt=DT))
    with pytest.raises(NetworkError, match=r"dt unknown: pass dt="):
        neurosim.from_nir(path)
    net = neurosim.from_nir(path, dt=DT)
    ref, _ = neurosim_spikes(net, stim)
    for index in (1, 3):
        mine, theirs = ref[:, net.span(f"layer_{index}")], traces[index].astype(bool)
        assert (mine[:-1] != theirs[1:]).any() and (mine != theirs).any()

    path = tmp_path / "spyx_zoo.nir"
    nir.write(path, to_nir(model, {"input": np.array([6])}, {"output": np.array([3])}, dt=DT))
    with pytest.raises(NetworkError, match=r"Output.* must be fed by"):
        neurosim.from_nir(path, dt=DT)


# --------------------------------------------------------------------------- neurosim -> spyx
@pytest.mark.slow  # spyx's importer initialises and compiles every layer anew: 14 s on the shared CI machine
def test_round_trip_into_spyx_importer(tmp_path):
    """neurosim -> NIR (save_network) -> spyx's from_nir, measured: spyx's importer skips the
    Delay nodes neurosim writes (no spyx module) and its neurons fire before the update, which
    restores the one-step lag, so a LIF network's output comes back spike for spike; an LI
    readout cannot be imported (spyx reads LI only as half of a PSU_LIF)."""
    from neurosim.io.nir_write import save_network

    rng = np.random.default_rng(8)
    model = snn.Sequential(
        dense(6, 8, rng),
        snn.LIF((8,), beta=0.5, rngs=nnx.Rngs(0)),
        dense(8, 4, rng),
        snn.LIF((4,), beta=0.5, rngs=nnx.Rngs(0)),
    )
    stim = stimulus(6, seed=8)
    net = from_spyx(model, stim)
    path = tmp_path / "neurosim.nir"
    save_network(net, path)
    _, out = spyx_from_nir(nir.read(path), jnp.asarray(stim[:, None], jnp.float32), dt=DT)
    ref, _ = neurosim_spikes(net, stim)
    np.testing.assert_array_equal(np.asarray(out)[1:, 0].astype(bool), ref[:-1, net.span(net.output)])

    li = snn.Sequential(dense(6, 3, rng), snn.IF((3,)), dense(3, 2, rng), snn.LI((2,), beta=0.5, rngs=nnx.Rngs(0)))
    path = tmp_path / "neurosim_li.nir"
    save_network(from_spyx(li, stim), path)
    with pytest.raises(ValueError, match="nir.LI without a following nir.Threshold"):
        spyx_from_nir(nir.read(path), jnp.asarray(stim[:, None], jnp.float32), dt=DT)
