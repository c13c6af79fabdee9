"""The reference engine's routers (neurosim.sim.process.router: one SimPy process per output port,
credits for the far end's input buffer): hand-computed cases (back-pressure stalls a sender, a
multicast tree delivers once per destination core, XY route order) and agreement with the fast
NoC model (neurosim.sim.noc.mesh, its event simulation) on random batches."""

import numpy as np
import pytest
import simpy
from builders import core_on, hw_small

from neurosim.describe.topology import DIRS
from neurosim.sim.noc.mesh import Mesh
from neurosim.sim.process.router import Message, Noc


def link(width, x, y, d):
    return (y * width + x) * 4 + DIRS.index(d)


def run_batch(hw, src, dst, send, group=None):
    """Inject every message (or, on a multicast chip, every group) at its send cycle; returns
    the arrival of each message and the Noc."""
    env = simpy.Environment()
    got: dict[int, int] = {}
    noc = Noc(env, hw, lambda m: got.__setitem__(m.order[1], m.arrival))
    units: dict = {}
    for k, (s, d, t) in enumerate(zip(src, dst, send)):
        key = k if group is None else ("g", group[k])
        units.setdefault(key, []).append(Message(k, int(s), int(d), 1, (0, k)))
        units[key][-1].send = int(t)

    def inject(msgs):
        yield env.timeout(min(m.send for m in msgs))
        noc.inject(msgs)

    for msgs in units.values():
        env.process(inject(msgs))
    env.run()
    return [got[k] for k in range(len(src))], noc


def test_full_buffer_stalls_its_sender():
    """The case of tests/sim/test_noc.py, hand-computed there: a row of 3 tiles, buffers of one
    message; m3 holds the one place of link A's far buffer until it starts on B at 3, so m4's
    sender is stalled on A from 1 to 3 (2 stall cycles) and m5 behind it arrives at 5, not 3."""
    hw = hw_small(mesh__width=3, mesh__height=1, router__buffer_depth_msgs=1)
    t0, t1, t2 = 0, 2, 4
    arrival, noc = run_batch(hw, [t1, t1, t1, t0, t0, t0], [t2, t2, t2, t2, t2, t1], [0, 0, 0, 0, 0, 1])
    assert arrival == [1, 2, 3, 4, 5, 5]
    st = noc.link_stats()
    a, b = link(3, 0, 0, "E"), link(3, 1, 0, "E")
    assert st["stall_cycles"][a] == 2 and st["stall_cycles"].sum() == 2
    assert st["peak_occupancy"][a] == 1 and st["peak_occupancy"][b] == 1
    # deep buffers: nobody stalls, m5 is not delayed
    deep, noc2 = run_batch(
        hw_small(mesh__width=3, mesh__height=1, router__buffer_depth_msgs=16),
        [t1, t1, t1, t0, t0, t0],
        [t2, t2, t2, t2, t2, t1],
        [0, 0, 0, 0, 0, 1],
    )
    assert deep == [1, 2, 3, 4, 5, 3]
    assert noc2.link_stats()["stall_cycles"].sum() == 0 and noc2.link_stats()["peak_occupancy"][a] == 3


def test_multicast_tree_delivers_once_per_destination_core():
    hw = hw_small(router__delivery="multicast")
    src = core_on(hw, 0, 0)
    dsts = [core_on(hw, 3, y, s) for y in range(4) for s in range(2)]  # 8 cores on 4 tiles
    arrival, noc = run_batch(hw, [src] * 8, dsts, [0] * 8, group=[0] * 8)
    # one copy per tree link (3 E + 3 S), each destination core once, after its route latency
    assert noc.ops == {"hop_ew": 3, "hop_ns": 3, "hop_chip": 0, "local": 0}
    assert noc.link_stats()["messages"].sum() == 6
    assert arrival == [3, 3, 5, 5, 7, 7, 9, 9]
    uni, noc_u = run_batch(hw_small(), [src] * 8, dsts, [0] * 8)
    assert noc_u.ops["hop_ew"] + noc_u.ops["hop_ns"] == 2 * (3 + 4 + 5 + 6)
    assert max(uni) > max(arrival)


def test_xy_route_goes_along_x_then_y():
    hw = hw_small()
    noc = Noc(simpy.Environment(), hw, lambda m: None)
    assert noc.xy_route(0, 2 * 4 + 3) == [
        link(4, 0, 0, "E"),
        link(4, 1, 0, "E"),
        link(4, 2, 0, "E"),
        link(4, 3, 0, "S"),
        link(4, 3, 1, "S"),
    ]
    assert noc.xy_route(15, 0) == [link(4, 3, 3, "W"), link(4, 2, 3, "W"), link(4, 1, 3, "W")] + [
        link(4, 0, 3, "N"),
        link(4, 0, 2, "N"),
        link(4, 0, 1, "N"),
    ]
    mesh = Mesh(hw)
    for s in range(16):
        for d in range(16):
            assert noc.xy_route(s, d) == mesh.route(s, d)


@pytest.mark.parametrize("depth", [1, 2, 4])
@pytest.mark.parametrize("multicast", [False, True])
def test_routers_agree_with_the_fast_noc_model_on_random_batches(depth, multicast):
    delivery = "multicast" if multicast else "unicast"
    hw = hw_small(router__buffer_depth_msgs=depth, mesh__width=3, mesh__height=3, router__delivery=delivery)
    rng = np.random.default_rng(depth + 10 * multicast)
    for _ in range(2):
        n = 40
        src = rng.integers(0, hw.n_cores, n)
        if multicast:  # groups of consecutive messages from one source core, one send cycle
            group = np.repeat(np.arange(n // 4), 4)
            src = src[group * 4]
            send = rng.integers(0, 6, n // 4)[group]
        else:
            group, send = None, rng.integers(0, 6, n)
        dst = rng.integers(0, hw.n_cores, n)
        mesh = Mesh(hw)
        want = mesh.deliver_detailed(src, dst, send, group, method="event")
        got, noc = run_batch(hw, src, dst, send, None if group is None else group.tolist())
        assert got == want.arrival.tolist()
        ref, fast = noc.link_stats(), mesh.link_stats()
        for k in ("messages", "busy_cycles", "wait_cycles", "stall_cycles", "peak_occupancy"):
            np.testing.assert_array_equal(ref[k], fast[k], err_msg=k)
        assert noc.ops == mesh.op_counts()


def test_fast_event_simulation_honours_carried_link_busy_times():
    hw = hw_small(mesh__width=3, mesh__height=1)
    a, b = core_on(hw, 0, 0), core_on(hw, 2, 0)
    for method in ("auto", "event"):
        mesh = Mesh(hw)
        mesh.deliver_detailed([a], [b], [0], keep_state=True)  # the first link is busy until 1
        d = mesh.deliver_detailed([a], [b], [0], keep_state=True, method=method)
        assert d.arrival.tolist() == [3] and d.inject.tolist() == [1], method
