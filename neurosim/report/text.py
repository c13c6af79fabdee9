"""Human-readable descriptions of the three inputs (``neurosim info``, ``neurosim hw describe``)."""

from __future__ import annotations

import numpy as np

from neurosim.describe.cost import CORE_OPS
from neurosim.describe.hardware import HardwareSpec
from neurosim.units import fmt_si


def describe_hardware(hw: HardwareSpec) -> str:
    """The chip (or grid of chips): mesh, capacity, per-operation costs, NoC, barrier, static
    power and derived peak figures."""
    c, r, m, ch = hw.core, hw.router, hw.mesh, hw.chips
    ns = lambda cycles: cycles * hw.cycle_s * 1e9  # noqa: E731
    peak = hw.peak_figures()
    if hw.n_chips > 1:
        layout = (
            f"  {ch.width}x{ch.height} chips of {m.width}x{m.height} tiles = global mesh "
            f"{hw.grid_width}x{hw.grid_height} tiles x {m.cores_per_tile} cores = {hw.n_cores} cores"
        )
    else:
        layout = f"  mesh {m.width}x{m.height} tiles x {m.cores_per_tile} cores = {hw.n_cores} cores"
    synapses = "unlimited" if c.max_synapses is None else f"{c.max_synapses}"
    lines = [
        f"hardware {hw.name}: {hw.description}".rstrip(": "),
        layout + f"; clock {c.clock_mhz:g} MHz (1 cycle = {hw.cycle_s * 1e9:g} ns)",
        f"  core capacity: {c.max_neurons} neurons, {c.max_fan_in} fan-in axons, {synapses} synapses; "
        f"issue width {c.issue_width}",
        f"  in all: {peak['neurons']} neurons" + ("" if peak["synapses"] is None else f", {peak['synapses']} synapses"),
        "  core costs (cycles / ns / pJ):",
    ]
    for op in CORE_OPS:
        cyc = getattr(c, f"latency_{op}_cycles")
        lines.append(f"    {op:<22} {cyc:>6} / {ns(cyc):>8.2f} / {getattr(c, f'energy_{op}_pj'):>8.2f}")
    f = c.clock_mhz * 1e6
    lines += [
        f"  router: hop E-W {r.latency_hop_ew_cycles} cycles / {r.energy_hop_ew_pj:g} pJ, hop N-S "
        f"{r.latency_hop_ns_cycles} cycles / {r.energy_hop_ns_pj:g} pJ, local {r.latency_local_cycles} cycles / "
        f"{r.energy_local_pj:g} pJ; {r.delivery}",
        f"  links: {r.link_bandwidth_msgs_per_cycle:g} msg/cycle -> {r.service_cycles} cycles per message "
        f"({fmt_si(f / r.service_cycles, 'msg/s', smallest=1.0)}), buffer {r.buffer_depth_msgs} msgs; contention "
        + ("modelled (FIFO links, back-pressure)" if r.contention else "not modelled (contention-free latency)"),
    ]
    chip_service = ch.service_cycles  # None only without chip-to-chip links (one chip)
    if hw.n_chips > 1 and chip_service is not None:
        lines.append(
            f"  chip-to-chip links: {ch.link_latency_cycles} cycles / {ns(ch.link_latency_cycles):g} ns, "
            f"{ch.link_energy_pj:g} pJ per message, {ch.link_bandwidth_msgs_per_cycle:g} msg/cycle -> "
            f"{chip_service} cycles per message ({fmt_si(f / chip_service, 'msg/s', smallest=1.0)})"
        )
    b = hw.barrier
    energy = f"{b.energy_pj:g} pJ" + (f" + {b.per_tile_energy_pj:g} pJ per tile" if b.per_tile_energy_pj else "")
    lines += [
        f"  barrier: {b.latency(1)} cycles / {ns(b.latency(1)):g} ns (1 tile) to {b.latency(hw.n_tiles)} cycles / "
        f"{ns(b.latency(hw.n_tiles)):g} ns ({hw.n_tiles} tiles); {energy} per barrier",
        f"  static power: {hw.static_power_w() * 1e3:g} mW in all ({hw.n_chips} x {hw.chip.static_power_mw:g} mW "
        f"chip + {hw.n_cores} x {c.static_power_mw:g} mW core + {hw.n_tiles} x {r.static_power_mw:g} mW router); "
        f"power gating {'on' if hw.chip.power_gating else 'off'}",
        f"  peak: {fmt_si(peak['synops_per_s_per_core'], 'synops/s', smallest=1.0)} per core, "
        f"{fmt_si(peak['synops_per_s'], 'synops/s', smallest=1.0)} "
        f"in all; {peak['energy_per_synop_pj']:g} pJ per synop",
        f"  bisection: {peak['bisection_links']} links each way, {peak['bisection_msgs_per_cycle']:g} msg/cycle "
        f"= {fmt_si(peak['bisection_msgs_per_s'], 'msg/s', smallest=1.0)} each way",
    ]
    return "\n".join(lines)


def describe_mapping(m) -> str:
    counts = np.bincount(m.core_of)
    used = m.used_cores
    return (
        f"mapping ({m.strategy}, {m.placement}): {m.core_of.size} neurons on {used.size} cores; "
        f"neurons per core min {counts[used].min()}, max {counts[used].max()}"
    )


def describe(kind: str, obj) -> str:
    if kind == "hardware":
        return describe_hardware(obj)
    if kind == "model":
        text = obj.describe()
        meta = obj.metadata.get("neurosim") if isinstance(obj.metadata, dict) else None
        if meta:
            text += "\n  trained: " + ", ".join(f"{k}={v}" for k, v in meta.items() if not isinstance(v, dict))
        return text
    return describe_mapping(obj)
