"""``neurosim run``: simulate a model on a chip over its test data and write a report."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from neurosim.analysis.summary import per_inference_means
from neurosim.atomic import MARKER
from neurosim.cli.args import (
    add_async_arguments,
    async_options,
    non_negative_int,
    parse_overrides,
    positive_int,
    progress_bar,
)
from neurosim.cli.commands import COMMANDS
from neurosim.errors import NeurosimError
from neurosim.experiments.runner import dataset_source, file_sha256, mapping_source, prepare, run_identity
from neurosim.experiments.shard import simulate_sharded
from neurosim.io.mapping_file import save_mapping
from neurosim.paths import DEFAULT_HW, DEFAULT_MODEL, display_path
from neurosim.report.writer import check_out, write_report
from neurosim.sim.modes import ENGINES, MODES


def register(sub) -> None:
    """Add ``run`` to the main parser's subparsers."""
    r = sub.add_parser(
        "run",
        help=COMMANDS["run"][1],
        description="Simulate a NIR model on a hardware description over its test data "
        "and write reports/<run-name>/ (summary.json, samples.csv, report.md, figures).",
    )
    r.add_argument("model", nargs="?", default=str(DEFAULT_MODEL), help="NIR model file (default: %(default)s)")
    r.add_argument("--hw", default=str(DEFAULT_HW), help="hardware YAML (default: %(default)s)")
    r.add_argument("--mapping", help="mapping YAML (default: sequential packing, row-major placement)")
    r.add_argument("--strategy", help="mapping strategy: sequential (default), balanced, partition, random")
    r.add_argument("--placement", help="placement of cores on the mesh: row-major (default), traffic-aware")
    r.add_argument(
        "--n-cores",
        type=_n_cores,
        metavar="N|all",
        help="spread the network over N cores (or all of them); strategies balanced and random",
    )
    r.add_argument(
        "--neurons-per-core",
        type=positive_int,
        metavar="N",
        help="at most N neurons per core (below the hardware's capacity)",
    )
    r.add_argument("--mode", default="sync", choices=list(MODES), help="execution mode (default: sync)")
    r.add_argument(
        "--engine",
        default="fast",
        choices=list(ENGINES),
        help="fast (batched, the default) or reference (cores and routers as SimPy processes, event by event: "
        "the oracle the fast engine is tested against; same result, slower)",
    )
    add_async_arguments(r)
    r.add_argument(
        "--readout",
        choices=["max", "mean", "last"],
        help="how a non-spiking output layer (NIR LI, CubaLI, I) decides: the arg-max of its membranes' "
        "max, mean or last value over the frames (default: max; a spiking output is read by its spike counts)",
    )
    r.add_argument("--samples", type=int, help="number of test samples (default: the whole test split)")
    r.add_argument("--out", help="report directory (default: reports/<run-name>)")
    r.add_argument(
        "--name",
        help="run name (default: <model>-<hardware>-<mode>, plus -<hash8> of the result-changing inputs "
        "when any option differs from its default)",
    )
    r.add_argument(
        "--force", action="store_true", help="replace a report of a different run (another identity) in the folder"
    )
    r.add_argument("--seed", type=non_negative_int, default=0, help="seed of every random choice (default: 0)")
    r.add_argument("--dt", type=float, help="time step in seconds, when the NIR file does not state it")
    r.add_argument("--dataset", help="dataset to draw test inputs from (default: the model's own)")
    r.add_argument("--data-path", help="where an on-disk dataset (nmnist, shd, dvsgesture) lives")
    r.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a hardware value, e.g. --set core.max_neurons=64 (repeatable)",
    )
    r.add_argument("--save-mapping", metavar="FILE", help="also write the mapping used as YAML")
    r.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="split the samples across N processes (or the Dask workers of --dask local); the report is "
        "the same as with one (default: 1)",
    )
    r.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="simulate the samples on Dask: a scheduler address (tcp://HOST:PORT; its workers need the same "
        "neurosim and package versions, checked, but no shared files) or 'local' for a LocalCluster of --workers",
    )
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_run)


def _simulate(a, setup, **options):
    """The run, in this process or split across ``--workers`` processes or ``--dask`` workers
    (:mod:`neurosim.experiments.shard`: the same result either way, wall time aside)."""
    if a.workers < 1:
        raise NeurosimError(f"--workers must be >= 1, got {a.workers}")
    d = setup.data
    options.setdefault("dataset", d.name)
    if a.engine != "fast":
        options["engine"] = a.engine
    return simulate_sharded(
        setup.hardware, setup.network, setup.mapping, d.inputs, d.labels, workers=a.workers, dask=a.dask, **options
    )


def _n_cores(text: str) -> int | str:
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'all', got {text!r}") from None


def _mapping_options(a) -> dict:
    """``n_cores`` / ``neurons_per_core`` as given on the command line."""
    given = {"n_cores": a.n_cores, "neurons_per_core": a.neurons_per_core}
    return {k: v for k, v in given.items() if v is not None}


def _setup(a):
    """The run's inputs (``prepare``); says so when a mapping file's hardware overrides are applied."""
    if a.samples is not None and a.samples <= 0:
        raise NeurosimError(f"--samples must be positive, got {a.samples}")
    if a.mapping and (a.strategy or a.placement or _mapping_options(a)):
        raise NeurosimError(
            "--mapping gives the mapping; it cannot be combined with "
            "--strategy/--placement/--n-cores/--neurons-per-core"
        )
    setup = prepare(
        a.model,
        a.hw,
        mapping=a.mapping,
        overrides=parse_overrides(a.set),
        dt=a.dt,
        samples=a.samples,
        dataset=a.dataset,
        data_path=a.data_path,
        strategy=a.strategy or "sequential",
        placement=a.placement or "row-major",
        mapping_options=_mapping_options(a),
        seed=a.seed,
    )
    return setup


def _run_info(a, setup) -> dict:
    """``run.options`` of the summary: samples, model, and the hardware overrides and mapping
    options when there are any."""
    made = {
        "hardware_overrides": setup.overrides,
        "hardware_overrides_from": setup.overrides_from and display_path(setup.overrides_from),
        "mapping_options": _mapping_options(a),
    }
    return {"samples": len(setup.data), "model": display_path(a.model), **{k: v for k, v in made.items() if v}}


#: ``neurosim run`` options that change the result; the run name gets a hash when one is not at its default
RESULT_OPTIONS = {
    "set": None,
    "mapping": None,
    "strategy": None,
    "placement": None,
    "n_cores": None,
    "neurons_per_core": None,
    "scheduler": None,
    "scheduler_scope": "global",
    "group_size": None,
    "stop_on_output": None,
    "stop_on_output_frame": None,
    "refrac_dropout": None,
    "queued_input": None,
    "momentum_noise": None,
    "max_steps": None,
    "samples": None,
    "seed": 0,
    "dataset": None,
    "data_path": None,
    "dt": None,
}


def identity(a, setup, execution: dict) -> dict:
    """``run.identity`` (:func:`run_identity`) of everything that changes this run's result. Files
    enter by content (sha256), not by path, so that the hash is the same from any directory; the
    paths are in ``run.options.model``, ``run.hardware.source`` and ``run.mapping.file``."""
    hw = setup.hardware
    return run_identity(
        {
            "model": {"name": Path(a.model).stem, "sha256": file_sha256(a.model)},
            "hardware": {"name": hw.name, "sha256": file_sha256(hw.source) if hw.source else None},
            "hardware_overrides": setup.overrides,
            "mapping": mapping_source(setup.mapping),
            "execution": execution,
            "seed": a.seed,
            "dt": a.dt,
            "samples": len(setup.data),
            "dataset": dataset_source(setup.data),
        }
    )


def run_name(a, setup, ident: dict) -> str:
    """``--name``, else ``<model>-<hw>-<mode>``, with ``-<hash8>`` unless every option is at its default."""
    if a.name:
        return a.name
    base = f"{Path(a.model).stem}-{setup.hardware.name}-{a.mode}"
    default = all(getattr(a, k) == v for k, v in RESULT_OPTIONS.items())
    return base if default else f"{base}-{ident['hash'][:8]}"


def recorded_identity(out: Path) -> str | None:
    """The ``run.identity`` hash of the neurosim report in ``out``; ``""`` for a report that records
    none (or cannot be read); None when ``out`` holds no report."""
    if not (out / MARKER).is_file() or not (out / "summary.json").is_file():
        return None
    try:
        held = json.loads((out / "summary.json").read_text(encoding="utf-8"))["run"]["identity"]["hash"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    return held if isinstance(held, str) else ""


def check_same_run(out: Path, ident: dict, force: bool) -> None:
    """Refuse to replace the report of a different run (another ``run.identity`` hash) in ``out``
    unless ``force``; the same run replaces its own report."""
    held = recorded_identity(out)
    if held is None or force or held == ident["hash"]:
        return
    shown = "an unrecorded identity" if held == "" else f"identity {held[:8]}"
    raise NeurosimError(
        f"{display_path(out)}: holds the report of a different run ({shown}, this run {ident['hash'][:8]}); "
        "give another --out/--name, or --force to replace it"
    )


def cmd_run(a) -> int:
    if a.out:
        check_out(a.out)  # a folder of the user's files is refused before anything runs
    setup = _setup(a)
    execution = async_options(setup.network, a)
    ident = identity(a, setup, execution)
    name = run_name(a, setup, ident)
    out = check_out(Path(a.out) if a.out else Path("reports") / name)  # refused before the run, not after
    check_same_run(out, ident, a.force)
    res = _simulate(
        a,
        setup,
        name=name,
        progress=progress_bar(not a.quiet),
        options={**_run_info(a, setup), "identity": ident},
        **execution,
    )
    if a.save_mapping:
        save_mapping(
            setup.mapping, setup.network, setup.hardware, a.save_mapping, overrides=setup.overrides, seed=a.seed
        )
    path = write_report(res, out)
    m = per_inference_means(res)
    print(
        f"{name}: {len(res.samples)} samples, accuracy {res.accuracy:.4f}, energy/inference {m['energy_uj']:.3f} uJ, "
        f"latency/inference {m['latency_us']:.2f} us, spikes/inference {m['spikes']:.1f}, "
        f"synops/inference {m['synops']:.0f} (wall {res.wall_s:.1f} s)"
    )
    print(f"report: {path / 'report.md'}")
    return 0
