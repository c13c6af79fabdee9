"""``neurosim run``: simulate a model on a chip over its test data and write a report."""

from __future__ import annotations

from pathlib import Path

from neurosim.analysis.summary import per_inference_means
from neurosim.cli.args import add_async_arguments, async_options, parse_overrides, progress_bar
from neurosim.cli.commands import COMMANDS
from neurosim.errors import NeurosimError
from neurosim.experiments.runner import prepare
from neurosim.io.mapping_file import save_mapping
from neurosim.paths import DEFAULT_HW, DEFAULT_MODEL, display_path
from neurosim.report.writer import write_report
from neurosim.sim.modes import MODES


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
    r.add_argument("--mode", default="sync", choices=list(MODES), help="execution mode (default: sync)")
    add_async_arguments(r)
    r.add_argument("--samples", type=int, help="number of test samples (default: the whole test split)")
    r.add_argument("--out", help="report directory (default: reports/<run-name>)")
    r.add_argument("--name", help="run name (default: <model>-<hardware>-<mode>)")
    r.add_argument("--seed", type=int, default=0, help="seed of every random choice (default: 0)")
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
    r.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_run)


def cmd_run(a) -> int:
    if a.samples is not None and a.samples <= 0:
        raise NeurosimError(f"--samples must be positive, got {a.samples}")
    if a.mapping and (a.strategy or a.placement):
        raise NeurosimError("--mapping gives the mapping; it cannot be combined with --strategy/--placement")
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
    )
    name = a.name or f"{Path(a.model).stem}-{setup.hardware.name}-{a.mode}"
    out = Path(a.out) if a.out else Path("reports") / name
    res = setup.simulate(
        name=name,
        progress=progress_bar(not a.quiet),
        options={"samples": len(setup.data), "model": display_path(a.model)},
        **async_options(setup.network, a),
    )
    if a.save_mapping:
        save_mapping(setup.mapping, setup.network, setup.hardware, a.save_mapping)
    path = write_report(res, out)
    m = per_inference_means(res)
    print(
        f"{name}: {len(res.samples)} samples, accuracy {res.accuracy:.4f}, energy/inference {m['energy_uj']:.3f} uJ, "
        f"latency/inference {m['latency_us']:.2f} us, spikes/inference {m['spikes']:.1f}, "
        f"synops/inference {m['synops']:.0f} (wall {res.wall_s:.1f} s)"
    )
    print(f"report: {path / 'report.md'}")
    return 0
