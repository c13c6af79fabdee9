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


def describe_paper_metrics(pm: dict) -> str:
    """The paper's per-frame metrics of a run (``summary["paper_metrics"]``,
    :func:`neurosim.analysis.paper_metrics.paper_metrics`) as a few lines of text; the output
    figures read ``n/a`` for a non-spiking output (they do not exist), never 0."""
    na = "n/a (non-spiking output)" if not pm["spiking_output"] else "n/a"

    def num(x) -> str:
        return na if x is None else f"{x:.4g}"

    def pair(key: str) -> str:
        mean, median = pm[f"{key}_mean"], pm[f"{key}_median"]
        return na if mean is None else f"{mean:.4g} (median {median:.4g})"

    return "\n".join(
        [
            f"per frame ({pm['frames']} frames, one step = {pm['step_kind']}):",
            f"  network spikes {num(pm['network_spikes_per_frame_mean'])}, spike density "
            f"{num(pm['spike_density'])}, forward steps {pair('steps_per_frame')}",
            f"  to the first output spike ({num(pm['frames_with_output_fraction'])} of frames): "
            f"{pair('spikes_to_first_output')} spikes, {pair('steps_to_first_output')} steps",
            f"  to the target's first spike ({num(pm['frames_with_target_fraction'])} of frames): "
            f"{pair('spikes_to_target')} spikes, {pair('steps_to_target')} steps",
        ]
    )
