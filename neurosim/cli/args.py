"""Pieces shared by the commands: ``--set`` parsing, the progress bar, argument types and the
async execution arguments; the parser and the one-line error (:mod:`neurosim.cli.parser`) are
re-exported here."""

from __future__ import annotations

import argparse
import sys

from tqdm import tqdm

from neurosim.cli.parser import EXIT_USAGE, Parser, fail
from neurosim.errors import NeurosimError
from neurosim.sim.modes import ASYNCTORCH_DEFAULTS
from neurosim.sim.scheduler import POLICIES
from neurosim.yamlfile import parse_value

__all__ = ["EXIT_USAGE", "Parser", "fail"]  # the parser's names, for the commands


def parse_overrides(items: list[str] | None) -> dict:
    """``--set KEY=VALUE`` items as ``{key: value}``, each value read as YAML with the limits of
    hardware files (no Python tags, bounded aliases and depth); errors name the argument."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        shown = item if len(item) <= 80 else item[:70] + "..."
        if not sep or not key.strip():
            raise NeurosimError(f"--set {shown!r}: expected KEY=VALUE, e.g. core.max_neurons=64")
        out[key.strip()] = parse_value(value, f"--set {shown!r}")
    return out


def _int_at_least(low: int, what: str):
    """An argparse type: a whole number >= ``low`` (``what`` names it in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return parse


#: argparse type of ``--seed`` and the step counts: a whole number >= 0
non_negative_int = _int_at_least(0, "a non-negative integer")
#: argparse type of a count that must be at least 1
positive_int = _int_at_least(1, "a positive integer")


def progress_bar(enabled: bool):
    """A per-sample progress wrapper for ``simulate`` (tqdm on stderr), or None. The bar shows only
    when stderr is a terminal (``disable=None``): a redirected log gets no bar lines."""
    if not enabled:
        return None

    return lambda it: tqdm(it, desc="samples", unit="sample", file=sys.stderr, leave=False, disable=None)


class OverallBar:
    """One bar over many ``simulate`` calls: ``bar(iterable)`` wraps one run's samples (as
    :func:`progress_bar`'s wrapper does), each advancing the same count; :meth:`label` names the
    run under way (the bar's postfix). On stderr, only when it is a terminal."""

    def __init__(self, total: int, desc: str = "runs") -> None:
        self.bar = tqdm(total=total, desc=desc, unit="sample", file=sys.stderr, leave=False, disable=None)

    def __call__(self, iterable):
        for item in iterable:
            yield item
            self.bar.update(1)

    def label(self, text: str) -> None:
        self.bar.set_postfix_str(text, refresh=False)

    def close(self) -> None:
        self.bar.close()


def overall_bar(enabled: bool):
    """A factory of :class:`OverallBar` given the total count (for ``run_study``), or None."""
    return OverallBar if enabled else None


def async_options(net, a) -> dict:
    """Execution options; unset async options default to the model's training schedule."""
    trained = net.metadata.get("neurosim", {}) if isinstance(net.metadata, dict) else {}

    def pick(given, key, default, ok):
        value = trained.get(key)
        return given if given is not None else (value if ok(value) else default)

    is_int = lambda x: isinstance(x, int) and not isinstance(x, bool) and x >= 0
    return (
        {
            "mode": a.mode,
            "scope": a.scheduler_scope,
            "policy": pick(a.scheduler, "scheduler", "fifo", lambda x: x in POLICIES),
            "group_size": pick(a.group_size, "group_size", 8, lambda x: is_int(x) and x >= 1),
            "max_steps": pick(a.max_steps, "max_steps", None, is_int),
            "stop_on_output": a.stop_on_output,
            "seed": a.seed,
        }
        | ({"readout": a.readout} if getattr(a, "readout", None) is not None else {})
        | asynctorch_options(a, trained)
    )


def asynctorch_options(a, trained: dict | None = None) -> dict:
    """asynctorch's options (docs/asynctorch.md): those given on the command line; in async mode
    the unset ones default to the model's training (``refrac_dropout``, and in the global scope
    ``stop_on_output_frame`` and queued input). Only those away from their defaults are returned,
    so that a run without them keeps its identity."""
    queued = getattr(a, "queued_input", None)
    given = {
        "refrac_dropout": getattr(a, "refrac_dropout", None),
        "stop_on_output_frame": getattr(a, "stop_on_output_frame", None),
        "prioritize_input": None if queued is None else not queued,
        "momentum_noise": getattr(a, "momentum_noise", None),
    }
    model = trained or {}
    if a.mode == "async":
        rd = model.get("refrac_dropout")
        if given["refrac_dropout"] is None and isinstance(rd, float) and 0 < rd <= 1:
            given["refrac_dropout"] = rd
        if a.scheduler_scope == "global":
            k = model.get("stop_on_output_frame")
            if given["stop_on_output_frame"] is None and isinstance(k, int) and not isinstance(k, bool) and k >= 0:
                given["stop_on_output_frame"] = k
            if given["prioritize_input"] is None and model.get("prioritize_input") is False:
                given["prioritize_input"] = False
    return {k: v for k, v in given.items() if v is not None and v != ASYNCTORCH_DEFAULTS[k]}


def add_async_arguments(p) -> None:
    g = p.add_argument_group("asynchronous execution (--mode async)")
    g.add_argument(
        "--scheduler-scope",
        choices=["global", "core"],
        default="global",
        help="one scheduler over the network (the trainer's semantics) or one per core "
        "(hardware timing; issue width from the hardware file) (default: global)",
    )
    g.add_argument(
        "--scheduler",
        choices=list(POLICIES),
        help="which ready spikes go first (default: the model's training scheduler, else fifo)",
    )
    g.add_argument(
        "--group-size",
        type=positive_int,
        metavar="F",
        help="spikes sent per step by the global scheduler (default: the model's, else 8)",
    )
    g.add_argument(
        "--max-steps", type=positive_int, help="step cap per frame (default: the model's, else the neuron count)"
    )
    g.add_argument(
        "--stop-on-output",
        type=non_negative_int,
        metavar="K",
        help="end an inference K steps (core scope: frames) after its first output spike",
    )
    g.add_argument(
        "--stop-on-output-frame",
        type=non_negative_int,
        metavar="K",
        help="global scope: end each frame K send steps after the step that sent its first output spike "
        "(asynctorch StopOnOutputExtension; ready neurons then are dropped)",
    )
    g.add_argument(
        "--refrac-dropout",
        type=float,
        metavar="P",
        help="asynctorch's refractory dropout: a crossing leaves the neuron non-refractory with probability P "
        "(seeded by --seed); a neuron sent with k queued crossings sends k spike messages",
    )
    g.add_argument(
        "--queued-input",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="global scope: the input events join the ready queue and are sent F at a time with the "
        "network's spikes (asynctorch prioritize_input=False; default: as the model was trained)",
    )
    g.add_argument(
        "--momentum-noise",
        type=float,
        metavar="LAMBDA",
        help="momentum scheduler: priority + U[0,1)*LAMBDA (asynctorch MomentumSpikeScheduler; seeded by --seed)",
    )
