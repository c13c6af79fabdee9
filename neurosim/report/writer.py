"""Write a run's report directory atomically and durably, never over the user's own files.

Everything is built in a temporary sibling directory (``.<name>.tmp-<pid>-XXXX`` in the same
parent, so the final rename never crosses a file system), flushed to disk and swapped into place
at the very end (one atomic exchange on Linux; see :mod:`neurosim.atomic`). After a kill at any
moment there is the previous complete report or the new complete one. The report carries the
marker ``.neurosim-report``; an existing folder is replaced only when it has that marker or is
empty, any other is refused with one line before the run (:func:`check_out`). On any error the
temporary directory is removed and a previous report is left as it was.

``summary.json`` holds only what the inputs determine (identical runs give identical bytes); the
wall-clock figures go to ``timing.json``.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp

from neurosim import atomic
from neurosim.analysis.critical_path import critical_path
from neurosim.analysis.summary import CSV_COLUMNS, sample_energy, samples_csv_rows, summarize, timing
from neurosim.analysis.tiles import tile_energy_j
from neurosim.report.figures import noc as noc_plots
from neurosim.report.figures import run as plots
from neurosim.report.markdown import render_markdown
from neurosim.sim.counters import RunResult


def _save(fig, path: Path, dpi: int = 120) -> None:

    try:
        fig.savefig(path, dpi=dpi)
    finally:
        plt.close(fig)


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(CSV_COLUMNS), extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if v is None else v) for k, v in row.items()})


def _write_parquet(path: Path, rows: list[dict]) -> bool:
    """``samples.csv`` as Parquet (typed columns; missing times are nulls), when pandas and pyarrow
    import (the ``explore`` extra); without them nothing is written and False returned."""
    try:
        import pandas as pd  # noqa: PLC0415 - optional extra
        import pyarrow  # noqa: F401, PLC0415 - optional extra
    except ImportError:
        return False
    frame = pd.DataFrame(rows, columns=list(CSV_COLUMNS))
    frame.to_parquet(path, engine="pyarrow", index=False)
    return True


def _build(result: RunResult, tmp: Path) -> None:
    summary = summarize(result)
    (tmp / "summary.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    (tmp / "timing.json").write_text(json.dumps(timing(result), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    rows = samples_csv_rows(result)
    _write_csv(tmp / "samples.csv", rows)
    _write_parquet(tmp / "samples.parquet", rows)

    hw = result.hardware
    figures: dict[str, str] = {}
    _save(plots.plot_energy_breakdown(summary), tmp / "fig_energy.png")
    figures["energy"] = "fig_energy.png"
    _save(plots.plot_core_heatmap(summary, hw, metric="synop"), tmp / "fig_cores.png")
    figures["cores"] = "fig_cores.png"
    if result.raster is not None:
        _save(plots.plot_raster(result.raster, result.network, cycle_s=hw.cycle_s), tmp / "fig_raster.png")
        figures["raster"] = "fig_raster.png"
    _save(plots.plot_latency_per_sample(result.samples, hw.cycle_s), tmp / "fig_latency.png")
    figures["latency"] = "fig_latency.png"
    figures.update(_sample_figures(result, summary, tmp))
    figures.update(_noc_figures(result, tmp))
    (tmp / "report.md").write_text(render_markdown(summary, figures, wall_s=result.wall_s), encoding="utf-8")


def _sample_figures(result: RunResult, summary: dict, tmp: Path) -> dict[str, str]:
    """Latency distribution, energy against latency, activity per frame, utilisation per core."""
    hw = result.hardware
    out: dict[str, str] = {}
    if result.samples:
        _save(plots.plot_latency_distribution(result.samples, hw.cycle_s), tmp / "fig_latency_dist.png")
        out["latency_dist"] = "fig_latency_dist.png"
        energies = [sample_energy(s, hw, result)["total"] for s in result.samples]
        static_w = result.static_w if result.static_w is not None else hw.static_power_w()
        fig = plots.plot_energy_vs_latency(result.samples, energies, hw.cycle_s, static_w=static_w)
        _save(fig, tmp / "fig_energy_latency.png")
        out["energy_latency"] = "fig_energy_latency.png"
    if result.raster is not None:
        fig = plots.plot_activity_per_frame(result.raster, result.network, n_frames=result.frames)
        _save(fig, tmp / "fig_activity.png")
        out["activity"] = "fig_activity.png"
    _save(plots.plot_core_heatmap(summary, hw, metric="utilisation"), tmp / "fig_utilisation.png")
    out["utilisation"] = "fig_utilisation.png"
    return out


def _noc_figures(result: RunResult, tmp: Path) -> dict[str, str]:
    """Link utilisation, stalls (when any), dynamic energy per tile, the critical path."""
    hw, links, n = result.hardware, result.links, max(len(result.samples), 1)
    out: dict[str, str] = {}
    if links is not None:
        total_cycles = max(sum(s.cycles for s in result.samples), 1)
        _save(noc_plots.plot_link_utilisation(hw, links, total_cycles), tmp / "fig_links.png")
        out["links"] = "fig_links.png"
        if links["stall_cycles"].any():
            _save(noc_plots.plot_link_stalls(hw, links), tmp / "fig_stalls.png")
            out["stalls"] = "fig_stalls.png"
        local = np.asarray(sp.csr_array(result.tile_pairs).diagonal())
        energy = tile_energy_j(hw, result.core, links["messages"], local, per_inference=n)
        _save(noc_plots.plot_tile_energy(hw, energy), tmp / "fig_tiles.png")
        out["tiles"] = "fig_tiles.png"
    if result.phases:
        cp = critical_path(result.phases)
        _save(noc_plots.plot_critical_path(cp, hw), tmp / "fig_critical.png")
        out["critical"] = "fig_critical.png"
    return out


def check_out(out_dir: str | os.PathLike) -> Path:
    """``out_dir`` as an absolute path if a report may be written there (a new folder, an empty
    one, or a previous report); else NeurosimError with one line. Call it before a long run."""
    return atomic.check_out(out_dir, "report")


def write_report(result: RunResult, out_dir: str | os.PathLike) -> Path:
    """Write ``summary.json``, ``timing.json``, ``samples.csv`` (and ``samples.parquet`` when pandas
    and pyarrow import), ``report.md`` and the figures
    (``fig_energy.png``, ``fig_cores.png``, ``fig_utilisation.png``, ``fig_raster.png`` and
    ``fig_activity.png`` if the run kept a raster, ``fig_latency.png``, ``fig_latency_dist.png``,
    ``fig_energy_latency.png``, the NoC figures; each listed in ``docs/report-schema.md``) into
    ``out_dir``, atomically. Returns the report
    directory. NeurosimError if ``out_dir`` holds files neurosim did not write."""
    with atomic.folder(out_dir, "report") as tmp:
        _build(result, tmp)
    return Path(out_dir).absolute()
