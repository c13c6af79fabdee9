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
from neurosim.sim.counters import CoreCounters, RunResult
from neurosim.sim.modes import ASYNCTORCH_DEFAULTS
from neurosim.sim.process.async_core import async_core_controller
from neurosim.sim.process.controller import async_global_controller, sync_controller, timestep_controller
from neurosim.sim.process.tables import Tables
from neurosim.sim.process.world import World
from neurosim.sim.readout import SpikeLog, output_is_spiking
from neurosim.sim.run_records import (
    add_links,
    check_arguments,
    check_conservation,
    raster_of,
    sample_record,
    with_barriers,
)


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
        "refrac_dropout": refrac_dropout,
        "stop_on_output_frame": stop_on_output_frame,
        "prioritize_input": prioritize_input,
        "momentum_noise": momentum_noise,
    }
    for option, value in given.items():
        if value != ASYNCTORCH_DEFAULTS[option]:
            raise SimulationError(
                f"{option}: the reference engine does not model asynctorch's options; leave it at its default"
            )
    check_arguments(net, inputs, mode, scope, policy, group_size, max_steps, stop_on_output, readout)
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
        links = add_links(links, w.noc.link_stats())
        check_conservation(i, ops, w.copies_sent, int(tables.synops_of[log.ids].sum()), len(pairs))
        records.append(sample_record(w, log, i, int(labels[k]), int(w.env.now), ops, None if spiking_out else readout))
        if raster_sample == i:
            raster = raster_of(i, w.spike_log)
            phases = with_barriers(w.phases, w.barrier_cycles)
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
