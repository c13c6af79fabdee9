"""The simulation engine: builds the SimPy world (cores, mesh, barrier controller) from the three
descriptions (hardware, network, mapping) once per run, then simulates each sample.

SimPy events carry batches, never single synapses (docs/design.md, "Performance approach"): an evaluation of one
population on one core is one work item; all messages of a phase bound for one core travel as
one batch (sorted by arrival, served in order). Routing and NoC latency come from tables built
once per run. ``sync`` and ``timestep`` samples run batched where they can (every phase for all
its cores at once, the same results: :mod:`neurosim.sim.batched`); SimPy runs the async modes.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import simpy

from neurosim.describe.cost import CORE_OPS
from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import Mapping
from neurosim.describe.network import Network
from neurosim.errors import SimulationError
from neurosim.sim.chip import Chip
from neurosim.sim.counters import Raster, RunResult, SampleRecord
from neurosim.sim.modes import ENGINES
from neurosim.sim.process.run import simulate_reference
from neurosim.sim.readout import SpikeLog, output_is_spiking
from neurosim.sim.run_records import (
    add_links,
    check_arguments,
    check_conservation,
    raster_of,
    sample_record,
    with_barriers,
)


def simulate(
    hw: HardwareSpec,
    net: Network,
    mapping: Mapping,
    inputs: np.ndarray,
    labels: np.ndarray,
    *,
    mode: str = "sync",
    scope: str = "global",
    policy: str = "fifo",
    group_size: int = 8,
    max_steps: int | None = None,
    stop_on_output: int | None = None,
    seed: int = 0,
    name: str = "run",
    dataset: str = "",
    raster_sample: int | None = 0,
    progress: Callable | None = None,
    options: dict | None = None,
    first_sample: int = 0,
    readout: str = "max",
    refrac_dropout: float = 0.0,
    stop_on_output_frame: int | None = None,
    prioritize_input: bool = True,
    momentum_noise: float = 0.0,
    engine: str = "fast",
) -> RunResult:
    """Simulate every sample of ``inputs`` (samples x frames x input channels: bool spikes, or
    non-negative integer event counts, a count ``k`` being ``k`` input spike messages).

    ``mode`` is ``sync``, ``async`` or ``timestep`` (one barrier per step, every spike integrated
    in a later step: :mod:`neurosim.sim.timestep`); for async, ``scope`` (``global``: one scheduler over the
    network, sending at most ``group_size`` spikes per step; ``core``: one per core, its issue
    width per step), ``policy`` (``fifo``, ``random``, ``momentum``), ``max_steps`` (per frame;
    default: the number of neurons, which never truncates a global-scope frame) and
    ``stop_on_output`` (end K steps - frames in core scope - after the first output spike).

    Returns a :class:`RunResult` with per-sample records and per-core counters. Conservation is
    checked for every sample (messages sent = received = routed, synops = sum over delivered
    spikes of their fan-out); a violation raises :class:`SimulationError`.

    ``first_sample``: the index of ``inputs[0]`` in the whole stimulus, for a shard of a run
    (:mod:`neurosim.experiments.shard`): sample ``k`` of ``inputs`` is simulated, seeded and
    recorded as sample ``first_sample + k`` (``raster_sample`` counts the same way), so a
    sample's result depends only on the seed and its index.

    ``readout``: how a non-spiking output population (``spiking=False``: NIR LI, CubaLI, I) is
    read: the arg-max over its neurons of their membrane at frame ends, taken as the maximum over
    the frames (``max``, the default: Norse's decoder), the mean or the last frame's. A spiking
    output is read by its spike counts whatever ``readout`` says (:mod:`neurosim.sim.readout`).

    asynctorch's options (async mode; docs/asynctorch.md, :mod:`neurosim.sim.async_global`):
    ``refrac_dropout`` (a crossing leaves the neuron non-refractory with that probability, drawn
    from ``seed``; a neuron sent with ``k`` queued crossings emits ``k`` spike messages),
    ``stop_on_output_frame`` (global scope: each frame ends K send steps after the step that
    sent its first output spike), ``prioritize_input=False`` (global scope: the input events are
    queued with the neurons' spikes) and ``momentum_noise`` (momentum: priority + U[0,1) * lambda).

    ``engine``: ``fast`` (this batched engine) or ``reference`` (:mod:`neurosim.sim.process`: cores
    and routers as SimPy processes, event by event, the oracle the fast engine is tested against;
    it gives the same result and refuses what it does not model)."""

    if engine == "reference":
        kwargs = dict(locals())
        for positional in ("hw", "net", "mapping", "inputs", "labels", "engine"):
            kwargs.pop(positional)
        return simulate_reference(hw, net, mapping, inputs, labels, **kwargs)
    if engine != "fast":
        raise SimulationError(f"engine {engine!r}: unknown; use one of {ENGINES}")
    check_arguments(net, inputs, mode, scope, policy, group_size, max_steps, stop_on_output, readout)
    _check_asynctorch(mode, scope, policy, refrac_dropout, stop_on_output_frame, prioritize_input, momentum_noise)
    if stop_on_output_frame is not None and not output_is_spiking(net):
        raise SimulationError(
            f"stop_on_output_frame needs a spiking output; population {net.output!r} is non-spiking: leave it unset"
        )
    t_wall = time.perf_counter()
    chip = Chip(hw, net, mapping)
    chip.configure(
        mode=mode,
        scope=scope,
        policy=policy,
        group_size=group_size,
        max_steps=max_steps,
        stop_on_output=stop_on_output,
        seed=seed,
        refrac_dropout=refrac_dropout,
        stop_on_output_frame=stop_on_output_frame,
        prioritize_input=prioritize_input,
        momentum_noise=momentum_noise,
    )
    if not output_is_spiking(net):
        chip.options["readout"] = readout
    totals = _RunTotals(chip)
    iterator = range(inputs.shape[0])
    if progress is not None:
        iterator = progress(iterator)
    for k in iterator:
        i = first_sample + k
        totals.add(i, inputs[k], int(labels[k]), record=raster_sample == i)
    return totals.result(
        name=name,
        mode=mode,
        dataset=dataset,
        frames=int(inputs.shape[1]),
        options={**chip.options, **(options or {})},
        t_wall=t_wall,
    )


def _check_asynctorch(
    mode: str,
    scope: str,
    policy: str,
    refrac_dropout: float,
    stop_on_output_frame: int | None,
    prioritize_input: bool,
    momentum_noise: float,
) -> None:
    """Raise :class:`SimulationError` for an asynctorch option out of range or where it does not
    apply (docs/asynctorch.md)."""
    if not (0.0 <= float(refrac_dropout) <= 1.0):
        raise SimulationError(f"refrac_dropout must be in [0, 1], got {refrac_dropout!r}")
    if stop_on_output_frame is not None and (
        int(stop_on_output_frame) != stop_on_output_frame or stop_on_output_frame < 0
    ):
        raise SimulationError(f"stop_on_output_frame must be an integer >= 0, got {stop_on_output_frame!r}")
    if not (float(momentum_noise) >= 0 and np.isfinite(momentum_noise)):
        raise SimulationError(f"momentum_noise must be a non-negative number, got {momentum_noise!r}")
    used = {
        "refrac_dropout": refrac_dropout > 0,
        "stop_on_output_frame": stop_on_output_frame is not None,
        "prioritize_input=False": not prioritize_input,
        "momentum_noise": momentum_noise > 0,
    }
    for name, on in used.items():
        if on and mode != "async":
            raise SimulationError(f"{name} is an asynchronous option; use mode='async' (got {mode!r})")
    if momentum_noise > 0 and policy != "momentum":
        raise SimulationError(f"momentum_noise perturbs momentum priorities; policy {policy!r} has none")
    if scope == "core" and (used["stop_on_output_frame"] or used["prioritize_input=False"]):
        raise SimulationError(
            "stop_on_output_frame and queued input (prioritize_input=False) need the global scheduler "
            "(they count global send steps and queue the input with the whole network's spikes); use scope='global'"
        )


class _RunTotals:
    """The samples of one run on one chip: their records, and what the run sums over them (tile
    pairs, per-link counters, spikes per population) or keeps of the recorded one (raster, phases)."""

    def __init__(self, chip: Chip):
        self.chip = chip
        n = chip.mesh.n_tiles
        self.records: list[SampleRecord] = []
        self.raster: Raster | None = None
        self.phases: list[dict] | None = None
        self.tile_pairs = sp.csr_array((n, n), dtype=np.int64)
        self.links: dict | None = None
        self.pop_spikes = np.zeros(len(chip.net.populations), np.int64)

    def add(self, i: int, stimulus: np.ndarray, label: int, record: bool) -> None:
        """Simulate sample ``i``, check conservation, add it to the totals and keep its record
        (``record``: also its raster and phase timing)."""
        chip = self.chip
        env, ops = _run_sample(chip, stimulus, i, record)
        log = SpikeLog(chip)
        self.pop_spikes += log.per_group
        self.tile_pairs = self.tile_pairs + chip.tile_pairs
        self.links = add_links(self.links, chip.mesh.link_stats())
        check_conservation(i, ops, chip.copies_sent, int(chip.synops_of[log.ids].sum()), int(chip.tile_pairs.sum()))
        self.records.append(sample_record(chip, log, i, label, int(env.now), ops, chip.options.get("readout")))
        if record:
            self.raster = raster_of(i, chip.spike_log)
            self.phases = with_barriers(chip.phases, chip.hw.barrier.latency(chip.tiles_in_use))

    def result(self, *, name: str, mode: str, dataset: str, frames: int, options: dict, t_wall: float) -> RunResult:
        """The run's result (``t_wall``: when the run started, ``time.perf_counter``)."""
        chip, hw, net = self.chip, self.chip.hw, self.chip.net
        return RunResult(
            name=name,
            mode=mode,
            hardware=hw,
            network=net,
            mapping=chip.mapping,
            dataset=dataset,
            frames=frames,
            samples=self.records,
            core=chip.counters.snapshot(),
            tile_pairs=self.tile_pairs,
            raster=self.raster,
            links=self.links,
            phases=self.phases,
            static_w=hw.static_power_w(chip.mapping.used_cores),
            barrier_tiles=chip.tiles_in_use,
            spikes_per_population={p.name: int(self.pop_spikes[k]) for k, p in enumerate(net.populations)},
            options=options,
            wall_s=time.perf_counter() - t_wall,
        )


def _run_sample(chip: Chip, stimulus: np.ndarray, i: int, record: bool) -> tuple[simpy.Environment, dict[str, int]]:
    """Simulate one sample; returns its environment and its operation counts."""
    names = CORE_OPS + tuple(op for op in chip.counters.ops if op not in CORE_OPS)  # + synop@<unit>
    before = {op: chip.counters.ops[op].sum() for op in names}
    env = chip.run_sample(stimulus, index=i, record_phases=record)
    ops = {op: int(chip.counters.ops[op].sum() - before[op]) for op in names}
    ops.update(chip.noc_ops())
    ops["barrier"] = chip.counters_barrier
    return env, ops
