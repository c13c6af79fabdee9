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


class Phase:
    """Book-keeping of one phase: work items outstanding and evaluations pending."""

    def __init__(self, env: simpy.Environment, n_evals: int):
        self.env = env
        self.pending_evals = n_evals
        self.outstanding = n_evals
        self.all_evaluated = env.event()
        self.done = env.event()
        if n_evals == 0:
            self.all_evaluated.succeed()

    def evaluated(self):
        self.pending_evals -= 1
        if self.pending_evals == 0:
            self.all_evaluated.succeed()

    def add_items(self, n: int):
        self.outstanding += n

    def item_done(self):
        self.outstanding -= 1
        if self.outstanding == 0 and self.all_evaluated.triggered:
            self.done.succeed()

    def finish_if_idle(self):
        if self.outstanding == 0 and not self.done.triggered:
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
        yield from chip.end_of_frame(env, t_frame)
