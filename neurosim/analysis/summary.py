"""The run summary: every figure a report shows, computed from a :class:`RunResult`'s counters
and the hardware's per-operation costs (so a run can be re-costed without re-simulating).

``summarize(result)`` returns a plain, JSON-serialisable dict (schema ``neurosim-summary/1``,
documented key by key in ``docs/report-schema.md``); ``samples_csv_rows(result)`` returns one
flat row per inference for ``samples.csv``.

Conventions:

* "per inference" figures are means over the run's samples (one sample = one inference).
* Time is counted in integer core-clock cycles and converted to seconds with ``hw.cycle_s``.
* Energy per sample is :func:`neurosim.describe.cost.energy_breakdown` of that sample's operation counts
  and its elapsed cycles (static power x elapsed time + count x energy per operation).
* Ratios of means: a core's utilisation is its mean busy cycles per inference divided by the
  mean latency per inference in cycles; a link's is its mean messages per inference divided by
  (link bandwidth x mean latency cycles).
* Values that do not exist (no samples, no output spike, no decision) are ``null``, never NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import scipy.sparse as sp

from neurosim import __version__
from neurosim.analysis.critical_path import critical_path, format_critical_path
from neurosim.analysis.neurobench import neurobench_metrics
from neurosim.analysis.paper_metrics import paper_metrics
from neurosim.describe import cost
from neurosim.describe.cost import CORE_OPS, OPS
from neurosim.describe.topology import DIRS, grid_size
from neurosim.errors import SimulationError
from neurosim.mapping.quality import mapping_quality
from neurosim.paths import display_path
from neurosim.plain import plain
from neurosim.sim.counters import SAMPLE_COLUMNS, RunResult, SampleRecord

SCHEMA = "neurosim-summary/1"
TIMING_SCHEMA = "neurosim-timing/1"
REL_TOL = 1e-9  # energy parts must sum to the total within this relative tolerance

#: the columns of ``samples.csv``, in order (the op counts follow in ``OPS`` order)
CSV_COLUMNS = SAMPLE_COLUMNS


# ---- small helpers ---------------------------------------------------------------------------
def _num(x: Any) -> float | None:
    """A plain float, or None for missing / NaN / infinite values."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def mean_of(values) -> float | None:
    values = [float(v) for v in values if v is not None]
    return _num(sum(values) / len(values)) if values else None


def _div(a, b) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return _num(a / b)


def _parts_consistent(parts: Mapping[str, float | None]) -> tuple[bool, float]:
    """Do the parts (every key but ``total``) sum to ``total`` within ``REL_TOL``? Returns the
    verdict and the sum of the parts. A missing (None) part or total fails the check."""
    total = parts["total"]
    values = [v for k, v in parts.items() if k != "total" and v is not None]
    if total is None or len(values) != len(parts) - 1:
        return False, math.nan
    s = math.fsum(values)
    scale = max(abs(total), math.fsum(abs(v) for v in values))
    ok = math.isfinite(s) and math.isfinite(total) and abs(s - total) <= REL_TOL * scale
    return ok, s


def sample_energy(sample: SampleRecord, hw, result: RunResult | None = None) -> dict[str, float]:
    """Energy breakdown (J) of one sample, checked: raises SimulationError if the parts do not
    sum to the total. With ``result``, its static power (power gating) and barrier size apply."""
    parts = cost.energy_breakdown(
        sample.ops,
        hw,
        sample.cycles,
        static_w=getattr(result, "static_w", None),
        barrier_tiles=getattr(result, "barrier_tiles", None),
    )
    ok, parts_sum = _parts_consistent(parts)
    if not ok:
        raise SimulationError(
            f"sample {sample.index}: energy parts sum to {parts_sum:g} J "
            f"but the total is {parts['total']:g} J (conservation of energy parts)"
        )
    return parts


def used_cores(result: RunResult) -> list[int]:
    """Physical cores that hold neurons: ``result.mapping.used_cores`` if the mapping has it,
    else every core with any nonzero counter."""
    cores = getattr(result.mapping, "used_cores", None)
    if cores is not None:
        return sorted({int(c) for c in np.asarray(list(cores)).ravel()})
    n = result.hardware.n_cores
    any_nonzero = np.zeros(n, bool)
    for arr in result.core.values():
        a = np.asarray(arr)
        if a.shape == (n,):
            any_nonzero |= a != 0
    return [int(c) for c in np.nonzero(any_nonzero)[0]]


def per_core_figures(result: RunResult, latency_cycles: float | None) -> list[dict]:
    hw = result.hardware
    n = max(len(result.samples), 1)
    per_pj = cost.energy_per_op_pj(hw)
    zeros = np.zeros(hw.n_cores, np.int64)
    rows = []
    for c in used_cores(result):
        ops = {op: float(np.asarray(result.core.get(op, zeros))[c]) / n for op in CORE_OPS}
        units = {op: float(np.asarray(a)[c]) / n for op, a in result.core.items() if op.startswith(cost.UNIT_PREFIX)}
        busy = float(np.asarray(result.core.get("busy_cycles", zeros))[c]) / n
        rows.append(
            {
                "core": c,
                "tile": list(hw.tile_xy(c)),
                "ops_per_inference": ops,
                "spikes_per_inference": float(np.asarray(result.core.get("spikes", zeros))[c]) / n,
                "busy_cycles_per_inference": busy,
                "utilisation": _div(busy, latency_cycles),
                "energy_dynamic_per_inference_j": (
                    math.fsum(ops[op] * per_pj[op] for op in CORE_OPS) + cost.unit_extra_pj(units, hw)
                )
                * 1e-12,
            }
        )
    return rows


def _critical_path(result: RunResult) -> dict | None:
    """The chain of cores and links that set the latency of the recorded sample's slowest frame."""
    if not result.phases:
        return None

    cp = critical_path(result.phases)
    hw = result.hardware
    return {
        "sample": result.raster.sample if result.raster is not None else None,
        "frame": cp.frame,
        "cycles": int(cp.cycles),
        "seconds": cp.cycles * hw.cycle_s,
        "steps": [
            {
                "phase": st.phase,
                "cycles": int(st.cycles),
                "core": st.core,
                "core_cycles": int(st.core_cycles),
                "link": st.link,
                "link_busy_cycles": int(st.link_busy),
                "link_stall_cycles": int(st.link_stall),
                "barrier_cycles": int(st.barrier_cycles),
            }
            for st in cp.steps
        ],
        "text": format_critical_path(cp, hw),
    }


def _tile_traffic(result: RunResult) -> list[dict]:
    """Messages per inference from each tile to each tile (sparse: only pairs that talk)."""

    w, n = grid_size(result.hardware)[0], max(len(result.samples), 1)
    tp = sp.coo_array(result.tile_pairs)
    return [
        {"src": [int(a) % w, int(a) // w], "dst": [int(b) % w, int(b) // w], "messages": float(c) / n}
        for a, b, c in zip(tp.row, tp.col, tp.data)
        if c
    ]


def _per_link(result: RunResult, latency_cycles: float | None) -> list[dict] | None:
    """Per directed link: messages, busy and stall cycles per inference, utilisation (busy
    cycles / latency), peak buffer occupancy - from the NoC's own link counters."""
    links = result.links
    if not links:
        return None
    n = max(len(result.samples), 1)
    w = grid_size(result.hardware)[0]
    out = []
    for link in np.flatnonzero(links["messages"]):
        src, dst = int(links["src_tile"][link]), int(links["dst_tile"][link])
        busy = float(links["busy_cycles"][link]) / n
        out.append(
            {
                "src": [src % w, src // w],
                "dst": [dst % w, dst // w],
                "direction": DIRS[int(links["direction"][link])],
                "chip_link": bool(links["kind"][link] == 2),
                "messages_per_inference": float(links["messages"][link]) / n,
                "busy_cycles_per_inference": busy,
                "stall_cycles_per_inference": float(links["stall_cycles"][link]) / n,
                "peak_buffer_occupancy": int(links["peak_occupancy"][link]),
                "utilisation": _div(busy, latency_cycles),
            }
        )
    return out


# ---- the summary -----------------------------------------------------------------------------
def per_inference_means(result: RunResult) -> dict[str, float]:
    """Means over the run's samples (one sample = one inference): total energy (``energy_j``,
    ``energy_uj``, from :meth:`RunResult.energy`), latency (``latency_cycles``, ``latency_s``,
    ``latency_us``), ``spikes`` and ``synops``. Every value is NaN when the run has no samples.

    The time means average each sample's time in that unit (``latency_us`` is the mean of
    ``cycles x (cycle_s x 1e6)``, not ``latency_s x 1e6``)."""
    samples = list(result.samples)
    if not samples:
        keys = ("energy_j", "energy_uj", "latency_cycles", "latency_s", "latency_us", "spikes", "synops")
        return dict.fromkeys(keys, math.nan)
    cycle_s = result.hardware.cycle_s
    cycles = np.array([s.cycles for s in samples])
    energy_j = float(np.mean(np.array([result.energy(s)["total"] for s in samples])))
    return {
        "energy_j": energy_j,
        "energy_uj": energy_j * 1e6,
        "latency_cycles": float(np.mean(cycles)),
        "latency_s": float(np.mean(cycles * cycle_s)),
        "latency_us": float(np.mean(cycles * (cycle_s * 1e6))),
        "spikes": float(np.mean([s.spikes for s in samples])),
        "synops": float(np.mean([s.synops for s in samples])),
    }


#: the figures of :func:`neurosim.mapping.quality.mapping_quality` the ``mapping`` block shows
MAPPING_FIGURES = (
    "cores_used",
    "tiles_used",
    "messages",
    "cut_traffic",
    "tile_traffic",
    "hops",
    "mean_hops",
    "load_imbalance",
    "max_load_frac",
)


def mapping_figures(result: RunResult) -> dict | None:
    """The ``mapping`` block: strategy, placement, their options, what the strategy reported
    (``strategy_result``: partition's method, candidates and choice) and the mapping's quality
    with one spike per neuron (:func:`mapping_quality`; the run's own spike-weighted traffic is
    ``messages_per_inference`` and ``hops_per_inference``). None without a mapping to measure."""
    m, net = result.mapping, result.network
    if getattr(m, "core_of", None) is None or not hasattr(net, "synapse_pattern"):
        return None
    meta = dict(getattr(m, "meta", None) or {})
    found = meta.pop("strategy_result", None)
    q = mapping_quality(net, result.hardware, m)
    return {
        "strategy": getattr(m, "strategy", None),
        "placement": getattr(m, "placement", None),
        "options": meta,
        "strategy_result": found,
        **{key: q[key] for key in MAPPING_FIGURES},
    }


def _run_info(result: RunResult) -> dict:
    """The ``run`` block: what ran on what (names, hardware, network, mapping, options)."""
    hw, net = result.hardware, result.network
    network_info = {"name": getattr(net, "name", None)}
    if hasattr(net, "n_neurons"):
        network_info.update(neurons=int(net.n_neurons), synapses=int(net.n_synapses))
    return {
        "name": result.name,
        "mode": result.mode,
        "dataset": result.dataset,
        "frames": result.frames,
        "samples": len(result.samples),
        "hardware": {
            "name": hw.name,
            "source": display_path(hw.source),
            "clock_mhz": hw.core.clock_mhz,
            "cycle_s": hw.cycle_s,
            "mesh": [hw.mesh.width, hw.mesh.height],
            "cores_per_tile": hw.mesh.cores_per_tile,
            "n_cores": hw.n_cores,
            "static_power_w": hw.static_power_w(),
        },
        "network": network_info,
        "mapping": {"strategy": getattr(result.mapping, "strategy", None), **_mapping_file(result.mapping)},
        "options": {k: v for k, v in (result.options or {}).items() if k != "identity"},
        "identity": (result.options or {}).get("identity"),
        "neurosim_version": __version__,
    }


def _mapping_file(m) -> dict:
    """``file`` and ``sha256`` of a mapping read from a file (``strategy`` is then ``file``)."""
    meta = getattr(m, "meta", None) or {}
    return {k: meta[k] for k in ("file", "sha256") if getattr(m, "strategy", None) == "file" and k in meta}


def timing(result: RunResult) -> dict:
    """The run's wall-clock figures (``timing.json``, schema ``neurosim-timing/1``): kept apart
    from the summary, so that identical runs give byte-identical ``summary.json``."""
    return {"schema": TIMING_SCHEMA, "wall_s": _num(result.wall_s)}


def _mean_energy_breakdown(energies: list[dict[str, float]]) -> dict[str, float | None]:
    """Mean energy parts per inference (J), checked: raises SimulationError if the mean parts do
    not sum to the mean total."""
    breakdown = {k: mean_of(e[k] for e in energies) for k in ("static", *OPS, "total")}
    if energies:
        ok, _ = _parts_consistent(breakdown)
        if not ok:
            raise SimulationError("mean energy parts per inference do not sum to the mean total")
    return breakdown


def _headline_figures(
    result: RunResult, samples: list[SampleRecord], energies: list[dict[str, float]], energy_j: float | None
) -> dict[str, Any]:
    """Accuracy, energy, latency, counts and EDP per inference."""
    cyc = result.hardware.cycle_s
    return {
        "accuracy": _num(result.accuracy) if samples else None,
        "energy_per_inference_j": energy_j,
        "latency_per_inference_s": mean_of(s.cycles * cyc for s in samples),
        "latency_per_inference_cycles": mean_of(s.cycles for s in samples),
        "spikes_per_inference": mean_of(s.spikes for s in samples),
        "input_spikes_per_inference": mean_of(s.input_spikes for s in samples),
        "synops_per_inference": mean_of(s.synops for s in samples),
        "messages_per_inference": mean_of(s.messages_sent for s in samples),
        "hops_per_inference": mean_of(s.hops for s in samples),
        "edp_per_inference_js": mean_of(e["total"] * s.cycles * cyc for e, s in zip(energies, samples)),
    }


def _decision_figures(samples: list[SampleRecord], cyc: float) -> dict[str, Any]:
    """Time to the first output spike and to a decision, and the work done until the decision."""
    first = [s.first_output_cycle for s in samples if s.first_output_cycle is not None]
    decided = [s.decision_cycle for s in samples if s.decision_cycle is not None]
    return {
        "time_to_first_output_s": mean_of(c * cyc for c in first),
        "time_to_first_output_cycles": mean_of(first),
        "samples_with_first_output": len(first),
        "time_to_decision_s": mean_of(c * cyc for c in decided),
        "time_to_decision_cycles": mean_of(decided),
        "samples_with_decision": len(decided),
        "spikes_to_decision_per_inference": mean_of(
            s.extra["spikes_to_decision"] for s in samples if "spikes_to_decision" in s.extra
        ),
        "synops_to_decision_per_inference": mean_of(
            s.extra["synops_to_decision"] for s in samples if "synops_to_decision" in s.extra
        ),
    }


def _conservation(result: RunResult, samples: list[SampleRecord]) -> dict[str, Any]:
    """Messages sent = received per sample, and per-core counters = per-sample counters. (The
    energy check has passed: otherwise :func:`summarize` raised SimulationError.)"""
    mismatched = [int(s.index) for s in samples if s.messages_sent != s.messages_received]
    core_totals = {op: int(np.asarray(result.core[op]).sum()) for op in CORE_OPS if op in result.core}
    sample_totals = {op: result.total(op) for op in core_totals}
    return {
        "messages_balanced": not mismatched,
        "messages_sent": sum(int(s.messages_sent) for s in samples),
        "messages_received": sum(int(s.messages_received) for s in samples),
        "unbalanced_samples": mismatched,
        "energy_parts_sum_to_total": True,
        "energy_rel_tol": REL_TOL,
        "core_counters_match_samples": core_totals == sample_totals,
        "core_op_totals": core_totals,
        "sample_op_totals": sample_totals,
    }


def readout_kind(result: RunResult) -> str:
    """How the predictions were read: ``spike counts``, or ``membrane <max|mean|last>`` for a
    non-spiking output (:mod:`neurosim.sim.readout`)."""
    how = (result.options or {}).get("readout")
    return "spike counts" if how is None else f"membrane {how}"


def summarize(result: RunResult) -> dict:
    """Every reported figure of a run as a JSON-serialisable dict (see docs/report-schema.md).

    Raises :class:`SimulationError` if the energy parts of a sample (or of the mean) do not sum
    to the total within a relative 1e-9."""
    hw = result.hardware
    samples = list(result.samples)
    n = len(samples)
    energies = [sample_energy(s, hw, result) for s in samples]
    breakdown = _mean_energy_breakdown(energies)
    latency_cycles = mean_of(s.cycles for s in samples)
    summary = {
        "schema": SCHEMA,
        "run": _run_info(result),
        **_headline_figures(result, samples, energies, breakdown["total"]),
        "readout": readout_kind(result),
        **_decision_figures(samples, hw.cycle_s),
        "paper_metrics": paper_metrics(result),
        "energy_breakdown_per_inference_j": breakdown,
        "energy_per_op_pj": cost.energy_per_op_pj(hw),
        "ops_per_inference": {op: mean_of(s.ops.get(op, 0) for s in samples) for op in OPS},
        "per_core": per_core_figures(result, latency_cycles),
        "per_population_spikes_per_inference": {
            name: count / max(n, 1) for name, count in result.spikes_per_population.items()
        },
        "tile_traffic": _tile_traffic(result),
        "per_link": _per_link(result, latency_cycles),
        "conservation": _conservation(result, samples),
        "mapping": mapping_figures(result),
        "neurobench": neurobench_metrics(result),
    }
    summary["critical_path"] = _critical_path(result)
    return plain(summary, json=True)


def samples_csv_rows(result: RunResult) -> list[dict]:
    """One row per sample (columns :data:`CSV_COLUMNS`, :meth:`RunResult.sample_rows`); missing
    times are None. Raises SimulationError if a sample's energy parts do not sum to its total."""
    for s in result.samples:
        sample_energy(s, result.hardware, result)
    return result.sample_rows()
