"""Benchmark: neurosim and SANA-FE 2.2.9 side by side on the same networks, mapping and costs.

Two networks: the dense 1024-1024-1024-512-10 LIF net of bench_dense.py (64 neurons per core, 57
cores, random input) and SANA-FE's own DVS-gesture conv net (tutorial 5: 32x32x1 input, four 3x3
conv layers, dense 11; 18,678 neurons), mapped on 49 cores. Costs: neurosim's preset
(hw_configs/loihi.yaml) converted to a SANA-FE architecture (benchmarks/sanafe_model.py). Pairs of
comparable timing models: neurosim with router contention vs SANA-FE 'detailed', neurosim
contention-free vs SANA-FE 'simple'. Each run is a fresh subprocess (peak RSS of that side alone);
the two tools alternate within a repetition. A check pass per network records every spike of both
(neurosim's raster, SANA-FE's spike trace) and compares them per neuron and step.

SANA-FE runs steps + depth time steps (depth: layers after the input), the input silent in the
last ones: it pipelines the layers (a spike of step t is integrated in step t+1). neurosim runs as
many frames in ``--mode timestep`` (the default: the same scheme, one barrier per step, so its
layer k at step t is SANA-FE's at step t, and the latencies compare) or ``--mode sync`` (a
barrier per layer: a frame takes a spike through every layer, so its layer k at frame f is
SANA-FE's layer k at step f + k); both then process exactly the same spikes.

    pip install sanafe==2.2.9     # the optional bench dependency
    python benchmarks/bench_sanafe.py [--reps 3] [--steps 1000] [--nets dense,conv] [--out FILE]
    python benchmarks/bench_sanafe.py --quick     # tiny dense net, 30 steps, one repetition
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PAIRS = (("contention", "detailed"), ("free", "simple"))  # (neurosim NoC model, SANA-FE timing model)
QUICK_SIZES = (64, 64, 64, 32, 10)
# SANA-FE's LoihiLifModel rules as neurosim hardware options (--rules sanafe, the default): the
# active update for v != 0, an input or a bias, and the membrane truncated to 1/64 after the leak
SANAFE_RULES = {
    "core.update_rule": "nonzero_state",
    "core.membrane_grid": 2.0**-6,
    # SANA-FE arch/loihi.yaml's two spike costs: the soma's per fired neuron, the axon out's per
    # message (the shipped Loihi preset still books 69.3 pJ / 30 ns per message, nothing per neuron)
    "core.energy_spike_fired_pj": 69.3,
    "core.latency_spike_fired_cycles": 300,
    "core.energy_spike_out_pj": 111.0,
    "core.latency_spike_out_cycles": 51,
    # SANA-FE arch/loihi.yaml's synapse units (energy_process_spike, latency_process_spike at the
    # preset's 0.1 ns cycle); the projections name them (_with_units): conv layers conv, dense ones dense
    "core.synapse_units": {
        "dense": {"energy_synop_pj": 35.5, "latency_synop_cycles": 38},
        "sparse": {"energy_synop_pj": 33.6, "latency_synop_cycles": 47},
        "conv": {"energy_synop_pj": 24.0, "latency_synop_cycles": 31},
    },
}


# ---- the workloads -----------------------------------------------------------------------------


def _dvs_data() -> dict:
    import sanafe.tutorial  # noqa: PLC0415 - the optional bench dependency

    with sanafe.tutorial.get_dvs_data() as f:
        d = np.load(f)
        return {k: d[k] for k in d.files}


def workload(a, hw):
    """(network, mapping function, stimulus frames x inputs) of ``a.net``."""
    import sanafe_model as sm  # noqa: PLC0415 - benchmarks/ is on sys.path when run as a script
    from bench_dense import SIZES, dense_network  # noqa: PLC0415

    from neurosim.mapping.registry import map_network  # noqa: PLC0415

    if a.net == "dense":
        sizes = QUICK_SIZES if a.quick else SIZES
        net = _with_units(dense_network(a.seed, sizes=sizes), a)
        if a.dense_decay != 0.9:
            net = _with_decay(net, a.dense_decay)
        stim = np.random.default_rng(a.seed + 1).random((a.steps, sizes[0])) < a.rate
        npc = 16 if a.quick else a.neurons_per_core
        return net, (lambda: map_network(net, hw, neurons_per_core=npc)), stim
    data = _dvs_data()
    net = _with_units(sm.dvs_network(data), a)
    return net, (lambda: sm.dvs_mapping(net, hw)), sm.dvs_input_spikes(data, a.steps)


def _with_units(net, a):
    """With ``--rules sanafe``: each projection names SANA-FE's synapse unit of its kind (the dense
    net's projections and the conv net's last one ``dense``, the conv layers ``conv``)."""
    from dataclasses import replace  # noqa: PLC0415

    if a.rules != "sanafe":
        return net
    kind = {
        pr.target: "conv" if pr.target.startswith("conv") and a.net == "conv" else "dense" for pr in net.projections
    }
    return replace(net, projections=tuple(replace(pr, synapse_unit=kind[pr.target]) for pr in net.projections))


def _with_decay(net, decay: float):
    from dataclasses import replace  # noqa: PLC0415

    from neurosim.neuron import NeuronParams  # noqa: PLC0415

    pops = [
        p if p.params is None else replace(p, params=NeuronParams.uniform(p.size, decay=decay, threshold=1.0))
        for p in net.populations
    ]
    return replace(net, populations=tuple(pops))


def depths(net) -> dict[str, int]:
    """Layers between the input and each population (feed-forward)."""
    d = {net.input: 0}
    for p in net.populations:
        for pr in net.projections:
            if pr.target == p.name and pr.source in d:
                d[p.name] = max(d.get(p.name, 0), d[pr.source] + 1)
    return d


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- one side, in its own process ----------------------------------------------------------------


def worker(a) -> dict:
    from neurosim.io.hardware_file import load_hardware  # noqa: PLC0415

    rss0 = _rss_mb()
    t0 = time.perf_counter()
    rules = SANAFE_RULES if a.rules == "sanafe" else {}
    if a.worker == "neurosim":
        hw = load_hardware(a.hw, {"router.contention": a.model == "contention", **rules})
        net, mapper, stim = workload(a, hw)
        mapping = mapper()
        t_load = time.perf_counter() - t0
        return _run_neurosim(a, hw, net, mapping, stim, t_load, rss0)
    hw = load_hardware(a.hw, rules)
    net, mapper, stim = workload(a, hw)
    mapping = mapper()
    t_prep = time.perf_counter() - t0
    return _run_sanafe(a, hw, net, mapping, stim, t_prep, rss0)


def _run_neurosim(a, hw, net, mapping, stim, t_load, rss0) -> dict:
    from neurosim.sim.chip import Chip  # noqa: PLC0415
    from neurosim.sim.engine import simulate  # noqa: PLC0415

    t1 = time.perf_counter()
    chip = Chip(hw, net, mapping)  # timed apart: simulate() builds its own
    t_chip = time.perf_counter() - t1
    del chip
    gc.collect()
    if a.pad:  # as many frames as SANA-FE's steps (input silent in the last depth ones): every
        # neuron is updated as often on both sides (SANA-FE's layer k idles k steps before its input)
        stim = np.vstack([stim, np.zeros((max(depths(net).values()), stim.shape[1]), bool)])
    t2 = time.perf_counter()
    res = simulate(
        hw,
        net,
        mapping,
        stim[None],
        np.zeros(1, np.int64),
        mode=a.mode,
        name="bench",
        raster_sample=0 if a.record else None,
    )
    wall = time.perf_counter() - t2
    s = res.samples[0]
    e = res.energy(s)
    out = {
        "tool": "neurosim",
        "model": f"{a.mode}, " + ("contention and back-pressure" if a.model == "contention" else "contention-free"),
        "sim_wall_s": wall,
        "chip_build_s": t_chip,
        "load_map_s": t_load,
        "peak_rss_mb": _rss_mb(),
        "rss_after_imports_mb": rss0,
        "steps": int(stim.shape[0]),
        "input_steps": int(a.steps),
        "neurons": int(net.n_neurons),
        "synapses": int(net.n_synapses),
        "cores": int(len(mapping.used_cores)),
        "spikes": int(s.spikes + s.input_spikes),
        "input_spikes": int(s.input_spikes),
        "synops": int(s.synops),
        "messages": int(s.messages_sent),
        "hops": int(s.hops),
        "ops": {k: int(v) for k, v in s.ops.items()},
        "neurons_updated": int(s.ops["neuron_update_active"]),
        "rules": a.rules,
        "energy_j": float(e["total"]),
        # without the parts SANA-FE has no counterpart for: static power, barriers, within-tile delivery
        "energy_comparable_j": float(e["total"] - e.get("static", 0.0) - e.get("barrier", 0.0) - e.get("local", 0.0)),
        "energy_parts_j": {k: float(v) for k, v in e.items() if v},
        "latency_s": float(s.cycles * hw.cycle_s),
        "spikes_per_population": res.spikes_per_population,
    }
    if a.record:
        r = res.raster
        if r is None:
            raise SystemExit("neurosim kept no raster of sample 0")
        np.savez(a.spikes_out, step=np.asarray(r.frame, np.int64), neuron=np.asarray(r.neuron, np.int64))
    return out


def _run_sanafe(a, hw, net, mapping, stim, t_prep, rss0) -> dict:
    import sanafe  # noqa: PLC0415 - the optional bench dependency
    import sanafe_model as sm  # noqa: PLC0415

    depth = max(depths(net).values())
    rss_prep = _rss_mb()
    t0 = time.perf_counter()
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        fh.write(sm.arch_yaml(hw, sm.input_units_needed(net, mapping)))
    arch = sanafe.load_arch(fh.name)
    os.unlink(fh.name)
    t1 = time.perf_counter()
    snn, _, t_parts = sm.build_snn(sanafe, arch, hw, net, mapping, stim, log_spikes=a.record)
    t2 = time.perf_counter()
    chip = sanafe.SpikingChip(arch)
    chip.load(snn)
    t3 = time.perf_counter()
    r = chip.sim(
        stim.shape[0] + depth,
        timing_model=a.model,
        processing_threads=1,
        spike_trace=True if a.record else None,
        perf_trace=True,
    )
    wall = time.perf_counter() - t3
    perf = r["perf_trace"]
    out = {
        "tool": "sanafe",
        "model": a.model,
        "sim_wall_s": wall,
        "load_map_s": t3 - t0,
        "load_parts_s": {"arch": t1 - t0, **t_parts, "chip_load": t3 - t2},
        "neurosim_prep_s": t_prep,
        "peak_rss_mb": _rss_mb(),
        "rss_before_sanafe_mb": rss_prep,
        "rss_after_imports_mb": rss0,
        "steps": int(r["timesteps_executed"]),
        "input_steps": int(stim.shape[0]),
        "neurons": int(net.n_neurons),
        "synapses": int(net.n_synapses),
        "cores": int(len(mapping.used_cores)),
        "spikes": int(r["neurons_fired"]),
        "input_spikes": int(stim.sum()),
        "synops": int(r["spikes"]),
        "messages": int(r["packets_sent"]),
        "hops": int(sum(perf["hops"])),
        "neurons_updated": int(r["neurons_updated"]),
        "energy_j": float(r["energy"]["total"]),
        "energy_comparable_j": float(r["energy"]["total"]),
        "energy_parts_j": {k: float(v) for k, v in r["energy"].items() if k != "total"},
        "latency_s": float(r["sim_time"]),
    }
    if a.record:
        offsets = {p.name: net.span(p.name).start for p in net.populations}
        steps, ids = [], []
        for t, fired in enumerate(r["spike_trace"]):
            for n in fired:
                steps.append(t)
                ids.append(offsets[n.group_name] + int(n.neuron_offset))
        np.savez(a.spikes_out, step=np.asarray(steps, np.int64), neuron=np.asarray(ids, np.int64))
    return out


# ---- the driver ----------------------------------------------------------------------------------


def _spawn(a, tool: str, net: str, model: str, check: bool, tmp: Path) -> dict:
    res = tmp / f"{tool}-{net}-{model}-{'check' if check else 'run'}.json"
    spikes = tmp / f"{tool}-{net}-{model}.npz"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tool, "--net", net, "--model", model]
    cmd += ["--steps", str(a.steps), "--seed", str(a.seed), "--rate", str(a.rate), "--hw", a.hw]
    cmd += ["--neurons-per-core", str(a.neurons_per_core), "--dense-decay", str(a.dense_decay)]
    cmd += ["--rules", a.rules, "--mode", a.mode] + ([] if a.pad else ["--no-pad"])
    cmd += ["--result", str(res), "--spikes-out", str(spikes)]
    cmd += ["--quick"] if a.quick else []
    cmd += ["--record-spikes"] if check else []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=a.timeout, cwd=ROOT)
    if p.returncode != 0 or not res.exists():
        raise SystemExit(f"{tool} {net} {model}: worker failed (rc {p.returncode}):\n{p.stderr[-3000:]}")
    out = json.loads(res.read_text())
    if check:
        out["spikes_file"] = str(spikes)
    return out


def compare_spikes(net, ns_file: str, sf_file: str, steps: int, mode: str = "timestep") -> dict:
    """Per population: neurosim's (frame f, neuron) against SANA-FE's (step f + depth, neuron) in
    sync mode (a frame takes a spike through every layer); the same step in timestep mode (a spike
    of step t is integrated in step t + 1 on both sides)."""
    d = depths(net) if mode == "sync" else {p.name: 0 for p in net.populations}
    ns, sf = np.load(ns_file), np.load(sf_file)
    pop_ns = net.population_of[ns["neuron"]]
    pop_sf = net.population_of[sf["neuron"]]
    out = {}
    for k, p in enumerate(net.populations):
        dk = d[p.name]
        a_ = set(zip((ns["step"][pop_ns == k]).tolist(), ns["neuron"][pop_ns == k].tolist()))
        b_ = set(zip((sf["step"][pop_sf == k] - dk).tolist(), sf["neuron"][pop_sf == k].tolist()))
        diff = a_ ^ b_
        first = min((s for s, _ in diff), default=None)
        out[p.name] = {
            "neurosim": len(a_),
            "sanafe": len(b_),
            "equal": not diff,
            "differing_entries": len(diff),
            "first_differing_frame": first,
        }
    return out


def _counts_agree(ns: dict, sf: dict) -> dict:
    return {k: ns[k] == sf[k] for k in ("spikes", "synops", "messages", "hops")}


def _med(xs):
    return statistics.median(xs) if xs else float("nan")


def _rng(xs, fmt="{:.1f}"):
    return fmt.format(_med(xs)) + (f" ({fmt.format(min(xs))}-{fmt.format(max(xs))})" if len(xs) > 1 else "")


def summarize(runs: list[dict], checks: dict) -> tuple[list[dict], str]:
    rows, lines = [], []
    lines.append(
        "| network | pair | tool, model | sim wall s | synaptic events/s | peak MB | load+map s "
        "| spikes | synops | messages | hops | counts agree | energy J* | latency per input step |"
    )
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for net in dict.fromkeys(r["net"] for r in runs):
        for pair in PAIRS:
            sides = {}
            for tool in ("neurosim", "sanafe"):
                rs = [r for r in runs if r["net"] == net and r["tool"] == tool and r["pair"] == list(pair)]
                if not rs:
                    continue
                sides[tool] = rs
            if len(sides) < 2:
                continue
            ns0, sf0 = sides["neurosim"][0], sides["sanafe"][0]
            agree = _counts_agree(ns0, sf0)
            spk = checks.get(net, {})
            spk_ok = all(v["equal"] for v in spk.values()) if spk else None
            for tool, rs in sides.items():
                wall = [r["sim_wall_s"] for r in rs]
                row = {
                    "network": net,
                    "pair": f"{pair[0]} / {pair[1]}",
                    "tool": tool,
                    "model": rs[0]["model"],
                    "reps": len(rs),
                    "sim_wall_s": wall,
                    "events_per_s": [r["synops"] / r["sim_wall_s"] for r in rs],
                    "peak_rss_mb": [r["peak_rss_mb"] for r in rs],
                    "load_map_s": [r["load_map_s"] for r in rs],
                    "counts": {k: rs[0][k] for k in ("spikes", "synops", "messages", "hops")},
                    "counts_agree": agree,
                    "spikes_per_neuron_and_step_equal": spk_ok,
                    "energy_j": rs[0]["energy_comparable_j"],
                    "energy_total_j": rs[0]["energy_j"],
                    "latency_s": rs[0]["latency_s"],
                    "latency_per_step_s": rs[0]["latency_s"] / max(1, rs[0].get("input_steps", rs[0]["steps"])),
                }
                rows.append(row)
                ag = ", ".join(k for k, v in agree.items() if v) or "none"
                dis = ", ".join(k for k, v in agree.items() if not v)
                lines.append(
                    f"| {net} | {row['pair']} | {tool}, {row['model']} | {_rng(wall)} "
                    f"| {_med(row['events_per_s']) / 1e6:.1f} M | {_med(row['peak_rss_mb']):.0f} "
                    f"| {_rng(row['load_map_s'])} | {row['counts']['spikes']} | {row['counts']['synops']} "
                    f"| {row['counts']['messages']} | {row['counts']['hops']} "
                    f"| {'all' if not dis else ag + '; differ: ' + dis} "
                    f"| {row['energy_j']:.4g} | {row['latency_per_step_s'] * 1e6:.3g} us |"
                )
    lines.append("")
    lines.append(
        "| network | pair | SANA-FE wall / neurosim wall | peak MB neurosim / SANA-FE "
        "| load+map neurosim / SANA-FE | energy* neurosim / SANA-FE | latency neurosim / SANA-FE |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    by = {(r["network"], r["pair"], r["tool"]): r for r in rows}
    for net, pair, _tool in [k for k in by if k[2] == "neurosim"]:
        ns, sf = by[(net, pair, "neurosim")], by[(net, pair, "sanafe")]
        lines.append(
            f"| {net} | {pair} | {_med(sf['sim_wall_s']) / _med(ns['sim_wall_s']):.2f} "
            f"| {_med(ns['peak_rss_mb']) / _med(sf['peak_rss_mb']):.2f} "
            f"| {_med(ns['load_map_s']) / _med(sf['load_map_s']):.2f} "
            f"| {ns['energy_j'] / sf['energy_j']:.4f} | {ns['latency_s'] / sf['latency_s']:.2f} |"
        )
    return rows, "\n".join(lines)


def _write(a, started, runs, checks, check_runs, complete: bool) -> str:
    """The JSON document (written after every run, so an interrupted run keeps what it measured);
    returns the markdown table."""
    rows, table = summarize(runs, checks)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    git = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--short", "neurosim"], capture_output=True, text=True, cwd=ROOT
    ).stdout.splitlines()
    doc = {
        "complete": complete,
        "started_utc": started.isoformat(timespec="seconds"),
        "written_utc": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "git_head": git,
        "neurosim_uncommitted_files": dirty,
        "cpus": os.cpu_count(),
        "args": {k: v for k, v in vars(a).items() if k not in ("worker",)},
        "spike_checks": checks,
        "check_runs": check_runs,
        "runs": runs,
        "rows": rows,
        "table_markdown": table,
    }
    out.write_text(json.dumps(doc, indent=1, default=str))
    return table


def driver(a) -> None:
    sys.path.insert(0, str(HERE))
    from neurosim.io.hardware_file import load_hardware  # noqa: PLC0415

    started = datetime.datetime.now(datetime.UTC)
    nets = a.nets.split(",")
    runs: list[dict] = []
    checks: dict[str, dict] = {}
    check_runs: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench_sanafe_") as tmpd:
        tmp = Path(tmpd)
        for net in nets:
            if a.check:
                ns = _spawn(a, "neurosim", net, "free", True, tmp)
                sf = _spawn(a, "sanafe", net, "simple", True, tmp)
                a_ = argparse.Namespace(**{**vars(a), "net": net})
                hw = load_hardware(a.hw, {})
                wl_net = workload(a_, hw)[0]
                checks[net] = compare_spikes(wl_net, ns["spikes_file"], sf["spikes_file"], a.steps, a.mode)
                check_runs[net] = {"neurosim": ns, "sanafe": sf}
                print(f"[{net}] spikes per neuron and step: " + json.dumps(checks[net]), flush=True)
                _write(a, started, runs, checks, check_runs, False)
            for rep in range(a.reps):
                for pair in PAIRS:
                    order = (("neurosim", pair[0]), ("sanafe", pair[1]))
                    for tool, model in order if rep % 2 == 0 else order[::-1]:
                        load0 = os.getloadavg()[0]
                        r = _spawn(a, tool, net, model, False, tmp)
                        r.update(net=net, rep=rep, pair=list(pair), loadavg_1min=[load0, os.getloadavg()[0]])
                        r["finished_utc"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
                        runs.append(r)
                        print(
                            f"[{net} rep {rep}] {tool} {model}: sim {r['sim_wall_s']:.1f} s, load+map "
                            f"{r['load_map_s']:.1f} s, peak {r['peak_rss_mb']:.0f} MB, spikes {r['spikes']}, "
                            f"synops {r['synops']}, messages {r['messages']}, hops {r['hops']}, "
                            f"energy {r['energy_j']:.4g} J, latency {r['latency_s']:.4g} s, "
                            f"load average {load0:.1f}",
                            flush=True,
                        )
                        _write(a, started, runs, checks, check_runs, False)
    table = _write(a, started, runs, checks, check_runs, True)
    print()
    print(table)
    print(f"\nwritten: {a.out}")


def main(argv=None):
    from neurosim.paths import DEFAULT_HW  # noqa: PLC0415

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=None, help="repetitions per tool and model (default 3; 1 with --quick)")
    ap.add_argument("--steps", type=int, default=None, help="time steps (frames) (default 1000; 30 with --quick)")
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny dense net, 30 steps, one repetition")
    ap.add_argument("--nets", default=None, help="comma-separated: dense,conv (default both; dense with --quick)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "bench_sanafe.json"))
    ap.add_argument("--no-check", dest="check", action="store_false", help="skip the per-neuron spike comparison")
    ap.add_argument("--rate", type=float, default=0.1, help="dense net: input spike probability per step")
    ap.add_argument("--dense-decay", type=float, default=0.9, help="dense net: membrane decay (bench_dense: 0.9)")
    ap.add_argument("--neurons-per-core", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hw", default=str(DEFAULT_HW))
    ap.add_argument(
        "--no-pad",
        dest="pad",
        action="store_false",
        help="neurosim runs only the input steps (default: also SANA-FE's depth extra steps, input silent)",
    )
    ap.add_argument(
        "--rules",
        choices=["sanafe", "neurosim"],
        default="sanafe",
        help="sanafe (default): neurosim runs with SANA-FE's Loihi rules (core.update_rule nonzero_state, "
        "core.membrane_grid 2**-6, its per-fired-neuron and per-message spike costs, its synapse units per "
        "projection kind); neurosim: the hardware "
        "file's own rules",
    )
    ap.add_argument(
        "--mode",
        choices=["timestep", "sync"],
        default="timestep",
        help="neurosim's execution mode: timestep (default: Loihi's and SANA-FE's scheme, one barrier per step, "
        "layers pipelined) or sync (a barrier per layer, a frame through every layer)",
    )
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per worker process")
    # internal: one side in its own process
    ap.add_argument("--worker", choices=["neurosim", "sanafe"], help=argparse.SUPPRESS)
    ap.add_argument("--net", choices=["dense", "conv"], help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--spikes-out", help=argparse.SUPPRESS)
    ap.add_argument("--record-spikes", dest="record", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    a.reps = a.reps if a.reps is not None else (1 if a.quick else 3)
    a.steps = a.steps if a.steps is not None else (30 if a.quick else 1000)
    a.nets = a.nets if a.nets is not None else ("dense" if a.quick else "dense,conv")
    if a.worker:
        Path(a.result).write_text(json.dumps(worker(a)))
        return
    driver(a)


if __name__ == "__main__":
    main()
