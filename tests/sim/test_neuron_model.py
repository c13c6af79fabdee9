"""The extended neuron model (cuba current, reset modes, non-spiking neurons, fire_equal) and
synaptic delays, in every execution mode: the chip against the numpy reference per neuron and
frame, async against sync where the semantics say so.

Weights are on a 1/64 grid and (for the async comparisons) decays are 0.5 or 1, so every float32
sum is exact in any order: modes that add the same currents in another order agree bit for bit.
"""

import numpy as np
import pytest
import scipy.sparse as sp

from neurosim.describe.mapping import Mapping
from neurosim.describe.network import Network, Population, Projection
from neurosim.errors import SimulationError
from neurosim.mapping.registry import map_network
from neurosim.neuron import NeuronParams
from neurosim.sim.chip import Chip
from neurosim.sim.engine import simulate
from neurosim.sim.reference import sync_states


def grid(w, step=64):
    return (np.round(np.asarray(w) * step) / step).astype(np.float32)


def switches(rng, n, *, exact: bool, hard_only: bool, output: bool = False, spiking_out: bool = True):
    """Random per-neuron parameters using every switch (``exact``: power-of-two decays)."""
    decays = [0.5, 1.0] if exact else [0.5, 0.625, 0.875, 1.0]
    cuba = rng.random(n) < 0.5
    resets = rng.random(n) < 0.8
    delayed = rng.random(n) < 0.4
    subtract = np.zeros(n, bool) if hard_only else rng.random(n) < 0.5
    subtract |= hard_only & delayed & (rng.random(n) < 0.5)  # a delayed reset may subtract
    return NeuronParams.uniform(
        n,
        decay=rng.choice(decays, n),
        threshold=grid(rng.uniform(0.5, 1.0, n), 8),
        v_reset=grid(rng.uniform(-0.25, 0.25, n), 8),
        subtract=subtract,
        syn_decay=rng.choice([0.0, 0.5, 1.0] if exact else [0.0, 0.25, 0.5, 0.75], n),
        cuba=cuba,
        current_lag=cuba & (rng.random(n) < 0.5),
        resets=resets,
        delayed_reset=delayed,
        fire_equal=rng.random(n) < 0.3,
        spiking=np.full(n, spiking_out) if output else np.ones(n, bool),
    )


def model_net(seed, *, delays=True, exact=False, excitatory=False, spiking_out=True, sizes=(10, 14, 12, 5)):
    """A random network whose neurons use every switch, with delayed, skip and recurrent projections."""
    rng = np.random.default_rng(seed)
    pops = [Population("in", "input", (sizes[0],))]
    for k, n in enumerate(sizes[1:]):
        out = k == len(sizes) - 2
        p = switches(rng, n, exact=exact, hard_only=excitatory, output=out, spiking_out=spiking_out)
        pops.append(Population(f"l{k}", "lif", (n,), p))

    def weights(a, b, mean):
        w = grid(rng.normal(mean, 0.4, (a, b)))
        if excitatory:
            w = np.abs(w)
        w[rng.random(w.shape) > 0.6] = 0
        return sp.csr_array(w)

    projs = []
    for k in range(len(sizes) - 1):
        d = int(rng.integers(0, 4)) if delays and k > 0 else 0
        projs.append(Projection(pops[k].name, pops[k + 1].name, weights(sizes[k], sizes[k + 1], 0.3), delay=d))
    if delays:
        projs.append(Projection("in", "l1", weights(sizes[0], sizes[2], 0.2), delay=2))  # a skip, delayed
        projs.append(Projection("l1", "l0", weights(sizes[2], sizes[1], 0.0), delay=0))  # recurrent: 1 frame
        projs.append(Projection("l2", "l2", weights(sizes[3], sizes[3], 0.0), delay=3))  # recurrent, delayed
    return Network(f"model{seed}", pops, projs, "in", pops[-1].name, dt=1e-3)


def reference(net, stim):
    spikes, vs, cs = [], [], []
    for s, v, i in sync_states(net, stim):
        spikes.append(s.copy())
        vs.append(v.copy())
        cs.append(i.copy())
    return np.array(spikes), np.array(vs), np.array(cs)


def chip_run(hw, net, stim, npc=None, **opts):
    chip = Chip(hw, net, map_network(net, hw, neurons_per_core=npc))
    chip.configure(**opts)
    chip.run_sample(stim)
    spikes = np.zeros((stim.shape[0], net.n_neurons), bool)
    for f, _, ids, _ in chip.spike_log:
        spikes[f, ids] = True
    return chip, spikes


@pytest.mark.parametrize("seed,npc", [(0, None), (1, 4), (2, 3), (3, 7)])
@pytest.mark.parametrize("spiking_out", [True, False])
def test_chip_sync_equals_reference_with_every_switch_and_delays(roomy_hw, seed, npc, spiking_out):
    net = model_net(seed, spiking_out=spiking_out)
    stim = np.random.default_rng(seed + 10).random((12, 10)) < 0.5
    want_s, want_v, want_i = reference(net, stim)
    chip, got = chip_run(roomy_hw, net, stim, npc)
    np.testing.assert_array_equal(got, want_s)
    out = net.span(net.output)
    np.testing.assert_array_equal(np.array(chip.readout_v), want_v[:, out])
    np.testing.assert_array_equal(chip.state.v, want_v[-1])
    np.testing.assert_array_equal(chip.state.i, want_i[-1])
    assert want_s[:, net.span("l2")].any() or not spiking_out
    assert want_s[:, net.span("l1")].any(), "the test network should be active"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("delays", [False, True])
@pytest.mark.parametrize("scope", ["global", "core"])
def test_async_with_wide_groups_equals_sync_for_excitatory_networks(roomy_hw, seed, delays, scope):
    """Async fires a neuron as soon as it crosses, sync at the frame's end; with excitatory
    weights (input only raises the membrane) and hard resets where a neuron resets at once, the
    two agree whatever the step at which a neuron crosses: spikes per neuron and frame, membranes
    and synaptic currents (every switch in use, delays and recurrence included)."""
    net = model_net(seed, delays=delays, exact=True, excitatory=True, spiking_out=seed != 1)
    hw = roomy_hw.model_copy(update={"core": roomy_hw.core.model_copy(update={"issue_width": 1000})})
    stim = np.random.default_rng(seed + 20).random((10, 10)) < 0.4
    want_s, want_v, want_i = reference(net, stim)
    chip, got = chip_run(hw, net, stim, 5, mode="async", scope=scope, group_size=net.n_neurons, policy="fifo")
    np.testing.assert_array_equal(got, want_s)
    np.testing.assert_array_equal(np.array(chip.readout_v), want_v[:, net.span(net.output)])
    np.testing.assert_array_equal(chip.state.v, want_v[-1])
    np.testing.assert_array_equal(chip.state.i, want_i[-1])
    assert want_s[:, net.span("l1")].any()


# ---- golden cases by hand -------------------------------------------------------------------


@pytest.mark.parametrize("delay", [1, 2, 3])
@pytest.mark.parametrize("mode,scope", [("sync", "global"), ("async", "global"), ("async", "core")])
def test_a_spike_through_a_projection_of_delay_d_is_integrated_d_frames_later(small_hw, delay, mode, scope):
    pops = [
        Population("in", "input", (1,)),
        Population("mid", "lif", (1,), NeuronParams.uniform(1, decay=1.0, threshold=1.0)),
        Population("out", "lif", (1,), NeuronParams.uniform(1, decay=1.0, threshold=1.0)),
    ]
    one = sp.csr_array(np.array([[1.5]], np.float32))
    projs = [Projection("in", "mid", one), Projection("mid", "out", one, delay=delay)]
    net = Network("delay", pops, projs, "in", "out")
    stim = np.zeros((6, 1), bool)
    stim[0] = True
    want = np.zeros((6, 3), bool)
    want[0, :2] = True  # the input and mid spike in frame 0
    want[delay, 2] = True  # out integrates mid's spike `delay` frames later
    np.testing.assert_array_equal(reference(net, stim)[0], want)
    _, got = chip_run(small_hw, net, stim, mode=mode, scope=scope)
    np.testing.assert_array_equal(got, want)


def readout_net(**out_switches):
    """in -> a (cuba, syn_decay 0.5) with delay 2 -> out (2 non-spiking neurons, decays 1 and 0.25)."""
    out_switches = {"spiking": False, **out_switches}
    pops = [
        Population("in", "input", (1,)),
        Population("a", "lif", (1,), NeuronParams.uniform(1, decay=0.5, threshold=1.0, cuba=True, syn_decay=0.5)),
        Population(
            "out", "lif", (2,), NeuronParams.uniform(2, decay=[1.0, 0.25], **{"spiking": False, **out_switches})
        ),
    ]
    projs = [
        Projection("in", "a", sp.csr_array(np.array([[1.5]], np.float32)), delay=2),
        Projection("a", "out", sp.csr_array(np.array([[0.5, 1.0]], np.float32))),
    ]
    return Network("readout", pops, projs, "in", "out")


def simulate_readout(hw, net, label=1, **opts):
    stim = np.zeros((1, 4, 1), bool)
    stim[0, 0] = True
    return simulate(hw, net, Mapping(np.zeros(net.n_neurons, np.int64)), stim, np.array([label]), **opts)


def test_non_spiking_readout_by_hand(small_hw):
    """a spikes in frame 2 (i = 1.5, v = 1.5 > 1); out's membranes after frames 0..3 are
    [0, 0], [0, 0], [0.5, 1], [0.5, 0.25]: max [0.5, 1] -> 1, mean [0.25, 0.3125] -> 1, last -> 0."""
    net = readout_net()
    want = {"max": ([0.5, 1.0], 1), "mean": ([0.25, 0.3125], 1), "last": ([0.5, 0.25], 0)}
    for how, (values, prediction) in want.items():
        res = simulate_readout(small_hw, net, readout=how)
        s = res.samples[0]
        np.testing.assert_array_equal(s.extra["readout"], np.float32(values))
        assert s.prediction == prediction and res.options["readout"] == how
        assert s.output_counts.tolist() == [0, 0] and s.first_output_cycle is None
    chip = Chip(small_hw, net, Mapping(np.zeros(4, np.int64)))
    chip.run_sample(np.eye(4, 1, dtype=bool))
    np.testing.assert_array_equal(np.array(chip.readout_v), np.float32([[0, 0], [0, 0], [0.5, 1], [0.5, 0.25]]))


def test_non_spiking_decision_is_the_frame_end_from_which_the_arg_max_holds(small_hw):
    net = readout_net()
    res = simulate_readout(small_hw, net, label=1, readout="max")
    chip = Chip(small_hw, net, Mapping(np.zeros(4, np.int64)))
    chip.run_sample(np.eye(4, 1, dtype=bool))
    assert res.samples[0].decision_cycle == chip.frame_end[2]  # from frame 2 on the max says 1
    last = simulate_readout(small_hw, net, label=0, readout="last").samples[0]
    assert last.decision_cycle == chip.frame_end[3]  # frame 2 said 1, frame 3 says 0
    assert simulate_readout(small_hw, net, label=0, readout="max").samples[0].decision_cycle is None


def test_extended_operations_are_counted_and_cost_their_latency(small_hw):
    """4 frames: one cuba neuron (4 current updates), one neuron with a delayed input (4 slot
    reads), one delayed synapse reached (1 ring write), two read-out membranes (8 reads)."""
    net = readout_net()
    base = simulate_readout(small_hw, net)
    s = base.samples[0]
    want = {"synaptic_current": 4, "delay_read": 4, "delay_write": 1, "membrane_read": 8}
    assert {k: s.ops[k] for k in want} == want
    e = base.energy(s)
    assert all(e[k] == pytest.approx(n * 1e-12) for k, n in want.items())  # 1 pJ each on small
    # each latency lies on the critical path of one core: +1 cycle per operation
    for op, n in want.items():
        key = f"core.latency_{op}_cycles"
        hw = small_hw.model_copy(update={"core": small_hw.core.model_copy(update={key.split(".")[1]: 3})})
        assert simulate_readout(hw, net).samples[0].cycles - s.cycles == 2 * n, op
    for scope in ("global", "core"):
        a = simulate_readout(small_hw, net, mode="async", scope=scope).samples[0]
        assert {k: a.ops[k] for k in want} == want and a.extra["readout"].tolist() == [0.5, 1.0]


def test_readout_arguments_are_checked(small_hw):
    net = readout_net()
    with pytest.raises(SimulationError, match="readout 'median'"):
        simulate_readout(small_hw, net, readout="median")
    with pytest.raises(SimulationError, match="stop_on_output needs a spiking output"):
        simulate_readout(small_hw, net, mode="async", stop_on_output=2)
    mixed = readout_net(spiking=[True, False])
    with pytest.raises(SimulationError, match="mixes spiking and non-spiking"):
        simulate_readout(small_hw, mixed)


def test_a_spiking_output_is_read_by_its_spike_counts_whatever_the_readout(small_hw):
    net = model_net(0)
    stim = np.random.default_rng(0).random((2, 8, 10)) < 0.5
    m = map_network(net, small_hw)
    a = simulate(small_hw, net, m, stim, np.zeros(2, np.int64), readout="last")
    for s in a.samples:
        assert "readout" not in s.extra and s.prediction == int(np.argmax(s.output_counts))
    assert "readout" not in a.options


def test_reports_of_a_non_spiking_output(small_hw, tmp_path):
    from neurosim.analysis.summary import summarize
    from neurosim.report.writer import write_report

    res = simulate_readout(small_hw, readout_net(), readout="mean")
    summary = summarize(res)
    assert summary["readout"] == "membrane mean"
    assert summary["per_population_spikes_per_inference"]["out"] == 0
    assert summary["samples_with_first_output"] == 0 and summary["samples_with_decision"] == 1
    assert summary["accuracy"] == 1.0
    out = write_report(res, tmp_path / "rep")
    md = (out / "report.md").read_text()
    assert "non-spiking output: arg-max of its membranes at frame ends, mean over the frames" in md
    assert (out / "fig_raster.png").is_file() and (out / "samples.csv").read_text().count("\n") == 2
