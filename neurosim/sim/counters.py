"""Operation counters and run results. Counters are separate from costs: :mod:`neurosim.describe.cost`
turns them into energy and time for any hardware costs, so a run can be re-costed without
re-simulating.

Operation names (``OPS``) match the cost names of the hardware description:
``message_in``, ``synop``, ``neuron_update_active``, ``neuron_update_idle``, ``spike_out``
(per core), ``hop_ew``, ``hop_ns``, ``hop_chip`` (a hop over a chip-to-chip link), ``local``
(per router) and ``barrier`` (per chip).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurosim.describe.cost import CORE_OPS, energy_breakdown


class CoreCounters:
    """Per physical core, per operation counts plus busy cycles (int64 arrays)."""

    def __init__(self, n_cores: int):
        self.ops = {op: np.zeros(n_cores, np.int64) for op in CORE_OPS}
        self.busy_cycles = np.zeros(n_cores, np.int64)
        self.spikes = np.zeros(n_cores, np.int64)

    def snapshot(self) -> dict[str, np.ndarray]:
        out = {op: a.copy() for op, a in self.ops.items()}
        out["busy_cycles"] = self.busy_cycles.copy()
        out["spikes"] = self.spikes.copy()
        return out


@dataclass
class SampleRecord:
    """What one inference did: counts, timing and the decision."""

    index: int
    label: int
    prediction: int
    cycles: int
    ops: dict[str, int]  # OPS -> count
    spikes: int  # neuron spikes (input spikes excluded)
    input_spikes: int
    messages_sent: int
    messages_received: int
    first_output_cycle: int | None  # cycle of the first output spike (None: no output spike)
    decision_cycle: int | None = None  # cycle from which the arg-max stays the label (async)
    output_counts: np.ndarray | None = None  # spikes per output neuron
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def correct(self) -> bool:
        return self.prediction == self.label

    @property
    def synops(self) -> int:
        return self.ops["synop"]

    @property
    def hops(self) -> int:
        return self.ops["hop_ew"] + self.ops["hop_ns"] + self.ops.get("hop_chip", 0)


@dataclass
class Raster:
    """Spikes of one sample: frame, global neuron index and the cycle of emission."""

    sample: int
    frame: np.ndarray
    neuron: np.ndarray
    cycle: np.ndarray


@dataclass
class RunResult:
    """Everything a run measured. ``core`` holds per-physical-core totals over all samples;
    ``tile_pairs[i, j]`` counts messages from tile i to tile j (routes are deterministic, so
    per-link counts follow from it, see :meth:`neurosim.sim.noc.Mesh.link_counts`)."""

    name: str
    mode: str
    hardware: Any
    network: Any
    mapping: Any
    dataset: str
    frames: int
    samples: list[SampleRecord]
    core: dict[str, np.ndarray]
    tile_pairs: np.ndarray
    raster: Raster | None
    spikes_per_population: dict[str, int]
    options: dict[str, Any] = field(default_factory=dict)
    wall_s: float = 0.0
    links: dict[str, np.ndarray] | None = None  # per-link NoC counters (Mesh.link_stats), summed
    static_w: float | None = None  # static power (power gating applied), watts
    barrier_tiles: int | None = None  # tiles taking part in each barrier
    phases: list[dict] | None = None  # per-phase timing of the raster sample (critical path)

    def energy(self, sample: SampleRecord) -> dict[str, float]:
        """Energy parts of one inference (joules), with this run's static power and barrier size."""

        return energy_breakdown(
            sample.ops, self.hardware, sample.cycles, static_w=self.static_w, barrier_tiles=self.barrier_tiles
        )

    @property
    def accuracy(self) -> float:
        return float(np.mean([s.correct for s in self.samples])) if self.samples else float("nan")

    def total(self, op: str) -> int:
        return int(sum(s.ops[op] for s in self.samples))
