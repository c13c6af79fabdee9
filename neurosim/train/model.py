"""Spiking MLP forwards in torch: layered (layer-synchronous BPTT) and unlayered (the
asynchronous schedule in the loop, Koopman et al., TMLR 2025, arXiv 2408.05098).

Neuron semantics are those of :mod:`neurosim.neuron` (docs/design.md, "Neuron semantics"), in float32: LIF,
``v <- beta * v`` at the start of every frame (then ``v <- v + b`` with a per-neuron bias ``b``,
when the model has biases: two roundings, as :func:`neurosim.neuron.frame_start`), ``v <- v + I`` per integration,
a spike when ``v > threshold`` (strictly greater: NIR's convention, :func:`neurosim.neuron.fire`;
``LIFParams(fire_equal=True)`` fires at ``v >= threshold`` too, as ``NeuronParams.fire_equal``),
hard reset to 0, refractory for the rest of the frame (at most one spike per neuron per frame).
Dense layers have no bias by default. With biases (``biases=[b_1, ...]``, one per neuron of each
layer, exported as the NIR Affine bias) a neuron of a deeper layer can cross at step 0 on its bias
alone, before the frame's spikes from the layer below reach it, so the async schedule differs from
the layered one even with an unlimited group size. (asynctorch's ``nn.Linear`` layers add their
bias in every forward step in which the layer receives a spike, ``AsyncLayer.forward`` in
``asynctorch/nn/architecture/mixed_architecture.py``; neurosim and NIR add it once per frame.)

Neurons are numbered globally, layers concatenated in order (first hidden layer first, output
layer last); the input channels are not numbered. ``spikes[b, t, n]`` in a
:class:`ForwardResult` uses this numbering.

Layered (``forward_layered``), per frame ``t``, per layer ``l`` in order::

    v_l = v_l * beta ; [v_l = v_l + b_l] ; v_l = v_l + s_{l-1} @ W_l.T   (one add of the frame's current)
    s_l = (v_l > thr)                                 (arctan surrogate in backward)
    v_l = where(s_l, 0, v_l)

Unlayered (``forward_unlayered``), per frame:

(a) every neuron ``v = v * beta`` (then ``v = v + b`` with biases); refractory flags clear.
(b) step 0: the frame's input spikes reach layer 1 at once (``v = v + x_t @ W_1.T`` for
    non-refractory neurons); every non-refractory neuron with ``v > thr`` *crosses*: it becomes
    READY with priority ``v`` (the value at crossing), is reset to 0 and is refractory for the
    rest of the frame.
(c) each following step: the scheduler picks at most ``F`` READY neurons over all layers
    together: ``momentum`` = highest priority first, ties to the lower global index (a stable
    sort on ``-priority``); ``random`` = uniformly among the ready ones (seeded generator). The
    picked neurons are SENT; the currents of all spikes sent in the step are summed per target
    (``I = sent @ W.T``, one add per target: ``v = v + I`` for non-refractory targets), then
    every non-refractory neuron with ``v > thr`` crosses as in (b). Output neurons count as
    output spikes when they are sent.
(d) the frame ends when nothing is ready, or after ``max_steps`` send steps (neurons still ready
    then are dropped; they were already reset). Since every send step sends at least one neuron
    and a neuron crosses at most once per frame, a frame never needs more send steps than there
    are neurons: the default ``max_steps`` (the number of neurons) never truncates (asynctorch's
    options below change this: see :func:`forward_unlayered`).

Optionally (``stop_after_output=k``) a sample's inference ends ``k`` steps after the step in
which its first output spike is sent. Steps are counted per sample over the whole inference:
step 0 of every frame counts one, and every step in which the sample sends at least one spike
counts one. After the end the sample receives no input and sends nothing.

Scheduler details: ``momentum`` is implemented with exact float64 keys (the priority's float32
bit pattern times N+1, plus N-index), so the top-F selection equals a stable sort on
``-priority``; ``random`` draws one ``torch.rand(B, N)`` from the generator in every send step
in which some sample has more than F ready neurons and sends the F ready neurons with the largest
draws (samples with at most F ready send them all without drawing).

Training options (pass them only when training): ``input_dropout`` removes each input spike
with that probability; ``frame_dropout`` makes each hidden neuron refractory for a whole
frame with that probability (it neither integrates nor fires in that frame; its membrane only
leaks; formerly ``refractory_dropout``, a name now refused: asynctorch's refractory dropout is
``refrac_dropout``).

asynctorch's semantics (docs/asynctorch.md; unlayered): ``refrac_dropout=p`` (each crossing,
with probability ``p``, does not make the neuron refractory: it resets and may cross again in the
frame; its queued value adds up and a sent value ``k`` delivers ``k`` times its weights),
``stop_on_output_frame=K`` (per sample and frame: the frame ends ``K`` send steps after the step
that sent its first output spike; neurons still ready are dropped), ``prioritize_input=False``
(the input events join the ready queue, value = the event count, momentum priority 0, and are
sent ``F`` at a time with the neurons' spikes) and ``momentum_noise=lambda`` (momentum key =
priority + ``U[0, 1) * lambda``). ``x`` may hold event counts (current = counts @ W.T).

Gradients (both modes): the reset is not differentiated (``v <- 0`` cuts the path, as
snnTorch's detached reset). Layered: standard BPTT through the surrogate. Unlayered: through the
sent spikes (a sent spike is the surrogate spike function
evaluated at the membrane value at crossing) and the weights; the scheduler's choice is not
differentiated. A neuron that stays silent for a whole frame gets a surrogate gradient as in
layered BPTT from a *ghost pass* at the end of the frame: per layer in order,
``g_l = spike(v_l + g_{l-1} @ W_l.T) * silent_l`` with ``g_0 = 0``; ``g_l`` is exactly 0 in the
forward (silent neurons are below threshold), so the forward is unchanged bit for bit, and the
output layer's ``g`` is added (as 0) to the output counts. The ghost pass runs only when
gradients are recorded.

Readout: output spike counts summed over frames; prediction = argmax (first maximum on ties).
The losses (summed-count and per-frame cross-entropy, first spike, spike-count penalty) are in
:mod:`neurosim.train.losses`; :func:`count_loss` is the summed-count one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

SCHEDULERS = ("momentum", "random")
MODES = ("layered", "unlayered")


def _fires(v: torch.Tensor, threshold: float, fire_equal: bool = False) -> torch.Tensor:
    """float32 0/1 mask of the neurons that fire: ``v > threshold`` (``v >= threshold`` when
    ``fire_equal``), as :func:`neurosim.neuron.fire`."""
    out = torch.empty_like(v)
    return (torch.ge if fire_equal else torch.gt)(v, threshold, out=out)


class ArctanSpike(torch.autograd.Function):
    """Heaviside ``v > threshold`` forward (``v >= threshold`` when ``fire_equal``); arctan
    surrogate backward: ``d s / d v = (a / 2) / (1 + (pi / 2 * a * (v - threshold))**2)``
    (snnTorch's ``atan``), ``a`` the slope. The surrogate does not depend on the convention."""

    @staticmethod
    def forward(ctx, v, threshold: float, slope: float, fire_equal: bool = False):
        ctx.save_for_backward(v)
        ctx.threshold, ctx.slope = threshold, slope
        return _fires(v, threshold, fire_equal)

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        a = ctx.slope
        x = v - ctx.threshold
        return grad * (a / 2.0) / (1.0 + (math.pi / 2.0 * a * x) ** 2), None, None, None


def spike_fn(v: torch.Tensor, threshold: float = 1.0, slope: float = 2.0, fire_equal: bool = False) -> torch.Tensor:
    """The spikes of ``v`` (0/1 float32, ``v > threshold`` or, with ``fire_equal``, ``>=``) with
    the arctan surrogate gradient."""
    return ArctanSpike.apply(v, threshold, slope, fire_equal)


@dataclass(frozen=True)
class LIFParams:
    """Shared neuron parameters (every neuron of the network has the same)."""

    beta: float = 0.9  # decay per frame (float32 value is what counts)
    threshold: float = 1.0
    slope: float = 2.0  # arctan surrogate slope
    fire_equal: bool = False  # True: fire at v >= threshold (the pre-NIR convention), else v > threshold

    @property
    def beta32(self) -> float:
        return float(np.float32(self.beta))

    @property
    def threshold32(self) -> float:
        return float(np.float32(self.threshold))


@dataclass
class ForwardResult:
    """What a forward returns. ``counts``: output spikes summed over frames ``(B, n_out)``
    (carries the gradient). ``spikes``: ``(B, T, N)`` uint8 spikes sent per neuron per frame
    (global numbering) when recorded (int32 counts with ``refrac_dropout > 0``). ``steps``:
    ``(B, T)`` int32 number of send steps per frame after step 0 (unlayered, when recorded).
    ``n_spikes``: total spikes sent (all layers, all samples), a Python int. ``dropped``:
    neurons that crossed but were never sent because of the step cap (unlayered). With
    ``track=True``: ``frame_counts`` ``(B, T, n_out)``, the output spikes of every frame, and
    ``hidden_spikes`` ``(B,)``, the spikes of the hidden neurons per sample, both with their
    gradients (surrogate; the ghost pass's zeros included),
    for the per-frame losses and the spike-count penalty (:mod:`neurosim.train.losses`).
    ``send_steps``: ``(B, T, N)`` int32, the send step (1..) at which each neuron was sent in
    each frame, 0 when not sent (unlayered with the default ``backward="replay"``, when
    recorded; for the paper's metrics, :mod:`neurosim.train.metrics`)."""

    counts: torch.Tensor
    spikes: torch.Tensor | None = None
    steps: torch.Tensor | None = None
    n_spikes: int = 0
    dropped: int = 0
    frame_counts: torch.Tensor | None = None
    hidden_spikes: torch.Tensor | None = None
    send_steps: torch.Tensor | None = None

    @property
    def prediction(self) -> torch.Tensor:
        return self.counts.argmax(dim=1)


def count_loss(counts: torch.Tensor, labels: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Cross-entropy of the output spike counts used as logits, ``CE(scale * counts, labels)``
    (mean over the batch); ``scale`` < 1 softens the softmax when there are many frames."""
    return torch.nn.functional.cross_entropy(counts * scale, labels)


def _layer_sizes(weights) -> list[int]:
    sizes = [int(weights[0].shape[1])] + [int(w.shape[0]) for w in weights]
    for l, w in enumerate(weights):
        if int(w.shape[1]) != sizes[l]:
            raise ValueError(
                f"layer {l + 1}: weight shape {tuple(w.shape)} does not follow a layer of {sizes[l]} neurons"
            )
    return sizes


def _bernoulli_mask(shape, p: float, device, generator) -> torch.Tensor:
    """Boolean mask, True with probability ``p`` (one ``torch.rand`` draw)."""
    return torch.rand(shape, device=device, generator=generator) < p


def _dropout_mask(shape, p: float, device, generator) -> torch.Tensor | None:
    """Boolean mask, True with probability ``p`` (None when ``p`` is 0)."""
    if p <= 0:
        return None
    return _bernoulli_mask(shape, p, device, generator)


def _input_current(weights, x: torch.Tensor, input_dropout: float, generator) -> torch.Tensor:
    """The first layer's currents of all frames in one matmul, ``(B, T, n1)`` (the bulk of the
    work), after removing each input spike with probability ``input_dropout``."""
    return torch.nn.functional.linear(_dropped_input(x, input_dropout, generator), weights[0])


def _dropped_input(x: torch.Tensor, input_dropout: float, generator) -> torch.Tensor:
    """``x`` with each input entry (a spike, or a channel's event count) removed with
    probability ``input_dropout`` (one ``torch.rand`` draw)."""
    if input_dropout > 0:
        x = x * (~_bernoulli_mask(x.shape, input_dropout, x.device, generator)).to(torch.float32)
    return x


def _check_biases(biases, sizes: list[int]) -> list[torch.Tensor] | None:
    """``biases`` (None, or one ``(n,)`` tensor per layer) checked against the layer sizes."""
    if biases is None:
        return None
    biases = list(biases)
    if len(biases) != len(sizes) - 1 or any(tuple(b.shape) != (n,) for b, n in zip(biases, sizes[1:])):
        raise ValueError(
            f"biases {[tuple(b.shape) for b in biases]} do not match the layers {sizes[1:]}: "
            "one per neuron of each layer"
        )
    return biases


def _refuse_old_dropout(value) -> None:
    """``refractory_dropout`` was renamed: refused rather than guessing which option is meant."""
    if value is not None:
        raise ValueError(
            "refractory_dropout was renamed: use frame_dropout (a hidden neuron sits out the whole frame) or "
            "refrac_dropout (asynctorch's: a crossing leaves the neuron non-refractory with that probability)"
        )


def forward_layered(
    weights,
    x: torch.Tensor,
    params: LIFParams = LIFParams(),
    *,
    record: bool = False,
    input_dropout: float = 0.0,
    frame_dropout: float = 0.0,
    generator: torch.Generator | None = None,
    biases=None,
    track: bool = False,
    spike_dropout: float = 0.0,
    refractory_dropout: float | None = None,
) -> ForwardResult:
    """Layer-synchronous forward over ``x`` of shape ``(B, T, C)`` (0/1 float32, or event
    counts per channel and frame: the current is ``counts @ W.T``).

    ``weights[l]`` has shape ``(n_out, n_in)``; ``biases[l]`` (None: no bias) ``(n_out,)``,
    added after the leak once per frame. Dropouts apply only when > 0 (use them only in
    training): ``input_dropout`` removes each input spike with that probability;
    ``frame_dropout`` makes each hidden neuron refractory for a whole frame (it neither
    integrates nor fires; its membrane only leaks) with that probability (``refractory_dropout``,
    its old name, is refused). ``track``: fill
    ``frame_counts`` and ``hidden_spikes`` (see :class:`ForwardResult`). ``spike_dropout``
    (training only): each spike of every layer is, with that probability, not passed on (the
    neuron still resets; asynctorch's network spike dropout).
    """
    if not (0.0 <= spike_dropout < 1.0):
        raise ValueError(f"spike_dropout must be in [0, 1), got {spike_dropout!r}")
    _refuse_old_dropout(refractory_dropout)
    sizes = _layer_sizes(weights)
    bs = _check_biases(biases, sizes)
    B, T, _ = x.shape
    dev, dt = x.device, torch.float32
    beta = torch.tensor(params.beta32, dtype=dt, device=dev)
    thr, slope, eq = params.threshold32, params.slope, params.fire_equal
    L = len(weights)
    v = [torch.zeros(B, n, dtype=dt, device=dev) for n in sizes[1:]]
    counts = torch.zeros(B, sizes[-1], dtype=dt, device=dev)
    rec: list[torch.Tensor] = []
    n_spikes = torch.zeros((), dtype=torch.int64, device=dev)
    cur_in = _input_current(weights, x, input_dropout, generator).unbind(1)
    outs: list[torch.Tensor] = []
    hidden = torch.zeros(B, dtype=dt, device=dev) if track else None
    for t in range(T):
        h: torch.Tensor | None = None  # the previous layer's spikes (None for the first layer)
        frame = []
        for l in range(L):
            v[l] = v[l] * beta
            cur = cur_in[t] if h is None else torch.nn.functional.linear(h, weights[l])
            drop = _dropout_mask((B, sizes[l + 1]), frame_dropout, dev, generator) if l < L - 1 else None
            if drop is None:
                if bs is not None:
                    v[l] = v[l] + bs[l]
                v[l] = v[l] + cur
                s = spike_fn(v[l], thr, slope, eq)
            else:
                vb = v[l] if bs is None else v[l] + bs[l]
                v[l] = torch.where(drop, v[l], vb + cur)
                s = spike_fn(v[l], thr, slope, eq) * (~drop).to(dt)
            fired = s.detach() > 0
            v[l] = torch.where(fired, torch.zeros((), dtype=dt, device=dev), v[l])
            if spike_dropout > 0:  # the neuron resets; the spike is not passed on
                keep = ~_bernoulli_mask((B, sizes[l + 1]), spike_dropout, dev, generator)
                s, fired = s * keep.to(dt), fired & keep
            n_spikes = n_spikes + fired.sum()
            if record:
                frame.append(fired)
            if hidden is not None and l < L - 1:
                hidden = hidden + s.sum(dim=1)
            h = s
        counts = counts + s  # the output layer's spikes
        if track:
            outs.append(s)
        if record:
            rec.append(torch.cat(frame, dim=1).to(torch.uint8))
    spikes = torch.stack(rec, dim=1) if record else None
    frame_counts = _stack_frames(outs, B, sizes[-1], dev) if track else None
    return ForwardResult(
        counts=counts, spikes=spikes, n_spikes=int(n_spikes), frame_counts=frame_counts, hidden_spikes=hidden
    )


def _stack_frames(outs: list[torch.Tensor], B: int, n_out: int, device) -> torch.Tensor:
    """The per-frame output spikes ``(B, T, n_out)`` (``(B, 0, n_out)`` without frames)."""
    if not outs:
        return torch.zeros(B, 0, n_out, dtype=torch.float32, device=device)
    return torch.stack(outs, dim=1)


def _block_matrix(weights, sizes) -> torch.Tensor:
    """Global feed-forward matrix ``G[target, source]`` over the non-input neurons: block
    ``W_{l+1}`` maps layer ``l`` to layer ``l+1``; layer 1's rows (fed by the input) are zero."""
    N = sum(sizes[1:])
    offs = np.concatenate([[0], np.cumsum(sizes[1:])]).tolist()
    ref = weights[0]
    rows = [ref.new_zeros(sizes[1], N)]
    for l in range(1, len(weights)):
        w = weights[l]
        rows.append(torch.cat([w.new_zeros(w.shape[0], offs[l - 1]), w, w.new_zeros(w.shape[0], N - offs[l])], dim=1))
    return torch.cat(rows, dim=0)


def forward_unlayered(
    weights,
    x: torch.Tensor,
    params: LIFParams = LIFParams(),
    *,
    group_size: int = 8,
    scheduler: str = "momentum",
    max_steps: int | None = None,
    stop_after_output: int | None = None,
    generator: torch.Generator | None = None,
    record: bool = False,
    input_dropout: float = 0.0,
    frame_dropout: float = 0.0,
    ghost: bool | None = None,
    backward: str = "replay",
    biases=None,
    track: bool = False,
    cores=None,
    spike_dropout: float = 0.0,
    refrac_dropout: float = 0.0,
    stop_on_output_frame: int | None = None,
    prioritize_input: bool = True,
    momentum_noise: float = 0.0,
    refractory_dropout: float | None = None,
) -> ForwardResult:
    """Asynchronous (unlayered) forward over ``x`` of shape ``(B, T, C)``; see the module doc.

    ``generator`` drives the ``random`` scheduler and the dropouts (seed it for
    reproducibility). ``ghost``: run the end-of-frame ghost pass (default: when gradients are
    enabled). Vectorised over the batch: the loops are over frames and send steps only.

    ``backward``: how the gradient graph is built (the forward is the same either way).
    ``"replay"`` (default) runs the scheduler without autograd, recording for every neuron the
    step at which it crossed and the step at which it was sent, then replays each frame layer by
    layer with the currents of all send steps in one matmul and a cumulative sum (the membrane at
    crossing is the leaked start value plus the currents of the steps up to the crossing step).
    ``"steps"`` records autograd through every send step. Both give the same gradients up to
    float rounding of the surrogate's argument; "replay" is several times faster. ``"bptt"``
    (:class:`BpttForward`): asynctorch's estimator, autograd through every send step with
    the reset keeping its gradient (the same forward).

    ``cores`` (a :class:`neurosim.train.core_schedule.CoreScope`, None: the global scope): every
    core sends at most its issue width of its own ready neurons per send step (``group_size`` is
    then not used). ``spike_dropout`` (training only): each new crossing is, with that
    probability, not sent (the neuron is still reset and refractory; asynctorch's network spike
    dropout).

    ``biases`` (None: no bias): one ``(n,)`` tensor per layer, added after the leak once per frame
    (before step 0, so a neuron of any layer may cross at step 0). ``track``: fill
    ``frame_counts`` and ``hidden_spikes`` (see :class:`ForwardResult`).

    asynctorch's options (docs/asynctorch.md): ``refrac_dropout`` (a crossing leaves the neuron
    non-refractory with that probability; ``ForwardResult.spikes`` then counts the spikes sent per
    neuron and frame, int32), ``stop_on_output_frame`` (K), ``prioritize_input`` (False: queued
    input events) and ``momentum_noise`` (momentum only). With ``refrac_dropout > 0`` or queued
    input, ``"replay"`` (which replays one crossing per neuron and frame, the input at step 0)
    builds the ``"steps"`` graph instead: the same forward and gradients, slower. ``max_steps``
    defaults to the number of neurons (plus the input channels with queued input), which never
    truncates a frame; with ``refrac_dropout > 0`` to no cap (a feed-forward frame always ends).
    """
    _refuse_old_dropout(refractory_dropout)
    _check_asynctorch_options(refrac_dropout, stop_on_output_frame, prioritize_input, momentum_noise, scheduler)
    if cores is not None and (not prioritize_input or momentum_noise > 0):
        raise ValueError("queued input and momentum_noise are global-scope options here; pass cores=None")
    if scheduler not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {scheduler!r}; use one of {SCHEDULERS}")
    if int(group_size) < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    if max_steps is not None and int(max_steps) < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")
    if backward not in ("replay", "steps", "bptt"):
        raise ValueError(f"backward must be 'replay', 'steps' or 'bptt', got {backward!r}")
    if not (0.0 <= spike_dropout < 1.0):
        raise ValueError(f"spike_dropout must be in [0, 1), got {spike_dropout!r}")
    if cores is not None:
        cores.check(sum(_layer_sizes(weights)[1:]))
    if ghost is None:
        ghost = torch.is_grad_enabled()
    opts = _UnlayeredOptions(
        group_size=int(group_size),
        scheduler=scheduler,
        max_steps=max_steps,
        stop_after_output=stop_after_output,
        generator=generator,
        record=record,
        input_dropout=input_dropout,
        frame_dropout=frame_dropout,
        ghost=ghost,
        biases=None if biases is None else tuple(_check_biases(biases, _layer_sizes(weights)) or ()),
        track=bool(track),
        cores=cores,
        spike_dropout=float(spike_dropout),
        refrac_dropout=float(refrac_dropout),
        stop_on_output_frame=None if stop_on_output_frame is None else int(stop_on_output_frame),
        prioritize_input=bool(prioritize_input),
        momentum_noise=float(momentum_noise),
    )
    if backward == "replay" and (opts.refrac_dropout > 0 or not opts.prioritize_input):
        backward = "steps"  # the replay cannot express these (see above)
    if backward == "bptt":
        return _unlayered_steps(weights, x, params, opts, BpttForward)
    if backward == "steps":
        return _unlayered_steps(weights, x, params, opts)
    params_all = list(weights) + list(opts.biases or ())
    needs_grad = torch.is_grad_enabled() and any(w.requires_grad for w in params_all)
    return _unlayered_replay(weights, x, params, opts, needs_grad=needs_grad)


@dataclass(frozen=True)
class _UnlayeredOptions:
    """The options of an unlayered forward, shared by both gradient strategies (see
    :func:`forward_unlayered`; ``ghost`` is resolved, ``group_size`` an int)."""

    group_size: int
    scheduler: str
    max_steps: int | None
    stop_after_output: int | None
    generator: torch.Generator | None
    record: bool
    input_dropout: float
    frame_dropout: float
    ghost: bool
    biases: tuple[torch.Tensor, ...] | None = None  # one (n,) per layer, with their gradients
    track: bool = False  # frame_counts and hidden_spikes
    cores: object = None  # a neurosim.train.core_schedule.CoreScope: the per-core scope
    spike_dropout: float = 0.0  # probability that a new crossing is not sent
    refrac_dropout: float = 0.0  # asynctorch: probability that a crossing does not set refractory
    stop_on_output_frame: int | None = None  # asynctorch StopOnOutputExtension, per sample and frame
    prioritize_input: bool = True  # False: the input events are queued with the neurons' spikes
    momentum_noise: float = 0.0  # asynctorch MomentumSpikeScheduler lambda

    def bias_vector(self) -> torch.Tensor | None:
        """The biases of all neurons in the global numbering ``(N,)`` (None without biases)."""
        return None if self.biases is None else torch.cat(list(self.biases))


@dataclass(frozen=True)
class _Net:
    """Shapes and neuron constants of one unlayered forward (global numbering, see the module doc)."""

    sizes: list[int]  # [n_in, h_1, ..., n_out]
    B: int  # batch
    T: int  # frames
    device: torch.device
    N: int  # neurons (the input channels are not neurons)
    n1: int  # neurons of the first layer
    n_out: int  # output neurons
    out0: int  # global index of the first output neuron
    offs: list[int]  # layer l holds the neurons offs[l]:offs[l + 1]
    F: int  # group size, at most N
    cap: int  # send steps per frame
    beta: torch.Tensor  # float32 scalar
    thr: float
    slope: float
    fire_equal: bool  # fire at v >= thr (else v > thr)
    hidden: torch.Tensor  # (N,) bool: True for the hidden neurons

    @property
    def L(self) -> int:
        """Number of layers (weight matrices)."""
        return len(self.sizes) - 1


def _unlayered_net(weights, x: torch.Tensor, params: LIFParams, opts: _UnlayeredOptions) -> _Net:
    sizes = _layer_sizes(weights)
    B, T, _ = x.shape
    dev = x.device
    N, n_out = sum(sizes[1:]), sizes[-1]
    hidden = torch.zeros(N, dtype=torch.bool, device=dev)
    hidden[: N - n_out] = True
    return _Net(
        sizes=sizes,
        B=B,
        T=T,
        device=dev,
        N=N,
        n1=sizes[1],
        n_out=n_out,
        out0=N - n_out,
        offs=np.concatenate([[0], np.cumsum(sizes[1:])]).tolist(),
        F=min(opts.group_size, N + (0 if opts.prioritize_input else sizes[0])),
        cap=_default_cap(N, sizes[0], opts),
        beta=torch.tensor(params.beta32, dtype=torch.float32, device=dev),
        thr=params.threshold32,
        slope=params.slope,
        fire_equal=bool(params.fire_equal),
        hidden=hidden,
    )


def _default_cap(N: int, C: int, opts: _UnlayeredOptions) -> int:
    """The send steps per frame: ``max_steps``, or by default one per neuron (and per input
    channel with queued input), which never truncates a frame; with ``refrac_dropout`` no cap."""
    if opts.max_steps is not None:
        return int(opts.max_steps)
    if opts.refrac_dropout > 0:
        return 2**62
    return N + (0 if opts.prioritize_input else C)


def _check_asynctorch_options(refrac, stop_k, prioritize_input, noise, scheduler) -> None:
    """The asynctorch options' values (a ``ValueError`` naming the option when one is wrong)."""
    if not (0.0 <= refrac <= 1.0):
        raise ValueError(f"refrac_dropout must be in [0, 1], got {refrac!r}")
    if stop_k is not None and (isinstance(stop_k, bool) or int(stop_k) != stop_k or stop_k < 0):
        raise ValueError(f"stop_on_output_frame must be an integer >= 0, got {stop_k!r}")
    if not isinstance(prioritize_input, bool):
        raise ValueError(f"prioritize_input must be True or False, got {prioritize_input!r}")
    if not (noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"momentum_noise must be a non-negative number, got {noise!r}")
    if noise > 0 and scheduler != "momentum":
        raise ValueError(f"momentum_noise perturbs momentum priorities; scheduler {scheduler!r} has none")


def _pad_current(cur: torch.Tensor, net: _Net) -> torch.Tensor:
    """The first layer's current ``(B, n1)`` widened to all neurons (zeros for the other layers)."""
    if net.N > net.n1:
        cur = torch.cat([cur, cur.new_zeros(net.B, net.N - net.n1)], dim=1)
    return cur


class _Stopper:
    """``stop_after_output=k`` (see the module doc): the steps counted per sample, the step at
    which each sample sent its first output spike (-1: none yet), and which samples still run."""

    def __init__(self, k: int, B: int, device: torch.device) -> None:
        self.k = k
        self.alive = torch.ones(B, dtype=torch.bool, device=device)
        self.sample_step = torch.zeros(B, dtype=torch.int64, device=device)
        self.first_out = torch.full((B,), -1, dtype=torch.int64, device=device)

    def count(self, stepped: torch.Tensor) -> None:
        """Count one step for the samples where ``stepped`` (bool per sample) is True."""
        self.sample_step = self.sample_step + stepped.to(torch.int64)

    def output_sent(self, got: torch.Tensor) -> None:
        """The samples that sent an output spike in this step (``got``, bool per sample)."""
        got = got & (self.first_out < 0)
        self.first_out = torch.where(got, self.sample_step, self.first_out)

    def update(self) -> None:
        """End the samples that are ``k`` steps past their first output spike."""
        done = (self.first_out >= 0) & (self.sample_step >= self.first_out + self.k)
        self.alive = self.alive & ~done


def _spike_kept(net: _Net, opts: _UnlayeredOptions) -> torch.Tensor:
    """Network spike dropout: ``(B, N)`` bool, True for the crossings that are sent (one
    ``torch.rand`` draw per integration, probability ``1 - opts.spike_dropout``)."""
    return ~_bernoulli_mask((net.B, net.N), opts.spike_dropout, net.device, opts.generator)


def _stopper(opts: _UnlayeredOptions, net: _Net) -> _Stopper | None:
    if opts.stop_after_output is None:
        return None
    return _Stopper(int(opts.stop_after_output), net.B, net.device)


class _Gate(torch.autograd.Function):
    """Forward: ``value`` (given, no gradient). Backward: ``grad * gate * surrogate'(v)``.
    Carries the surrogate gradient of a spike whose forward value the scheduler decided."""

    @staticmethod
    def forward(ctx, v, value, gate, threshold: float, slope: float):
        ctx.save_for_backward(v, gate)
        ctx.threshold, ctx.slope = threshold, slope
        return value.clone()

    @staticmethod
    def backward(ctx, grad):
        v, gate = ctx.saved_tensors
        a = ctx.slope
        x = v - ctx.threshold
        return grad * gate * (a / 2.0) / (1.0 + (math.pi / 2.0 * a * x) ** 2), None, None, None, None


def _mask(cond: torch.Tensor) -> torch.Tensor:
    """bool -> float32 0/1 (through uint8: much faster than ``.float()`` on some CPUs)."""
    return cond.view(torch.uint8).to(torch.float32)


def _ge(v: torch.Tensor, thr: float) -> torch.Tensor:
    """float32 0/1 mask of ``v >= thr``."""
    out = torch.empty_like(v)
    return torch.ge(v, thr, out=out)


def _pick(score: torch.Tensor, ready: torch.Tensor, F: int) -> torch.Tensor:
    """0/1 mask of the (at most) ``F`` ready entries with the largest ``score`` per row.
    ``score`` is positive (and distinct per row for momentum); ``ready`` is a 0/1 float mask."""
    key = score * ready.to(score.dtype)  # non-ready -> 0, below every ready key
    order = torch.topk(key, F, dim=1, sorted=False).indices
    picked = torch.zeros_like(ready)
    picked.scatter_(1, order, 1.0)
    return picked * ready


def _unlayered_replay(
    weights, x: torch.Tensor, params: LIFParams, opts: _UnlayeredOptions, *, needs_grad: bool
) -> ForwardResult:
    """The schedule without autograd (float 0/1 masks, in-place updates), then, when gradients
    are needed, a replay of the recorded schedule with autograd, frame by frame and layer by
    layer (see :func:`forward_unlayered`)."""
    net = _unlayered_net(weights, x, params, opts)
    schedule = _Schedule(weights, net, opts)
    cur_in = _input_current(weights, x, opts.input_dropout, opts.generator)  # (B, T, n1)
    with torch.no_grad():
        schedule.run(cur_in.detach())
    spikes, steps = schedule.recorded()
    frame_counts = hidden = None
    if needs_grad:
        replay = _Replay(weights, net, opts.ghost, opts.biases, opts.track)
        counts = replay.run(cur_in, schedule.frames)
        if opts.track:
            frame_counts, hidden = _stack_frames(replay.outs, net.B, net.n_out, net.device), replay.hidden
    else:
        counts = schedule.counts
        if opts.track:
            frame_counts, hidden = _stack_frames(schedule.outs, net.B, net.n_out, net.device), schedule.hidden
    return ForwardResult(
        counts=counts,
        spikes=spikes,
        steps=steps,
        n_spikes=schedule.n_spikes,
        dropped=schedule.dropped,
        frame_counts=frame_counts,
        hidden_spikes=hidden,
        send_steps=torch.stack([f.sent for f in schedule.frames], 1).to(torch.int32) if opts.record else None,
    )


@dataclass
class _FrameRecord:
    """One scheduled frame, as the replay needs it: ``cross`` (per neuron: step + 1 at crossing,
    0 when it did not cross), ``sent`` (step at sending, 0 when not sent), ``blocked`` (the
    frame-dropout mask, or None), ``alive`` (the samples running at the frame start, or
    None without ``stop_after_output``) and ``K`` (the number of send steps)."""

    cross: torch.Tensor
    sent: torch.Tensor
    blocked: torch.Tensor | None
    alive: torch.Tensor | None
    K: int


@dataclass
class _ScheduleFrame:
    """The schedule's state within a frame (float 0/1 masks, ``(B, N)``)."""

    nref: torch.Tensor  # 1 = may integrate/fire (not refractory)
    prio: torch.Tensor  # membrane at crossing (0 for the neurons that did not cross)
    ready: torch.Tensor
    cross: torch.Tensor  # step + 1 at crossing
    sent: torch.Tensor  # step at sending
    steps: torch.Tensor | None  # (B,) int32 send steps per sample, when recording


class _Schedule:
    """The unlayered schedule without autograd (float 0/1 masks, in-place updates): the spikes,
    counts and statistics of the forward, and a :class:`_FrameRecord` per frame for the replay.

    Momentum keys (float64, exact): the float32 bits of the priority read as an integer (its
    order is the float order for positive floats; made order-preserving and positive when the
    threshold is not positive), times N+1, plus N-index: distinct, highest priority first and
    ties to the lower index; non-ready entries get key 0, below every ready key."""

    def __init__(self, weights, net: _Net, opts: _UnlayeredOptions) -> None:
        N, dev = net.N, net.device
        if N >= 2**20:
            raise ValueError(f"{N} neurons: the exact momentum keys support fewer than 2**20")
        self.net, self.opts = net, opts
        self.wd = [w.detach() for w in weights]
        self.tie = (N - torch.arange(N, device=dev)).to(torch.float64)  # N .. 1
        self.n_plus_1 = torch.tensor(float(N + 1), dtype=torch.float64, device=dev)
        self.positive_thr = net.thr > 0  # then every priority is > 0
        self.v = torch.zeros(net.B, N, dtype=torch.float32, device=dev)
        self.stop = _stopper(opts, net)
        self.frames: list[_FrameRecord] = []
        self.rec_spikes: list[torch.Tensor] = []
        self.rec_steps: list[torch.Tensor] = []
        self.n_spikes = 0
        self.dropped = 0
        self.counts = torch.zeros(net.B, net.n_out, dtype=torch.float32, device=dev)
        bias = opts.bias_vector()
        self.bias = None if bias is None else bias.detach()
        self.outs: list[torch.Tensor] = []  # per-frame output spikes, when tracking
        self.hidden = torch.zeros(net.B, dtype=torch.float32, device=dev)  # hidden spikes per sample

    def run(self, cur_in: torch.Tensor) -> None:
        """Schedule every frame; ``cur_in``: the first layer's currents ``(B, T, n1)``."""
        for t in range(self.net.T):
            self._frame(cur_in[:, t])

    def recorded(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``(spikes, steps)`` as in :class:`ForwardResult` (None, None unless recording)."""
        if not self.opts.record:
            return None, None
        return torch.stack(self.rec_spikes, dim=1), torch.stack(self.rec_steps, dim=1)

    def _frame(self, cur: torch.Tensor) -> None:
        net, stop = self.net, self.stop
        self.v = self.v * net.beta
        blocked, nref = self._refractory()
        if self.bias is not None:  # after the leak, once per frame (not for dropped-out or stopped samples)
            mult = None if blocked is None else 1.0 - blocked
            if stop is not None:
                am = _mask(stop.alive).unsqueeze(1)
                mult = am if mult is None else mult * am
            self.v = self.v + (self.bias if mult is None else self.bias * mult)
        alive = stop.alive.clone() if stop is not None else None
        if stop is not None:
            cur = cur * _mask(stop.alive).unsqueeze(1)
        fr = self._step0(_pad_current(cur, net), nref)
        if stop is not None:
            stop.count(stop.alive)
        K = self._send_steps(fr)
        self._end_frame(fr, _FrameRecord(fr.cross, fr.sent, blocked, alive, K))

    def _refractory(self) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``(blocked, nref)`` at the frame start: the frame-dropout mask (None without
        it) and the 0/1 mask of the neurons that may integrate/fire."""
        net = self.net
        if self.opts.frame_dropout > 0:
            drop = _bernoulli_mask((net.B, net.N), self.opts.frame_dropout, net.device, self.opts.generator)
            blocked = _mask(drop & net.hidden)
            return blocked, 1.0 - blocked
        return None, torch.ones(net.B, net.N, dtype=torch.float32, device=net.device)

    def _integrate(
        self, cur: torch.Tensor, nref: torch.Tensor, prio: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``v + I`` for the non-refractory neurons, then every non-refractory neuron with
        ``v > thr`` (``>=`` with ``fire_equal``) crosses: its priority is ``v`` (added to
        ``prio``, which is 0 there, or a new ``prio`` when None), it is reset to 0 and
        refractory. Returns ``(new, prio)``, ``new`` the 0/1 mask of the neurons that crossed."""
        self.v = torch.addcmul(self.v, cur, nref)  # v + I, non-refractory only
        new = _fires(self.v, self.net.thr, self.net.fire_equal) * nref
        if prio is None:
            prio = self.v * new
        else:
            prio.addcmul_(self.v, new)  # prio was 0 for these
        self.v.mul_(1.0 - new)  # hard reset to 0
        nref.sub_(new)
        return new, prio

    def _step0(self, cur: torch.Tensor, nref: torch.Tensor) -> _ScheduleFrame:
        """Step 0: the frame's input current reaches the first layer at once."""
        net = self.net
        new, prio = self._integrate(cur, nref, None)
        return _ScheduleFrame(
            nref=nref,
            prio=prio,
            ready=self._kept(new),
            cross=new.clone(),
            sent=torch.zeros(net.B, net.N, dtype=torch.float32, device=net.device),
            steps=torch.zeros(net.B, dtype=torch.int32, device=net.device) if self.opts.record else None,
        )

    def _send_steps(self, fr: _ScheduleFrame) -> int:
        """The send steps of a frame (until nothing is ready or the cap); returns their number."""
        net, stop = self.net, self.stop
        step = 0
        K = self.opts.stop_on_output_frame
        first = None if K is None else torch.full((net.B,), -1, dtype=torch.int64, device=net.device)
        while step < net.cap:
            n_ready = fr.ready.sum(dim=1)
            most = int(n_ready.max()) if net.B else 0
            if most == 0:
                break
            step += 1
            picked = self._pick_group(fr, most)
            fr.sent.add_(picked, alpha=step)
            self._count_step(fr, n_ready, picked)
            if net.out0 > 0:
                new, _ = self._integrate(self._sent_current(picked), fr.nref, fr.prio)
                fr.ready = fr.ready + self._kept(new)
                fr.cross.add_(new, alpha=step + 1)
            if first is not None and K is not None:
                self._cut_frame(fr, first, picked, step, K)
            if stop is not None:
                stop.update()
                fr.ready = fr.ready * _mask(stop.alive).unsqueeze(1)
        return step

    def _cut_frame(self, fr: _ScheduleFrame, first: torch.Tensor, picked: torch.Tensor, step: int, K: int) -> None:
        """``stop_on_output_frame=K``: ``first`` (per sample, updated in place) is the send step
        of the frame's first output spike (-1: none yet); a sample ``K`` steps past it ends its
        frame: its ready neurons are dropped."""
        got = (picked[:, self.net.out0 :].sum(dim=1) > 0) & (first < 0)
        first.masked_fill_(got, step)
        cut = (first >= 0) & (first + K <= step)
        if bool(cut.any()):
            gone = _mask(cut).unsqueeze(1)
            self.dropped += int((fr.ready * gone).sum())
            fr.ready = fr.ready * (1.0 - gone)

    def _kept(self, new: torch.Tensor) -> torch.Tensor:
        """The crossings ``new`` (0/1) that are sent later: all, or those network spike dropout keeps."""
        if self.opts.spike_dropout <= 0:
            return new
        return new * _mask(_spike_kept(self.net, self.opts))

    def _pick_group(self, fr: _ScheduleFrame, most: int) -> torch.Tensor:
        """The 0/1 mask of the neurons sent in this step (removed from ``fr.ready``); ``most``:
        the largest number of ready neurons of a sample."""
        if self.opts.cores is not None:  # per-core scope (neurosim.train.core_schedule)
            picked = self.opts.cores.pick(lambda: self._score(fr.prio), fr.ready)  # type: ignore[attr-defined]
            fr.ready = fr.ready - picked
            return picked
        if most > self.net.F:
            picked = _pick(self._score(fr.prio), fr.ready, self.net.F)
            fr.ready = fr.ready - picked
        else:
            picked, fr.ready = fr.ready, torch.zeros_like(fr.ready)
        return picked

    def _score(self, prio: torch.Tensor) -> torch.Tensor:
        """The scheduler's float64 keys (positive; the largest are sent first)."""
        if self.opts.scheduler == "momentum" and self.opts.momentum_noise > 0:
            net = self.net  # priority + U[0, 1) * lambda, the draw as in _StepwiseForward._top
            u = torch.rand(net.B, net.N, device=net.device, generator=self.opts.generator)
            key = prio.to(torch.float64) + u.to(torch.float64) * self.opts.momentum_noise
            return key - key.min(dim=1, keepdim=True).values + 1.0
        if self.opts.scheduler == "momentum":
            bits = prio.view(torch.int32)
            if not self.positive_thr:
                bits = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits).to(torch.float64) + 2.0**31
            return torch.addcmul(self.tie, bits.to(torch.float64), self.n_plus_1)
        net = self.net
        return torch.rand(net.B, net.N, device=net.device, generator=self.opts.generator).to(torch.float64) + 1.0

    def _count_step(self, fr: _ScheduleFrame, n_ready: torch.Tensor, picked: torch.Tensor) -> None:
        """Count the step for the samples that sent a spike in it (recorded steps, stopping)."""
        if fr.steps is None and self.stop is None:
            return
        had = n_ready > 0
        if fr.steps is not None:
            fr.steps += had.to(torch.int32)
        if self.stop is not None:
            self.stop.count(had)
            self.stop.output_sent(picked[:, self.net.out0 :].sum(dim=1) > 0)

    def _sent_current(self, picked: torch.Tensor) -> torch.Tensor:
        """The currents of the spikes sent in a step, summed per target, ``(B, N)`` (the first
        layer receives none)."""
        net = self.net
        parts = [self.v.new_zeros(net.B, net.n1)]
        for l in range(1, net.L):
            parts.append(torch.nn.functional.linear(picked[:, net.offs[l - 1] : net.offs[l]], self.wd[l]))
        return torch.cat(parts, dim=1)

    def _end_frame(self, fr: _ScheduleFrame, record: _FrameRecord) -> None:
        self.dropped += int(fr.ready.sum())
        if self.stop is not None:
            self.stop.update()
        was_sent = fr.sent > 0
        self.n_spikes += int(was_sent.sum())
        self.counts += _mask(was_sent[:, self.net.out0 :])
        if self.opts.track:
            self.outs.append(_mask(was_sent[:, self.net.out0 :]))
            self.hidden += _mask(was_sent[:, : self.net.out0]).sum(dim=1)
        self.frames.append(record)
        if fr.steps is not None:  # recording
            self.rec_spikes.append(was_sent.to(torch.uint8))
            self.rec_steps.append(fr.steps)


def _membrane_at_crossing(
    base: torch.Tensor, cur: torch.Tensor | None, crossed: torch.Tensor, blocked: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(v_at, silent)`` of a layer in the replay: the membrane at crossing (the leaked start
    value ``base`` plus the integrated current ``cur``, None for none) and the 0/1 mask of the
    neurons that neither crossed nor were dropped out (``blocked``)."""
    if blocked is not None:
        v_at = base if cur is None else base + cur * (1.0 - blocked)
        silent = 1.0 - crossed - blocked
    else:
        v_at = base if cur is None else base + cur
        silent = 1.0 - crossed
    return v_at, silent


class _Replay:
    """The recorded schedule replayed with autograd, frame by frame and layer by layer. The
    membrane of a neuron of layer l >= 2 at its crossing step c is the leaked start value plus
    the currents of send steps 1..c (all steps when it stays silent). Masks are float 0/1."""

    def __init__(
        self, weights, net: _Net, ghost: bool, biases: tuple[torch.Tensor, ...] | None = None, track: bool = False
    ) -> None:
        self.weights, self.net, self.ghost, self.biases, self.track = weights, net, ghost, biases, track
        self.v0 = [torch.zeros(net.B, n, dtype=torch.float32, device=net.device) for n in net.sizes[1:]]
        self.outs: list[torch.Tensor] = []  # per-frame output spikes (with the ghost's zeros), when tracking
        self.hidden = torch.zeros(net.B, dtype=torch.float32, device=net.device)

    def run(self, cur_in: torch.Tensor, frames: list[_FrameRecord]) -> torch.Tensor:
        """The output counts with their gradient graph; ``cur_in``: ``(B, T, n1)``."""
        counts = torch.zeros(self.net.B, self.net.n_out, dtype=torch.float32, device=self.net.device)
        cur_in_t = cur_in.unbind(1)  # views whose backward is one stack
        for t, fr in enumerate(frames):
            s, g = self._layer(0, fr, cur_in_t[t], None, None)
            for l in range(1, self.net.L):
                if self.track:
                    self._count_hidden(s, g)
                s, g = self._layer(l, fr, cur_in_t[t], s, g)
            counts = counts + s
            if g is not None:  # the ghost pass
                counts = counts + g
            if self.track:
                self.outs.append(s if g is None else s + g)
        return counts

    def _bias(self, l: int, fr: _FrameRecord, a: int, b: int) -> torch.Tensor:
        """Layer ``l``'s bias as the schedule added it: not to dropped-out neurons nor to stopped
        samples (the same 0/1 products, so the same float32 values)."""
        bias = self.biases[l]  # type: ignore[index]
        mult = None if fr.blocked is None else 1.0 - fr.blocked[:, a:b]
        if fr.alive is not None:
            am = _mask(fr.alive).unsqueeze(1)
            mult = am if mult is None else mult * am
        return bias if mult is None else bias * mult

    def _count_hidden(self, s: torch.Tensor, g: torch.Tensor | None) -> None:
        """Add a hidden layer's sent spikes (and its ghost spikes, 0 in the forward) per sample."""
        self.hidden = self.hidden + s.sum(dim=1)
        if g is not None:
            self.hidden = self.hidden + g.sum(dim=1)

    def _layer(
        self,
        l: int,
        fr: _FrameRecord,
        cur_in: torch.Tensor,
        s_prev: torch.Tensor | None,
        g_prev: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Layer ``l`` of a frame: ``(sent spikes, ghost spikes or None)`` from the previous
        layer's (None for the first layer, fed by ``cur_in``); carries the membrane over."""
        net = self.net
        a, b = net.offs[l], net.offs[l + 1]
        cl = fr.cross[:, a:b]
        crossed = _ge(cl, 0.5)
        base = self.v0[l] * net.beta
        if self.biases is not None:
            base = base + self._bias(l, fr, a, b)
        if s_prev is None:
            cur: torch.Tensor | None = cur_in if fr.alive is None else cur_in * _mask(fr.alive).unsqueeze(1)
        else:
            cur = self._current(l, fr, cl, crossed, s_prev)
        blocked = None if fr.blocked is None else fr.blocked[:, a:b]
        v_at, silent = _membrane_at_crossing(base, cur, crossed, blocked)
        sm = _ge(fr.sent[:, a:b], 0.5)
        s_l = _Gate.apply(v_at, sm, sm, net.thr, net.slope)
        v_end = v_at
        if self.ghost:
            if g_prev is not None:
                v_end = v_end + silent * torch.nn.functional.linear(g_prev, self.weights[l])
            g_prev = _Gate.apply(v_end, torch.zeros_like(silent), silent, net.thr, net.slope)
        self.v0[l] = v_end * (1.0 - crossed)
        return s_l, g_prev

    def _current(
        self, l: int, fr: _FrameRecord, cl: torch.Tensor, crossed: torch.Tensor, s_prev: torch.Tensor
    ) -> torch.Tensor | None:
        """The current layer ``l`` >= 1 integrated up to its crossing step (all send steps when
        silent), from the previous layer's sent spikes ``s_prev``; None without send steps."""
        K = fr.K
        if K == 0:
            return None
        net = self.net
        src, a = net.offs[l - 1], net.offs[l]
        # source spikes by send step: S[b, k, i] = s_prev[b, i] if i was sent at step k
        ss = fr.sent[:, src:a].long().unsqueeze(1)  # 1..K, 0 = not sent
        S = torch.zeros(net.B, K + 1, a - src, dtype=torch.float32, device=net.device)
        S = torch.scatter(S, 1, ss, s_prev.unsqueeze(1))[:, 1:]
        C = torch.cumsum(torch.nn.functional.linear(S, self.weights[l]), dim=1)  # (B, K, n)
        # C0[:, c] = the current of send steps 1..c (c = 0: none, a crossing at step 0 on the bias)
        C0 = torch.cat([C.new_zeros(net.B, 1, C.shape[2]), C], dim=1)
        # index: the crossing step (cross - 1), or K if silent
        upto = (crossed * (cl - 1.0 - K) + K).long()
        return torch.gather(C0, 1, upto.unsqueeze(1)).squeeze(1)


def _unlayered_steps(
    weights, x: torch.Tensor, params: LIFParams, opts: _UnlayeredOptions, cls: type | None = None
) -> ForwardResult:
    """Unlayered forward with autograd through every send step (the straightforward version,
    kept as the reference for :func:`_unlayered_replay`'s gradients); ``cls``: the step-by-step
    forward (default :class:`_StepwiseForward`; :class:`BpttForward`)."""
    net = _unlayered_net(weights, x, params, opts)
    fwd = (cls or _StepwiseForward)(weights, net, opts)
    if opts.prioritize_input:
        for cur in _input_current(weights, x, opts.input_dropout, opts.generator).unbind(1):  # T x (B, n1)
            fwd.frame(cur)
    else:  # queued input: the frame's (kept) input events join the ready queue
        for xt in _dropped_input(x, opts.input_dropout, opts.generator).unbind(1):  # T x (B, C)
            fwd.frame(None, xt)
    spikes, steps = fwd.recorded()
    track = opts.track
    return ForwardResult(
        counts=fwd.counts,
        spikes=spikes,
        steps=steps,
        n_spikes=int(fwd.n_spikes),
        dropped=int(fwd.dropped),
        frame_counts=_stack_frames(fwd.outs, net.B, net.n_out, net.device) if track else None,
        hidden_spikes=fwd.hidden if track else None,
    )


@dataclass
class _StepFrame:
    """The step-by-step forward's state within a frame (bool masks and float32, ``(B, N)``)."""

    refr: torch.Tensor  # refractory: crossed in this frame (and made refractory), or dropped out
    ready: torch.Tensor
    prio: torch.Tensor  # membrane at the latest crossing
    pend: torch.Tensor  # queued value: the surrogate spikes of the crossings not yet sent
    sent: torch.Tensor | None  # int32 spikes sent in this frame, when recording
    steps: torch.Tensor | None  # (B,) int32 send steps per sample, when recording
    crossed: torch.Tensor | None = None  # crossed at least once in this frame
    blocked: torch.Tensor | None = None  # frame dropout: sits out the frame
    inq: torch.Tensor | None = None  # queued input events (B, C) (prioritize_input=False)
    first_out: torch.Tensor | None = None  # (B,) send step of the frame's first output (stop_on_output_frame)
    step: int = 0  # send steps so far in this frame


class _StepwiseForward:
    """The unlayered forward with autograd through every send step: the membranes, output
    counts and statistics carried over the frames."""

    def __init__(self, weights, net: _Net, opts: _UnlayeredOptions) -> None:
        dev = net.device
        self.weights, self.net, self.opts = weights, net, opts
        self.zero = torch.zeros((), dtype=torch.float32, device=dev)
        self.G = _block_matrix(weights, net.sizes)  # (N, N): [target, source]
        self.v = torch.zeros(net.B, net.N, dtype=torch.float32, device=dev)
        self.counts = torch.zeros(net.B, net.n_out, dtype=torch.float32, device=dev)
        self.rec_spikes: list[torch.Tensor] = []
        self.rec_steps: list[torch.Tensor] = []
        self.n_spikes = torch.zeros((), dtype=torch.int64, device=dev)
        self.dropped = torch.zeros((), dtype=torch.int64, device=dev)
        self.stop = _stopper(opts, net)
        self.bias = opts.bias_vector()
        self.outs: list[torch.Tensor] = []  # per-frame output spikes, when tracking
        self.hidden = torch.zeros(net.B, dtype=torch.float32, device=dev)
        self.frame_out = self.counts
        self.v_pre: torch.Tensor | None = None  # the membranes before the latest integration

    def recorded(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """``(spikes, steps)`` as in :class:`ForwardResult` (None, None unless recording)."""
        if not self.opts.record:
            return None, None
        return torch.stack(self.rec_spikes, dim=1), torch.stack(self.rec_steps, dim=1)

    def frame(self, cur: torch.Tensor | None, queued: torch.Tensor | None = None) -> None:
        """One frame; ``cur``: its current into the first layer ``(B, n1)``, or None with queued
        input: ``queued``, the frame's input events ``(B, C)``."""
        net, stop = self.net, self.stop
        # (a) leak, refractory flags clear (refractory dropout: hidden neurons sit out the frame)
        self.v = self.v * net.beta
        fr = self._new_frame()
        self.frame_out = torch.zeros_like(self.counts)
        if self.bias is not None:  # after the leak: not for dropped-out neurons or stopped samples
            skip = fr.refr if stop is None else fr.refr | ~stop.alive.unsqueeze(1)
            self.v = torch.where(skip, self.v, self.v + self.bias)
        # (b) step 0: the frame's input reaches layer 1 in one add
        self.v_pre = self.v
        if cur is not None:
            if stop is not None:
                cur = torch.where(stop.alive.unsqueeze(1), cur, self.zero)
            self.v = torch.where(fr.refr, self.v, self.v + _pad_current(cur, net))
        elif queued is not None:  # queued input: nothing reaches layer 1 at step 0
            fr.inq = queued if stop is None else torch.where(stop.alive.unsqueeze(1), queued, self.zero)
        self._cross(fr)
        if stop is not None:
            stop.count(stop.alive)
        # (c) send steps
        for _ in range(net.cap):
            if not self._send_step(fr):
                break
        self.dropped = self.dropped + fr.ready.sum()
        if stop is not None:
            stop.update()
        if self.opts.ghost:
            self._ghost(fr)
        if self.opts.track:
            self.outs.append(self.frame_out)
        if fr.sent is not None and fr.steps is not None:  # recording
            self.rec_spikes.append(fr.sent if self.opts.refrac_dropout > 0 else fr.sent.to(torch.uint8))
            self.rec_steps.append(fr.steps)

    def _new_frame(self) -> _StepFrame:
        net, opts = self.net, self.opts
        B, N, dev = net.B, net.N, net.device
        if opts.frame_dropout > 0:
            refr = _bernoulli_mask((B, N), opts.frame_dropout, dev, opts.generator) & net.hidden
        else:
            refr = torch.zeros(B, N, dtype=torch.bool, device=dev)
        K = opts.stop_on_output_frame
        return _StepFrame(
            refr=refr,
            ready=torch.zeros(B, N, dtype=torch.bool, device=dev),
            prio=torch.zeros(B, N, dtype=torch.float32, device=dev),
            pend=torch.zeros(B, N, dtype=torch.float32, device=dev),
            sent=torch.zeros(B, N, dtype=torch.int32, device=dev) if opts.record else None,
            steps=torch.zeros(B, dtype=torch.int32, device=dev) if opts.record else None,
            crossed=torch.zeros(B, N, dtype=torch.bool, device=dev),
            blocked=refr.clone(),
            first_out=None if K is None else torch.full((B,), -1, dtype=torch.int64, device=dev),
        )

    def _cross(self, fr: _StepFrame) -> None:
        """Every non-refractory neuron with ``v > thr`` (``>=`` with ``fire_equal``) crosses: it
        becomes ready with priority ``v`` and its surrogate spike pending, is reset to 0 and is
        refractory (``refrac_dropout``: not refractory with that probability; its queued value
        adds the new spike, its priority is the latest crossing's membrane)."""
        net, v = self.net, self.v
        s = spike_fn(v, net.thr, net.slope, net.fire_equal)
        new = (s.detach() > 0) & ~fr.refr
        kept = new if self.opts.spike_dropout <= 0 else new & _spike_kept(net, self.opts)
        fr.pend = torch.where(kept, fr.pend + s, fr.pend)
        fr.prio = torch.where(kept, v.detach(), fr.prio)
        self.v = self._reset(v, new, ~fr.refr)
        if self.opts.refrac_dropout > 0:  # asynctorch LIFState: one draw per integration
            free = _bernoulli_mask(new.shape, self.opts.refrac_dropout, net.device, self.opts.generator)
            fr.refr = fr.refr | (new & ~free)
        else:
            fr.refr = fr.refr | new
        if fr.crossed is not None:
            fr.crossed = fr.crossed | new
        fr.ready = fr.ready | kept

    def _reset(self, v: torch.Tensor, new: torch.Tensor, nref: torch.Tensor) -> torch.Tensor:
        """The membranes after the crossings ``new`` (``nref``: not refractory before them): hard
        reset to 0, not differentiated (:class:`BpttForward` keeps its gradient)."""
        return torch.where(new, self.zero, v)

    def _send_step(self, fr: _StepFrame) -> bool:
        """One send step; False (and nothing done) when nothing is ready (no neuron, no queued
        input event)."""
        net, stop = self.net, self.stop
        n_ready = fr.ready.sum(dim=1)
        if fr.inq is not None:
            n_ready = n_ready + (fr.inq > 0).sum(dim=1)
        if not bool((n_ready > 0).any()):
            return False
        fr.step += 1
        cur_in = None
        if fr.inq is None:
            picked = self._choose(fr, n_ready)
        else:  # queued input: the chosen input events' currents reach layer 1 in this step
            picked, in_picked = self._choose_queued(fr, n_ready)
            cur_in = torch.nn.functional.linear(fr.inq * in_picked.to(torch.float32), self.weights[0])
            fr.inq = torch.where(in_picked, self.zero, fr.inq)
        had = n_ready > 0
        sent = fr.pend * picked.to(torch.float32)  # a value k sends k spikes
        fr.pend = torch.where(picked, self.zero, fr.pend)
        fr.ready = fr.ready & ~picked
        values = sent.detach().to(torch.int32)
        self.n_spikes = self.n_spikes + values.sum()
        self.counts = self.counts + sent[:, net.out0 :]
        if self.opts.track:
            self.frame_out = self.frame_out + sent[:, net.out0 :]
            self.hidden = self.hidden + sent[:, : net.out0].sum(dim=1)
        if fr.sent is not None:
            fr.sent += values
        if fr.steps is not None:
            fr.steps += had.to(torch.int32)
        out_sent = picked[:, net.out0 :].any(dim=1)
        if stop is not None:
            stop.count(had)
            stop.output_sent(out_sent)
        if net.out0 > 0 or cur_in is not None:
            cur = torch.nn.functional.linear(sent, self.G)
            if cur_in is not None:
                cur = cur + _pad_current(cur_in, net)
            self.v_pre = self.v
            self.v = torch.where(fr.refr, self.v, self.v + cur)
            self._cross(fr)
        if fr.first_out is not None:
            self._cut_frame(fr, out_sent)
        if stop is not None:
            stop.update()
            fr.ready = fr.ready & stop.alive.unsqueeze(1)
            if fr.inq is not None:
                fr.inq = torch.where(stop.alive.unsqueeze(1), fr.inq, self.zero)
        return True

    def _cut_frame(self, fr: _StepFrame, out_sent: torch.Tensor) -> None:
        """``stop_on_output_frame=K``: a sample ``K`` send steps past the step that sent its
        frame's first output spike ends its frame (its ready neurons and queued input dropped)."""
        K = self.opts.stop_on_output_frame
        assert fr.first_out is not None and K is not None
        fr.first_out = fr.first_out.masked_fill(out_sent & (fr.first_out < 0), fr.step)
        cut = (fr.first_out >= 0) & (fr.first_out + K <= fr.step)
        if bool(cut.any()):
            c = cut.unsqueeze(1)
            self.dropped = self.dropped + (fr.ready & c).sum()
            fr.ready = fr.ready & ~c
            if fr.inq is not None:
                fr.inq = torch.where(c, self.zero, fr.inq)

    def _choose(self, fr: _StepFrame, n_ready: torch.Tensor) -> torch.Tensor:
        """The bool mask of the (at most F per sample) ready neurons sent in this step."""
        net = self.net
        if self.opts.cores is not None:
            from neurosim.train.core_schedule import scores  # noqa: PLC0415 - optional scope

            key = lambda: scores(fr.prio, self.opts.scheduler, self.opts.generator, net.thr > 0)
            return self.opts.cores.pick(key, fr.ready)  # type: ignore[attr-defined]
        if not bool((n_ready > net.F).any()):
            return fr.ready
        return self._top(fr.ready, fr.prio)

    def _choose_queued(self, fr: _StepFrame, n_ready: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Queued input: ``(neurons, input events)`` sent in this step, chosen together over
        ``[input channels, neurons]`` (asynctorch's combined numbering: ties go to the inputs);
        an input event's momentum priority is 0 (the never-integrated pre-spike membrane of an
        asynctorch input neuron)."""
        assert fr.inq is not None
        C = fr.inq.shape[1]
        ready = torch.cat([fr.inq > 0, fr.ready], dim=1)
        if bool((n_ready > self.net.F).any()):
            ready = self._top(ready, torch.cat([torch.zeros_like(fr.inq), fr.prio], dim=1))
        return ready[:, C:], ready[:, :C]

    def _top(self, ready: torch.Tensor, prio: torch.Tensor) -> torch.Tensor:
        """The bool mask of the (at most F per sample) ``ready`` entries the scheduler sends:
        ``momentum``, the highest ``prio`` first (plus ``U[0, 1) * momentum_noise``; ties to the
        lower index, a stable sort); ``random``, uniformly."""
        net, (B, M), dev = self.net, ready.shape, ready.device
        if self.opts.scheduler == "momentum":
            key = prio
            if self.opts.momentum_noise > 0:
                u = torch.rand(B, M, device=dev, generator=self.opts.generator)
                key = prio.to(torch.float64) + u.to(torch.float64) * self.opts.momentum_noise
            key = torch.where(ready, key, torch.tensor(-math.inf, dtype=key.dtype, device=dev))
            order = torch.sort(key, dim=1, descending=True, stable=True).indices[:, : net.F]
        else:
            key = torch.rand(B, M, device=dev, generator=self.opts.generator)
            key = torch.where(ready, key, torch.tensor(-1.0, dtype=key.dtype, device=dev))
            order = torch.topk(key, net.F, dim=1).indices
        picked = torch.zeros(B, M, dtype=torch.bool, device=dev)
        picked.scatter_(1, order, True)
        return picked & ready

    def _ghost(self, fr: _StepFrame) -> None:
        """Ghost pass: surrogate gradient for neurons silent this frame (forward value 0)."""
        net = self.net
        if fr.crossed is None or fr.blocked is None:
            silent = ~fr.refr  # never crossed this frame (and not dropped out)
        else:  # with refrac_dropout a neuron that crossed may be non-refractory
            silent = ~(fr.crossed | fr.blocked)
        g_prev: torch.Tensor | None = None
        parts = []
        for l, w in enumerate(self.weights):
            a, b = net.offs[l], net.offs[l + 1]
            vl = self.v[:, a:b]
            if g_prev is not None:
                vl = torch.where(fr.refr[:, a:b], vl, vl + torch.nn.functional.linear(g_prev, w))
            g = spike_fn(vl, net.thr, net.slope, net.fire_equal) * silent[:, a:b].to(torch.float32)
            parts.append(vl)
            if self.opts.track and l < len(self.weights) - 1:
                self.hidden = self.hidden + g.sum(dim=1)
            g_prev = g
        self.v = torch.cat(parts, dim=1)
        self.counts = self.counts + g  # the output layer's ghost spikes (0 in the forward)
        if self.opts.track:
            self.frame_out = self.frame_out + g


class BpttForward(_StepwiseForward):
    """``backward="bptt"``: asynctorch's gradient estimator, the step-by-step forward whose reset
    KEEPS its gradient.

    asynctorch (RoelMK/asynctorch, ``asynctorch/nn/neuron/lif_state.py``) backpropagates with plain
    autograd through every forward step with ``v <- v' * (1 - spk)``, ``spk`` the surrogate spike of
    the neurons that received a current in the step (``update_mask = I_new != 0``); ``"steps"`` and
    ``"replay"`` detach the reset (``v <- 0``, snnTorch's detached reset). Here, at every integration
    (step 0 and each send step) the neurons that crossed, and the non-refractory ones whose membrane
    the step's current changed, are multiplied by ``1 - spike(v)`` (1 in the forward for those that
    did not cross, 0 for those that did), so the forward spikes are the same bit for bit and only
    the gradient differs. Silent neurons get their end-of-frame ghost gradient as in ``"steps"``
    (asynctorch instead leaves the zero-valued surrogate spikes in its outgoing queue, where they
    carry gradient when the selector emits them as padding of a group: not reproduced)."""

    def _reset(self, v: torch.Tensor, new: torch.Tensor, nref: torch.Tensor) -> torch.Tensor:
        """``v * (1 - spike(v))`` where the neuron crossed (``new``) or was updated in this step
        (non-refractory, ``nref``, and its membrane changed); ``v`` elsewhere."""
        net = self.net
        pre = self.v_pre if self.v_pre is not None else v.detach()
        updated = new | (nref & (v.detach() != pre.detach()))
        s = spike_fn(v, net.thr, net.slope, net.fire_equal) * updated.to(torch.float32)
        return v * (1.0 - s)


def forward(weights, x, params: LIFParams = LIFParams(), *, mode: str = "layered", **kw) -> ForwardResult:
    """Dispatch to :func:`forward_layered` or :func:`forward_unlayered` by ``mode``."""
    if mode == "layered":
        allowed = {"record", "input_dropout", "refractory_dropout", "frame_dropout", "generator", "biases", "track"}
        allowed.add("spike_dropout")
        return forward_layered(weights, x, params, **{k: v for k, v in kw.items() if k in allowed})
    if mode == "unlayered":
        return forward_unlayered(weights, x, params, **kw)
    raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")


class SpikingMLP(torch.nn.Module):
    """Dense LIF layers, without bias unless ``bias``: ``sizes = [n_in, h_1, ..., n_out]``.

    Weights are initialised uniformly in ``+-gain / sqrt(n_in)`` (``gain`` 1 is torch's Linear
    default); biases (trainable, one per neuron, added once per frame after the leak) start at 0,
    so the weights' initialisation does not depend on ``bias``.
    """

    def __init__(
        self,
        sizes,
        params: LIFParams = LIFParams(),
        *,
        gain: float = 1.0,
        generator: torch.Generator | None = None,
        bias: bool = False,
    ):
        super().__init__()
        self.sizes = [int(s) for s in sizes]
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"sizes must list at least an input and an output layer, got {sizes}")
        self.params = params
        ws = []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            bound = gain / math.sqrt(n_in)
            w = (torch.rand(n_out, n_in, generator=generator) * 2 - 1) * bound
            ws.append(torch.nn.Parameter(w))
        self.weights = torch.nn.ParameterList(ws)
        self.biases = (
            torch.nn.ParameterList([torch.nn.Parameter(torch.zeros(n)) for n in self.sizes[1:]]) if bias else None
        )

    def forward(self, x, *, mode: str = "layered", weights=None, biases=None, **kw) -> ForwardResult:
        if biases is None and self.biases is not None:
            biases = list(self.biases)
        return forward(
            list(self.weights) if weights is None else weights, x, self.params, mode=mode, biases=biases, **kw
        )
