"""The one-pass compiled contention model (neurosim.sim.noc.fast) against the reference dispatch
of neurosim.sim.noc.timing (module switch off): arrival and injection cycles of every message,
the model reported, hop counts, every per-link counter and the link state carried between
batches identical, on random unicast and multicast traffic, buffer depths, link latencies and
service times, with and without ``keep_state``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from neurosim.io.hardware_file import load_hardware, preset_path
from neurosim.sim.noc import fast
from neurosim.sim.noc.mesh import LINK_COUNTERS, Mesh

pytestmark = pytest.mark.skipif(not fast.AVAILABLE, reason="the one-pass path needs numba")


def _hw(width, height, lat_ew, lat_ns, bandwidth, buffer, multicast, chips=1, chip_lat=3):
    over = {
        "mesh.width": width,
        "mesh.height": height,
        "router.latency_hop_ew_cycles": lat_ew,
        "router.latency_hop_ns_cycles": lat_ns,
        "router.link_bandwidth_msgs_per_cycle": bandwidth,
        "router.buffer_depth_msgs": buffer,
        "router.delivery": "multicast" if multicast else "unicast",
        "router.contention": True,
    }
    if chips > 1:
        over.update({"chips.width": chips, "chips.link_latency_cycles": chip_lat})
    return load_hardware(preset_path("small"), over)


def _batches(hw, rng, n_batches, n_msgs, span, multicast):
    nc = hw.n_cores
    out = []
    for _ in range(n_batches):
        n = int(rng.integers(1, n_msgs + 1))
        src = rng.integers(0, nc, n)
        dst = rng.integers(0, nc, n)
        send = rng.integers(0, span + 1, n) + int(rng.integers(0, 3 * span + 1))
        group = None
        if multicast:  # groups of messages from one source with one send cycle
            gsrc = rng.integers(0, nc, max(n // 3, 1))
            gid = rng.integers(0, gsrc.size, n)
            src = gsrc[gid]
            group = gid * 7 + 3
        out.append((src, dst, send, group))
    return out


def _run(hw, batches, keep_state, enabled):
    old = fast.ENABLED
    fast.ENABLED = enabled
    try:
        m = Mesh(hw)
        res = []
        for src, dst, send, group in batches:
            d = m.deliver_detailed(src, dst, send, group, keep_state=keep_state)
            res.append((d.arrival.tolist(), d.inject.tolist(), d.model, d.ops, m.link_free_at.tolist()))
        return res, {k: m.counters[k].tolist() for k in LINK_COUNTERS}, dict(m.models), m.op_counts()
    finally:
        fast.ENABLED = old


def _same(hw, batches, keep_state):
    new = _run(hw, batches, keep_state, True)
    ref = _run(hw, batches, keep_state, False)
    assert new == ref
    return new


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=hs.integers(0, 2**31 - 1),
    shape=hs.sampled_from([(2, 2), (3, 2), (4, 4), (2, 5)]),
    lat=hs.tuples(hs.integers(1, 4), hs.integers(1, 4)),
    bandwidth=hs.sampled_from([1.0, 0.5, 0.34, 0.2]),
    buffer=hs.integers(1, 5),
    multicast=hs.booleans(),
    keep_state=hs.booleans(),
    span=hs.sampled_from([0, 3, 20, 200]),
)
def test_one_pass_equals_the_reference_on_random_traffic(
    seed, shape, lat, bandwidth, buffer, multicast, keep_state, span
):
    hw = _hw(shape[0], shape[1], lat[0], lat[1], bandwidth, buffer, multicast)
    rng = np.random.default_rng(seed)
    _same(hw, _batches(hw, rng, 3, 40, span, multicast), keep_state)


@pytest.mark.parametrize("multicast", [False, True])
@pytest.mark.parametrize("buffer", [1, 2, 16])
def test_one_pass_equals_the_reference_on_heavy_traffic_every_model_met(multicast, buffer):
    """Large batches over a Loihi-like link (L 41/65, S 40): all three models occur."""
    hw = _hw(4, 4, 41, 65, 0.025, buffer, multicast)
    rng = np.random.default_rng(buffer)
    batches = _batches(hw, rng, 6, 600, 3000, multicast) + _batches(hw, rng, 4, 3, 50, multicast)
    _, _, models, _ = _same(hw, batches, True)
    _same(hw, batches, False)
    assert models["backpressure"] > 0 or buffer == 16


def test_one_pass_equals_the_reference_across_chips():
    hw = _hw(2, 2, 2, 3, 0.5, 2, False, chips=2, chip_lat=5)
    rng = np.random.default_rng(5)
    _same(hw, _batches(hw, rng, 5, 200, 30, False), True)


def test_models_reported_cover_all_three():
    hw = _hw(4, 4, 2, 3, 0.5, 1, False)
    m = Mesh(hw)
    src, dst = [0, 0], [30, 30]
    assert m.deliver_detailed(src, dst, [0, 10]).model == "contention-free"
    assert m.deliver_detailed(src, dst, [0, 0]).model in ("fifo", "backpressure")
    rng = np.random.default_rng(1)
    batches = [(rng.integers(0, 32, 300), rng.integers(0, 32, 300), np.zeros(300)) for _ in range(3)]
    models = {m.deliver_detailed(*b).model for b in batches}
    assert "backpressure" in models


def test_zero_latency_links_take_the_reference_path():
    hw = _hw(3, 3, 0, 1, 1.0, 2, False)
    assert not fast.usable(Mesh(hw).routes)
    assert fast.usable(Mesh(_hw(3, 3, 1, 1, 1.0, 2, False)).routes)


def test_without_numba_the_pure_python_reference_gives_the_same(monkeypatch):
    """With numba absent the mesh takes the reference path (the event loop in the interpreter)."""
    from neurosim.sim.noc import event

    hw = _hw(3, 3, 2, 3, 0.5, 1, False)
    batches = _batches(hw, np.random.default_rng(9), 3, 100, 3, False)
    new = _run(hw, batches, True, True)
    monkeypatch.setattr(fast, "deliver_unicast", None)  # would fail if called
    monkeypatch.setattr(event, "AVAILABLE", False)  # the interpreted event loop, as without numba
    assert _run(hw, batches, True, True) == new
    monkeypatch.setattr(fast, "AVAILABLE", False)
    assert _run(hw, batches, True, True) == new
    assert new[2]["backpressure"] > 0


def test_empty_and_all_local_batches_equal_the_reference():
    hw = _hw(3, 3, 2, 3, 0.5, 2, False)
    cpt = hw.mesh.cores_per_tile
    batches = [
        (np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), None),
        (np.array([0, 1]), np.array([1, 0]) % cpt, np.array([4, 4]), None),
        (np.array([0]), np.array([hw.n_cores - 1]), np.array([2]), None),
    ]
    _, _, models, _ = _same(hw, batches, True)
    assert models["local"] == 2 and models["contention-free"] == 1
