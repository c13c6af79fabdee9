"""The network-on-chip model (neurosim.sim.noc.mesh): hand-computed cases and an independent oracle.

Hand-computed (small preset: E-W hop 1 cycle / 1 pJ, N-S hop 2 cycles / 2 pJ, local 1 cycle / 1 pJ,
1 message per cycle per link, 2 cores per tile):
- one message over k hops: latency and energy exact; the same on the Loihi preset;
- two messages contending for one link: the second waits exactly one service time;
- a full buffer stalls its sender (and blocks traffic behind it);
- multicast traverses fewer links than unicast for the same fan-out;
- several chips: a hop across a chip boundary costs the chip-link figures;
- barrier latency follows its table.
Oracle: a cycle-by-cycle simulation written independently of the module (per cycle, start every
link that can start until nothing changes) agrees with every fast path on random batches.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import core_on, hw_small

from neurosim.describe.cost import energy_per_op_pj
from neurosim.describe.topology import DIRS
from neurosim.io.hardware_file import load_hardware, preset_path
from neurosim.sim.noc.mesh import Mesh, segmented_fifo


def link(mesh, x, y, d):
    return (y * mesh.width + x) * 4 + DIRS.index(d)


# ---- one message over k hops ---------------------------------------------------------------------
def test_one_message_over_k_hops_latency_and_energy_exact():
    hw = hw_small()
    m = Mesh(hw)
    src, dst = core_on(hw, 0, 0), core_on(hw, 3, 2, 1)
    d = m.deliver_detailed([src], [dst], [5])
    # 3 east hops x 1 cycle + 2 south hops x 2 cycles = 7 cycles after the send at 5
    assert d.arrival.tolist() == [12] and d.inject.tolist() == [5]
    assert d.ops == {"hop_ew": 3, "hop_ns": 2, "hop_chip": 0, "local": 0}
    per = energy_per_op_pj(hw)
    assert sum(d.ops[k] * per[k] for k in d.ops) == 3 * 1.0 + 2 * 2.0
    assert m.route(0, 2 * 4 + 3) == [
        link(m, 0, 0, "E"),
        link(m, 1, 0, "E"),
        link(m, 2, 0, "E"),
        link(m, 3, 0, "S"),
        link(m, 3, 1, "S"),
    ]
    st = m.link_stats()
    assert st["messages"].sum() == 5 and st["busy_cycles"].sum() == 5
    assert st["wait_cycles"].sum() == 0 and st["stall_cycles"].sum() == 0
    assert m.op_counts() == d.ops


def test_one_message_on_loihi_takes_the_published_hop_times():
    hw = load_hardware(preset_path("loihi"))
    m = Mesh(hw)
    d = m.deliver_detailed([0], [core_on(hw, 7, 3)], [0])
    assert d.arrival[0] == 7 * 41 + 3 * 65  # 7 x 4.1 ns + 3 x 6.5 ns, 0.1 ns cycles
    per = energy_per_op_pj(hw)
    assert d.ops["hop_ew"] * per["hop_ew"] + d.ops["hop_ns"] * per["hop_ns"] == pytest.approx(7 * 3.0 + 3 * 4.0)
    # within a tile: 2.1 ns, 1.7 pJ
    d = m.deliver_detailed([0], [1], [100])
    assert d.arrival[0] == 100 + 21 and d.ops["local"] == 1


def test_local_delivery_uses_no_link():
    hw = hw_small()
    m = Mesh(hw)
    a = m.deliver([0, 0, 1], [1, 1, 0], [0, 0, 0])
    assert a.tolist() == [1, 1, 1]  # local deliveries do not contend
    assert m.link_stats()["messages"].sum() == 0 and m.op_counts()["local"] == 3
    assert m.tile_stats()["local"][0] == 3


# ---- contention -------------------------------------------------------------------------------------
def test_two_messages_contending_for_one_link_second_waits_one_service_time():
    hw = hw_small(router__link_bandwidth_msgs_per_cycle=0.5)  # S = 2 cycles per message
    m = Mesh(hw)
    src, dst = core_on(hw, 0, 0), core_on(hw, 2, 0)
    d = m.deliver_detailed([src, src], [dst, dst], [0, 0])
    assert d.arrival.tolist() == [2, 4]  # 2 hops x 1 cycle; the second 2 later
    assert d.inject.tolist() == [0, 2]
    st = m.link_stats()
    first = link(m, 0, 0, "E")
    assert st["messages"][first] == 2 and st["busy_cycles"][first] == 4
    assert st["wait_cycles"][first] == 2 and st["wait_cycles"].sum() == 2
    assert d.model == "fifo"


def test_contention_where_routes_merge_ties_go_by_batch_order():
    hw = hw_small()
    m = Mesh(hw)
    a, b = core_on(hw, 0, 0), core_on(hw, 1, 0)
    dst = core_on(hw, 2, 0)
    # a reaches router (1,0) at cycle 1 and requests link (1,0)E together with b (sent at 1)
    assert m.deliver([a, b], [dst, dst], [0, 1]).tolist() == [2, 3]
    assert m.deliver([b, a], [dst, dst], [1, 0]).tolist() == [2, 3]  # b is first in the batch now


def test_contention_free_model_ignores_contention():
    hw = hw_small(router__contention=False, router__link_bandwidth_msgs_per_cycle=0.5)
    m = Mesh(hw)
    src, dst = core_on(hw, 0, 0), core_on(hw, 2, 0)
    d = m.deliver_detailed([src] * 3, [dst] * 3, [0, 0, 0])
    assert d.arrival.tolist() == [2, 2, 2] and d.model == "off"
    assert m.link_stats()["busy_cycles"][link(m, 0, 0, "E")] == 6  # counts still kept


def test_keep_state_carries_link_busy_between_calls():
    hw = hw_small(router__link_bandwidth_msgs_per_cycle=0.25)  # S = 4
    m = Mesh(hw)
    src, dst = core_on(hw, 0, 0), core_on(hw, 1, 0)
    assert m.deliver([src], [dst], [0]).tolist() == [1]
    assert m.deliver([src], [dst], [1]).tolist() == [2]  # fresh links per call
    assert m.deliver([src], [dst], [2], keep_state=True).tolist() == [6]  # busy until 1 + 4 = 5
    m.reset_state()
    assert m.deliver([src], [dst], [2], keep_state=True).tolist() == [3]


# ---- back-pressure ------------------------------------------------------------------------------------
def test_full_buffer_stalls_its_sender():
    """A row of 3 tiles, buffers of one message. Three messages from tile 1 and two from tile 0,
    all to tile 2, all sent at 0; link B = (1,0)E serves them in request order: m0, m1, m2
    (requested at 0) at 0, 1, 2, then m3 (from tile 0, requested at 1) at 3. m3 holds the one place
    in the buffer of link A = (0,0)E until it starts on B at 3, so m4 cannot start on A before 3:
    its sender is stalled from 1 (A free again) to 3, 2 stall cycles on A. m5 (tile 0 -> tile 1,
    sent at 1) queues behind m4 on A: it starts at 4 and arrives at 5 instead of 3."""
    over = dict(mesh__width=3, mesh__height=1, router__buffer_depth_msgs=1)
    m = Mesh(hw_small(**over))
    t0, t1, t2 = 0, 2, 4  # first core of tiles 0, 1, 2
    src = [t1, t1, t1, t0, t0, t0]
    dst = [t2, t2, t2, t2, t2, t1]
    send = [0, 0, 0, 0, 0, 1]
    d = m.deliver_detailed(src, dst, send)
    assert d.model == "backpressure"
    assert d.arrival.tolist() == [1, 2, 3, 4, 5, 5]
    assert d.inject.tolist() == [0, 1, 2, 0, 3, 4]
    st = m.link_stats()
    A, B = link(m, 0, 0, "E"), link(m, 1, 0, "E")
    assert st["stall_cycles"][A] == 2 and st["stall_cycles"].sum() == 2
    assert st["peak_occupancy"][A] == 1 and st["peak_occupancy"][B] == 1
    # the same batch with deep buffers: nobody is stalled, m4 only waits for B, m5 is not delayed
    deep = Mesh(hw_small(mesh__width=3, mesh__height=1, router__buffer_depth_msgs=16))
    d2 = deep.deliver_detailed(src, dst, send)
    assert d2.model == "fifo"
    assert d2.arrival.tolist() == [1, 2, 3, 4, 5, 3]
    assert d2.inject.tolist() == [0, 1, 2, 0, 1, 2]
    assert deep.link_stats()["stall_cycles"].sum() == 0
    # at cycle 2 the buffer of A holds m3 and m4 (waiting for B) and m5 (arriving at 3)
    assert deep.link_stats()["peak_occupancy"][A] == 3


def test_xy_routing_under_saturation_with_tiny_buffers_delivers_everything():
    hw = hw_small(router__buffer_depth_msgs=1)
    m = Mesh(hw)
    rng = np.random.default_rng(7)
    n = 600
    src = rng.integers(0, hw.n_cores, n)
    dst = rng.integers(0, hw.n_cores, n)
    send = np.sort(rng.integers(0, 20, n))
    d = m.deliver_detailed(src, dst, send)
    assert d.model == "backpressure"
    assert np.all(d.arrival >= send + m.core_latency(src, dst))
    assert m.link_stats()["peak_occupancy"].max() == 1
    assert m.link_stats()["stall_cycles"].sum() > 0


# ---- multicast ------------------------------------------------------------------------------------------
def test_multicast_tree_is_the_union_of_xy_routes():
    m = Mesh(hw_small())
    tree = m.multicast_tree(0, [3, 7, 11, 15])  # (0,0) -> column x = 3, rows 0..3
    want = {
        link(m, 0, 0, "E"),
        link(m, 1, 0, "E"),
        link(m, 2, 0, "E"),
        link(m, 3, 0, "S"),
        link(m, 3, 1, "S"),
        link(m, 3, 2, "S"),
    }
    assert set(tree.tolist()) == want and len(tree) == 6
    unicast = sum(len(m.route(0, t)) for t in (3, 7, 11, 15))
    assert unicast == 3 + 4 + 5 + 6


def test_multicast_uses_fewer_link_traversals_than_unicast():
    hw = hw_small()
    src = core_on(hw, 0, 0)
    dsts = [core_on(hw, 3, y, s) for y in range(4) for s in range(2)]  # 8 cores on 4 tiles
    send = [0] * len(dsts)
    uni = Mesh(hw)
    du = uni.deliver_detailed([src] * 8, dsts, send)
    multi = Mesh(hw)
    dm = multi.deliver_detailed([src] * 8, dsts, send, group=[0] * 8)
    hops = lambda d: d.ops["hop_ew"] + d.ops["hop_ns"]  # noqa: E731
    assert hops(du) == 2 * (3 + 4 + 5 + 6) == 36
    assert hops(dm) == 6
    assert multi.link_stats()["messages"].sum() == 6
    # one copy per tree link: no contention; each destination gets it after its route latency
    assert dm.arrival.tolist() == [3, 3, 5, 5, 7, 7, 9, 9]
    assert dm.model == "contention-free"
    # unicast copies queue on the first link: the 8th leaves the source 7 cycles late
    assert du.inject.tolist() == list(range(8))
    assert du.arrival.max() > dm.arrival.max()


def test_multicast_groups_with_local_destinations_and_several_groups():
    hw = hw_small()
    m = Mesh(hw)
    src = [0, 0, 0, 2, 2]
    dst = [1, core_on(hw, 1, 0), core_on(hw, 1, 1), core_on(hw, 1, 1), core_on(hw, 1, 1, 1)]
    d = m.deliver_detailed(src, dst, [0, 0, 0, 0, 0], group=[5, 5, 5, 9, 9])
    # group 5 from tile 0: local copy, then (0,0)E to tile 1 and (1,0)S to tile 5;
    # group 9 from tile 1: (1,0)S once for both cores of tile 5, requested at 0 like group 5's
    # copy (at 1): group 9 first (requested earlier), group 5's copy at 1
    assert d.ops == {"hop_ew": 1, "hop_ns": 2, "hop_chip": 0, "local": 1}
    assert d.arrival.tolist() == [1, 1, 3, 2, 2]


def test_multicast_group_needs_one_source():
    m = Mesh(hw_small())
    with pytest.raises(ValueError, match="group 3"):
        m.deliver([0, 2], [4, 6], [0, 0], group=[3, 3])


# ---- several chips ---------------------------------------------------------------------------------------
def two_chips(**over):
    base = {
        "chips.width": 2,
        "chips.link_latency_cycles": 10,
        "chips.link_energy_pj": 20.0,
        "chips.link_bandwidth_msgs_per_cycle": 0.25,
    }
    base.update({k.replace("__", "."): v for k, v in over.items()})
    return load_hardware(preset_path("small"), base)


def test_chip_grid_geometry():
    hw = two_chips()
    assert (hw.grid_width, hw.grid_height, hw.n_tiles, hw.n_cores, hw.n_chips) == (4, 2, 8, 16, 2)
    assert hw.tile_xy(5) == (2, 0) and hw.tile_xy(9) == (0, 1)
    assert hw.chip_of_tile(1) == 0 and hw.chip_of_tile(2) == 1 and hw.chip_of_tile(6) == 1
    m = Mesh(hw)
    kinds = m.link_kind[m.link_exists]
    assert (kinds == 2).sum() == 4  # (1,y)E and (2,y)W for y = 0, 1


def test_hop_across_chips_costs_the_chip_link():
    hw = two_chips()
    m = Mesh(hw)
    src, dst = core_on(hw, 0, 0), core_on(hw, 3, 1)
    d = m.deliver_detailed([src, src], [dst, dst], [0, 0])
    # (0,0)E 1 + chip link (1,0)E 10 + (2,0)E 1 + (3,0)S 2 = 14; the chip link serves one
    # message per 4 cycles, so the second message arrives 4 cycles later
    assert d.arrival.tolist() == [14, 18]
    assert d.ops == {"hop_ew": 4, "hop_ns": 2, "hop_chip": 2, "local": 0}
    per = energy_per_op_pj(hw)
    assert per["hop_chip"] == 20.0
    assert (
        m.hop_counts(np.bincount([m.tile_of_core[src] * 8 + m.tile_of_core[dst]] * 2, minlength=64).reshape(8, 8))
        == d.ops
    )
    assert m.tile_latency(0, 7) == 14


# ---- barrier ---------------------------------------------------------------------------------------------
def test_barrier_latency_follows_the_table_and_energy_per_tile():
    hw = load_hardware(
        preset_path("small"),
        {"barrier.latency_cycles": [[1, 10], [4, 40], [16, 100]], "barrier.per_tile_energy_pj": 0.5},
    )
    b = hw.barrier
    assert [b.latency(t) for t in (0, 1, 2, 4, 10, 16, 99)] == [10, 10, 20, 40, 70, 100, 100]
    assert b.energy(4) == 10.0 + 0.5 * 4
    assert energy_per_op_pj(hw, barrier_tiles=4)["barrier"] == 12.0
    assert energy_per_op_pj(hw)["barrier"] == 10.0 + 0.5 * hw.n_tiles


# ---- bookkeeping ------------------------------------------------------------------------------------------
def test_counters_accumulate_and_reset():
    hw = hw_small()
    m = Mesh(hw)
    m.deliver([0], [core_on(hw, 1, 0)], [0])
    m.deliver([0], [core_on(hw, 1, 0)], [0])
    assert m.link_stats()["messages"][0] == 2 and m.op_counts()["hop_ew"] == 2
    m.reset_counters()
    assert m.link_stats()["messages"].sum() == 0 and m.op_counts()["hop_ew"] == 0
    st = m.link_stats()
    assert set(st) >= {
        "messages",
        "busy_cycles",
        "wait_cycles",
        "stall_cycles",
        "peak_occupancy",
        "src_tile",
        "dst_tile",
        "direction",
        "kind",
        "exists",
    }
    assert st["dst_tile"][0] == 1 and not st["exists"][link(m, 0, 0, "W")]


def test_link_counts_and_hop_counts_agree_with_deliver():
    hw = hw_small()
    m = Mesh(hw)
    rng = np.random.default_rng(3)
    src, dst = rng.integers(0, hw.n_cores, 300), rng.integers(0, hw.n_cores, 300)
    d = m.deliver_detailed(src, dst, np.zeros(300, np.int64))
    pairs = np.zeros((m.n_tiles, m.n_tiles), np.int64)
    np.add.at(pairs, (m.tile_of_core[src], m.tile_of_core[dst]), 1)
    np.testing.assert_array_equal(m.link_counts(pairs), m.link_stats()["messages"])
    assert m.hop_counts(pairs) == d.ops
    np.testing.assert_array_equal(m.latency_cycles[m.tile_of_core[src], m.tile_of_core[dst]], m.core_latency(src, dst))


def test_bad_arguments():
    m = Mesh(hw_small())
    with pytest.raises(ValueError, match="one entry per message"):
        m.deliver([0, 1], [2], [0, 0])
    with pytest.raises(ValueError, match="dst_core"):
        m.deliver([0], [10**6], [0])
    with pytest.raises(ValueError, match="method"):
        m.deliver_detailed([0], [2], [0], method="fast")
    assert m.deliver([], [], []).size == 0


def test_segmented_fifo_equals_one_server_per_segment():
    from neurosim.sim.maxplus import finish_times

    rng = np.random.default_rng(0)
    seg = np.sort(rng.integers(0, 5, 200))
    ready = rng.integers(0, 100, 200)
    cost = rng.integers(1, 4, 200)
    o = np.lexsort((ready, seg))
    seg, ready, cost = seg[o], ready[o], cost[o]
    got = segmented_fifo(seg, ready, cost)
    for s in np.unique(seg):
        k = seg == s
        np.testing.assert_array_equal(got[k] + cost[k], finish_times(ready[k], cost[k]))


# ---- the oracle ------------------------------------------------------------------------------------------
def oracle(mesh, src, dst, send, group=None):
    """Cycle-by-cycle reference of the documented model, written from the docstring alone."""
    st, dt = mesh.tile_of_core[np.asarray(src)], mesh.tile_of_core[np.asarray(dst)]
    n = len(src)
    trav = []  # dicts: link, parent, order, req, start, kids
    index = {}  # (unit, link) -> traversal
    last, first = {}, {}
    for i in range(n):
        if st[i] == dt[i]:
            continue
        unit = i if group is None else ("g", int(group[i]))
        order = i if group is None else min(j for j in range(n) if group[j] == group[i])
        sends = send[i] if group is None else min(send[j] for j in range(n) if group[j] == group[i])
        prev = None
        for k, l in enumerate(mesh.route(int(st[i]), int(dt[i]))):
            key = (unit, l)
            if key not in index:
                index[key] = len(trav)
                trav.append(
                    {
                        "link": l,
                        "parent": prev,
                        "order": order,
                        "req": sends if prev is None else None,
                        "start": None,
                        "kids": [],
                    }
                )
                if prev is not None:
                    trav[prev]["kids"].append(index[key])
            if k == 0:
                first[i] = index[key]
            prev = index[key]
        last[i] = prev
    B = mesh.buffer_depth
    links = sorted({x["link"] for x in trav})

    def occupancy(l, t):  # messages in the buffer at the far end of l at the end of cycle t
        occ = 0
        for x in trav:
            if x["link"] != l or x["start"] is None:
                continue
            if x["kids"]:
                gone = all(trav[c]["start"] is not None for c in x["kids"])
            else:
                gone = x["start"] + mesh.link_latency[l] <= t
            occ += not gone
        return occ

    def waiting(l, t):
        return [
            j
            for j, x in enumerate(trav)
            if x["link"] == l and x["start"] is None and x["req"] is not None and x["req"] <= t
        ]

    busy, stall, peak = {}, {}, {}
    t = 0
    while any(x["start"] is None for x in trav):
        changed = True
        while changed:
            changed = False
            for l in links:
                w = waiting(l, t)
                if busy.get(l, 0) > t or not w or occupancy(l, t) >= B:
                    continue
                j = min(w, key=lambda j: (trav[j]["req"], trav[j]["order"]))
                trav[j]["start"] = t
                busy[l] = t + mesh.link_service[l]
                for c in trav[j]["kids"]:
                    trav[c]["req"] = t + mesh.link_latency[l]
                changed = True
        for l in links:
            occ = occupancy(l, t)
            peak[l] = max(peak.get(l, 0), occ)
            if busy.get(l, 0) <= t and waiting(l, t) and occ >= B:
                stall[l] = stall.get(l, 0) + 1
        t += 1
    arrival = np.asarray(send) + mesh.latency_local
    inject = np.array(send)
    for i, j in last.items():
        arrival[i] = trav[j]["start"] + mesh.link_latency[trav[j]["link"]]
        inject[i] = trav[first[i]]["start"]
    return arrival, inject, stall, peak


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("buffer", [1, 2, 16])
@pytest.mark.parametrize("multicast", [False, True])
@pytest.mark.parametrize("span", [3, 12])
def test_every_method_agrees_with_the_oracle(seed, buffer, multicast, span):
    rng = np.random.default_rng(seed)
    hw = hw_small(
        mesh__width=3,
        mesh__height=3,
        router__buffer_depth_msgs=buffer,
        router__link_bandwidth_msgs_per_cycle=float(rng.choice([1.0, 0.5, 0.34])),
        router__latency_hop_ns_cycles=int(rng.integers(1, 4)),
    )
    n = 24
    src = rng.integers(0, hw.n_cores, n)
    dst = rng.integers(0, hw.n_cores, n)
    send = np.sort(rng.integers(0, span, n))
    group = None
    if multicast:  # groups of up to 4 messages from one core with one send cycle
        group = np.repeat(np.arange(n // 4 + 1), 4)[:n]
        lead = np.minimum(group * 4, n - 1)
        src, send = src[lead], send[lead]
    want_arrival, want_inject, stall, peak = oracle(Mesh(hw), src, dst, send, group)
    for method in ("auto", "event"):
        m = Mesh(hw)
        d = m.deliver_detailed(src, dst, send, group, method=method)
        np.testing.assert_array_equal(d.arrival, want_arrival, err_msg=f"{method} ({d.model})")
        np.testing.assert_array_equal(d.inject, want_inject, err_msg=f"{method} ({d.model})")
        st = m.link_stats()
        assert {l: v for l, v in enumerate(st["stall_cycles"]) if v} == {l: v for l, v in stall.items() if v}
        assert {l: v for l, v in enumerate(st["peak_occupancy"]) if v} == {l: v for l, v in peak.items() if v}


@pytest.mark.parametrize("multicast", [False, True])
def test_fast_paths_equal_the_event_simulation_on_a_larger_batch(multicast):
    hw = hw_small(mesh__width=6, mesh__height=5, router__buffer_depth_msgs=64)
    rng = np.random.default_rng(11)
    n = 3000
    src = rng.integers(0, hw.n_cores, n)
    dst = rng.integers(0, hw.n_cores, n)
    send = np.sort(rng.integers(0, 2000, n))
    group = None
    if multicast:
        group = np.repeat(np.arange(n // 5), 5)[:n]
        src, send = src[group * 5], send[group * 5]
    a, b = Mesh(hw), Mesh(hw)
    fast = a.deliver_detailed(src, dst, send, group)
    ref = b.deliver_detailed(src, dst, send, group, method="event")
    assert fast.model == "fifo"
    np.testing.assert_array_equal(fast.arrival, ref.arrival)
    for k in ("messages", "busy_cycles", "wait_cycles", "peak_occupancy", "stall_cycles"):
        np.testing.assert_array_equal(a.link_stats()[k], b.link_stats()[k], err_msg=k)


def test_mapping_and_engine_run_across_two_chips():
    """Core numbering over the global mesh: a network spread over both chips of a 2x1 grid maps,
    simulates, counts chip-link hops, and conserves messages."""
    from builders import random_network

    from neurosim.mapping.registry import map_network
    from neurosim.sim.engine import simulate

    hw = two_chips()
    net = random_network([12, 20, 9, 4], seed=3)
    m = map_network(net, hw, neurons_per_core=3)
    assert {hw.chip_of_tile(int(c) // hw.mesh.cores_per_tile) for c in m.used_cores} == {0, 1}
    stim = np.random.default_rng(1).random((1, 4, 12)) < 0.5
    res = simulate(hw, net, m, stim, np.zeros(1, np.int64))
    s = res.samples[0]
    assert s.ops["hop_chip"] > 0 and s.messages_sent == s.messages_received
    assert Mesh(hw).hop_counts(res.tile_pairs) == {k: s.ops[k] for k in ("hop_ew", "hop_ns", "hop_chip", "local")}


def test_compiled_event_simulation_equals_the_python_loop():
    """The numba event simulation gives the Python loop's answers (starts, stalls, peaks)."""
    from neurosim.sim.noc import event as noc_event

    if not noc_event.AVAILABLE:
        pytest.skip("numba not installed")
    from neurosim.io.hardware_file import load_hardware
    from neurosim.paths import HW_DIR

    rng = np.random.default_rng(11)
    for depth, multicast in ((1, False), (2, False), (3, True)):
        hw = load_hardware(
            HW_DIR / "small.yaml",
            {
                "mesh.width": 4,
                "mesh.height": 3,
                "router.buffer_depth_msgs": depth,
                "router.link_bandwidth_msgs_per_cycle": 0.25,
            },
        )
        n = 400
        src = rng.integers(0, hw.n_cores, n)
        dst = rng.integers(0, hw.n_cores, n)
        send = np.sort(rng.integers(0, 10, n))
        group = (np.arange(n) // 3) if multicast else None
        if multicast:
            src = src[(np.arange(n) // 3) * 3]
        out = []
        for compiled in (True, False):
            mesh = Mesh(hw)
            mesh.use_compiled = compiled
            d = mesh.deliver_detailed(src, dst, send, group, method="event")
            out.append((d.arrival, d.inject, mesh.link_stats()["stall_cycles"], mesh.link_stats()["peak_occupancy"]))
        for a, b in zip(*out):
            np.testing.assert_array_equal(a, b)
        assert out[0][2].sum() > 0  # the case exercised back-pressure


def _carried_batches(hw, seed: int, batches: int = 3, n: int = 150):
    rng = np.random.default_rng(seed)
    out = []
    for b in range(batches):
        src, dst = rng.integers(0, hw.n_cores, n), rng.integers(0, hw.n_cores, n)
        out.append((src, dst, np.sort(rng.integers(0, 10, n)) + 5 * b))
    return out


def test_event_simulation_with_carried_link_state_compiled_equals_python():
    """Over batches that carry link busy times (keep_state), the numba event loop equals the
    Python loop, and no message is injected before it is sent (a busy link is woken when free)."""
    from neurosim.io.hardware_file import load_hardware
    from neurosim.paths import HW_DIR
    from neurosim.sim.noc import event as noc_event

    if not noc_event.AVAILABLE:
        pytest.skip("numba not installed")
    over = {"mesh.width": 4, "mesh.height": 3, "router.buffer_depth_msgs": 2}
    hw = load_hardware(HW_DIR / "small.yaml", over | {"router.link_bandwidth_msgs_per_cycle": 0.25})
    runs = []
    for compiled in (True, False):
        mesh = Mesh(hw)
        mesh.use_compiled = compiled
        got = []
        for src, dst, send in _carried_batches(hw, 5):
            d = mesh.deliver_detailed(src, dst, send, keep_state=True, method="event")
            assert (d.inject >= send).all()
            got.append((d.arrival, d.inject))
        runs.append((got, mesh.link_stats()["wait_cycles"]))
    for (a1, i1), (a2, i2) in zip(runs[0][0], runs[1][0]):
        np.testing.assert_array_equal(a1, a2)
        np.testing.assert_array_equal(i1, i2)
    assert runs[0][1].min() >= 0 and runs[0][1].sum() > 0


def test_event_path_equals_the_fifo_sweep_with_carried_state_and_deep_buffers():
    """With buffers deep enough never to fill, the event simulation and the FIFO sweep (the auto
    path) serve carried-busy links by request cycle alike, batch after batch."""
    from neurosim.io.hardware_file import load_hardware
    from neurosim.paths import HW_DIR

    over = {"mesh.width": 4, "mesh.height": 3, "router.buffer_depth_msgs": 4096}
    hw = load_hardware(HW_DIR / "small.yaml", over | {"router.link_bandwidth_msgs_per_cycle": 0.25})
    event, auto = Mesh(hw), Mesh(hw)
    for src, dst, send in _carried_batches(hw, 9):
        a = event.deliver_detailed(src, dst, send, keep_state=True, method="event")
        b = auto.deliver_detailed(src, dst, send, keep_state=True)
        np.testing.assert_array_equal(a.arrival, b.arrival)
    assert event.link_stats()["wait_cycles"].sum() > 0
