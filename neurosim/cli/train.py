"""``neurosim train``: train a spiking MLP (layered BPTT or unlayered backprop) and write NIR.

:func:`register` adds the subcommand to an argparse subparsers object without importing torch;
:func:`run` imports the trainer (and torch) when the command runs. Example::

    neurosim train --dataset digits --mode unlayered --scheduler momentum --group-size 8 \\
        --epochs 30 --seed 0 --hidden 64,64 --out models/digits_unlayered_momentum.nir

``python -m neurosim.cli.train train ...`` runs the same command without the main CLI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurosim.cli.commands import COMMANDS
from neurosim.errors import NeurosimError


class TrainCLIError(NeurosimError, ValueError):
    """Bad command-line input for ``neurosim train``, or torch is missing."""


def _hidden(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.replace(" ", "").split(",") if s)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden must be comma-separated integers, e.g. 64,64; got {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"--hidden must list positive layer widths, got {text!r}")
    return sizes


def register(subparsers) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand; sets ``func=run`` on the parsed namespace."""
    p = subparsers.add_parser(
        "train",
        help=COMMANDS["train"][1],
        description="Train a LIF MLP (bias-free unless --bias) with layered BPTT or unlayered backprop (the "
        "asynchronous schedule in the loop, Koopman et al. TMLR 2025), quantise the "
        "weights to 8 bits on a power-of-two grid, measure the test accuracy and write "
        "a NIR file. Needs torch: pip install -e .[train]",
    )
    p.add_argument("--dataset", default="digits", help="dataset name (default: digits)")
    p.add_argument("--data-path", default=None, help="folder of an on-disk dataset")
    p.add_argument("--mode", choices=("layered", "unlayered"), default="layered")
    p.add_argument(
        "--scheduler",
        choices=("random", "momentum"),
        default="momentum",
        help="unlayered: which ready neurons are sent first (default: momentum)",
    )
    p.add_argument(
        "--group-size", type=int, default=8, metavar="F", help="unlayered: spikes sent per step (default: 8)"
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="unlayered: send-step cap per frame (default: number of neurons, never binding)",
    )
    p.add_argument(
        "--stop-after-output",
        type=int,
        default=None,
        metavar="K",
        help="unlayered: end an inference K steps after its first output spike (default: off)",
    )
    p.add_argument(
        "--backward",
        choices=("replay", "steps", "bptt"),
        default="replay",
        help="unlayered gradient estimator: replay (default; schedule, then a layer-by-layer replay, reset "
        "detached), steps (autograd through every send step, reset detached), bptt (asynctorch's: every "
        "send step, the reset keeps its gradient); the forward is the same",
    )
    p.add_argument(
        "--scheduler-scope",
        choices=("global", "core"),
        default="global",
        help="unlayered: global (F spikes per step over the network, default) or core (each core of --hw "
        "sends at most its issue width of its own ready neurons per step)",
    )
    p.add_argument("--hw", default=None, help="--scheduler-scope core: hardware YAML (mapping and issue width)")
    p.add_argument(
        "--neurons-per-core", type=int, default=None, help="--scheduler-scope core: at most N neurons per core"
    )
    p.add_argument(
        "--spike-dropout",
        type=float,
        default=0.0,
        metavar="P",
        help="training only: drop each new network spike with probability P (the neuron still resets)",
    )
    p.add_argument(
        "--momentum-noise",
        type=float,
        default=0.0,
        metavar="LAMBDA",
        help="unlayered momentum, training only: priority + U[0,1)*lambda, lambda = LAMBDA * "
        "GAMMA**(epoch // N) (asynctorch StepNoiseScheduler; default 0: none)",
    )
    p.add_argument("--noise-step-size", type=int, default=1, metavar="N", help="epochs per momentum-noise step")
    p.add_argument("--noise-gamma", type=float, default=1.0, metavar="G", help="momentum-noise factor per step")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-seed", type=int, default=0, help="seed of the dataset's spike encoding")
    p.add_argument(
        "--input-values",
        choices=("binary", "counts"),
        default="binary",
        help="binary: input spikes (event count > 0); counts: event counts per channel and frame, a count k "
        "being k input spikes (nmnist-like only; recorded in the model, so neurosim run feeds the same)",
    )
    p.add_argument("--hidden", type=_hidden, default=None, help="hidden widths, e.g. 64,64 (default: 64,64)")
    p.add_argument(
        "--arch",
        choices=("mlp", "paper-cnn"),
        default="mlp",
        help="mlp (--hidden) or paper-cnn: the seed paper's N-MNIST CNN, Conv 2->8 k3 s2, 8->16 k3 s2 p1, "
        "16->32 k3 s2 p1, Linear 512->10 (same as --conv 8k3s2,16k3s2p1,32k3s2p1)",
    )
    p.add_argument(
        "--conv",
        default=None,
        metavar="SPEC",
        help="a CNN over the dataset's (C, H, W) frames, e.g. 8k3s2,16k3s2p1,32k3s2p1 (<C>k<K>[s<S>][p<P>] conv, "
        "sum<K>/avg<K>[s<S>] pool folded into the next layer, <N> dense), then a dense layer to the classes; "
        "--hidden is then refused (the dense layers go in the spec)",
    )
    p.add_argument("--frames", type=int, default=None, help="frames per sample (default: the dataset's)")
    p.add_argument("--limit", type=int, default=None, help="use only the first N samples of each split")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument(
        "--beta",
        type=float,
        default=0.9,
        help="membrane decay per frame, in [0, 1] (asynctorch's exp(-dt/tau_m), e.g. 4.54e-5 = e**-10; default 0.9)",
    )
    p.add_argument("--threshold", type=float, default=1.0, help="firing threshold, v > threshold (default: 1.0)")
    p.add_argument(
        "--bias",
        action="store_true",
        help="trainable per-neuron biases (start at 0; added once per frame after the leak; quantised "
        "with the layer's weights on one power-of-two grid; exported as the NIR Affine bias)",
    )
    p.add_argument(
        "--init-gain",
        type=float,
        default=1.0,
        help="initial weights uniform in +-GAIN/sqrt(fan_in) (default: 1.0, torch's Linear)",
    )
    p.add_argument("--weight-decay", type=float, default=0.0, help="Adam's L2 weight decay (default: 0)")
    p.add_argument(
        "--loss",
        choices=("ce-count", "ce-rate", "first-spike"),
        default="ce-count",
        help="ce-count: cross-entropy of the summed output counts (default); ce-rate: cross-entropy at every "
        "frame, averaged (asynctorch's, snntorch ce_rate_loss); first-spike: cross-entropy of the negated "
        "first output spike frames (snntorch ce_temporal_loss)",
    )
    p.add_argument(
        "--spike-penalty",
        type=float,
        default=0.0,
        metavar="LAMBDA",
        help="add LAMBDA times the hidden spikes per sample to the loss (default: 0)",
    )
    p.add_argument("--slope", type=float, default=2.0, help="arctan surrogate slope")
    p.add_argument("--dt", type=float, default=1e-3, help="seconds per frame, written to NIR")
    p.add_argument("--input-dropout", type=float, default=0.0)
    p.add_argument(
        "--frame-dropout",
        type=float,
        default=0.0,
        metavar="P",
        help="training only: each hidden neuron sits out a whole frame with probability P (formerly "
        "--refractory-dropout)",
    )
    p.add_argument("--refractory-dropout", type=float, default=None, help=argparse.SUPPRESS)  # refused: renamed
    p.add_argument(
        "--refrac-dropout",
        type=float,
        default=0.0,
        metavar="P",
        help="unlayered (asynctorch's refrac_dropout, training and evaluation): a crossing leaves the neuron "
        "non-refractory with probability P, so it may spike again in the frame (docs/asynctorch.md)",
    )
    p.add_argument(
        "--stop-on-output-frame",
        type=int,
        default=None,
        metavar="K",
        help="unlayered: end each frame K send steps after the step that sent its first output spike "
        "(asynctorch StopOnOutputExtension; per sample)",
    )
    p.add_argument(
        "--queued-input",
        action="store_true",
        help="unlayered: the input events join the ready queue and are sent F at a time with the spikes "
        "(asynctorch prioritize_input=False)",
    )
    p.add_argument("--loss-scale", type=float, default=1.0)
    p.add_argument("--qat-epochs", type=int, default=0, help="train the last N epochs with fake-quantised weights")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default: 1; more were slower on small models, measured in issue 14)",
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument(
        "--no-progress", action="store_true", help="no progress bar (there is none unless stderr is a terminal)"
    )
    p.add_argument("--out", required=True, type=Path, help="NIR file to write, e.g. models/NAME.nir")
    p.set_defaults(func=run)
    return p


def _terminal(stream) -> bool:
    """Whether ``stream`` is a terminal (a progress bar would flood a redirected log)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def run(args: argparse.Namespace) -> int:
    """Train, export and print a summary. Returns 0; raises NeurosimError on bad input."""
    try:
        import torch  # noqa: F401, PLC0415 - optional extra
    except ImportError:
        raise TrainCLIError("neurosim train needs torch: pip install -e .[train]") from None
    from neurosim.train.trainer import TrainConfig, train  # noqa: PLC0415 - the trainer needs the torch extra

    if args.refractory_dropout is not None:
        raise TrainCLIError(
            "--refractory-dropout was renamed: --frame-dropout P (a hidden neuron sits out the whole frame) or "
            "--refrac-dropout P (asynctorch's: a crossing leaves the neuron non-refractory with probability P)"
        )
    out = Path(args.out)
    if args.conv is not None and args.arch != "mlp":
        raise TrainCLIError(f"--arch {args.arch} and --conv both name the architecture: give one of them")
    if args.hidden is not None and (args.conv is not None or args.arch != "mlp"):
        raise TrainCLIError("--hidden sets an MLP's widths; a CNN's dense layers go in its --conv spec")
    if out.suffix != ".nir":
        raise TrainCLIError(f"--out must name a .nir file, got {str(out)!r}")
    cfg = TrainConfig(
        dataset=args.dataset,
        data_path=args.data_path,
        mode=args.mode,
        scheduler=args.scheduler,
        group_size=args.group_size,
        max_steps=args.max_steps,
        stop_after_output=args.stop_after_output,
        epochs=args.epochs,
        seed=args.seed,
        data_seed=args.data_seed,
        input_values=args.input_values,
        hidden=(64, 64) if args.hidden is None else tuple(args.hidden),
        conv=args.conv if args.conv is not None else ("paper-cnn" if args.arch == "paper-cnn" else None),
        frames=args.frames,
        limit=args.limit,
        lr=args.lr,
        batch_size=args.batch_size,
        beta=args.beta,
        slope=args.slope,
        dt=args.dt,
        input_dropout=args.input_dropout,
        frame_dropout=args.frame_dropout,
        refrac_dropout=args.refrac_dropout,
        stop_on_output_frame=args.stop_on_output_frame,
        prioritize_input=not args.queued_input,
        loss_scale=args.loss_scale,
        threshold=args.threshold,
        bias=bool(args.bias),
        init_gain=args.init_gain,
        weight_decay=args.weight_decay,
        loss=args.loss,
        spike_penalty=args.spike_penalty,
        qat_epochs=args.qat_epochs,
        threads=args.threads,
        device=args.device,
        progress=not args.no_progress and _terminal(sys.stderr),
        backward=args.backward,
        scheduler_scope=args.scheduler_scope,
        hw=args.hw,
        neurons_per_core=args.neurons_per_core,
        spike_dropout=args.spike_dropout,
        momentum_noise=args.momentum_noise,
        noise_step_size=args.noise_step_size,
        noise_gamma=args.noise_gamma,
    )
    cfg.validate()
    result = train(cfg)
    path = result.export(out)
    m = result.metadata
    sched = f", scheduler {m['scheduler']}, F={m['group_size']}" if m["mode"] == "unlayered" else ""
    if m.get("scheduler_scope") == "core":
        sched = f", scheduler {m['scheduler']}, per-core scope ({m['scope_hw']})"
    if m.get("backward") in ("steps", "bptt"):
        sched += f", backward {m['backward']}"
    print(
        f"wrote {path}: {m['architecture']} {m['mode']}{sched}; test accuracy {result.test_accuracy:.4f} "
        f"(8-bit weights; float {result.test_accuracy_float:.4f}) on {m['n_test']} {m['dataset']} samples; "
        f"{m['test_spikes_per_sample']:.1f} spikes/sample; trained {result.train_time_s:.1f} s on {m['device']}"
    )
    return 0


def main(argv=None) -> int:
    """Stand-alone entry point (``python -m neurosim.cli.train``)."""
    parser = argparse.ArgumentParser(prog="neurosim")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except NeurosimError as exc:
        print(f"neurosim: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
