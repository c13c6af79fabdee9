"""The human-readable report (``report.md``) rendered from a run summary, plus the number
formatting (SI prefixes) shared with the plots."""

from __future__ import annotations

import json
import math
from typing import Any

from neurosim.units import fmt_si

#: captions of the figures ``write_report`` produces (other keys are captioned by their name)
FIGURE_CAPTIONS = {
    "energy": "Energy per inference by part (static and each dynamic operation)",
    "cores": "Work per physical core on the mesh of tiles",
    "raster": "Spike raster of one sample",
    "latency": "Latency per sample (correct and wrong predictions)",
    "links": "Link utilisation on the mesh (busy cycles / elapsed cycles)",
    "stalls": "Stall cycles per link (back-pressure: the next buffer was full)",
    "tiles": "Dynamic energy per tile (its cores and its router)",
    "critical": "Critical path of the slowest frame of the raster sample",
    "latency_dist": "Latency distribution over the samples (histogram and CDF)",
    "energy_latency": "Energy against latency, one point per sample",
    "activity": "Spikes per frame of each population, in the raster sample (the only sample with per-frame data)",
    "utilisation": "Utilisation per core on the mesh (busy cycles / latency cycles)",
}


def fmt_count(value: float | None) -> str:
    """A count per inference: integers with thousands separators, else 4 significant digits
    (large values with separators and one decimal)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 1000:
        return f"{value:,.1f}"
    return f"{value:.4g}"


def fmt_pct(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{100 * value:.{digits}f} %"


def _table(header: list[str], rows: list[list[Any]], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(header) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(sep) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def _ok(flag: bool) -> str:
    return "OK" if flag else "**FAILED**"


def _title_section(summary: dict) -> list[str]:
    run = summary["run"]
    return [
        f"# neurosim report: {run['name']}",
        "",
        f"Network **{run['network'].get('name')}** on hardware **{run['hardware']['name']}**, {run['mode']} mode, "
        f"{run['samples']} sample(s) of *{run['dataset']}*.",
        "",
    ]


def _parameters_section(summary: dict, wall_s: float | None) -> list[str]:
    run = summary["run"]
    hw = run["hardware"]
    net = run["network"]
    params = [
        ["run name", run["name"]],
        ["execution mode", run["mode"]],
        ["dataset", run["dataset"]],
        ["samples (inferences)", run["samples"]],
        ["frames per sample", run["frames"]],
        ["hardware", f"{hw['name']}" + (f" (`{hw['source']}`)" if hw.get("source") else "")],
        [
            "mesh",
            f"{hw['mesh'][0]} x {hw['mesh'][1]} tiles, {hw['cores_per_tile']} core(s) per tile, {hw['n_cores']} cores",
        ],
        ["clock", f"{hw['clock_mhz']:g} MHz (1 cycle = {fmt_si(hw['cycle_s'], 's')})"],
        ["static power (chip)", fmt_si(hw["static_power_w"], "W")],
        ["network", net.get("name")],
    ]
    if "neurons" in net:
        params.append(["network size", f"{net['neurons']:,} neurons, {net['synapses']:,} synapses"])
    params.append(["mapping strategy", run["mapping"].get("strategy") or "n/a"])
    params += _mapping_rows(summary.get("mapping"))
    for k, v in sorted((run.get("options") or {}).items()):
        params.append([f"option `{k}`", f"`{v}`"])
    params += _identity_rows(run.get("identity"))
    params += [
        ["neurosim version", run["neurosim_version"]],
        ["simulation wall time", f"{wall_s:.3g} s" if wall_s is not None else "n/a"],
    ]
    return ["## Run parameters", "", _table(["parameter", "value"], params, "ll"), ""]


def _identity_rows(identity: dict | None) -> list[list[Any]]:
    """The run's identity: its hash (the run name's suffix) and each input it hashes."""
    if not identity:
        return []
    rows: list[list[Any]] = [["identity (hash)", f"`{identity.get('hash')}`"]]
    for k, v in sorted((identity.get("inputs") or {}).items()):
        shown = json.dumps(v, sort_keys=True, separators=(", ", ": ")).replace("|", "\\|")
        rows.append([f"identity `{k}`", f"`{shown}`"])
    return rows


def _mapping_rows(mapping: dict | None) -> list[list[Any]]:
    """Placement, options, how the strategy chose, and the mapping's traffic with one spike per
    neuron (the ``mapping`` block of the summary)."""
    if not mapping:
        return []
    rows: list[list[Any]] = [["placement", mapping.get("placement") or "n/a"]]
    for side, opts in sorted((mapping.get("options") or {}).items()):
        shown = ", ".join(f"{k}={v}" for k, v in sorted(opts.items())) if isinstance(opts, dict) else opts
        rows.append([f"mapping `{side}`", f"`{shown}`" if shown else "none"])
    found = mapping.get("strategy_result") or {}
    if "chosen" in found:
        cands = "; ".join(
            f"{name}: cut {fmt_count(f.get('cut_traffic'))}" for name, f in (found.get("candidates") or {}).items()
        )
        rows.append(
            ["partition", f"method {found.get('method')}, chose {found['chosen']}" + (f" ({cands})" if cands else "")]
        )
    rows += [
        ["cores / tiles used", f"{mapping['cores_used']} / {mapping['tiles_used']}"],
        [
            "traffic, one spike per neuron",
            f"{fmt_count(mapping['messages'])} messages, {fmt_count(mapping['cut_traffic'])} leave their core, "
            f"{fmt_count(mapping['tile_traffic'])} their tile, {fmt_count(mapping['hops'])} hops "
            f"(mean {mapping['mean_hops']:.3g})",
        ],
    ]
    return rows


def _readout_text(readout: str) -> str:
    if readout == "spike counts":
        return "output spike counts (arg-max)"
    how = readout.split()[-1]
    return f"non-spiking output: arg-max of its membranes at frame ends, {how} over the frames"


def _per_inference_section(summary: dict) -> list[str]:
    samples = summary["run"]["samples"]
    head = [
        ["accuracy", fmt_pct(summary["accuracy"])],
        ["readout", _readout_text(summary.get("readout", "spike counts"))],
        ["energy", fmt_si(summary["energy_per_inference_j"], "J")],
        [
            "latency",
            f"{fmt_si(summary['latency_per_inference_s'], 's')} "
            f"({fmt_count(summary['latency_per_inference_cycles'])} cycles)",
        ],
        ["energy-delay product (EDP)", fmt_si(summary["edp_per_inference_js"], "J·s")],
        [
            "time to first output",
            f"{fmt_si(summary['time_to_first_output_s'], 's')} "
            f"({summary['samples_with_first_output']} of {samples} samples)",
        ],
        [
            "time to decision",
            f"{fmt_si(summary['time_to_decision_s'], 's')} ({summary['samples_with_decision']} of {samples} samples)",
        ],
        ["spikes", fmt_count(summary["spikes_per_inference"])],
        ["input spikes", fmt_count(summary["input_spikes_per_inference"])],
        ["synaptic operations", fmt_count(summary["synops_per_inference"])],
        ["messages", fmt_count(summary["messages_per_inference"])],
        ["router hops", fmt_count(summary["hops_per_inference"])],
    ]
    return [
        "## Per inference",
        "",
        _table(["metric", "mean per inference"], head),
        "",
        "Means over the samples; EDP is the mean over samples of energy x latency.",
        "",
    ]


_STEP_TEXT = {
    "send step": "a send step of the global scheduler (step 0: the input delivery)",
    "issue": "an issue round of any core (counted chip-wide in the frame)",
    "phase": "a population phase (the input's is 0, layer l's is l)",
    "timestep": "a time step (the frame is one step)",
}


def _paper_section(summary: dict) -> list[str]:
    """The paper's per-frame metrics (docs/paper-metrics.md), when the summary has them."""
    pm = summary.get("paper_metrics")
    if not pm:
        return []
    na = "n/a (non-spiking output)" if not pm["spiking_output"] else "n/a"

    def pair(key: str) -> str:
        mean, median = pm[f"{key}_mean"], pm[f"{key}_median"]
        return na if mean is None else f"{fmt_count(mean)} (median {fmt_count(median)})"

    rows = [
        ["frames", fmt_count(pm["frames"])],
        ["network spikes per frame", fmt_count(pm["network_spikes_per_frame_mean"])],
        ["spike density (spikes / neuron / frame)", fmt_count(pm["spike_density"])],
        ["forward steps per frame", pair("steps_per_frame")],
        [
            "frames with an output spike",
            na if pm["frames_with_output_fraction"] is None else fmt_pct(pm["frames_with_output_fraction"]),
        ],
        ["network spikes to the first output spike", pair("spikes_to_first_output")],
        ["forward steps to the first output spike", pair("steps_to_first_output")],
        [
            "frames with a target spike",
            na if pm["frames_with_target_fraction"] is None else fmt_pct(pm["frames_with_target_fraction"]),
        ],
        ["network spikes to the target's first spike", pair("spikes_to_target")],
        ["forward steps to the target's first spike", pair("steps_to_target")],
    ]
    return [
        "## Per frame (the paper's metrics)",
        "",
        _table(["metric", "per frame"], rows),
        "",
        f"One forward step is {_STEP_TEXT.get(pm['step_kind'], pm['step_kind'])}. Network spikes are those "
        "emitted by non-input neurons; means and medians over the frames (of all samples) that have "
        "such a spike (docs/paper-metrics.md).",
        "",
    ]


def _energy_section(summary: dict) -> list[str]:
    bd = summary["energy_breakdown_per_inference_j"]
    total = bd.get("total")
    ops = summary["ops_per_inference"]
    per_op = summary.get("energy_per_op_pj", {})
    rows = []
    for part in sorted((k for k in bd if k != "total"), key=lambda k: -(bd[k] or 0)):
        share = (bd[part] / total) if (total and bd[part] is not None) else None
        rows.append(
            [
                part,
                fmt_si(bd[part], "J"),
                fmt_pct(share),
                "elapsed time" if part == "static" else fmt_count(ops.get(part)),
                "n/a" if part == "static" else f"{per_op.get(part, float('nan')):g} pJ",
            ]
        )
    rows.append(["**total**", f"**{fmt_si(total, 'J')}**", fmt_pct(1.0 if total else None), "", ""])
    header = ["part", "energy / inference", "share", "count / inference", "energy / op"]
    return ["## Energy breakdown", "", _table(header, rows), ""]


def _core_row(c: dict) -> list[Any]:
    o = c["ops_per_inference"]
    return [
        c["core"],
        f"({c['tile'][0]}, {c['tile'][1]})",
        fmt_count(c["busy_cycles_per_inference"]),
        fmt_pct(c["utilisation"]),
        fmt_count(c["spikes_per_inference"]),
        fmt_count(o.get("synop")),
        fmt_count(o.get("message_in")),
        fmt_si(c["energy_dynamic_per_inference_j"], "J"),
    ]


def _cores_total_row(cores: list[dict]) -> list[Any]:
    """The last row of the core table: sums over all cores (utilisation: their mean)."""

    def sum_(f) -> float:
        return sum(f(c) or 0 for c in cores)

    util = [c["utilisation"] for c in cores if c["utilisation"] is not None]
    return [
        f"**all {len(cores)}**",
        "",
        fmt_count(sum_(lambda c: c["busy_cycles_per_inference"])),
        (fmt_pct(sum(util) / len(util)) + " (mean)") if util else "n/a",
        fmt_count(sum_(lambda c: c["spikes_per_inference"])),
        fmt_count(sum_(lambda c: c["ops_per_inference"].get("synop"))),
        fmt_count(sum_(lambda c: c["ops_per_inference"].get("message_in"))),
        fmt_si(sum_(lambda c: c["energy_dynamic_per_inference_j"]), "J"),
    ]


def _cores_section(summary: dict) -> list[str]:
    cores = summary["per_core"]
    top = sorted(cores, key=lambda c: (-(c["busy_cycles_per_inference"] or 0), c["core"]))[:10]
    rows = [_core_row(c) for c in top]
    if cores:
        rows.append(_cores_total_row(cores))
    header = ["core", "tile (x, y)", "busy cycles", "utilisation", "spikes", "synops", "messages in", "dynamic energy"]
    return [
        "## Cores",
        "",
        f"{len(cores)} physical core(s) hold neurons; the {len(top)} busiest by busy cycles:",
        "",
        _table(header, rows),
        "",
        "Per inference. Utilisation = busy cycles / latency cycles. A core's dynamic energy "
        "counts its own operations only (router hops, local deliveries and barriers are "
        "booked to the network-on-chip).",
        "",
    ]


def _populations_section(summary: dict) -> list[str]:
    pops = summary.get("per_population_spikes_per_inference") or {}
    if not pops:
        return []
    rows = [[k, fmt_count(v)] for k, v in pops.items()]
    return ["## Spikes per population", "", _table(["population", "spikes / inference"], rows), ""]


def _tile_traffic_lines(traffic: list[dict]) -> list[str]:
    if not traffic:
        return ["No messages between tiles.", ""]
    top_t = sorted(traffic, key=lambda t: -t["messages"])[:10]
    rows = [
        [f"({t['src'][0]}, {t['src'][1]})", f"({t['dst'][0]}, {t['dst'][1]})", fmt_count(t["messages"])] for t in top_t
    ]
    return [
        f"Messages per inference between tiles ({len(traffic)} tile pair(s) with traffic; "
        f"top {len(top_t)}; a tile to itself is delivery between cores of one tile):",
        "",
        _table(["from tile", "to tile", "messages / inference"], rows),
        "",
    ]


def _link_lines(links: list[dict] | None) -> list[str]:
    if not links:
        return []
    top_l = sorted(links, key=lambda l: -l["messages_per_inference"])[:10]
    rows = [
        [
            f"({l['src'][0]}, {l['src'][1]}) -{l['direction']}-> ({l['dst'][0]}, {l['dst'][1]})",
            fmt_count(l["messages_per_inference"]),
            fmt_pct(l["utilisation"], 2),
        ]
        for l in top_l
    ]
    return [
        f"Busiest directed links ({len(links)} with traffic; utilisation = messages / (bandwidth x latency cycles)):",
        "",
        _table(["link", "messages / inference", "utilisation"], rows),
        "",
    ]


def _noc_section(summary: dict) -> list[str]:
    return [
        "## Network on chip",
        "",
        *_tile_traffic_lines(summary.get("tile_traffic") or []),
        *_link_lines(summary.get("per_link")),
    ]


def _conservation_section(summary: dict) -> list[str]:
    cons = summary["conservation"]
    crows = [
        [
            "messages sent = messages received (every sample)",
            _ok(cons["messages_balanced"]),
            f"sent {cons['messages_sent']:,}, received {cons['messages_received']:,}"
            + (f"; unbalanced samples {cons['unbalanced_samples'][:10]}" if cons["unbalanced_samples"] else ""),
        ],
        [
            "energy parts sum to the total",
            _ok(cons["energy_parts_sum_to_total"]),
            f"relative tolerance {cons['energy_rel_tol']:g}",
        ],
        [
            "per-core counters = per-sample counters",
            _ok(cons["core_counters_match_samples"]),
            ", ".join(f"{k} {v:,}" for k, v in cons["core_op_totals"].items()) or "no core counters",
        ],
    ]
    return ["## Conservation checks", "", _table(["check", "result", "details"], crows, "lll"), ""]


def _critical_path_section(summary: dict) -> list[str]:
    cp = summary.get("critical_path")
    if not cp:
        return []
    return [
        "## Critical path",
        "",
        "The slowest frame of the recorded sample, phase by phase: the core that finished last and the busiest link.",
        "",
        "```",
        *cp["text"].splitlines(),
        "```",
        "",
    ]


def _figures_section(figures: dict[str, str]) -> list[str]:
    if not figures:
        return []
    lines = ["## Figures", ""]
    for key, path in figures.items():
        caption = FIGURE_CAPTIONS.get(key, key)
        lines += [f"### {caption}", "", f"![{caption}]({path})", ""]
    return lines


def render_markdown(summary: dict, figures: dict[str, str], wall_s: float | None = None) -> str:
    """A Markdown report of a summary; ``figures`` maps a figure key (``energy``, ``cores``,
    ``raster``, ``latency`` or any other) to an image path relative to the report; ``wall_s``: the
    simulation's wall-clock time (the result's, not in the summary), shown as n/a when None."""
    lines = [
        *_title_section(summary),
        *_parameters_section(summary, wall_s),
        *_per_inference_section(summary),
        *_paper_section(summary),
        *_energy_section(summary),
        *_cores_section(summary),
        *_populations_section(summary),
        *_noc_section(summary),
        *_conservation_section(summary),
        *_critical_path_section(summary),
        *_figures_section(figures),
    ]
    return "\n".join(lines).rstrip() + "\n"
