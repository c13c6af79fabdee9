"""Time-stepped execution (``timestep``): the scheme Loihi, TrueNorth and SpiNNaker run.

One barrier per step and no barrier inside it. In step ``t`` (frame ``t`` of the stimulus):

1. every core updates *all* its neurons (every population it holds, in population order:
   :class:`neurosim.sim.core.Evaluate`, the same update pass, costs and counters as in ``sync``
   mode) with the current that arrived by the end of step ``t - 1`` (plus the ring slots due now);
   the input population emits frame ``t``'s stimulus spikes in the same step;
2. the spikes leave through the cores' output ports, cross the network-on-chip (whatever NoC
   model the hardware names: contention-free, contention with back-pressure, multicast) and are
   integrated by the receiving cores (:class:`neurosim.sim.core.Deliver`) into the accumulator of
   a later step;
3. when every core is done, one barrier over the tiles in use ends the step.

So every spike is integrated in the *next* step at the earliest: a spike through a projection of
delay ``d`` (``Projection.delay``, feed-forward or recurrent alike) sent in step ``t`` is
integrated in step ``t + d + 1``, and layers are pipelined (a spike takes L steps through L
layers; the output sees frame ``t``'s input in step ``t + L``, and the last ``L - 1`` frames' input
never reaches it within the stimulus's frames). The spikes are exactly those of the layer-
synchronous reference (:mod:`neurosim.sim.reference`) on the network whose every projection's delay
is one frame longer (:func:`delayed_network`; tests/sim/test_timestep.py checks it per neuron and
frame). A recurrent projection of delay 0 therefore keeps its one-frame delay of ``sync`` mode;
one that declares a delay ``d`` takes ``d + 1`` steps (``sync`` mode: ``d`` frames).

Costs are booked as in ``sync`` mode: one neuron update per neuron per step (active or idle), the
synaptic-current, delay-slot and membrane read-out operations in the update pass, a delay-ring
write per synapse of a projection that declares a delay (the next step's accumulator of a delay-0
projection is free, as a recurrent delay-0 synapse is in ``sync`` mode), and one barrier per step
instead of one per population. Latency per step: the slowest core's updates, sends and
integrations, then the barrier. As in a ``sync`` phase, the step's messages are handed to their
cores when the last update pass of the step begins (all spikes are known then); a core integrates
them in arrival order (none before it arrives) after its own update passes. A fixed frame period
(``chip.frame_period_cycles``) stretches each step to it. ``stop_on_output=K`` ends the inference
K steps after the step of the first output spike. The scheduler options of ``async`` mode
(scope, policy, group size, step cap) do not apply.

Implementation: the controller runs on the chip's own cores and message tables; for the sample
the chip's ``timestepped`` flag gives every delivery its time-stepped delay
(:func:`neurosim.sim.core.delivery_delay`: one step more than the declared delay, into a ring slot
of the chip's state, deepened by one frame where needed). Where every core holds one population
the step runs batched (:mod:`neurosim.sim.batched`), with the same results.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace

import numpy as np

from neurosim.describe.network import Network
from neurosim.sim.core import Evaluate, State, delivery_delay


def delayed_network(net: Network, extra: int = 1) -> Network:
    """The network with every projection's delay ``extra`` frames longer: its layer-synchronous
    forward (:func:`neurosim.sim.reference.forward_sync`) gives the spikes of ``timestep`` mode."""
    return replace(net, projections=tuple(replace(pr, delay=pr.delay + extra) for pr in net.projections))


def step_delay(block_delay: int, through_ring: bool) -> int:
    """Steps from a spike to its integration in ``timestep`` mode for a block of synapses whose
    ``sync`` delivery delay is ``block_delay`` (:meth:`Network.delay_of`) and that goes through
    the delay ring buffer (``through_ring``: the projection declares a delay) or not: the declared
    delay plus one (a block without a declared delay - feed-forward or recurrent - has delay 0)."""
    return delivery_delay(block_delay, through_ring, timestep=True)


@dataclass
class _Tables:
    """Per chip: the ring depth ``timestep`` needs and per core the populations it updates each step."""

    depth: int
    items: dict[int, list[int]]  # core -> its population indices, in population order


_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _tables(chip) -> _Tables:
    """The chip's time-stepped tables (built once per chip)."""
    t = _TABLES.get(chip)
    if t is None:
        keys = [k for k, w in chip.net.weights_by_delay_and_ring().items() if w.nnz]
        depth = max((step_delay(d, ring) for d, ring in keys), default=0)
        items = {cid: [g for g in chip.phase_order if g in core.groups] for cid, core in chip.cores.items()}
        t = _TABLES[chip] = _Tables(max(depth, chip.net.max_delay), items)
    return t


def prepare_state(chip) -> _Tables:
    """Ready the chip for a time-stepped sample: its state deep enough for the step delays (one
    ring slot more; deeper is harmless to other modes) and its deliveries time-stepped."""
    tables = _tables(chip)
    if chip.state.depth < tables.depth:
        chip.state = State(chip.net.n_neurons, tables.depth)
    chip.timestepped = True
    return tables


def _input_spikes(chip, core, frame_input: np.ndarray) -> np.ndarray:
    """Global ids of the core's input neurons that spike in this frame."""
    ix = core.groups[chip.input_group]
    local = ix if isinstance(ix, np.ndarray) else np.arange(ix.start, ix.stop)
    return np.repeat(local, frame_input[local - chip.input_offset].astype(np.int64))  # a count k: k messages


def _step_items(chip, tables: _Tables, frame_input: np.ndarray) -> list:
    """The work items of one step: every core updates every population it holds (the input
    population emits the frame's stimulus spikes)."""
    items = []
    for cid, groups in tables.items.items():
        core = chip.cores[cid]
        for g in groups:
            spikes = _input_spikes(chip, core, frame_input) if g == chip.input_group else None
            items.append((core, Evaluate(g, spikes)))
    return items


def timestep_controller(env, chip, stimulus):
    """SimPy process: one sample, time-stepped (one barrier per step, every spike integrated in a
    later step); ``stimulus`` is a boolean array (frames, input channels)."""
    tables = prepare_state(chip)
    barrier_cycles = chip.hw.barrier.latency(chip.tiles_in_use)
    stop_k, stop_frame = chip.options.get("stop_on_output"), None
    for frame in range(stimulus.shape[0]):
        chip.start_frame(frame)
        t_frame = env.now
        yield from chip.run_items(env, _step_items(chip, tables, stimulus[frame]), "step")
        chip.count_barrier()
        if barrier_cycles:
            yield env.timeout(barrier_cycles)
        chip.frame_done(env.now)
        yield from chip.end_of_frame(env, t_frame)
        if stop_k is not None and stop_frame is None and chip.first_output is not None:
            stop_frame = frame + stop_k
        if stop_frame is not None and frame >= stop_frame:
            break
