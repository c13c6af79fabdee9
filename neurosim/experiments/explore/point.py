"""One point of a sweep, end to end, in whatever process runs it: ``runner.prepare`` (hardware
with the point's overrides, model, test data; if the default ``sequential`` mapping does not fit,
the same steps without it), spike-rate profiling when asked, the point's mapping, ``simulate``
and ``summarize``, plus the mapping's quality figures.

:func:`run_point` never raises for a failing point: it returns a record whose ``error`` is one
line (``Type: reason``), so a sweep records it and goes on.
"""

from __future__ import annotations

import time
import traceback
from typing import Any

import numpy as np

from neurosim.analysis.profiling import profile_rates
from neurosim.analysis.summary import summarize
from neurosim.data.dataset import SpikeDataset
from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import Mapping
from neurosim.describe.network import Network
from neurosim.errors import MappingError
from neurosim.experiments.explore.spec import simulate_options
from neurosim.experiments.runner import dataset_for, prepare
from neurosim.io.hardware_file import load_hardware
from neurosim.io.nir_read import load_network
from neurosim.mapping.quality import mapping_quality
from neurosim.mapping.registry import accepted_options, map_network
from neurosim.plain import plain
from neurosim.sim.counters import RunResult
from neurosim.sim.engine import simulate

#: the metric columns of a point record, in table order
METRICS = (
    "accuracy",
    "energy_j",
    "latency_s",
    "latency_cycles",
    "edp_js",
    "spikes",
    "synops",
    "messages",
    "hops",
    "first_output_s",
    "cut_traffic",
    "mean_hops",
    "tile_traffic",
    "max_load",
    "load_imbalance",
    "max_load_frac",
    "cores_used",
    "tiles_used",
    # NeuroBench 2.3.0 names (summary.json's neurobench block)
    "Effective_ACs",
    "Dense",
    "ActivationSparsity",
    "ConnectionSparsity",
    "ParameterCount",
    "Footprint",
    "weight_memory_bytes",
)
#: columns that differ between identical runs
WALL_COLUMNS = ("wall_s", "sim_wall_s")


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()) or repr(exc)
    line = f"{type(exc).__name__}: {msg}"
    return line if len(line) <= 400 else line[:397] + "..."


def rle(core_of: np.ndarray) -> list[list[int]]:
    """Runs ``[core, count]`` of a neuron -> core array (how a point stores its mapping)."""
    core_of = np.asarray(core_of, np.int64)
    if core_of.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(core_of)) + 1
    starts = np.concatenate(([0], breaks))
    counts = np.diff(np.concatenate((starts, [core_of.size])))
    return [[int(core_of[s]), int(c)] for s, c in zip(starts, counts)]


def unrle(runs: list[list[int]]) -> np.ndarray:
    if not runs:
        return np.zeros(0, np.int64)
    return np.repeat([r[0] for r in runs], [r[1] for r in runs]).astype(np.int64)


def run_point(job: dict[str, Any]) -> dict[str, Any]:
    """Simulate one point (``Point.job()``) and return its record (JSON-able)."""
    t0 = time.perf_counter()
    rec: dict[str, Any] = {
        "key": job["key"],
        "params": job["params"],
        "status": "ok",
        "error": None,
        "metrics": {},
        "mapping": None,
        "wall_s": None,
        "sim_wall_s": None,
    }
    try:
        _run(job, rec)
    except Exception as exc:  # the point fails; the sweep goes on
        rec["status"], rec["error"] = "error", _one_line(exc)
        rec["traceback"] = traceback.format_exc(limit=8)
    rec["wall_s"] = time.perf_counter() - t0
    return rec


def _run(job: dict, rec: dict) -> None:
    """Simulate the point of ``job`` and fill in ``rec``: metrics, simulation wall time, mapping."""
    p = job["params"]
    hw, net, data, base = _setup(job)
    mapping, rates = _point_mapping(p, hw, net, data, base)
    res = _simulate(job, hw, net, mapping, data)
    rec["metrics"] = _metrics(summarize(res), mapping_quality(net, hw, mapping, rates))
    rec["sim_wall_s"] = res.wall_s
    rec["mapping"] = {
        "strategy": mapping.strategy,
        "placement": mapping.placement,
        "core_of": rle(mapping.core_of),
        "network": net.name,
        "hardware": hw.name,
        "n_neurons": int(net.n_neurons),
        # what the mapping was made on and with (saved with the front's mapping files)
        "hardware_overrides": p["overrides"],
        "strategy_options": plain(mapping.meta.get("strategy_options", {}), json=True),
        "placement_options": plain(mapping.meta.get("placement_options", {}), json=True),
        "seed": p["seed"],
    }


def _setup(job: dict) -> tuple[HardwareSpec, Network, SpikeDataset, Mapping | None]:
    """Hardware (with the point's overrides), network, test data and the default mapping (None
    when the default ``sequential`` mapping does not fit)."""
    p = job["params"]
    try:
        setup = prepare(
            job["model_path"],
            job["hardware_path"],
            overrides=p["overrides"] or None,
            dt=p["dt"],
            samples=p["samples"],
            dataset=p["dataset"],
            data_path=job.get("data_path"),
        )
        return setup.hardware, setup.network, setup.data, setup.mapping
    except MappingError:  # sequential does not fit; the point's own strategy still may
        hw = load_hardware(job["hardware_path"], p["overrides"] or None)
        net = load_network(job["model_path"], dt=p["dt"])
        data = dataset_for(
            net, samples=p["samples"], dataset=p["dataset"], data_path=job.get("data_path"), source=job["model_path"]
        )
        return hw, net, data, None


def _point_mapping(
    p: dict, hw: HardwareSpec, net: Network, data: SpikeDataset, base: Mapping | None
) -> tuple[Mapping, np.ndarray | None]:
    """The point's mapping (``base`` when it is the default one) and the spike rates it was made
    with (profiled on the first test samples when the sweep asks for it)."""
    strategy, placement = p["strategy"], p["placement"]
    options = {**p["strategy_options"], **p["placement_options"], **(p.get("mapping_options") or {})}
    accepted = accepted_options(strategy, placement)
    if "seed" in accepted and "seed" not in options:
        options["seed"] = p["seed"]
    rates = None
    if p["rates"] == "profile":
        rates = profile_rates(net, hw, data.inputs[: p["profile_samples"]], mapping=base)
        if "rates" in accepted:
            options["rates"] = rates  # recorded as "given" in the mapping's meta
    mapping = base
    if mapping is None or (strategy, placement) != ("sequential", "row-major") or options:
        mapping = map_network(net, hw, strategy, placement, **options)
    return mapping, rates


def _simulate(job: dict, hw: HardwareSpec, net: Network, mapping: Mapping, data: SpikeDataset) -> RunResult:
    """Simulate the test data in the point's mode (its options, seeded from the sweep)."""
    p = job["params"]
    mode_options = dict(p["mode_options"])
    if "seed" in simulate_options():
        mode_options.setdefault("seed", p["seed"])
    return simulate(
        hw,
        net,
        mapping,
        data.inputs,
        data.labels,
        mode=p["mode"],
        name=job["key"],
        dataset=data.name,
        raster_sample=None,
        options={"explore_point": job["key"], "samples": len(data)},
        **mode_options,
    )


def _neurobench_columns(nb: dict) -> dict:
    """The NeuroBench columns from a summary's ``neurobench`` block (None where it has none)."""
    cols = {k: nb.get(k) for k in ("Effective_ACs", "Dense", "ActivationSparsity", "ConnectionSparsity")}
    cols.update(ParameterCount=nb.get("ParameterCount"), Footprint=nb.get("Footprint"))
    cols["weight_memory_bytes"] = (nb.get("weight_memory") or {}).get("total_bytes")
    return cols


def _metrics(s: dict, q: dict) -> dict:
    """The metric columns (``METRICS``) from a run's summary ``s`` and its mapping's quality ``q``."""
    return plain(
        json=True,
        obj={
            "accuracy": s["accuracy"],
            "energy_j": s["energy_per_inference_j"],
            "latency_s": s["latency_per_inference_s"],
            "latency_cycles": s["latency_per_inference_cycles"],
            "edp_js": s["edp_per_inference_js"],
            "spikes": s["spikes_per_inference"],
            "synops": s["synops_per_inference"],
            "messages": s["messages_per_inference"],
            "hops": s["hops_per_inference"],
            "first_output_s": s["time_to_first_output_s"],
            "cut_traffic": q["cut_traffic"],
            "mean_hops": q["mean_hops"],
            "tile_traffic": q["tile_traffic"],
            "max_load": q["max_load"],
            "load_imbalance": q["load_imbalance"],
            "max_load_frac": q["max_load_frac"],
            "cores_used": q["cores_used"],
            "tiles_used": q["tiles_used"],
            **_neurobench_columns(s.get("neurobench") or {}),
        },
    )
