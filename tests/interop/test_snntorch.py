"""snnTorch 1.0.0 models in neurosim: spikes per neuron and frame equal to snnTorch's own forward.

Every network is seeded; weights (and biases, where a test has them) lie on a 1/64 grid
(``round(w * 64) / 64``), so float32 sums of them are exact in any order and the only rounding
left is the leak, which both sides compute as the same float32 product (with a bias or a
recurrence also the order of two additions: see test_leaky_with_biases). The stimulus is 0/1
spikes (neurosim's input population is a spike source). Two routes: the adapter
(``neurosim.interop.from_snntorch``) and the file route (``export_to_nir`` -> ``nir.write`` ->
``neurosim.from_nir(path, dt=...)``), which cannot know the reset mode: what it then gives is
measured and asserted here. Round trips the other way (``save_network`` ->
``snntorch.import_nir.import_from_nir``) pin the importer's bugs.
"""

from __future__ import annotations

import contextlib
import io
import warnings

import numpy as np
import pytest

snn = pytest.importorskip("snntorch")
torch = pytest.importorskip("torch")
nir = pytest.importorskip("nir")

from interop_spikes import neurosim_spikes, reference_trace  # noqa: E402
from snntorch.export_nir import export_to_nir  # noqa: E402
from snntorch.import_nir import import_from_nir  # noqa: E402

import neurosim  # noqa: E402
from neurosim.errors import NetworkError  # noqa: E402
from neurosim.interop import from_snntorch  # noqa: E402
from neurosim.io.nir_write import save_network  # noqa: E402

FRAMES = 30
RESETS = ("subtract", "zero", "none")


# ======================================================================================= helpers
def grid(a, step: int = 64) -> np.ndarray:
    return (np.round(np.asarray(a, np.float64) * step) / step).astype(np.float32)


def linear(rng, n_in: int, n_out: int, scale: float = 0.5, bias: bool = False) -> torch.nn.Linear:
    """A Linear layer with seeded weights (and biases) on the 1/64 grid."""
    lin = torch.nn.Linear(n_in, n_out, bias=bias)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(grid(rng.uniform(-scale, scale, (n_out, n_in)))))
        if bias:
            lin.bias.copy_(torch.from_numpy(grid(rng.uniform(-scale / 2, scale / 2, n_out))))
    return lin


def conv(rng, c_in: int, c_out: int, k: int = 3, scale: float = 0.5, **kw) -> torch.nn.Conv2d:
    c = torch.nn.Conv2d(c_in, c_out, k, bias=False, **kw)
    with torch.no_grad():
        c.weight.copy_(torch.from_numpy(grid(rng.uniform(-scale, scale, tuple(c.weight.shape)))))
    return c


def stimulus(rng, shape, rate: float = 0.35) -> np.ndarray:
    """Seeded 0/1 spikes, frames x input shape (bool)."""
    return rng.random((FRAMES, *shape)) < rate


def neuron_layers(model) -> dict:
    return {n: m for n, m in model.named_modules() if isinstance(m, snn.SpikingNeuron)}


def node_of(name: str, m) -> str:
    """The population of an snnTorch layer: RLeaky/RSynaptic export as ``name.lif``."""
    return f"{name}.lif" if isinstance(m, (snn.RLeaky, snn.RSynaptic)) else name


def snntorch_forward(model, stim: np.ndarray, *, stateful: bool = False) -> tuple[dict, dict]:
    """snnTorch's own forward, one call per frame from rest: spikes and membranes (frames x
    neurons, flattened in C order) of every neuron layer. ``stateful``: the model is a module
    built by ``import_from_nir`` (nirtorch), called as ``out, state = model(x, state)``."""
    layers = neuron_layers(model)
    spikes: dict = {n: [] for n in layers}
    mems: dict = {n: [] for n in layers}

    def record(name):
        def hook(mod, args, out) -> None:
            s = out[0] if isinstance(out, tuple) else out
            spikes[name].append(s.detach().numpy().reshape(-1) > 0)
            mems[name].append(mod.mem.detach().numpy().reshape(-1).copy())

        return hook

    hooks = [m.register_forward_hook(record(n)) for n, m in layers.items()]
    for m in layers.values():
        m.reset_mem()
    try:
        with torch.no_grad():
            state = None
            for frame in stim:
                x = torch.from_numpy(frame.astype(np.float32))[None]
                if stateful:
                    _, state = model(x, state)
                else:
                    model(x)
    finally:
        for h in hooks:
            h.remove()
    return {n: np.array(s) for n, s in spikes.items()}, {n: np.array(v) for n, v in mems.items()}


def assert_spike_exact(net, model, stim: np.ndarray, *, membranes: bool = False) -> dict:
    """neurosim (numpy reference and chip, equal per conftest) == snnTorch per neuron and frame,
    every layer active but not saturated; ``membranes``: the membranes after each frame too (bit
    for bit). Returns the spike counts per layer."""
    ref, _chip = neurosim_spikes(net, stim.reshape(FRAMES, -1))
    spikes, mems = snntorch_forward(model, stim)
    _, v = reference_trace(net, stim.reshape(FRAMES, -1)) if membranes else (None, None)
    counts = {}
    for name, m in neuron_layers(model).items():
        span = net.span(node_of(name, m))
        np.testing.assert_array_equal(ref[:, span], spikes[name], err_msg=f"spikes of layer {name}")
        counts[name] = int(spikes[name].sum())
        assert 0 < counts[name] < spikes[name].size, f"layer {name} is silent or saturated: the test would be weak"
        if membranes:
            np.testing.assert_array_equal(v[:, span], mems[name], err_msg=f"membranes of layer {name}")
    return counts


def file_route(model, example, tmp_path, dt: float = 1e-4):
    """snnTorch's exporter -> nir.write -> neurosim.from_nir(path, dt=...)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = export_to_nir(model, example, ignore_dims=[0])
    path = tmp_path / "model.nir"
    nir.write(path, graph)
    return neurosim.from_nir(path, dt=dt)


def vec(value, n: int) -> torch.Tensor:
    """A per-neuron parameter (snnTorch's exporter fails on scalars: see test_export_scalar_beta)."""
    return torch.full((n,), float(value))


def leaky_mlp(rng, reset="subtract", delay=True, *, vector=False, bias=False, scale=(0.6, 0.5), beta=(0.9, 0.8)):
    """8 -> 12 -> 4, Leaky layers (per-neuron parameters when ``vector``, for the file route)."""
    kw = {"reset_mechanism": reset, "reset_delay": delay, "init_hidden": True}
    b1, b2 = (vec(beta[0], 12), vec(beta[1], 4)) if vector else beta
    t1, t2 = (vec(1.0, 12), vec(1.0, 4)) if vector else (1.0, 1.0)
    return torch.nn.Sequential(
        linear(rng, 8, 12, scale[0], bias),
        snn.Leaky(beta=b1, threshold=t1, **kw),
        linear(rng, 12, 4, scale[1], bias),
        snn.Leaky(beta=b2, threshold=t2, **kw),
    )


# ================================================================================ adapter route
@pytest.mark.parametrize("reset", RESETS)
def test_leaky_feedforward_reset_delay(reset):
    """snnTorch's default reset_delay=True, every reset mechanism; membranes bit for bit too
    (except Leaky's reset to zero, which snnTorch stores un-reset in the spiking step)."""
    rng = np.random.default_rng(1)
    model = leaky_mlp(rng, reset, True)
    net = from_snntorch(model, torch.zeros(1, 8))
    p = net.by_name["1"].neurons
    assert p.decay[0] == np.float32(0.9) and net.dt == 1e-4
    assert bool(p.delayed_reset[0]) == (reset == "subtract")  # zero: an immediate hard reset
    assert bool(p.subtract[0]) == (reset == "subtract") and bool(p.resets[0]) == (reset != "none")
    assert_spike_exact(net, model, stimulus(rng, (8,)), membranes=reset != "zero")


@pytest.mark.parametrize("reset", RESETS)
def test_leaky_feedforward_immediate_reset(reset):
    """reset_delay=False; for 'subtract' non-negative weights small enough that no neuron can stay
    above threshold after its reset (the adapter refuses it otherwise: see the refusal test)."""
    rng = np.random.default_rng(2)
    model = leaky_mlp(rng, reset, False)
    if reset == "subtract":
        with torch.no_grad():
            model[0].weight.copy_(torch.from_numpy(grid(rng.uniform(0.0625, 0.125, (12, 8)))))
            model[2].weight.copy_(torch.from_numpy(grid(rng.uniform(0.05, 0.1, (4, 12)))))
    net = from_snntorch(model, torch.zeros(1, 8))
    assert not net.by_name["1"].neurons.delayed_reset.any()
    assert_spike_exact(net, model, stimulus(rng, (8,), rate=0.6), membranes=True)


def test_leaky_with_biases():
    """Biases on the grid: snnTorch adds them inside W x + b, neurosim after the leak, so the
    membranes may differ in the last bit; the spikes agree for these seeds (measured)."""
    rng = np.random.default_rng(3)
    model = leaky_mlp(rng, "subtract", True, bias=True)
    net = from_snntorch(model, torch.zeros(1, 8))
    assert np.any(net.by_name["1"].neurons.bias != 0)
    assert_spike_exact(net, model, stimulus(rng, (8,)))


def test_if_and_mixed_beta():
    """beta = 1 (IF: an IF node) and a layer mixing beta 1 with beta < 1 (LIF, tau = 2**30 dt)."""
    rng = np.random.default_rng(4)
    mixed = torch.tensor([1.0, 0.5, 0.75, 1.0] * 3)
    model = torch.nn.Sequential(
        linear(rng, 8, 12, 0.5),
        snn.Leaky(beta=1.0, init_hidden=True),
        linear(rng, 12, 12, 0.5),
        snn.Leaky(beta=mixed, init_hidden=True, reset_mechanism="zero"),
    )
    net = from_snntorch(model, torch.zeros(1, 8))
    assert net.by_name["1"].kind == "if"
    np.testing.assert_array_equal(net.by_name["3"].neurons.decay, mixed.numpy())
    assert_spike_exact(net, model, stimulus(rng, (8,)))


def test_readout_membrane():
    """An LI-like readout: Leaky with reset_mechanism='none' (snnTorch has no LI neuron); the
    membrane, which a readout reads, is bit for bit snnTorch's."""
    rng = np.random.default_rng(5)
    model = torch.nn.Sequential(
        linear(rng, 8, 12, 0.6),
        snn.Leaky(beta=0.9, init_hidden=True),
        linear(rng, 12, 3, 1.0),
        snn.Leaky(beta=0.75, threshold=1.0, init_hidden=True, reset_mechanism="none", output=True),
    )
    net = from_snntorch(model, torch.zeros(1, 8))
    assert net.output == "3" and not net.by_name["3"].neurons.resets.any()
    assert_spike_exact(net, model, stimulus(rng, (8,)), membranes=True)


@pytest.mark.parametrize(("reset", "delay"), [("subtract", True), ("zero", True), ("zero", False), ("none", True)])
def test_synaptic_cuba(reset, delay):
    """Synaptic (CUBA): syn = alpha syn + I, mem = beta mem + syn; a reset to zero is delayed
    when reset_delay (snnTorch subtracts the whole new membrane), unlike Leaky's."""
    rng = np.random.default_rng(6)
    kw = {"reset_mechanism": reset, "reset_delay": delay, "init_hidden": True}
    model = torch.nn.Sequential(
        linear(rng, 8, 12, 0.4),
        snn.Synaptic(alpha=0.6, beta=0.85, **kw),
        linear(rng, 12, 4, 0.4),
        snn.Synaptic(alpha=0.5, beta=0.9, **kw),
    )
    net = from_snntorch(model, torch.zeros(1, 8))
    p = net.by_name["1"].neurons
    assert p.cuba.all() and p.syn_decay[0] == np.float32(0.6) and not p.current_lag.any()
    assert bool(p.delayed_reset[0]) == (reset != "none" and delay)
    assert_spike_exact(net, model, stimulus(rng, (8,)), membranes=reset in ("subtract", "none"))


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_rleaky_all_to_all(reset):
    """RLeaky with a dense recurrence (its own bias zeroed: with a bias the order of the float32
    additions differs, see the adapter's docstring); recurrent spikes arrive one frame later."""
    rng = np.random.default_rng(7)
    rec = snn.RLeaky(beta=0.9, linear_features=10, init_hidden=True, reset_mechanism=reset)
    with torch.no_grad():
        rec.recurrent.weight.copy_(torch.from_numpy(grid(rng.uniform(-0.4, 0.4, (10, 10)))))
        rec.recurrent.bias.zero_()
    model = torch.nn.Sequential(
        linear(rng, 8, 10, 0.6), rec, linear(rng, 10, 4, 0.5), snn.Leaky(beta=0.8, init_hidden=True)
    )
    net = from_snntorch(model, torch.zeros(1, 8))
    assert any(net.is_recurrent(pr) for pr in net.projections)
    assert_spike_exact(net, model, stimulus(rng, (8,)))


@pytest.mark.parametrize("scalar_v", [False, True])
def test_rleaky_one_to_one(scalar_v):
    """RLeaky(all_to_all=False): a self-connection of weight V (the exporter needs a vector V; the
    adapter broadcasts a scalar)."""
    rng = np.random.default_rng(8)
    v = 0.25 if scalar_v else torch.from_numpy(grid(rng.uniform(-0.5, 0.5, 10)))
    model = torch.nn.Sequential(
        linear(rng, 8, 10, 0.6), snn.RLeaky(beta=0.875, V=v, all_to_all=False, init_hidden=True)
    )
    net = from_snntorch(model, torch.zeros(1, 8))
    assert_spike_exact(net, model, stimulus(rng, (8,)))


def test_rsynaptic():
    rng = np.random.default_rng(9)
    rec = snn.RSynaptic(alpha=0.5, beta=0.9, linear_features=10, init_hidden=True)
    with torch.no_grad():
        rec.recurrent.weight.copy_(torch.from_numpy(grid(rng.uniform(-0.3, 0.3, (10, 10)))))
        rec.recurrent.bias.zero_()
    model = torch.nn.Sequential(linear(rng, 8, 10, 0.4), rec)
    net = from_snntorch(model, torch.zeros(1, 8))
    assert net.by_name["1.lif"].neurons.cuba.all()
    assert_spike_exact(net, model, stimulus(rng, (8,)))


@pytest.mark.parametrize("pool", ["avg", "sum", "avg_padded"])
def test_conv_pool(pool):
    """Conv2d + pooling + Leaky -> Flatten -> Linear -> Leaky. The exporter writes AvgPool2d with
    padding 0 and no divisor_override; the adapter writes the module's padding and SumPool2d."""
    rng = np.random.default_rng(10)
    pools = {
        "avg": torch.nn.AvgPool2d(2),
        "sum": torch.nn.AvgPool2d(2, divisor_override=1),
        "avg_padded": torch.nn.AvgPool2d(2, stride=2, padding=1),
    }
    side = 4 if pool != "avg_padded" else 5
    model = torch.nn.Sequential(
        conv(rng, 1, 3, 3, 0.6 if pool != "sum" else 0.3, padding=1),
        pools[pool],
        snn.Leaky(beta=0.9, threshold=0.5 if pool != "sum" else 1.0, init_hidden=True),
        torch.nn.Flatten(),
        linear(rng, 3 * side * side, 4, 0.5),
        snn.Leaky(beta=0.8, init_hidden=True),
    )
    net = from_snntorch(model, torch.zeros(1, 1, 8, 8))
    assert net.by_name["2"].shape == (3, side, side)
    assert_spike_exact(net, model, stimulus(rng, (1, 8, 8), rate=0.4))


def test_dt_is_recorded_and_decay_unchanged():
    """dt only names the seconds of a frame: the decay stays the module's beta."""
    model = leaky_mlp(np.random.default_rng(11))
    net = from_snntorch(model, torch.zeros(1, 8), dt=1e-3, name="mlp")
    assert net.dt == 1e-3 and net.name == "mlp"
    assert net.by_name["3"].neurons.decay[0] == np.float32(0.8)


def test_decay_is_exact_float32_beta():
    """beta values whose float64 tau would round wrongly still give decay == float32 beta."""
    betas = torch.tensor(np.random.default_rng(12).uniform(0, 1, 64), dtype=torch.float32)
    model = torch.nn.Sequential(linear(np.random.default_rng(12), 8, 64), snn.Leaky(beta=betas, init_hidden=True))
    net = from_snntorch(model, torch.zeros(1, 8))
    np.testing.assert_array_equal(net.by_name["1"].neurons.decay, betas.numpy())


def test_beta_clamped_as_the_forward_does():
    """snnTorch clamps beta to [0, 1] in the forward (its exporter writes the raw value)."""
    model = torch.nn.Sequential(
        linear(np.random.default_rng(13), 8, 4), snn.Leaky(beta=torch.tensor([1.5, -0.5, 0.5, 1.0]), init_hidden=True)
    )
    net = from_snntorch(model, torch.zeros(1, 8))
    np.testing.assert_array_equal(net.by_name["1"].neurons.decay, np.float32([1, 0, 0.5, 1]))


# ===================================================================================== refusals
def _one_line_refusal(model, example, *fragments):
    with pytest.raises(NetworkError) as e:
        from_snntorch(model, example)
    msg = str(e.value)
    assert "\n" not in msg
    for f in fragments:
        assert f in msg, msg


def test_refuses_max_pool():
    rng = np.random.default_rng(20)
    model = torch.nn.Sequential(conv(rng, 1, 2), torch.nn.MaxPool2d(2), snn.Leaky(beta=0.9, init_hidden=True))
    _one_line_refusal(model, torch.zeros(1, 1, 8, 8), "'1' (MaxPool2d)", "max pooling", "AvgPool2d(divisor_override=1)")


@pytest.mark.parametrize(
    ("kwargs", "fragments"),
    [
        ({"graded_spikes_factor": 2.0}, ("graded_spikes_factor", "train with graded_spikes_factor=1")),
        ({"inhibition": True}, ("inhibition=True",)),
        ({"state_quant": lambda m: m}, ("state_quant",)),
        ({"spike_grad": lambda x: (x >= 0).float()}, ("spike function is not the Heaviside step",)),
    ],
)
def test_refuses_what_the_chip_cannot_do(kwargs, fragments):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # snnTorch warns on inhibition
        lif = snn.Leaky(beta=0.9, init_hidden=True, **kwargs)
    model = torch.nn.Sequential(linear(np.random.default_rng(21), 8, 4), lif)
    _one_line_refusal(model, torch.zeros(1, 8), "snnTorch module '1' (Leaky)", *fragments)


def test_refuses_double_reset_guard():
    """reset_delay=False with 'subtract' and inputs that can keep a membrane above threshold after
    its reset: snnTorch's do_reset = spk - reset then raises the effective threshold."""
    model = leaky_mlp(np.random.default_rng(22), "subtract", False, scale=(1.0, 1.0))
    _one_line_refusal(model, torch.zeros(1, 8), "layer '1' (Leaky)", "double-reset guard", "reset_delay=True")


def test_refuses_unexported_modules():
    rng = np.random.default_rng(23)
    for extra, kind in (
        (torch.nn.Dropout(0.1), "Dropout"),
        (torch.nn.ReLU(), "ReLU"),
        (snn.Alpha(0.9, 0.8, init_hidden=True), "Alpha"),
    ):
        model = torch.nn.Sequential(linear(rng, 8, 4), extra, snn.Leaky(beta=0.9, init_hidden=True))
        _one_line_refusal(model, torch.zeros(1, 8), f"'1' ({kind})", "not exported by snnTorch's NIR exporter")


def test_refuses_synaptic_bias():
    """snnTorch adds a Linear's bias to the synaptic current, where it accumulates."""
    model = torch.nn.Sequential(
        linear(np.random.default_rng(24), 8, 4, bias=True), snn.Synaptic(alpha=0.5, beta=0.9, init_hidden=True)
    )
    _one_line_refusal(model, torch.zeros(1, 8), "bias", "synaptic current")


def test_refuses_rsynaptic_without_reset_delay():
    rec = snn.RSynaptic(alpha=0.5, beta=0.9, linear_features=4, init_hidden=True, reset_delay=False)
    model = torch.nn.Sequential(linear(np.random.default_rng(25), 8, 4), rec)
    _one_line_refusal(model, torch.zeros(1, 8), "'1' (RSynaptic)", "reset_delay=False")


def test_refuses_pools_that_round_differently():
    rng = np.random.default_rng(26)
    for pool, frag in (
        (torch.nn.AvgPool2d(3), "not a power of two"),
        (torch.nn.AvgPool2d(2, ceil_mode=True), "ceil_mode"),
    ):
        model = torch.nn.Sequential(conv(rng, 1, 2, padding=1), pool, snn.Leaky(beta=0.9, init_hidden=True))
        _one_line_refusal(model, torch.zeros(1, 1, 9, 9), "(AvgPool2d)", frag)


class _Unused(torch.nn.Module):
    """A model with a neuron layer its forward never calls."""

    def __init__(self):
        super().__init__()
        self.fc = linear(np.random.default_rng(28), 8, 4)
        self.lif = snn.Leaky(beta=0.9, init_hidden=True)
        self.spare = snn.Leaky(beta=0.9, init_hidden=True)

    def forward(self, x):
        return self.lif(self.fc(x))


def _conv_model(pool=None, **conv_kw):
    rng = np.random.default_rng(29)
    layers = [conv(rng, 1, 2, padding=1, **conv_kw)] + ([pool] if pool is not None else [])
    return torch.nn.Sequential(*layers, snn.Leaky(beta=0.9, init_hidden=True))


def _neuron_model(lif):
    return torch.nn.Sequential(linear(np.random.default_rng(30), 8, 4), lif)


@pytest.mark.parametrize(
    ("model", "example", "fragments"),
    [
        (lambda: _conv_model(padding_mode="reflect"), (1, 1, 8, 8), ("'0' (Conv2d)", "padding_mode 'reflect'")),
        (lambda: _conv_model(torch.nn.AvgPool2d(2, divisor_override=3)), (1, 1, 8, 8), ("divisor_override=3",)),
        (
            lambda: _conv_model(torch.nn.AvgPool2d(2, padding=1, count_include_pad=False)),
            (1, 1, 8, 8),
            ("count_include_pad=False",),
        ),
        (
            lambda: _neuron_model(snn.Leaky(beta=torch.tensor(0.9, dtype=torch.float64), init_hidden=True)),
            (1, 8),
            ("parameter beta has dtype torch.float64", ".float()"),
        ),
        (
            lambda: _neuron_model(snn.Leaky(beta=0.9, init_hidden=True, spike_grad=lambda x: 1 / 0)),
            (1, 8),
            ("spike function fails on a probe",),
        ),
        (
            lambda: _neuron_model(snn.Leaky(beta=0.9, threshold=-0.5, init_hidden=True, reset_delay=False)),
            (1, 8),
            ("negative threshold with reset_delay=False",),
        ),
        (
            lambda: torch.nn.Sequential(
                conv(np.random.default_rng(31), 1, 2, padding=1),
                snn.RLeaky(beta=0.9, conv2d_channels=2, kernel_size=3, init_hidden=True),
            ),
            (1, 1, 8, 8),
            ("'1' (RLeaky)", "convolutional recurrence"),
        ),
        (_Unused, (1, 8), ("layer 'spare' (Leaky) is not used by the forward",)),
        (lambda: leaky_mlp(np.random.default_rng(32)), (1, 5), ("forward fails on example_input",)),
    ],
)
def test_refuses_other_settings(model, example, fragments):
    _one_line_refusal(model(), torch.zeros(example), *fragments)


def test_refuses_a_reset_changed_after_construction():
    """snnTorch binds the state function when the layer is built; setting reset_mechanism later
    changes only part of the forward."""
    lif = snn.Leaky(beta=0.9, init_hidden=True)
    lif.reset_mechanism = "zero"
    _one_line_refusal(_neuron_model(lif), torch.zeros(1, 8), "resets as 'subtract'", "rebuild the layer")


def test_refuses_subclasses():
    """A subclass may override the forward: it is not taken for its base class."""

    class MyLeaky(snn.Leaky):
        pass

    _one_line_refusal(_neuron_model(MyLeaky(beta=0.9, init_hidden=True)), torch.zeros(1, 8), "'1' (MyLeaky)")


@pytest.mark.parametrize("dt", [0.0, -1e-3, float("nan"), "fast"])
def test_refuses_bad_dt(dt):
    with pytest.raises(NetworkError, match="dt must be"):
        from_snntorch(leaky_mlp(np.random.default_rng(33)), torch.zeros(1, 8), dt=dt)


def test_synaptic_immediate_subtract():
    """Synaptic with reset_delay=False, 'subtract': accepted where the current's bound (the fixed
    point of s = alpha s + x) keeps every membrane at or below threshold after its reset,
    refused where it does not."""
    rng = np.random.default_rng(34)
    lif = snn.Synaptic(alpha=0.5, beta=0.75, init_hidden=True, reset_delay=False)
    model = torch.nn.Sequential(linear(rng, 8, 6), lif)
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(grid(rng.uniform(0.03125, 0.078125, (6, 8)))))  # x <= 0.625
    net = from_snntorch(model, torch.zeros(1, 8))
    assert_spike_exact(net, model, stimulus(rng, (8,), rate=0.6), membranes=True)
    with torch.no_grad():
        model[0].weight.mul_(2)
    _one_line_refusal(model, torch.zeros(1, 8), "layer '1' (Synaptic)", "double-reset guard")


def test_refuses_a_lowering_that_differs(monkeypatch):
    """The adapter checks the lowered parameters against the module's: a tau that does not give
    the module's beta is refused, not run."""
    from neurosim.interop import snntorch_adapter

    exact = snntorch_adapter._tau_r
    monkeypatch.setattr(snntorch_adapter, "_tau_r", lambda d, dt, shape: tuple(a * 1.01 for a in exact(d, dt, shape)))
    _one_line_refusal(leaky_mlp(np.random.default_rng(35)), torch.zeros(1, 8), "neurosim.from_nir gave decay")


def test_refuses_example_without_batch_dimension():
    _one_line_refusal(leaky_mlp(np.random.default_rng(27)), torch.zeros(8), "batch dimension")


# =================================================================================== file route
def test_export_scalar_beta():
    """snnTorch 1.0.0's export_to_nir fails its own type check when beta is a scalar (the LIF node
    gets shape ()); the adapter exports a copy with per-neuron parameters."""
    model = leaky_mlp(np.random.default_rng(30))
    with warnings.catch_warnings(), pytest.raises(ValueError, match="type mismatch"):
        warnings.simplefilter("ignore")
        export_to_nir(model, torch.zeros(1, 8), ignore_dims=[0])
    assert from_snntorch(model, torch.zeros(1, 8)).n_neurons == 8 + 12 + 4


@pytest.mark.parametrize("delay", [True, False])
def test_file_route_zero_reset_is_exact(tmp_path, delay):
    """The file carries no reset mode; neurosim then assumes NIR's hard reset, immediate, to
    v_reset = 0, which IS Leaky's reset_mechanism='zero' (either reset_delay): spike-exact."""
    rng = np.random.default_rng(31)
    model = leaky_mlp(rng, "zero", delay, vector=True)
    net = file_route(model, torch.zeros(1, 8), tmp_path)
    assert not net.by_name["1"].neurons.subtract.any() and not net.by_name["1"].neurons.delayed_reset.any()
    assert_spike_exact(net, model, stimulus(rng, (8,)))


@pytest.mark.parametrize("reset", ["subtract", "none"])
def test_file_route_loses_the_reset(tmp_path, reset):
    """snnTorch's default (subtract, delayed) and 'none' load from the file as a hard reset: the
    spikes differ (measured), so these need the adapter."""
    rng = np.random.default_rng(32)
    model = leaky_mlp(rng, reset, True, vector=True)
    net = file_route(model, torch.zeros(1, 8), tmp_path)
    assert not net.by_name["1"].neurons.subtract.any() and net.by_name["1"].neurons.resets.all()
    stim = stimulus(rng, (8,))
    ref, _ = neurosim_spikes(net, stim)
    spikes, _ = snntorch_forward(model, stim)
    assert not np.array_equal(ref[:, net.span("1")], spikes["1"])
    assert_spike_exact(from_snntorch(model, torch.zeros(1, 8)), model, stim)


def test_file_route_needs_dt(tmp_path):
    """The exporter writes no dt: from_nir refuses the file without one."""
    model = leaky_mlp(np.random.default_rng(33), "zero", vector=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = export_to_nir(model, torch.zeros(1, 8), ignore_dims=[0])
    nir.write(tmp_path / "m.nir", graph)
    with pytest.raises(NetworkError, match="dt"):
        neurosim.from_nir(tmp_path / "m.nir")


def test_file_route_decay_rounding(tmp_path):
    """The file's tau = 1e-4 / (1 - beta) is float32; measured: the decay read back from it differs
    from the float32 beta by a float32 step for some betas (the adapter is exact)."""
    betas = torch.tensor(np.random.default_rng(34).uniform(0.05, 0.99, 256), dtype=torch.float32)
    model = torch.nn.Sequential(
        linear(np.random.default_rng(34), 8, 256), snn.Leaky(beta=betas, threshold=torch.ones(256), init_hidden=True)
    )
    net = file_route(model, torch.zeros(1, 8), tmp_path)
    off = net.by_name["1"].neurons.decay != betas.numpy()
    assert 0 < off.sum() < 256
    err = np.abs(net.by_name["1"].neurons.decay.astype(np.float64) - betas.numpy())
    assert err.max() <= 2.0**-23  # about one float32 step of tau, relative


def test_file_route_synaptic_and_recurrent(tmp_path):
    """Synaptic and RLeaky files load (CubaLIF; the recurrence flattened into the graph) but run
    other dynamics (measured: spikes differ): a CubaLIF without metadata takes last frame's current
    (NIR's Euler step; snnTorch uses this step's), and snnTorch's reset to zero of these layers is
    delayed, the file's hard reset immediate. The adapter gets both right."""
    rng = np.random.default_rng(35)
    rec = snn.RLeaky(beta=vec(0.9, 6), threshold=vec(1, 6), linear_features=6, init_hidden=True, reset_mechanism="zero")
    with torch.no_grad():
        rec.recurrent.weight.copy_(torch.from_numpy(grid(rng.uniform(-0.4, 0.4, (6, 6)))))
        rec.recurrent.bias.zero_()
    model = torch.nn.Sequential(
        linear(rng, 8, 10, 0.5),
        snn.Synaptic(alpha=vec(0.5, 10), beta=vec(0.9, 10), threshold=vec(1, 10), init_hidden=True),
        linear(rng, 10, 6, 0.6),
        rec,
    )
    net = file_route(model, torch.zeros(1, 8), tmp_path)
    assert net.by_name["1"].neurons.current_lag.all() and any(net.is_recurrent(pr) for pr in net.projections)
    stim = stimulus(rng, (8,))
    ref, _ = neurosim_spikes(net, stim)
    spikes, _ = snntorch_forward(model, stim)
    for name, node in (("1", "1"), ("3", "3.lif")):
        assert not np.array_equal(ref[:, net.span(node)], spikes[name]), name
    assert_spike_exact(from_snntorch(model, torch.zeros(1, 8)), model, stim)


def test_file_route_if_refused(tmp_path):
    """beta = 1 is written as tau = inf, which from_nir refuses (the adapter writes an IF node)."""
    model = torch.nn.Sequential(
        linear(np.random.default_rng(36), 8, 4), snn.Leaky(beta=vec(1, 4), threshold=vec(1, 4), init_hidden=True)
    )
    with pytest.raises(NetworkError, match="tau must be finite"):
        file_route(model, torch.zeros(1, 8), tmp_path)


def test_file_route_sum_pool_is_an_average(tmp_path):
    """The exporter writes AvgPool2d(divisor_override=1) as an average pool: 4 times too small."""
    rng = np.random.default_rng(37)
    model = torch.nn.Sequential(
        conv(rng, 1, 2, 3, 0.3, padding=1),
        torch.nn.AvgPool2d(2, divisor_override=1),
        snn.Leaky(beta=torch.full((2, 4, 4), 0.9), threshold=torch.ones(2, 4, 4), init_hidden=True),
    )
    from_file = file_route(model, torch.zeros(1, 1, 8, 8), tmp_path)
    adapted = from_snntorch(model, torch.zeros(1, 1, 8, 8))
    w_file, w_adapter = from_file.projections[0].weights, adapted.projections[0].weights
    np.testing.assert_array_equal((w_file * 4).toarray(), w_adapter.toarray())


# ================================================================================== round trips
def _import(net, tmp_path):
    """neurosim -> save_network -> nir.read -> snnTorch's import_from_nir."""
    path = tmp_path / "round_trip.nir"
    save_network(net, path)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # the importer prints
        warnings.simplefilter("ignore")
        return import_from_nir(nir.read(path))


def _rleaky(rng, reset="zero", delay=False):
    rec = snn.RLeaky(beta=0.9, linear_features=10, init_hidden=True, reset_mechanism=reset, reset_delay=delay)
    with torch.no_grad():
        rec.recurrent.weight.copy_(torch.from_numpy(grid(rng.uniform(-0.4, 0.4, (10, 10)))))
        rec.recurrent.bias.zero_()
    return torch.nn.Sequential(linear(rng, 8, 10, 0.6), rec)


ROUND_TRIPS = {
    "leaky": (lambda rng: leaky_mlp(rng, "zero", False), (8,)),
    "synaptic": (
        lambda rng: torch.nn.Sequential(
            linear(rng, 8, 10, 0.5),
            snn.Synaptic(alpha=0.5, beta=0.9, init_hidden=True, reset_mechanism="zero", reset_delay=False),
        ),
        (8,),
    ),
    "conv": (
        lambda rng: torch.nn.Sequential(
            conv(rng, 1, 3, 3, 0.6, padding=1),
            torch.nn.AvgPool2d(2),
            snn.Leaky(beta=0.9, threshold=0.5, init_hidden=True, reset_mechanism="zero", reset_delay=False),
        ),
        (1, 8, 8),
    ),
}


@pytest.mark.parametrize("kind", sorted(ROUND_TRIPS))
def test_round_trip_hard_reset(tmp_path, kind):
    """neurosim (immediate hard reset to 0, dt = 1e-4) -> save_network -> import_from_nir: the
    importer builds Leaky/Synaptic(reset_mechanism='zero', reset_delay=False) with
    beta = 1 - 1e-4 / tau (alpha alike), the same network: spike-exact."""
    build, shape = ROUND_TRIPS[kind]
    rng = np.random.default_rng(40)
    net = from_snntorch(build(rng), torch.zeros((1, *shape)))
    back = _import(net, tmp_path)
    stim = stimulus(rng, shape)
    ref, _ = neurosim_spikes(net, stim.reshape(FRAMES, -1))
    with contextlib.redirect_stdout(io.StringIO()):
        got, _ = snntorch_forward(back, stim, stateful=True)
    assert set(got) == {p.name for p in net.populations if p.params is not None}
    for name, s in got.items():
        assert s.any()
        np.testing.assert_array_equal(ref[:, net.span(name)], s, err_msg=name)


def test_round_trip_importer_bugs(tmp_path):
    """snnTorch 1.0.0's importer ignores metadata['reset'] (always 'zero', reset_delay=False),
    ignores the graph's dt (assumes 1e-4), and imports an IF node as Leaky(beta=0.9)."""
    rng = np.random.default_rng(41)
    model = torch.nn.Sequential(
        linear(rng, 8, 6),
        snn.Leaky(beta=1.0, init_hidden=True),
        linear(rng, 6, 4),
        snn.Leaky(beta=0.5, init_hidden=True),
    )
    layers = neuron_layers(_import(from_snntorch(model, torch.zeros(1, 8), dt=1e-3), tmp_path))
    assert np.allclose(layers["1"].beta.numpy(), 0.9)  # an IF imported with a leak
    assert layers["3"].reset_mechanism == "zero"  # the file says 'subtract'
    assert np.allclose(layers["3"].beta.numpy(), 1 - 1e-4 / (1e-3 / 0.5))  # dt 1e-3 ignored: not 0.5


def test_round_trip_recurrent_importer_bug(tmp_path):
    """The importer wraps a LIF <-> Affine cycle in a subgraph whose input feeds the recurrent
    weights instead of the LIF (edge input -> w_rec), and never builds an RLeaky (no NIRGraph
    entry in its node map): the recurrent network imports with other dynamics (measured)."""
    from snntorch.import_nir import _replace_rnn_subgraph_with_nirgraph

    rng = np.random.default_rng(42)
    net = from_snntorch(_rleaky(rng), torch.zeros(1, 8))
    save_network(net, tmp_path / "rec.nir")
    with contextlib.redirect_stdout(io.StringIO()):
        graph = _replace_rnn_subgraph_with_nirgraph(nir.read(tmp_path / "rec.nir"))
    sub = graph.nodes["1"]
    w_rec = next(k for k, v in sub.nodes.items() if isinstance(v, (nir.Affine, nir.Linear)))
    assert ("1.input", w_rec) in sub.edges and ("1.input", "1.lif") not in sub.edges
    back = _import(net, tmp_path)
    assert not any(isinstance(m, snn.RLeaky) for m in back.modules())
    stim = stimulus(rng, (8,))
    ref, _ = neurosim_spikes(net, stim)
    with contextlib.redirect_stdout(io.StringIO()):
        got, _ = snntorch_forward(back, stim, stateful=True)
    (only,) = got.values()
    assert not np.array_equal(ref[:, net.span("1.lif")], only)
