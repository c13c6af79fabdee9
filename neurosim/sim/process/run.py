"""The reference engine's entry point: :func:`simulate_reference`, with the signature of
:func:`neurosim.sim.engine.simulate`, runs every sample event by event (one SimPy event per neuron
update, message send, link hop and message integration) and returns the same
:class:`RunResult`: the oracle the fast engine is checked against (docs/design.md, "Performance
approach": every fast path equals the SimPy process model)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from neurosim.describe.cost import CORE_OPS
from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import Mapping, check_mapping
from neurosim.describe.network import Network
from neurosim.errors import SimulationError
from neurosim.sim.counters import CoreCounters, Raster, RunResult, SampleRecord
from neurosim.sim.modes import MODES, SCOPES
from neurosim.sim.process.async_core import async_core_controller
from neurosim.sim.process.controller import async_global_controller, sync_controller, timestep_controller
from neurosim.sim.process.tables import Tables
from neurosim.sim.process.world import World
from neurosim.sim.readout import READOUTS, MembraneReadout, SpikeLog, output_is_spiking
from neurosim.sim.scheduler import POLICIES

_LINK_SUMS = ("messages", "busy_cycles", "wait_cycles", "stall_cycles")


def simulate_reference(
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
) -> RunResult:
    """As :func:`neurosim.sim.engine.simulate`, event by event. asynctorch's options
    (``refrac_dropout``, ``stop_on_output_frame``, ``prioritize_input``, ``momentum_noise``) are
    refused unless left at their defaults."""
    given = {
        "refrac_dropout": refrac_dropout != 0.0,
        "stop_on_output_frame": stop_on_output_frame is not None,
        "prioritize_input": prioritize_input is not True,
        "momentum_noise": momentum_noise != 0.0,
    }
    for option, set_ in given.items():
        if set_:
            raise SimulationError(
                f"{option}: the reference engine does not model asynctorch's options; leave it at its default"
            )
    _check(net, inputs, mode, scope, policy, group_size, max_steps, stop_on_output, readout)
    t_wall = time.perf_counter()
    check_mapping(net, hw, mapping)
    tables = Tables(hw, net, mapping, step_delays=mode == "timestep")
    n_lif = int(tables.is_lif.sum())
    opts: dict[str, Any] = {
        "mode": mode,
        "scope": scope,
        "policy": policy,
        "group_size": int(group_size),
        "max_steps": n_lif if max_steps is None else int(max_steps),
        "stop_on_output": stop_on_output,
        "seed": int(seed),
    }
    spiking_out = output_is_spiking(net)
    if not spiking_out:
        opts["readout"] = readout
    controller = {
        ("sync", "global"): sync_controller,
        ("sync", "core"): sync_controller,
        ("async", "global"): async_global_controller,
        ("async", "core"): async_core_controller,
        ("timestep", "global"): timestep_controller,
        ("timestep", "core"): timestep_controller,
    }[(mode, scope)]
    counters = CoreCounters(hw.n_cores)
    for op in tables.unit_ops:  # synop@<unit>, beside synop
        counters.ops[op] = np.zeros(hw.n_cores, np.int64)
    names = CORE_OPS + tuple(tables.unit_ops)
    n_tiles = hw.grid_width * hw.grid_height
    tile_pairs = sp.csr_array((n_tiles, n_tiles), dtype=np.int64)
    links: dict | None = None
    pop_spikes = np.zeros(len(net.populations), np.int64)
    records, raster = [], None
    phases: list[dict] | None = None
    iterator = range(inputs.shape[0])
    if progress is not None:
        iterator = progress(iterator)
    for k in iterator:
        i = first_sample + k
        before = {op: int(counters.ops[op].sum()) for op in names}
        w = World(tables, counters, opts, i)
        if raster_sample == i:
            w.phases = []
        w.env.run(w.env.process(controller(w, inputs[k])))
        ops = {op: int(counters.ops[op].sum()) - before[op] for op in names}
        ops.update(w.noc.ops)
        ops["barrier"] = w.barriers
        log = SpikeLog(w)  # type: ignore[arg-type]  # the world carries the fields the log reads
        pop_spikes += log.per_group
        pairs = np.array(w.noc.tile_pairs, np.int64).reshape(-1, 2)
        tile_pairs = (
            tile_pairs
            + sp.coo_array(
                (np.ones(len(pairs), np.int64), (pairs[:, 0], pairs[:, 1])), shape=(n_tiles, n_tiles)
            ).tocsr()
        )
        links = _add_links(links, w.noc.link_stats())
        _conservation(i, ops, w.copies_sent, int(tables.synops_of[log.ids].sum()), len(pairs))
        records.append(_record(w, log, i, int(labels[k]), ops, spiking_out, readout))
        if raster_sample == i:
            raster = _raster(i, w)
            phases = _with_barriers(w.phases, w.barrier_cycles)
    return RunResult(
        name=name,
        mode=mode,
        hardware=hw,
        network=net,
        mapping=mapping,
        dataset=dataset,
        frames=int(inputs.shape[1]),
        samples=records,
        core=counters.snapshot(),
        tile_pairs=tile_pairs,
        raster=raster,
        links=links,
        phases=phases,
        static_w=hw.static_power_w(mapping.used_cores),
        barrier_tiles=int(np.unique(np.asarray(mapping.used_cores) // hw.mesh.cores_per_tile).size),
        spikes_per_population={p.name: int(pop_spikes[k]) for k, p in enumerate(net.populations)},
        options={**opts, **(options or {})},
        wall_s=time.perf_counter() - t_wall,
    )


def _check(net, inputs, mode, scope, policy, group_size, max_steps, stop_on_output, readout) -> None:
    """A one-line :class:`SimulationError` naming the argument that is not available."""
    if readout not in READOUTS:
        raise SimulationError(f"readout {readout!r} is not available; choose from {READOUTS}")
    try:
        spiking_out = output_is_spiking(net)
    except ValueError as e:
        raise SimulationError(str(e)) from None
    if stop_on_output is not None and not spiking_out:
        raise SimulationError(f"stop_on_output needs a spiking output; population {net.output!r} is non-spiking")
    if mode not in MODES:
        raise SimulationError(f"execution mode {mode!r} is not available; choose from {MODES}")
    if scope not in SCOPES:
        raise SimulationError(f"scheduler scope {scope!r} is not available; choose from {SCOPES}")
    if policy not in POLICIES:
        raise SimulationError(f"scheduling policy {policy!r} is not available; choose from {POLICIES}")
    if int(group_size) < 1 or (max_steps is not None and max_steps < 0) or (stop_on_output or 0) < 0:
        raise SimulationError(
            f"group size must be >= 1 and step limits >= 0 (got F={group_size}, "
            f"max_steps={max_steps}, stop_on_output={stop_on_output})"
        )
    n_in = net.by_name[net.input].size
    ok_type = inputs.dtype == np.bool_ or (np.issubdtype(inputs.dtype, np.integer) and (inputs.min(initial=0) >= 0))
    if inputs.ndim != 3 or inputs.shape[2] != n_in or not ok_type:
        raise SimulationError(
            f"stimulus has shape {inputs.shape} and dtype {inputs.dtype}; network {net.name!r} expects "
            f"(samples, frames, {n_in}) bool spikes or non-negative integer event counts"
        )


def _record(w: World, log: SpikeLog, i: int, label: int, ops: dict, spiking_out: bool, readout: str) -> SampleRecord:
    out = log.output_counts()
    n_input = int(log.per_group[w.input_group])
    extra: dict = {"output_events": log.output_events()}
    if not spiking_out:
        mem = MembraneReadout(w.readout_v, w.frame_end, readout)
        values = mem.values()
        decision = mem.decision_cycle(label)
        extra["readout"] = values
    else:
        values = out
        decision = log.decision_cycle(label)
    if decision is not None:
        extra.update(log.until(decision))
    if w.steps_per_frame:
        extra["steps"] = int(sum(w.steps_per_frame))
    return SampleRecord(
        index=i,
        label=label,
        prediction=int(np.argmax(values)),
        cycles=int(w.env.now),
        ops=ops,
        spikes=int(log.per_group.sum()) - n_input,
        input_spikes=n_input,
        messages_sent=w.copies_sent,
        messages_received=ops["message_in"],
        first_output_cycle=w.first_output,
        decision_cycle=decision,
        output_counts=out,
        extra=extra,
        frames=log.frame_metrics(label),
    )


def _raster(i: int, w: World) -> Raster:
    log = w.spike_log
    if not log:
        empty = np.zeros(0, np.int64)
        return Raster(i, empty, empty, empty)
    return Raster(
        i,
        np.concatenate([np.full(ids.size, f, np.int64) for f, _, ids, _ in log]),
        np.concatenate([ids for _, _, ids, _ in log]).astype(np.int64),
        np.concatenate([c for _, _, _, c in log]).astype(np.int64),
    )


def _with_barriers(phases: list[dict] | None, barrier: int) -> list[dict] | None:
    """Each phase's barrier: the gap to the next phase of its frame, the frame barrier after the last."""
    for a, b in zip(phases or [], (phases or [])[1:] + [None]):
        a["barrier_cycles"] = barrier if b is None or b["frame"] != a["frame"] else max(0, b["start"] - a["end"])
    return phases


def _add_links(acc: dict | None, stats: dict) -> dict:
    if acc is None:
        return stats
    for k in _LINK_SUMS:
        acc[k] = acc[k] + stats[k]
    acc["peak_occupancy"] = np.maximum(acc["peak_occupancy"], stats["peak_occupancy"])
    return acc


def _conservation(i: int, ops: dict, sent: int, expected_synops: int, routed: int) -> None:
    if sent != ops["message_in"] or routed != sent:
        raise SimulationError(f"sample {i}: {sent} messages sent, {routed} routed, {ops['message_in']} received")
    if ops["synop"] != expected_synops:
        raise SimulationError(f"sample {i}: {ops['synop']} synops, but the spikes reach {expected_synops} synapses")
