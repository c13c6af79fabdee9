"""Training loop: layered BPTT or unlayered backprop on a :class:`~neurosim.data.SpikeDataset`,
8-bit power-of-two quantisation, test accuracy with the quantised weights, NIR export.

Loss (``loss``, :mod:`neurosim.train.losses`): ``ce-count`` (default), cross-entropy of the
output spike counts (summed over frames) used as logits, times ``loss_scale``; ``ce-rate``,
cross-entropy at every frame (asynctorch's, snnTorch's ``ce_rate_loss``); ``first-spike``
(snnTorch's ``ce_temporal_loss``); plus ``spike_penalty`` times the hidden spikes per sample.
Optimiser: Adam (``weight_decay``: its L2 term, as asynctorch's notebooks use it:
``torch.optim.Adam(async_simulator.parameters(), lr=1e-3, weight_decay=1e-5)`` in RoelMK/asynctorch
``examples/tutorial_training_mixed_arch.ipynb``, with ``membrane_threshold=0.3`` and ``tau_m=1000``
at ``dt=10000``, i.e. ``threshold=0.3``, ``beta=exp(-10)`` here) with a cosine learning-rate
decay over the epochs. ``bias``: trainable per-neuron biases, quantised with the
weights on one power-of-two grid per layer and exported as the NIR Affine bias.
Reproducible on CPU for a given seed: the weight initialisation, shuffling, dropouts and the
random scheduler all draw from generators seeded from ``seed``, and torch's deterministic
algorithms are switched on.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from neurosim import __version__
from neurosim.data.dataset import SpikeDataset
from neurosim.data.registry import COUNT_DATASETS, load_dataset
from neurosim.errors import NeurosimError
from neurosim.train.export import write_nir
from neurosim.train.losses import DESCRIPTIONS, LOSSES, needs_tracking, total_loss
from neurosim.train.model import MODES, SCHEDULERS, ForwardResult, LIFParams, SpikingMLP, forward
from neurosim.train.quantize import QMAX, pow2_scale, quantize_layer

PAPER = "Koopman et al., TMLR 2025, arXiv:2408.05098 (unlayered backprop)"
#: what the input frames hold: spikes (count > 0) or event counts (a count k is k input spikes)
INPUT_VALUES = ("binary", "counts")


class TrainError(NeurosimError, ValueError):
    """A training configuration is invalid."""


@dataclass
class TrainConfig:
    """Everything that determines a training run (recorded in the exported metadata)."""

    dataset: str = "digits"
    mode: str = "layered"  # "layered" | "unlayered"
    scheduler: str = "momentum"  # unlayered only: "momentum" | "random"
    group_size: int = 8  # unlayered only: F, spikes sent per step
    epochs: int = 30
    seed: int = 0
    hidden: tuple[int, ...] = (64, 64)
    conv: str | None = None  # a CNN spec or "paper-cnn" (neurosim.train.conv_arch); hidden is then unused
    frames: int | None = None  # None: the dataset's default
    data_seed: int = 0  # seed of the dataset's spike encoding
    input_values: str = "binary"  # "binary" | "counts" (event counts; datasets in COUNT_DATASETS only)
    data_path: str | None = None
    limit: int | None = None  # use only the first `limit` samples of each split
    lr: float = 2e-3
    batch_size: int = 64
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    beta: float = 0.9
    threshold: float = 1.0
    fire_equal: bool = False  # fire at v >= threshold (the pre-NIR convention); default v > threshold
    slope: float = 2.0  # arctan surrogate slope
    dt: float = 1e-3  # seconds per frame (exported to NIR)
    max_steps: int | None = None  # unlayered step cap per frame; None: number of neurons
    stop_after_output: int | None = None  # unlayered: end k steps after the first output spike
    input_dropout: float = 0.0  # training only
    frame_dropout: float = 0.0  # training only (hidden neurons sit out a frame; was refractory_dropout)
    refrac_dropout: float = 0.0  # unlayered, training and evaluation: asynctorch's refractory dropout
    stop_on_output_frame: int | None = None  # unlayered: end each frame K steps after its first output
    prioritize_input: bool = True  # unlayered; False: the input events are queued with the spikes
    loss_scale: float = 1.0
    init_gain: float = 1.0  # initial weights uniform in +-init_gain / sqrt(fan_in)
    loss: str = "ce-count"  # "ce-count" | "ce-rate" | "first-spike" (neurosim.train.losses)
    spike_penalty: float = 0.0  # lambda times the hidden spikes per sample, added to the loss
    weight_decay: float = 0.0  # Adam's L2 term (weights and biases)
    bias: bool = False  # trainable per-neuron biases (start at 0), exported as the Affine bias
    qat_epochs: int = 0  # last epochs with fake-quantised weights (straight-through)
    threads: int | None = None  # torch CPU threads (None: torch's default)
    progress: bool = True
    backward: str = "replay"  # unlayered gradient estimator: "replay" | "steps" | "bptt" (asynctorch's)
    spike_dropout: float = 0.0  # training only: each new network spike is dropped with this probability
    momentum_noise: float = 0.0  # unlayered momentum: start lambda of the priority noise (0: none)
    noise_step_size: int = 1  # epochs per noise step (asynctorch StepNoiseScheduler)
    noise_gamma: float = 1.0  # lambda_epoch = momentum_noise * noise_gamma ** (epoch // noise_step_size)
    scheduler_scope: str = "global"  # unlayered: "global" (F per step) | "core" (issue width per core)
    hw: str | None = None  # core scope: hardware YAML whose mapping and issue width are used
    neurons_per_core: int | None = None  # core scope: at most this many neurons per core

    def validate(self) -> TrainConfig:
        if self.mode not in MODES:
            raise TrainError(f"unknown mode {self.mode!r}; use one of {', '.join(MODES)}")
        if self.loss not in LOSSES:
            raise TrainError(f"unknown loss {self.loss!r}; use one of {', '.join(LOSSES)}")
        if self.scheduler not in SCHEDULERS:
            raise TrainError(f"unknown scheduler {self.scheduler!r}; use one of {', '.join(SCHEDULERS)}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise TrainError(f"unknown device {self.device!r}; use auto, cpu or cuda")
        self._validate_input_values()
        ints = {"group_size": 1, "epochs": 0, "batch_size": 1, "seed": 0, "data_seed": 0, "qat_epochs": 0}
        for name, lo in ints.items():
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, int) or val < lo:
                raise TrainError(f"{name} must be an integer >= {lo}, got {val!r}")
        for name in ("frames", "max_steps", "limit", "stop_after_output", "threads"):
            val = getattr(self, name)
            if val is not None and (
                isinstance(val, bool) or not isinstance(val, int) or val < (1 if name in ("frames", "threads") else 0)
            ):
                raise TrainError(f"{name} must be a non-negative integer, got {val!r}")
        if self.conv is not None:
            from neurosim.train.conv_arch import ConvSpecError, parse_spec  # noqa: PLC0415

            try:
                parse_spec(self.conv)
            except ConvSpecError as exc:
                raise TrainError(str(exc)) from None
        if not self.hidden or any((not isinstance(h, int)) or h < 1 for h in self.hidden):
            raise TrainError(f"hidden must list positive layer widths, got {self.hidden!r}")
        for name in ("input_dropout", "frame_dropout"):
            if not (0.0 <= getattr(self, name) < 1.0):
                raise TrainError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        self._validate_asynctorch_options()
        for name in ("lr", "dt", "loss_scale", "slope", "init_gain", "threshold"):
            if not (getattr(self, name) > 0 and math.isfinite(getattr(self, name))):
                raise TrainError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not (0.0 <= self.beta <= 1.0):
            raise TrainError(f"beta must be in [0, 1], got {self.beta!r}")
        for name in ("spike_penalty", "weight_decay"):
            if not (getattr(self, name) >= 0 and math.isfinite(getattr(self, name))):
                raise TrainError(f"{name} must be a non-negative number, got {getattr(self, name)!r}")
        for name in ("fire_equal", "bias"):
            if not isinstance(getattr(self, name), bool):
                raise TrainError(f"{name} must be True or False, got {getattr(self, name)!r}")
        self._validate_estimator_options()
        return self

    def _validate_input_values(self) -> None:
        if self.input_values not in INPUT_VALUES:
            raise TrainError(f"unknown input_values {self.input_values!r}; use one of {', '.join(INPUT_VALUES)}")
        if self.input_values == "counts" and str(self.dataset).lower() not in COUNT_DATASETS:
            raise TrainError(
                f"--input-values counts: dataset {self.dataset!r} has no event counts (offered by "
                f"{', '.join(COUNT_DATASETS)} only); use --input-values binary"
            )

    def _validate_estimator_options(self) -> None:
        """The backward, spike dropout, momentum-noise schedule and scheduler scope options."""
        if self.backward not in ("replay", "steps", "bptt"):
            raise TrainError(f"unknown backward {self.backward!r}; use replay, steps or bptt")
        if not (0.0 <= self.spike_dropout < 1.0):
            raise TrainError(f"spike_dropout must be in [0, 1), got {self.spike_dropout!r}")
        if not (self.momentum_noise >= 0 and math.isfinite(self.momentum_noise)):
            raise TrainError(f"momentum_noise must be a non-negative number, got {self.momentum_noise!r}")
        step = self.noise_step_size
        if isinstance(step, bool) or not isinstance(step, int) or step < 1:
            raise TrainError(f"noise_step_size must be an integer >= 1, got {self.noise_step_size!r}")
        if not (self.noise_gamma >= 0 and math.isfinite(self.noise_gamma)):
            raise TrainError(f"noise_gamma must be a non-negative number, got {self.noise_gamma!r}")
        if self.momentum_noise > 0 and (self.mode != "unlayered" or self.scheduler != "momentum"):
            raise TrainError("momentum_noise needs --mode unlayered --scheduler momentum (it perturbs priorities)")
        if self.momentum_noise > 0 and self.scheduler_scope == "core":
            raise TrainError("momentum_noise is a global-scope option: use --scheduler-scope global")
        if self.scheduler_scope not in ("global", "core"):
            raise TrainError(f"unknown scheduler_scope {self.scheduler_scope!r}; use global or core")
        if self.scheduler_scope == "core" and (self.mode != "unlayered" or self.hw is None):
            raise TrainError("scheduler_scope core needs --mode unlayered and --hw FILE (the mapping and issue width)")
        npc = self.neurons_per_core
        if npc is not None and (isinstance(npc, bool) or not isinstance(npc, int) or npc < 1):
            raise TrainError(f"neurons_per_core must be a positive integer, got {self.neurons_per_core!r}")

    def _validate_asynctorch_options(self) -> None:
        """refrac_dropout, stop_on_output_frame, prioritize_input (docs/asynctorch.md)."""
        if not (0.0 <= self.refrac_dropout <= 1.0):
            raise TrainError(f"refrac_dropout must be in [0, 1], got {self.refrac_dropout!r}")
        k = self.stop_on_output_frame
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
            raise TrainError(f"stop_on_output_frame must be a non-negative integer, got {k!r}")
        if not isinstance(self.prioritize_input, bool):
            raise TrainError(f"prioritize_input must be True or False, got {self.prioritize_input!r}")
        used = self.refrac_dropout > 0 or k is not None or not self.prioritize_input
        if used and self.mode != "unlayered":
            raise TrainError(
                "refrac_dropout, stop_on_output_frame and queued input are asynchronous options: use --mode unlayered"
            )

    def noise_at(self, epoch: int) -> float:
        """The momentum noise lambda of ``epoch`` (0-based): asynctorch's StepNoiseScheduler,
        ``start * gamma ** (epoch // step_size)``."""
        return float(self.momentum_noise * self.noise_gamma ** (epoch // self.noise_step_size))


@dataclass
class TrainResult:
    weights: list[np.ndarray]  # quantised, float32 (n_out, n_in) per layer
    scales: list[float]  # power-of-two grid step per layer
    test_accuracy: float  # quantised weights, the training forward
    test_accuracy_float: float  # before quantisation
    train_time_s: float
    history: list[dict[str, float]]
    config: TrainConfig
    metadata: dict[str, Any] = field(default_factory=dict)
    float_weights: list[np.ndarray] = field(default_factory=list)
    biases: list[np.ndarray] | None = None  # quantised, float32 (n_out,) per layer; None without bias
    conv: dict[str, Any] | None = None  # a CNN: spec, input_shape, quantised params and biases (export)
    float_biases: list[np.ndarray] | None = None

    def export(self, path) -> Any:
        return write_nir(
            path,
            self.weights,
            biases=self.biases,
            beta=self.config.beta,
            threshold=self.config.threshold,
            fire_equal=self.config.fire_equal,
            dt=self.config.dt,
            metadata=self.metadata,
            conv=self.conv,
        )


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainError("--device cuda requested but torch sees no CUDA device")
    return torch.device(name)


def set_determinism(seed: int) -> None:
    torch.manual_seed(seed)
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
    except Exception:  # pragma: no cover - very old torch
        pass


def make_generator(device: torch.device, seed: int) -> torch.Generator:
    g = torch.Generator(device=device)
    g.manual_seed(int(seed))
    return g


def fake_quant(w: torch.Tensor, scale: float | None = None) -> torch.Tensor:
    """Straight-through 8-bit power-of-two quantisation (forward on the grid, identity grad);
    ``scale`` (default: the grid of ``w`` alone) is the grid step."""
    if scale is None:
        scale = pow2_scale(float(w.detach().abs().max()))
    q = torch.clamp(torch.round(w.detach() / scale), -QMAX, QMAX) * scale
    return w + (q - w).detach()


def fake_quant_layers(weights, biases) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
    """:func:`fake_quant` per layer, a layer's weights and bias on one grid (as
    :func:`neurosim.train.quantize.quantize_layer`)."""
    if biases is None:
        return [fake_quant(w) for w in weights], None
    scales = [
        pow2_scale(max(float(w.detach().abs().max()), float(b.detach().abs().max()))) for w, b in zip(weights, biases)
    ]
    return [fake_quant(w, s) for w, s in zip(weights, scales)], [fake_quant(b, s) for b, s in zip(biases, scales)]


def lif_params(cfg: TrainConfig) -> LIFParams:
    """The neuron parameters of ``cfg`` (shared by every neuron)."""
    return LIFParams(beta=cfg.beta, threshold=cfg.threshold, slope=cfg.slope, fire_equal=bool(cfg.fire_equal))


def run_forward(
    weights,
    x: torch.Tensor,
    cfg: TrainConfig,
    *,
    generator=None,
    train: bool = False,
    record: bool = False,
    biases=None,
    track: bool = False,
    momentum_noise: float = 0.0,
) -> ForwardResult:
    """The forward of ``cfg.mode`` with the config's parameters (dropouts only when training);
    ``biases`` (None: none) one per layer; ``track``: per-frame outputs and hidden spikes;
    ``momentum_noise``: this forward's priority-noise lambda (training; 0: none)."""
    params = lif_params(cfg)
    kw: dict[str, Any] = {"record": record, "generator": generator}
    if train and cfg.spike_dropout > 0:
        kw["spike_dropout"] = cfg.spike_dropout
    if train and momentum_noise > 0:
        kw["momentum_noise"] = float(momentum_noise)
    if cfg.mode == "unlayered":
        kw["backward"] = cfg.backward
        if cfg.scheduler_scope == "core":
            kw["cores"] = _core_scope(cfg, weights)
    if biases is not None:
        kw["biases"] = biases
    if track:
        kw["track"] = True
    if train:
        kw.update(input_dropout=cfg.input_dropout, frame_dropout=cfg.frame_dropout)
    if cfg.mode == "unlayered":
        kw.update(
            group_size=cfg.group_size,
            scheduler=cfg.scheduler,
            max_steps=cfg.max_steps,
            stop_after_output=cfg.stop_after_output,
        )
        if cfg.refrac_dropout > 0:
            kw["refrac_dropout"] = cfg.refrac_dropout
        if cfg.stop_on_output_frame is not None:
            kw["stop_on_output_frame"] = cfg.stop_on_output_frame
        if not cfg.prioritize_input:
            kw["prioritize_input"] = False
    return forward(weights, x, params, mode=cfg.mode, **kw)


def _core_scope(cfg: TrainConfig, weights):
    """The per-core scope of ``cfg`` for the MLP of ``weights`` (the simulator's mapping)."""
    from neurosim.train.core_schedule import core_scope_from_hardware  # noqa: PLC0415 - core scope only

    sizes = [int(weights[0].shape[1])] + [int(w.shape[0]) for w in weights]
    return core_scope_from_hardware(str(cfg.hw), sizes, neurons_per_core=cfg.neurons_per_core)


def _batches(n: int, size: int, perm=None):
    idx = np.arange(n) if perm is None else perm
    for i in range(0, n, size):
        yield idx[i : i + size]


@torch.no_grad()
def evaluate(
    weights,
    data: SpikeDataset,
    cfg: TrainConfig,
    *,
    device: torch.device | str = "cpu",
    eval_seed: int | None = None,
    batch_size: int = 256,
    record: bool = False,
    biases=None,
) -> dict[str, Any]:
    """Accuracy of ``weights`` (numpy or torch, ``(n_out, n_in)``; ``biases``, None or one
    ``(n_out,)`` per layer) on ``data`` with the config's forward. The random scheduler draws
    from a generator seeded with ``eval_seed`` (default: ``cfg.seed``). Returns accuracy,
    predictions, counts, spikes per sample and, when ``record``, the per-sample per-neuron
    per-frame spikes and send steps."""
    device = torch.device(device)
    as_t = lambda w: torch.as_tensor(
        np.asarray(w, np.float32) if not torch.is_tensor(w) else w.detach(), dtype=torch.float32
    ).to(device)
    ws = [as_t(w) for w in weights]
    bs = None if biases is None else [as_t(b) for b in biases]
    gen = make_generator(device, cfg.seed if eval_seed is None else eval_seed)
    preds, counts, spikes, steps = [], [], [], []
    n_spikes = 0
    for idx in _batches(len(data), batch_size):
        x = torch.from_numpy(data.inputs[idx]).to(device=device, dtype=torch.float32)
        r = run_forward(ws, x, cfg, generator=gen, record=record, biases=bs)
        preds.append(r.prediction.cpu().numpy())
        counts.append(r.counts.cpu().numpy())
        n_spikes += r.n_spikes
        if record and r.spikes is not None:  # recording forwards always return spikes
            spikes.append(r.spikes.cpu().numpy())
            if r.steps is not None:
                steps.append(r.steps.cpu().numpy())
    pred = np.concatenate(preds) if preds else np.zeros(0, np.int64)
    out: dict[str, Any] = {
        "accuracy": float(np.mean(pred == data.labels)) if len(pred) else float("nan"),
        "predictions": pred,
        "counts": np.concatenate(counts) if counts else np.zeros((0, 0), np.float32),
        "spikes_per_sample": n_spikes / max(1, len(data)),
    }
    if record:
        out["spikes"] = np.concatenate(spikes)
        out["steps"] = np.concatenate(steps) if steps else None
    return out


def _load(cfg: TrainConfig, split: str) -> SpikeDataset:
    values = None if cfg.input_values == "binary" else cfg.input_values  # binary: the dataset's own spikes
    return load_dataset(
        cfg.dataset, split, frames=cfg.frames, seed=cfg.data_seed, path=cfg.data_path, limit=cfg.limit, values=values
    )


def train(
    cfg: TrainConfig, *, train_data: SpikeDataset | None = None, test_data: SpikeDataset | None = None
) -> TrainResult:
    """Train per ``cfg`` and measure the quantised test accuracy. Datasets default to
    ``load_dataset(cfg.dataset, 'train'/'test', ...)``."""
    cfg.validate()
    device = resolve_device(cfg.device)
    set_determinism(cfg.seed)
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    train_data, test_data = _datasets(cfg, train_data, test_data)
    sizes = [train_data.n_channels, *cfg.hidden, train_data.n_classes]
    if cfg.conv is not None:
        from neurosim.train.conv_arch import layer_sizes  # noqa: PLC0415

        sizes = layer_sizes(cfg.conv, train_data.input_shape, train_data.n_classes)
    fit = _Fit(cfg, sizes, train_data, device)
    t0 = time.perf_counter()
    history = fit.run()
    train_time = time.perf_counter() - t0
    fit.close()
    return _quantised_result(cfg, fit.model, sizes, test_data, history, train_time, device)


def _datasets(
    cfg: TrainConfig, train_data: SpikeDataset | None, test_data: SpikeDataset | None
) -> tuple[SpikeDataset, SpikeDataset]:
    """The given datasets, or the configured dataset's splits; the training split must not be empty."""
    train_data = train_data if train_data is not None else _load(cfg, "train")
    test_data = test_data if test_data is not None else _load(cfg, "test")
    if len(train_data) == 0:
        raise TrainError(f"dataset {cfg.dataset!r}: the training split is empty")
    return train_data, test_data


class _Fit:
    """The optimisation of one training run: the model, the optimiser and its learning-rate
    schedule, the shuffling and forward generators, and the progress bar."""

    def __init__(self, cfg: TrainConfig, sizes: list[int], data: SpikeDataset, device: torch.device) -> None:
        self.cfg, self.data, self.device = cfg, data, device
        params = lif_params(cfg)
        init_gen = make_generator(torch.device("cpu"), cfg.seed)
        self.model: Any = (
            _cnn(cfg, data, init_gen)
            if cfg.conv is not None
            else SpikingMLP(sizes, params, gain=cfg.init_gain, generator=init_gen, bias=cfg.bias)
        ).to(device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        n_batches = math.ceil(len(data) / cfg.batch_size)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, T_max=max(1, cfg.epochs * n_batches))
        self.shuffle_gen = np.random.default_rng([cfg.seed, 1])
        self.fwd_gen = make_generator(device, cfg.seed + 2)
        self.labels = torch.from_numpy(data.labels)
        self.noise = 0.0  # this epoch's momentum noise lambda
        self.bar = None
        if cfg.progress:
            self.bar = tqdm(total=cfg.epochs * n_batches, desc=f"train {cfg.mode}", unit="batch", dynamic_ncols=True)

    def run(self) -> list[dict[str, float]]:
        """Every epoch; returns the history (loss and training accuracy per epoch)."""
        return [self._epoch(epoch) for epoch in range(self.cfg.epochs)]

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def _epoch(self, epoch: int) -> dict[str, float]:
        cfg = self.cfg
        self.model.train()
        quant = epoch >= cfg.epochs - cfg.qat_epochs
        tot_loss = tot_correct = tot_n = 0.0
        self.noise = cfg.noise_at(epoch)
        for idx in _batches(len(self.data), cfg.batch_size, self.shuffle_gen.permutation(len(self.data))):
            loss, correct = self._step(idx, quant)
            n = len(idx)
            tot_loss += loss * n
            tot_correct += correct
            tot_n += n
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix(epoch=epoch + 1, loss=f"{tot_loss / tot_n:.3f}", acc=f"{tot_correct / tot_n:.3f}")
        out = {"epoch": epoch + 1, "loss": tot_loss / tot_n, "train_accuracy": tot_correct / tot_n}
        if cfg.momentum_noise > 0:
            out["momentum_noise"] = self.noise
        return out

    def _step(self, idx: np.ndarray, quant: bool) -> tuple[float, float]:
        """One optimiser step on the samples ``idx`` (fake-quantised weights when ``quant``);
        returns the batch's mean loss and number of correct predictions."""
        x = torch.from_numpy(self.data.inputs[idx]).to(device=self.device, dtype=torch.float32)
        y = self.labels[idx].to(self.device)
        cfg = self.cfg
        ws: list[torch.Tensor] = list(self.model.weights)
        bs = None if self.model.biases is None else list(self.model.biases)
        if quant and cfg.conv is not None:  # the kernels on the grid (pools folded in after)
            ws, bs = self.model.fake_quant_weights()
        elif quant:
            ws, bs = fake_quant_layers(ws, bs)
        track = needs_tracking(cfg.loss, cfg.spike_penalty)
        r = run_forward(
            ws, x, cfg, generator=self.fwd_gen, train=True, biases=bs, track=track, momentum_noise=self.noise
        )
        loss = total_loss(r, y, cfg.loss, cfg.loss_scale, cfg.spike_penalty)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        return float(loss.detach()), float((r.prediction == y).sum())


def _cnn(cfg: TrainConfig, data: SpikeDataset, generator):
    """The :class:`~neurosim.train.conv.SpikingCNN` of ``cfg.conv`` over the dataset's frames."""
    from neurosim.train.conv import SpikingCNN  # noqa: PLC0415
    from neurosim.train.conv_arch import ConvSpecError  # noqa: PLC0415

    try:
        return SpikingCNN(
            str(cfg.conv),
            data.input_shape,
            data.n_classes,
            lif_params(cfg),
            gain=cfg.init_gain,
            generator=generator,
            bias=cfg.bias,
        )
    except ConvSpecError as exc:
        raise TrainError(f"dataset {data.name!r}: {exc}") from None


def _quantised_result(
    cfg: TrainConfig,
    model: Any,  # SpikingMLP or SpikingCNN
    sizes: list[int],
    test_data: SpikeDataset,
    history: list[dict[str, float]],
    train_time: float,
    device: torch.device,
) -> TrainResult:
    """Quantise the trained weights, measure the test accuracy before and after, and build the result."""
    float_w = [w.detach().cpu().numpy().astype(np.float32) for w in model.weights]
    float_b = None if model.biases is None else [b.detach().cpu().numpy().astype(np.float32) for b in model.biases]
    qs = [quantize_layer(w, None if float_b is None else float_b[l]) for l, w in enumerate(float_w)]
    q_w, scales = [q for q, _, _ in qs], [s for _, _, s in qs]
    q_b = None if float_b is None else [np.asarray(b, np.float32) for _, b, _ in qs]
    conv = None
    if cfg.conv is not None:  # quantise the kernels (a pool folded into a matrix is not on its grid)
        q = model.quantized()
        q_w, scales, q_b = q["weights"], q["scales"], q["neuron_biases"]
        conv = {"spec": model.spec, "input_shape": model.input_shape, "params": q["params"], "biases": q["biases"]}
    acc_float = (
        evaluate(float_w, test_data, cfg, device=device, biases=float_b)["accuracy"] if len(test_data) else float("nan")
    )
    ev = (
        evaluate(q_w, test_data, cfg, device=device, biases=q_b)
        if len(test_data)
        else {"accuracy": float("nan"), "spikes_per_sample": 0.0}
    )
    meta = build_metadata(cfg, sizes, scales, test_data, ev, acc_float, train_time, device, history)
    if conv is not None:
        meta.update(architecture=model.architecture, conv=model.spec, input_shape=list(model.input_shape))
    return TrainResult(
        weights=q_w,
        scales=scales,
        test_accuracy=ev["accuracy"],
        test_accuracy_float=acc_float,
        train_time_s=train_time,
        history=history,
        config=cfg,
        metadata=meta,
        float_weights=float_w,
        biases=q_b,
        float_biases=float_b,
        conv=conv,
    )


def build_metadata(
    cfg: TrainConfig,
    sizes,
    scales,
    test_data: SpikeDataset,
    ev: dict,
    acc_float: float,
    train_time: float,
    device,
    history,
) -> dict[str, Any]:
    """The metadata exported with a trained model: provenance and forward, neuron model, data and
    test results, training."""
    return {
        **_forward_metadata(cfg, sum(sizes[1:])),
        **_neuron_metadata(cfg),
        **_evaluation_metadata(cfg, test_data, ev, acc_float),
        **_training_metadata(cfg, sizes, scales, history),
        "train_time_s": round(float(train_time), 2),
        "device": str(device),
        "threads": int(torch.get_num_threads()),
    }


def _forward_metadata(cfg: TrainConfig, n_neurons: int) -> dict[str, Any]:
    unl = cfg.mode == "unlayered"
    return {
        "trainer": "neurosim.train",
        "neurosim_version": __version__,
        "torch_version": torch.__version__,
        "paper": PAPER,
        "mode": cfg.mode,
        "scheduler": cfg.scheduler if unl else "none",
        "group_size": cfg.group_size if unl else 0,
        # -1: the default cap of the asynctorch options (none with refrac_dropout, neurons + inputs queued)
        "max_steps": int(cfg.max_steps)
        if cfg.max_steps is not None
        else (-1 if cfg.refrac_dropout > 0 or not cfg.prioritize_input else n_neurons),
        "stop_after_output": -1 if cfg.stop_after_output is None else int(cfg.stop_after_output),
        "backward": cfg.backward if unl else "none",
        "scheduler_scope": cfg.scheduler_scope if unl else "none",
        "scope_hw": str(cfg.hw) if unl and cfg.scheduler_scope == "core" else "",
        "scope_neurons_per_core": -1 if cfg.neurons_per_core is None else int(cfg.neurons_per_core),
    }


def _neuron_metadata(cfg: TrainConfig) -> dict[str, Any]:
    return {
        "dt": float(cfg.dt),
        "beta": float(np.float32(cfg.beta)),
        "threshold": float(cfg.threshold),
        "threshold_convention": ">=" if cfg.fire_equal else ">",
        "reset": "hard",
        "v_reset": 0.0,
        "bias": bool(cfg.bias),
        "refractory": "one spike per neuron per frame",
    }


def _evaluation_metadata(cfg: TrainConfig, test_data: SpikeDataset, ev: dict, acc_float: float) -> dict[str, Any]:
    encoding = {k: v for k, v in test_data.params.items() if k != "split"}
    if test_data.is_counts:  # `neurosim run` loads the test data with these values (absent: binary)
        encoding["values"] = "counts"
    return {
        "dataset": test_data.name,
        "encoding": encoding,
        "frames": int(test_data.n_frames),
        "data_seed": int(cfg.data_seed),
        "test_accuracy": float(ev["accuracy"]),
        "test_accuracy_float": float(acc_float),
        "test_spikes_per_sample": float(ev["spikes_per_sample"]),
        "n_test": int(len(test_data)),
        "eval_seed": int(cfg.seed),
    }


def _training_metadata(cfg: TrainConfig, sizes, scales, history) -> dict[str, Any]:
    return {
        "seed": int(cfg.seed),
        "epochs": int(cfg.epochs),
        "lr": float(cfg.lr),
        "batch_size": int(cfg.batch_size),
        "loss": DESCRIPTIONS[cfg.loss],
        "loss_name": cfg.loss,
        "loss_scale": float(cfg.loss_scale),
        "spike_penalty": float(cfg.spike_penalty),
        "weight_decay": float(cfg.weight_decay),
        "init_gain": float(cfg.init_gain),
        "surrogate": "arctan",
        "slope": float(cfg.slope),
        "input_dropout": float(cfg.input_dropout),
        "frame_dropout": float(cfg.frame_dropout),
        "refrac_dropout": float(cfg.refrac_dropout),
        "stop_on_output_frame": -1 if cfg.stop_on_output_frame is None else int(cfg.stop_on_output_frame),
        "prioritize_input": bool(cfg.prioritize_input),
        "spike_dropout": float(cfg.spike_dropout),
        "momentum_noise": float(cfg.momentum_noise),
        "noise_step_size": int(cfg.noise_step_size),
        "noise_gamma": float(cfg.noise_gamma),
        "qat_epochs": int(cfg.qat_epochs),
        "architecture": "-".join(str(s) for s in sizes),
        "sizes": [int(s) for s in sizes],
        "weight_bits": 8,
        "weight_scales": [float(s) for s in scales],
        "final_train_loss": float(history[-1]["loss"]) if history else float("nan"),
    }
