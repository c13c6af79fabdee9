"""The frame / layer barrier controller of layer-synchronous (``sync``) execution.

Within a frame the populations run in topological order, each one *phase*: the cores holding the
population evaluate it (input populations emit the frame's stimulus spikes), their spike messages
cross the network-on-chip, and the receiving cores integrate them. The controller waits until
every core has finished the phase's work, then runs a barrier over the tiles in use
(``Barrier.latency(tiles)`` cycles, one barrier counted) before the next phase. The barrier after
the last population is the end-of-frame barrier.
"""

from __future__ import annotations

import simpy

from neurosim.errors import SimulationError


class Phase:
    """Book-keeping of one phase (a population in ``sync`` mode, a scheduler step in global
    ``async`` mode): ``done`` fires once every work item that belongs to the phase has been
    registered *and* has completed.

    A phase's work arrives in two waves: its evaluations, registered when it opens, and the
    deliveries of the messages they emit, which the controller registers only after every
    evaluation has run (``all_evaluated``) and it has routed their messages. The controller then
    *seals* the phase (:meth:`seal`: nothing more will be added); ``done`` needs the seal, so no
    item, however short (a zero-cycle item completes in the cycle it starts), can end the phase
    before its deliveries are counted. Each item reports to the phase it was enqueued for, so a
    phase's count never sees another phase's work. A count that would go negative, work added
    after the seal or a second seal raise :class:`SimulationError` (a bookkeeping bug, never a
    silent wrong time)."""

    def __init__(self, env: simpy.Environment, n_evals: int):
        self.env = env
        self.pending_evals = n_evals
        self.outstanding = 0  # registered items not yet completed
        self.sealed = False
        self.all_evaluated = env.event()
        self.done = env.event()
        self.add_items(n_evals)
        if n_evals == 0:
            self.all_evaluated.succeed()

    def add_items(self, n: int) -> None:
        """Register ``n`` more work items of this phase (before the seal only)."""
        if self.sealed:
            raise SimulationError(f"{n} work items added to a phase already sealed")
        self.outstanding += n

    def evaluated(self) -> None:
        """One evaluation of the phase has run (its messages are emitted)."""
        if self.pending_evals <= 0:
            raise SimulationError("more evaluations reported than the phase registered")
        self.pending_evals -= 1
        if self.pending_evals == 0:
            self.all_evaluated.succeed()

    def item_done(self) -> None:
        """One registered work item has completed."""
        if self.outstanding <= 0:
            raise SimulationError("more work items completed than the phase registered")
        self.outstanding -= 1
        self._finish()

    def seal(self) -> None:
        """Every work item of the phase is registered (after its deliveries were added)."""
        if self.sealed or self.pending_evals:
            raise SimulationError("a phase sealed twice, or before all its evaluations ran")
        self.sealed = True
        self._finish()

    def _finish(self) -> None:
        if self.sealed and self.outstanding == 0:
            self.done.succeed()


def sync_controller(env: simpy.Environment, chip, stimulus):
    """SimPy process: run every frame of one sample layer-synchronously.

    ``stimulus`` is a boolean array (frames, input channels)."""
    barrier_cycles = chip.hw.barrier.latency(chip.tiles_in_use)
    for frame in range(stimulus.shape[0]):
        chip.start_frame(frame)
        t_frame = env.now
        for group in chip.phase_order:
            yield from chip.run_phase(env, group, stimulus[frame])
            chip.count_barrier()
            if barrier_cycles:
                yield env.timeout(barrier_cycles)
        chip.frame_done(env.now)
        yield from chip.end_of_frame(env, t_frame)
