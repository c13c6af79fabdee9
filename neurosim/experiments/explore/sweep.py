"""Run a sweep: every point of a spec, on a local process pool or on Dask, written point by point.

Layout of the output directory (default ``reports/explore/<name>/``)::

    spec.yaml             a copy of the spec that was run
    points/<key>.json     one record per point (parameters, metrics or error, mapping), written as
                          soon as the point finishes; the table is rebuilt from these
    table.csv, table.parquet   one row per point of the spec, in spec order
    pareto.png            energy vs latency; marker per strategy, colour per placement, size per
                          accuracy; the (energy, latency, accuracy) front ringed
    front/<key>.yaml      the mapping of every point on the front (neurosim-mapping/1)
    .neurosim-report      the marker of a folder neurosim wrote (``sweep``): an existing folder
                          without it that holds other files is refused, never written into

Re-running a spec skips the points whose record exists (failed ones too, unless
``retry_failed``). A failing point records its error and the sweep goes on. On the local pool a
lost worker process (``BrokenProcessPool``) loses the unfinished points; they are run again, each
in a process of its own, up to ``MAX_ATTEMPTS`` in all, then recorded as ``WorkerLost``. On Dask,
the scheduler reschedules the tasks of a lost worker and retries them (``retries``); a point
that still fails is recorded. Dask needs no shared filesystem: the model and hardware files
travel with the jobs, the workers' versions are checked first (:mod:`neurosim.experiments.cluster`),
and a point's future is released once its record is written, so it is never computed twice.
Results do not depend on the backend or the number of workers (every point is seeded from the
spec), except the wall-time columns. The local pool's workers end with the sweep, whatever ends
it (SIGINT, SIGTERM, SIGKILL: :mod:`neurosim.experiments.explore.pool`); a record is written
atomically (no temporary file is left by a failure, and a killed sweep's are removed on resume).
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing as mp
import os
import shutil
import sys
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from neurosim import atomic
from neurosim.describe.mapping import Mapping
from neurosim.errors import NeurosimError
from neurosim.experiments import cluster
from neurosim.experiments.explore.pareto import pareto_mask, plot_pareto
from neurosim.experiments.explore.point import METRICS, WALL_COLUMNS, run_point, unrle
from neurosim.experiments.explore.pool import new_pool, stop_pool
from neurosim.experiments.explore.spec import LoadedSpec, Point, load_spec, mapping_option
from neurosim.io.hardware_file import load_hardware
from neurosim.io.mapping_file import save_mapping
from neurosim.io.nir_read import load_network

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3


@dataclass
class SweepResult:
    name: str
    out: Path
    table: Any  # pandas.DataFrame, one row per point
    computed: int  # points simulated by this call
    skipped: int  # points whose record already existed
    failed: int  # points (of the whole spec) with an error
    front: list[str] = field(default_factory=list)  # keys of the Pareto-front points
    files: dict[str, Path] = field(default_factory=dict)


def default_workers() -> int:
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return max(os.cpu_count() or 1, 1)


# ---- point records -------------------------------------------------------------------------------


def _record_path(out: Path, key: str) -> Path:
    return out / "points" / f"{key}.json"


def read_record(out: Path, key: str) -> dict | None:
    path = _record_path(out, key)
    try:
        rec = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) and rec.get("key") == key else None


def write_record(out: Path, rec: dict) -> Path:
    path = _record_path(out, rec["key"])
    return atomic.write_text(path, json.dumps(rec, indent=1, sort_keys=True, allow_nan=False, default=str) + "\n")


def _error_record(point: Point, message: str) -> dict:
    return {
        "key": point.key,
        "params": point.params,
        "status": "error",
        "error": message,
        "metrics": {},
        "mapping": None,
        "wall_s": None,
        "sim_wall_s": None,
    }


# ---- backends ------------------------------------------------------------------------------------


def _run_inline(points: list[Point], done: Callable[[dict], None]) -> None:
    for p in points:
        done(run_point(p.job()))


def _context():

    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    # imported once in the fork server, not in every worker (sklearn: the digits dataset)
    ctx.set_forkserver_preload(
        [
            "neurosim.experiments.explore.point",
            "neurosim.experiments.runner",
            "neurosim.sim.engine",
            "neurosim.mapping.registry",
            "neurosim.analysis.summary",
            "sklearn.datasets",
        ]
    )
    return ctx


def _run_pool(points: list[Point], workers: int, done: Callable[[dict], None]) -> None:
    """All points on one pool of ``workers`` processes. When a worker dies the pool breaks and
    every unfinished point is lost; those are then run again each in a process of its own (so
    a point that kills its worker cannot take others with it), up to ``MAX_ATTEMPTS`` in all."""
    fn, ctx = run_point, _context()
    lost: list[Point] = []
    pool = new_pool(min(workers, len(points)), ctx)  # its workers end with this process (pool.py)
    try:
        futures = {pool.submit(fn, p.job()): p for p in points}
        for fut in as_completed(futures):
            p = futures[fut]
            try:
                rec = fut.result()
            except BrokenProcessPool:
                lost.append(p)
                continue
            except Exception as exc:  # e.g. the record could not be sent back
                rec = _error_record(p, f"{type(exc).__name__}: {' '.join(str(exc).split())}")
            done(rec)
    except BaseException:  # an interrupt or SIGTERM ends the workers now, not after their points
        stop_pool(pool)
        raise
    pool.shutdown()
    if lost:
        _run_isolated(sorted(lost, key=lambda p: p.index), workers, done, fn, ctx)


def _run_isolated(points: list[Point], workers: int, done: Callable[[dict], None], fn, ctx) -> None:

    def one(p: Point) -> dict:
        for _ in range(MAX_ATTEMPTS - 1):
            with new_pool(1, ctx) as ex:
                try:
                    return ex.submit(fn, p.job()).result()
                except BrokenProcessPool:
                    continue
                except Exception as exc:
                    return _error_record(p, f"{type(exc).__name__}: {' '.join(str(exc).split())}")
        return _error_record(p, f"WorkerLost: the worker process died {MAX_ATTEMPTS} times while running this point")

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(points)))) as threads:
        futures = [threads.submit(one, p) for p in points]
        for fut in as_completed(futures):
            done(fut.result())


def _run_dask(points: list[Point], address: str, workers: int, done: Callable[[dict], None]) -> None:
    """The points on Dask (``local`` or a scheduler's address). The model and hardware files
    are read here and travel with the jobs as bytes (:func:`cluster.run_with_files`), so the
    workers need no shared filesystem; each file is sent to the cluster once. A future is
    released as soon as its record is written, so a worker lost later does not make the
    scheduler compute a finished point again."""
    jobs = {p.key: p.job() for p in points}
    files = cluster.read_files(list(jobs.values()))
    with cluster.dask_client(address, workers) as client:
        import distributed  # noqa: PLC0415 - optional extra (dask_client has checked it is there)

        shipped = {path: client.scatter(data, hash=False) for path, data in files.items() if data is not None}
        futures, run_id = {}, uuid.uuid4().hex[:8]  # keys of their own: another client's are not ours
        for p in points:
            job = jobs.pop(p.key)
            mine = {path: shipped.get(path) for k in cluster.FILE_KEYS if (path := job.get(k)) is not None}
            fut = client.submit(
                cluster.run_with_files,
                run_point,
                job,
                mine,
                key=f"neurosim-point-{p.key}-{run_id}",
                pure=False,
                retries=MAX_ATTEMPTS - 1,
            )
            futures[fut] = p
        for fut in distributed.as_completed(futures):
            p = futures.pop(fut)
            try:
                rec = fut.result()
            except Exception as exc:  # KilledWorker after the retries, a lost connection, ...
                rec = _error_record(p, f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:400])
            done(rec)
            fut.release()


# ---- the sweep -----------------------------------------------------------------------------------


def _need_pandas() -> None:
    try:
        import pandas  # noqa: F401, PLC0415 - optional extra
    except ImportError:
        raise NeurosimError(
            "neurosim explore needs pandas (and pyarrow for table.parquet): pip install 'neurosim-hw[explore]'"
        ) from None


def _edp(rec: dict) -> float | None:
    if rec.get("status") != "ok":
        return None
    v = rec.get("metrics", {}).get("edp_js")
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def run_sweep(
    spec: str | Path | LoadedSpec,
    *,
    out: str | Path | None = None,
    workers: int | None = None,
    dask: str | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    plot: bool = True,
) -> SweepResult:
    """Run every point of ``spec`` not yet recorded under ``out`` and rebuild the outputs.

    ``workers``: processes of the local pool (default: the CPUs available; 0 runs the points in
    this process) or Dask workers of ``dask="local"``. ``dask``: ``"local"`` for a
    ``distributed.LocalCluster`` or the address of a Dask scheduler (its workers must run the
    same neurosim and numerical packages, which is checked; the model and hardware files travel
    with the jobs, but an on-disk dataset's ``data_path`` must exist on the workers)."""
    _need_pandas()
    loaded = spec if isinstance(spec, LoadedSpec) else load_spec(spec)
    out = Path(out) if out is not None else Path("reports") / "explore" / loaded.spec.name
    workers = _check_workers(workers, dask)
    _prepare_out(loaded, out)
    records, pending = _split_recorded(loaded, out, retry_failed)
    skipped = len(records)
    bar = _Progress(loaded, out, records, skipped, progress)
    try:
        if pending:
            _dispatch(pending, dask, workers, bar.done)
    finally:
        bar.close()
    return finish(loaded, out, records, computed=len(pending), skipped=skipped, plot=plot)


def _check_workers(workers: int | None, dask: str | None) -> int:
    """The number of workers (default: the CPUs available; at least 1 on Dask)."""
    workers = default_workers() if workers is None else int(workers)
    if workers < 0:
        raise NeurosimError(f"--workers must be >= 0, got {workers}")
    if dask is not None and workers == 0:
        workers = 1
    return workers


def _prepare_out(loaded: LoadedSpec, out: Path) -> None:
    """The output folder with its ``points/`` folder and a copy of the spec. A folder that holds
    files neurosim did not write is refused (:func:`atomic.claim`); the temporary record files a
    killed sweep left are removed."""
    atomic.claim(out, "sweep")
    (out / "points").mkdir(parents=True, exist_ok=True)
    atomic.clean_stale_files(out / "points")
    if loaded.path.resolve() != (out / "spec.yaml").resolve():
        shutil.copyfile(loaded.path, out / "spec.yaml")


def _split_recorded(loaded: LoadedSpec, out: Path, retry_failed: bool) -> tuple[dict[str, dict], list[Point]]:
    """The records already under ``out`` (by key) and the points still to run (failed ones too
    with ``retry_failed``), in spec order."""
    records: dict[str, dict] = {}
    pending: list[Point] = []
    for p in loaded.points:
        rec = read_record(out, p.key)
        if rec is not None and not (retry_failed and rec.get("status") != "ok"):
            records[p.key] = rec
        else:
            pending.append(p)
    return records, pending


def _dispatch(pending: list[Point], dask: str | None, workers: int, done: Callable[[dict], None]) -> None:
    """Run the points on Dask, in this process or on the local pool."""
    if dask is not None:
        _run_dask(pending, dask, workers, done)
    elif workers == 0 or (workers == 1 and len(pending) == 1):
        _run_inline(pending, done)
    else:
        _run_pool(pending, workers, done)


class _Progress:
    """The sweep's progress bar (points done, failures, best EDP so far); :meth:`done` writes a
    finished point's record and adds it to ``records``."""

    def __init__(self, loaded: LoadedSpec, out: Path, records: dict[str, dict], skipped: int, progress: bool):
        self.out, self.records = out, records
        self.bar = tqdm(
            total=len(loaded.points),
            initial=skipped,
            desc=f"explore {loaded.spec.name}",
            unit="pt",
            file=sys.stderr,
            disable=not progress,
            dynamic_ncols=True,
        )
        self.failed = sum(r.get("status") != "ok" for r in records.values())
        self.best: float | None = None
        for r in records.values():
            self._note_edp(r)
        self._postfix()

    def _note_edp(self, rec: dict) -> None:
        e = _edp(rec)
        if e is not None and (self.best is None or e < self.best):
            self.best = e

    def _postfix(self) -> None:
        best = "-" if self.best is None else f"{self.best:.3g} Js"
        self.bar.set_postfix_str(f"failed={self.failed} best EDP={best}", refresh=False)

    def done(self, rec: dict) -> None:
        write_record(self.out, rec)
        self.records[rec["key"]] = rec
        if rec.get("status") != "ok":
            self.failed += 1
        self._note_edp(rec)
        self._postfix()
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()


# ---- outputs -------------------------------------------------------------------------------------


def build_table(loaded: LoadedSpec, records: dict[str, dict]):
    """One row per point of the spec (spec order): parameters, metrics, wall times, error."""
    import pandas as pd  # noqa: PLC0415 - optional extra

    rows = []
    for p in loaded.points:
        rec = records.get(p.key) or {}
        prm = p.params
        row: dict[str, Any] = {
            "key": p.key,
            "status": rec.get("status", "missing"),
            "model": prm["model"],
            "hardware": prm["hardware"],
        }
        for k in loaded.override_keys:
            row[k] = prm["overrides"].get(k)
        for k in loaded.mapping_keys:  # n_cores, neurons_per_core where the spec gives them
            row[k] = mapping_option(prm, k)
        row.update(
            {
                "strategy": prm["strategy_label"],
                "placement": prm["placement_label"],
                "mode": prm["mode_label"],
                "samples": prm["samples"],
            }
        )
        metrics = rec.get("metrics") or {}
        for m in METRICS:
            row[m] = metrics.get(m)
        for w in WALL_COLUMNS:
            row[w] = rec.get(w)
        row["error"] = rec.get("error")
        rows.append(row)
    df = pd.DataFrame(rows)
    for m in METRICS + WALL_COLUMNS:
        df[m] = pd.to_numeric(df[m], errors="coerce").astype("float64")
    for c in ("key", "status", "model", "hardware", "strategy", "placement", "mode", "error"):
        df[c] = df[c].astype("object")

    df.insert(2, "pareto", pareto_mask(df))
    return df


def _write_table(df, out: Path) -> dict[str, Path]:
    files = {"csv": out / "table.csv", "parquet": out / "table.parquet"}
    df.to_csv(files["csv"], index=False)
    try:
        flat = df.copy()
        for c in flat.columns:  # override values may mix types: store them as text in parquet
            if flat[c].dtype == object and c not in (
                "key",
                "status",
                "model",
                "hardware",
                "strategy",
                "placement",
                "mode",
                "error",
            ):
                flat[c] = flat[c].map(lambda v: None if v is None else json.dumps(v))
        flat.to_parquet(files["parquet"], index=False)
    except ImportError:
        files.pop("parquet")
        log.warning("pyarrow is not installed; table.parquet not written (pip install 'neurosim-hw[explore]')")
    return files


def _write_front_mappings(loaded: LoadedSpec, records: dict, front: list[str], out: Path) -> None:

    folder = out / "front"
    if folder.exists():
        shutil.rmtree(folder)
    by_key = {p.key: p for p in loaded.points}
    for key in front:
        rec, p = records[key], by_key[key]
        m = rec.get("mapping")
        if not m:
            continue
        try:
            net = load_network(p.model_path, dt=p.params["dt"])
            hw = load_hardware(p.hardware_path, p.params["overrides"] or None)
            made = {k: m.get(k) or {} for k in ("strategy_options", "placement_options")}
            mapping = Mapping(unrle(m["core_of"]), m["strategy"], m["placement"], made)
            ov = p.params["overrides"]
            save_mapping(mapping, net, hw, folder / f"{key}.yaml", overrides=ov, seed=p.params["seed"])
        except (NeurosimError, OSError, ValueError) as exc:
            log.warning("mapping of front point %s not written: %s", key, exc)


def finish(
    loaded: LoadedSpec, out: Path, records: dict, *, computed: int = 0, skipped: int = 0, plot: bool = True
) -> SweepResult:
    """Rebuild the table, the Pareto plot and the front mappings from the point records."""
    df = build_table(loaded, records)
    files = _write_table(df, out)
    front = df.loc[df["pareto"], "key"].tolist()
    _write_front_mappings(loaded, records, front, out)
    if plot:
        fig = plot_pareto(df, title=loaded.spec.name)
        files["plot"] = out / "pareto.png"
        fig.savefig(files["plot"], dpi=120)
    failed = int((df["status"] != "ok").sum())
    return SweepResult(loaded.spec.name, out, df, computed, skipped, failed, front, files)


def rebuild(spec: str | Path, out: str | Path | None = None) -> SweepResult:
    """Rebuild the outputs of a sweep from its point records without running anything."""
    _need_pandas()
    loaded = load_spec(spec)
    out = Path(out) if out is not None else Path("reports") / "explore" / loaded.spec.name
    atomic.check_out(out, "sweep")
    records = {p.key: r for p in loaded.points if (r := read_record(out, p.key)) is not None}
    return finish(loaded, out, records)
