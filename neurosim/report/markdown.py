"""The human-readable report (``report.md``) rendered from a run summary, plus the number
formatting (SI prefixes) shared with the plots."""

from __future__ import annotations

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


def render_markdown(summary: dict, figures: dict[str, str]) -> str:
    """A Markdown report of a summary; ``figures`` maps a figure key (``energy``, ``cores``,
    ``raster``, ``latency`` or any other) to an image path relative to the report."""
    run = summary["run"]
    hw = run["hardware"]
    net = run["network"]
    L: list[str] = []
    L.append(f"# neurosim report: {run['name']}")
    L.append("")
    L.append(
        f"Network **{net.get('name')}** on hardware **{hw['name']}**, {run['mode']} mode, "
        f"{run['samples']} sample(s) of *{run['dataset']}*."
    )
    L.append("")

    # ---- run parameters
    L.append("## Run parameters")
    L.append("")
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
    for k, v in sorted((run.get("options") or {}).items()):
        params.append([f"option `{k}`", f"`{v}`"])
    params += [
        ["neurosim version", run["neurosim_version"]],
        ["simulation wall time", f"{run['wall_s']:.3g} s" if run.get("wall_s") is not None else "n/a"],
    ]
    L.append(_table(["parameter", "value"], params, "ll"))
    L.append("")

    # ---- headline
    L.append("## Per inference")
    L.append("")
    acc = summary["accuracy"]
    head = [
        ["accuracy", fmt_pct(acc)],
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
            f"({summary['samples_with_first_output']} of {run['samples']} samples)",
        ],
        [
            "time to decision",
            f"{fmt_si(summary['time_to_decision_s'], 's')} "
            f"({summary['samples_with_decision']} of {run['samples']} samples)",
        ],
        ["spikes", fmt_count(summary["spikes_per_inference"])],
        ["input spikes", fmt_count(summary["input_spikes_per_inference"])],
        ["synaptic operations", fmt_count(summary["synops_per_inference"])],
        ["messages", fmt_count(summary["messages_per_inference"])],
        ["router hops", fmt_count(summary["hops_per_inference"])],
    ]
    L.append(_table(["metric", "mean per inference"], head))
    L.append("")
    L.append("Means over the samples; EDP is the mean over samples of energy x latency.")
    L.append("")

    # ---- energy breakdown
    L.append("## Energy breakdown")
    L.append("")
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
    L.append(_table(["part", "energy / inference", "share", "count / inference", "energy / op"], rows))
    L.append("")

    # ---- per core
    cores = summary["per_core"]
    L.append("## Cores")
    L.append("")
    top = sorted(cores, key=lambda c: (-(c["busy_cycles_per_inference"] or 0), c["core"]))[:10]
    L.append(f"{len(cores)} physical core(s) hold neurons; the {len(top)} busiest by busy cycles:")
    L.append("")
    rows = []
    for c in top:
        o = c["ops_per_inference"]
        rows.append(
            [
                c["core"],
                f"({c['tile'][0]}, {c['tile'][1]})",
                fmt_count(c["busy_cycles_per_inference"]),
                fmt_pct(c["utilisation"]),
                fmt_count(c["spikes_per_inference"]),
                fmt_count(o.get("synop")),
                fmt_count(o.get("message_in")),
                fmt_si(c["energy_dynamic_per_inference_j"], "J"),
            ]
        )
    if cores:
        sum_ = lambda f: sum(f(c) or 0 for c in cores)
        util = [c["utilisation"] for c in cores if c["utilisation"] is not None]
        rows.append(
            [
                f"**all {len(cores)}**",
                "",
                fmt_count(sum_(lambda c: c["busy_cycles_per_inference"])),
                (fmt_pct(sum(util) / len(util)) + " (mean)") if util else "n/a",
                fmt_count(sum_(lambda c: c["spikes_per_inference"])),
                fmt_count(sum_(lambda c: c["ops_per_inference"].get("synop"))),
                fmt_count(sum_(lambda c: c["ops_per_inference"].get("message_in"))),
                fmt_si(sum_(lambda c: c["energy_dynamic_per_inference_j"]), "J"),
            ]
        )
    L.append(
        _table(
            ["core", "tile (x, y)", "busy cycles", "utilisation", "spikes", "synops", "messages in", "dynamic energy"],
            rows,
        )
    )
    L.append("")
    L.append(
        "Per inference. Utilisation = busy cycles / latency cycles. A core's dynamic energy "
        "counts its own operations only (router hops, local deliveries and barriers are "
        "booked to the network-on-chip)."
    )
    L.append("")

    # ---- populations
    pops = summary.get("per_population_spikes_per_inference") or {}
    if pops:
        L.append("## Spikes per population")
        L.append("")
        L.append(_table(["population", "spikes / inference"], [[k, fmt_count(v)] for k, v in pops.items()]))
        L.append("")

    # ---- network on chip
    links = summary.get("per_link")
    traffic = summary.get("tile_traffic") or []
    L.append("## Network on chip")
    L.append("")
    if traffic:
        top_t = sorted(traffic, key=lambda t: -t["messages"])[:10]
        L.append(
            f"Messages per inference between tiles ({len(traffic)} tile pair(s) with traffic; "
            f"top {len(top_t)}; a tile to itself is delivery between cores of one tile):"
        )
        L.append("")
        L.append(
            _table(
                ["from tile", "to tile", "messages / inference"],
                [
                    [f"({t['src'][0]}, {t['src'][1]})", f"({t['dst'][0]}, {t['dst'][1]})", fmt_count(t["messages"])]
                    for t in top_t
                ],
            )
        )
        L.append("")
    else:
        L.append("No messages between tiles.")
        L.append("")
    if links:
        top_l = sorted(links, key=lambda l: -l["messages_per_inference"])[:10]
        L.append(
            f"Busiest directed links ({len(links)} with traffic; utilisation = messages / "
            f"(bandwidth x latency cycles)):"
        )
        L.append("")
        L.append(
            _table(
                ["link", "messages / inference", "utilisation"],
                [
                    [
                        f"({l['src'][0]}, {l['src'][1]}) -{l['direction']}-> ({l['dst'][0]}, {l['dst'][1]})",
                        fmt_count(l["messages_per_inference"]),
                        fmt_pct(l["utilisation"], 2),
                    ]
                    for l in top_l
                ],
            )
        )
        L.append("")

    # ---- conservation
    cons = summary["conservation"]
    L.append("## Conservation checks")
    L.append("")
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
    L.append(_table(["check", "result", "details"], crows, "lll"))
    L.append("")

    # ---- critical path
    cp = summary.get("critical_path")
    if cp:
        L.append("## Critical path")
        L.append("")
        L.append(
            "The slowest frame of the recorded sample, phase by phase: the core that finished "
            "last and the busiest link."
        )
        L.append("")
        L.append("```")
        L.extend(cp["text"].splitlines())
        L.append("```")
        L.append("")

    # ---- figures
    if figures:
        L.append("## Figures")
        L.append("")
        for key, path in figures.items():
            caption = FIGURE_CAPTIONS.get(key, key)
            L.append(f"### {caption}")
            L.append("")
            L.append(f"![{caption}]({path})")
            L.append("")
    return "\n".join(L).rstrip() + "\n"
