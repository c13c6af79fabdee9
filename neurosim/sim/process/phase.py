"""One phase of the reference engine (a population in ``sync`` mode, a scheduler step in global
``async`` mode, a step in ``timestep`` mode): its evaluations, the messages they emit and their
integration. ``all_started`` fires when the last evaluation starts (its spikes are then known:
the receiving cores may begin integrating); ``done`` when every evaluation has finished and
every message emitted in the phase has been integrated."""

from __future__ import annotations

import simpy


class Phase:
    def __init__(self, env: simpy.Environment, n_evals: int):
        self.env = env
        self.n_evals = n_evals
        self.started = self.finished = 0
        self.emitted = self.integrated = 0
        self.all_started = env.event()
        self.done = env.event()
        if n_evals == 0:
            self.all_started.succeed()
            self.done.succeed()

    def eval_started(self) -> None:
        self.started += 1
        if self.started == self.n_evals:
            self.all_started.succeed()

    def eval_finished(self) -> None:
        self.finished += 1
        self._check()

    def message_emitted(self, n: int = 1) -> None:
        self.emitted += n

    def message_integrated(self) -> None:
        self.integrated += 1
        self._check()

    def _check(self) -> None:
        if self.finished == self.n_evals and self.integrated == self.emitted and not self.done.triggered:
            self.done.succeed()
