"""The layered-vs-unlayered study (Koopman et al., TMLR 2025, arXiv 2408.05098).

``neurosim study``: run it and write its table, findings and plots."""

from __future__ import annotations

from neurosim import atomic
from neurosim.cli.args import non_negative_int, overall_bar
from neurosim.cli.commands import COMMANDS
from neurosim.errors import NeurosimError
from neurosim.experiments.study import VERDICTS, findings, run_study, write_study
from neurosim.paths import DEFAULT_HW


def cmd_study(a) -> int:
    if a.samples is not None and a.samples <= 0:
        raise NeurosimError(f"--samples must be positive, got {a.samples}")
    atomic.check_out(a.out, "study")  # refused before the runs, not after
    rows = run_study(a.models, a.hw, a.samples, a.group_size, a.scheduler_scope, a.seed, overall_bar(not a.quiet))
    out = write_study(rows, a.out)
    for claim, ok, _detail in findings([r.metrics() for r in rows]):
        print(f"{claim}: {VERDICTS[ok]}")
    print(f"study: {out / 'findings.md'}")
    return 0


def register(sub) -> None:
    s = sub.add_parser("study", help=COMMANDS["study"][1], description=__doc__.splitlines()[0])
    s.add_argument("--models", nargs="+", help="NIR models (default: the shipped digits models)")
    s.add_argument("--hw", default=str(DEFAULT_HW), help="hardware YAML (default: %(default)s)")
    s.add_argument("--samples", type=int, help="test samples per run (default: the whole test split)")
    s.add_argument("--group-size", type=int, default=8, metavar="F", help="async forward group size (default: 8)")
    s.add_argument("--scheduler-scope", choices=["global", "core"], default="global")
    s.add_argument("--seed", type=non_negative_int, default=0)
    s.add_argument("--out", default="reports/study", help="output directory (default: %(default)s)")
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=cmd_study)
