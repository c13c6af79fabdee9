"""The network-on-chip of the reference engine, message by message: one :class:`OutputPort`
(a SimPy process) per directed link of every tile's router, credit-based flow control into the
input buffer at the link's far end, XY (dimension-order) routing, unicast and multicast.

The model (the one :mod:`neurosim.sim.noc.timing` documents, written out event by event):

* a message (a single flit) at a router requests the next link of its XY route; the link's
  output port serves requests first-come first-served by request cycle, ties by emission order;
* a port starts a message when it is free (``S`` cycles after its last start) and it holds a
  credit (the buffer at the far end holds fewer than ``B = router.buffer_depth_msgs``
  messages); starting takes the credit; the message reaches the next router ``L`` cycles later;
* a message gives its credit back when it starts on its next link (a multicast copy: when every
  branch has started) or, at its destination tile, when it arrives (ejection is immediate);
* a port that is free, has a request and no credit records stall cycles until it starts;
* multicast: one message per spike travels the XY tree (the union of the XY routes to its
  destination tiles), each tree link once, copied where the tree branches;
* ``router.contention: false``: every message starts on each link when it requests it.

Arbitration runs at the end of a cycle (a SimPy event of lower priority than every ordinary
event of the cycle: :class:`Late`), so all requests, credits and free links of the cycle are
seen before a port decides.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import simpy
from simpy.events import EventPriority

from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.topology import KIND_CHIP, KIND_EW, KIND_NS
from neurosim.sim.noc.routes import Routes

#: the priority of end-of-cycle arbitration: after every ordinary (priority 1) event of a cycle
LATE_PRIORITY = EventPriority(2)
LINK_COUNTERS = ("messages", "busy_cycles", "wait_cycles", "stall_cycles", "peak_occupancy")
_KIND_OP = {KIND_EW: "hop_ew", KIND_NS: "hop_ns", KIND_CHIP: "hop_chip"}


class Late(simpy.Event):
    """An event that fires at the current cycle after every ordinary event of the cycle."""

    def __init__(self, env: simpy.Environment):
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, LATE_PRIORITY)


@dataclass
class Message:
    """One message copy for one destination core: its source neuron and core, the synapses it
    reaches there, its emission order (the tie-break) and, once delivered, its arrival cycle."""

    src: int
    src_core: int
    dst_core: int
    synops: int
    order: tuple
    arrival: int = -1


@dataclass
class Hop:
    """One traversal of one link by one message (unicast) or one tree copy (multicast): the
    traversals that continue from the far end, the messages delivered there, its parent."""

    link: int
    order: tuple
    parent: Hop | None = None
    children: list[Hop] = field(default_factory=list)
    deliveries: list[Message] = field(default_factory=list)
    requested: int = -1
    started: int = -1
    waiting_children: int = 0


class OutputPort:
    """One directed link's output port: a FIFO server of service time ``svc`` and latency
    ``lat`` with ``depth`` credits for the buffer at its far end (a SimPy process)."""

    def __init__(self, noc: Noc, link: int):
        self.noc, self.env, self.link = noc, noc.env, link
        self.lat = int(noc.routes.link_latency[link])
        self.svc = int(noc.routes.link_service[link])
        self.credits = noc.depth
        self.queue: list = []  # (request cycle, order, id, hop)
        self.free_at = 0
        self.blocked_since: int | None = None
        self.signal = self.env.event()
        self.env.process(self.run())

    def request(self, hop: Hop) -> None:
        hop.requested = int(self.env.now)
        if not self.noc.contention:
            self.start(hop)
            return
        heapq.heappush(self.queue, (hop.requested, hop.order, id(hop), hop))
        self.poke()

    def poke(self) -> None:
        if not self.signal.triggered:
            self.signal.succeed()

    def give_credit(self) -> None:
        self.credits += 1
        self.noc.trace[self.link].append((int(self.env.now), 0))
        self.poke()

    def run(self):
        while True:
            yield self.signal
            self.signal = self.env.event()
            yield Late(self.env)
            self.arbitrate()

    def arbitrate(self) -> None:
        now = int(self.env.now)
        if not self.queue or self.free_at > now:
            return
        if self.credits <= 0:
            if self.blocked_since is None:
                self.blocked_since = now
            return
        hop = heapq.heappop(self.queue)[3]
        if self.blocked_since is not None:
            self.noc.stats["stall_cycles"][self.link] += now - self.blocked_since
            self.blocked_since = None
        self.credits -= 1
        self.noc.trace[self.link].append((now, 1))
        self.free_at = now + self.svc
        self.env.process(self._free_later(self.svc))
        self.start(hop)

    def _free_later(self, cycles: int):
        yield self.env.timeout(cycles)
        self.poke()

    def start(self, hop: Hop) -> None:
        """``hop`` starts on this link now: counters, the parent's credit, its arrival."""
        now = int(self.env.now)
        hop.started = now
        st = self.noc.stats
        st["messages"][self.link] += 1
        st["busy_cycles"][self.link] += self.svc
        if self.noc.contention:
            st["wait_cycles"][self.link] += now - hop.requested
        self.noc.ops[_KIND_OP[int(self.noc.routes.link_kind[self.link])]] += 1
        parent = hop.parent
        if parent is not None and self.noc.contention:
            parent.waiting_children -= 1
            if parent.waiting_children == 0:  # every continuation started: its credit returns
                self.noc.ports[parent.link].give_credit()
        self.env.process(self.noc.traverse(hop, self.lat))


class Noc:
    """The routers of the mesh (their output ports, created on first use) and the injection of
    messages; counters per link and hops by kind. ``deliver(message)`` is called at each
    message's arrival cycle at its destination core."""

    def __init__(
        self,
        env: simpy.Environment,
        hw: HardwareSpec,
        deliver: Callable[[Message], None],
        on_inject: Callable[[int], None] = lambda n: None,
    ):
        self.env, self.deliver, self.on_inject = env, deliver, on_inject
        self.routes = Routes(hw)
        self.depth = int(hw.router.buffer_depth_msgs)
        self.contention = bool(hw.router.contention)
        self.multicast = hw.router.delivery == "multicast"
        self.latency_local = int(hw.router.latency_local_cycles)
        n_links = self.routes.n_links
        self.stats = {k: np.zeros(n_links, np.int64) for k in LINK_COUNTERS}
        self.trace: list[list[tuple[int, int]]] = [[] for _ in range(n_links)]  # (cycle, 0 leave / 1 start)
        self.ops = {"hop_ew": 0, "hop_ns": 0, "hop_chip": 0, "local": 0}
        self.tile_pairs: list[tuple[int, int]] = []
        self.ports: dict[int, OutputPort] = {}

    def port(self, link: int) -> OutputPort:
        p = self.ports.get(link)
        if p is None:
            p = self.ports[link] = OutputPort(self, link)
        return p

    def tile(self, core: int) -> int:
        return int(self.routes.tile_of_core[core])

    def xy_route(self, src_tile: int, dst_tile: int) -> list[int]:
        """Directed links of the XY route: along x first, then along y (E, W, S, N = 0..3)."""
        r, links = self.routes, []
        w = r.width
        x, y = src_tile % w, src_tile // w
        x1, y1 = dst_tile % w, dst_tile // w
        while x != x1:
            d = 0 if x1 > x else 1
            links.append((y * w + x) * 4 + d)
            x += 1 if d == 0 else -1
        while y != y1:
            d = 2 if y1 > y else 3
            links.append((y * w + x) * 4 + d)
            y += 1 if d == 2 else -1
        return links

    def inject(self, messages: list[Message]) -> None:
        """Messages leave their source core now: one unicast message each, or (multicast) the
        copies of one spike, which travel as one XY tree."""
        if not messages:
            return
        self.on_inject(len(messages))
        for m in messages:
            self.tile_pairs.append((self.tile(m.src_core), self.tile(m.dst_core)))
        src_tile = self.tile(messages[0].src_core)
        local = [m for m in messages if self.tile(m.dst_core) == src_tile]
        for m in local:
            self.ops["local"] += 1
            self.env.process(self._local(m))
        remote = [m for m in messages if self.tile(m.dst_core) != src_tile]
        if not remote:
            return
        if self.multicast:
            self._request_roots(self._tree(src_tile, remote, messages[0].order))
        else:
            for m in remote:
                self._request_roots(self._tree(src_tile, [m], m.order))

    def _tree(self, src_tile: int, messages: list[Message], order: tuple) -> list[Hop]:
        """The hops of the XY tree to the messages' tiles (one chain for one message); returns
        the roots (one: every route leaves the source tile on the tree)."""
        hops: dict[int, Hop] = {}
        roots: list[Hop] = []
        for m in messages:
            parent = None
            route = self.xy_route(src_tile, self.tile(m.dst_core))
            for link in route:
                hop = hops.get(link)
                if hop is None:
                    hop = hops[link] = Hop(link, order, parent)
                    if parent is None:
                        roots.append(hop)
                    else:
                        parent.children.append(hop)
                        parent.waiting_children += 1
                parent = hop
            hops[route[-1]].deliveries.append(m)
        return roots

    def _request_roots(self, roots: list[Hop]) -> None:
        for hop in roots:
            self.port(hop.link).request(hop)

    def _local(self, m: Message):
        if self.latency_local:
            yield self.env.timeout(self.latency_local)
        m.arrival = int(self.env.now)
        self.deliver(m)

    def traverse(self, hop: Hop, lat: int):
        """``hop`` crosses its link: at the far end its messages are delivered and its
        continuations request their links; a last hop gives its credit back on arrival."""
        if lat:
            yield self.env.timeout(lat)
        now = int(self.env.now)
        for m in hop.deliveries:
            m.arrival = now
            self.deliver(m)
        if not hop.children and self.contention:
            self.ports[hop.link].give_credit()
        for child in hop.children:
            self.port(child.link).request(child)

    def link_stats(self) -> dict[str, np.ndarray]:
        """The per-link counters (peak occupancy from the start / credit-return trace: a place
        returned at a cycle is free for a start at that cycle) and the link geometry."""
        out = {k: v.copy() for k, v in self.stats.items()}
        for link, events in enumerate(self.trace):
            occ = peak = 0
            for _, kind in sorted(events):
                occ += 1 if kind else -1
                peak = max(peak, occ)
            out["peak_occupancy"][link] = peak
        out.update(self.routes.geometry())
        return out
