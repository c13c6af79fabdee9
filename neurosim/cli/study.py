"""The layered-vs-unlayered study (Koopman et al., TMLR 2025, arXiv 2408.05098).

``neurosim study``: run it and write its table, findings and plots. ``neurosim study --recipe
paper``: train the paper's matrix on the N-MNIST-like task, run it in the simulator and check the
paper's claims (:mod:`neurosim.experiments.paper_recipe`); ``--quick`` for a small version."""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

from neurosim import atomic
from neurosim.cli.args import non_negative_int, overall_bar
from neurosim.cli.commands import COMMANDS
from neurosim.errors import NeurosimError
from neurosim.experiments import paper_recipe as pr
from neurosim.experiments.study import VERDICTS, findings, run_study, write_study
from neurosim.paths import DEFAULT_HW


def cmd_study(a) -> int:
    if a.recipe is not None or a.quick:
        return cmd_recipe(a)
    if a.ship is not None:
        raise NeurosimError("--ship takes the models of --recipe paper; give --recipe")
    if a.samples is not None and a.samples <= 0:
        raise NeurosimError(f"--samples must be positive, got {a.samples}")
    atomic.check_out(a.out, "study")  # refused before the runs, not after
    rows = run_study(a.models, a.hw, a.samples, a.group_size, a.scheduler_scope, a.seed, overall_bar(not a.quiet))
    out = write_study(rows, a.out)
    for claim, ok, _detail in findings([r.metrics() for r in rows]):
        print(f"{claim}: {VERDICTS[ok]}")
    print(f"study: {out / 'findings.md'}")
    return 0


def cmd_recipe(a) -> int:
    """Train and run the paper's matrix (cached in --out), print the headline and the report."""
    try:
        import torch  # noqa: F401, PLC0415 - the recipe trains
    except ImportError:
        raise NeurosimError("neurosim study --recipe needs torch: pip install -e .[train]") from None

    if a.models:
        raise NeurosimError("--recipe trains its own models; --models does not apply")
    recipe = pr.RECIPES["quick" if a.quick else a.recipe]
    if a.samples is not None:
        if a.samples <= 0:
            raise NeurosimError(f"--samples must be positive, got {a.samples}")
        recipe = dataclasses.replace(recipe, test_samples=a.samples)
    out = Path(a.out if a.out != DEFAULT_OUT else f"reports/study-{recipe.name}")
    log = (lambda _s: None) if a.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    result = pr.run_recipe(recipe, out, a.hw, log=log)
    print("\n".join(pr.headline(result.table, recipe)))
    if a.ship is not None:
        for (training, arch), m in sorted(pr.best_models(result).items()):
            dest = Path(a.ship) / f"nmnist_like_{training.replace('-', '_')}_{arch.replace('-', '_')}.nir"
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(m["path"], dest)
            print(f"shipped {dest} (seed {m['seed']}, test accuracy {m['test_accuracy']:.4f})")
    t = result.times
    print(f"study: {out / 'findings.md'} ({t['total_s']:.0f} s; {t['trained']} trained, {t['reused']} reused)")
    return 0


DEFAULT_OUT = "reports/study"


def register(sub) -> None:
    s = sub.add_parser("study", help=COMMANDS["study"][1], description=__doc__.splitlines()[0])
    s.add_argument("--models", nargs="+", help="NIR models (default: the shipped digits models)")
    s.add_argument("--hw", default=str(DEFAULT_HW), help="hardware YAML (default: %(default)s)")
    s.add_argument("--samples", type=int, help="test samples per run (default: the whole test split)")
    s.add_argument("--group-size", type=int, default=8, metavar="F", help="async forward group size (default: 8)")
    s.add_argument("--scheduler-scope", choices=["global", "core"], default="global")
    s.add_argument("--seed", type=non_negative_int, default=0)
    s.add_argument(
        "--recipe",
        choices=["paper"],
        help="train the paper's matrix on nmnist-like and check its claims (cached in --out; resumable)",
    )
    s.add_argument("--quick", action="store_true", help="the recipe in a small size (tests, a first look)")
    s.add_argument("--ship", metavar="DIR", help="--recipe: copy the best seed of each training x arch into DIR")
    s.add_argument(
        "--out", default=DEFAULT_OUT, help="output directory (default: %(default)s; --recipe: reports/study-NAME)"
    )
    s.add_argument("-q", "--quiet", action="store_true")
    s.set_defaults(func=cmd_study)
