"""Spiking MLP forwards in torch: layered (layer-synchronous BPTT) and unlayered (the
asynchronous schedule in the loop, Koopman et al., TMLR 2025, arXiv 2408.05098).

Neuron semantics are those of :mod:`neurosim.neuron` (docs/design.md, "Neuron semantics"), in float32: LIF
without bias, ``v <- beta * v`` at the start of every frame, ``v <- v + I`` per integration,
a spike when ``v >= threshold``, hard reset to 0, refractory for the rest of the frame (at most
one spike per neuron per frame). Dense layers have no bias (a bias would make the async schedule
differ from the layered one even with an unlimited group size).

Neurons are numbered globally, layers concatenated in order (first hidden layer first, output
layer last); the input channels are not numbered. ``spikes[b, t, n]`` in a
:class:`ForwardResult` uses this numbering.

Layered (``forward_layered``), per frame ``t``, per layer ``l`` in order::

    v_l = v_l * beta ; v_l = v_l + s_{l-1} @ W_l.T   (one add of the whole frame's current)
    s_l = (v_l >= thr)                                (arctan surrogate in backward)
    v_l = where(s_l, 0, v_l)

Unlayered (``forward_unlayered``), per frame:

(a) every neuron ``v = v * beta``; refractory flags clear.
(b) step 0: the frame's input spikes reach layer 1 at once (``v = v + x_t @ W_1.T`` for
    non-refractory neurons); every non-refractory neuron with ``v >= thr`` *crosses*: it becomes
    READY with priority ``v`` (the value at crossing), is reset to 0 and is refractory for the
    rest of the frame.
(c) each following step: the scheduler picks at most ``F`` READY neurons over all layers
    together: ``momentum`` = highest priority first, ties to the lower global index (a stable
    sort on ``-priority``); ``random`` = uniformly among the ready ones (seeded generator). The
    picked neurons are SENT; the currents of all spikes sent in the step are summed per target
    (``I = sent @ W.T``, one add per target: ``v = v + I`` for non-refractory targets), then
    every non-refractory neuron with ``v >= thr`` crosses as in (b). Output neurons count as
    output spikes when they are sent.
(d) the frame ends when nothing is ready, or after ``max_steps`` send steps (neurons still ready
    then are dropped; they were already reset). Since every send step sends at least one neuron
    and a neuron crosses at most once per frame, a frame never needs more send steps than there
    are neurons: the default ``max_steps`` (the number of neurons) never truncates.

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
with that probability; ``refractory_dropout`` makes each hidden neuron refractory for a whole
frame with that probability (it neither integrates nor fires in that frame; its membrane only
leaks).

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

Readout: output spike counts summed over frames; prediction = argmax (first maximum on ties);
loss = cross-entropy of ``loss_scale * counts`` (see :func:`count_loss`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

SCHEDULERS = ("momentum", "random")
MODES = ("layered", "unlayered")


class ArctanSpike(torch.autograd.Function):
    """Heaviside ``v >= threshold`` forward; arctan surrogate backward:
    ``d s / d v = (a / 2) / (1 + (pi / 2 * a * (v - threshold))**2)`` (snnTorch's ``atan``),
    ``a`` the slope."""

    @staticmethod
    def forward(ctx, v, threshold: float, slope: float):
        ctx.save_for_backward(v)
        ctx.threshold, ctx.slope = threshold, slope
        return (v >= threshold).to(v.dtype)

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        a = ctx.slope
        x = v - ctx.threshold
        return grad * (a / 2.0) / (1.0 + (math.pi / 2.0 * a * x) ** 2), None, None


def spike_fn(v: torch.Tensor, threshold: float = 1.0, slope: float = 2.0) -> torch.Tensor:
    return ArctanSpike.apply(v, threshold, slope)


@dataclass(frozen=True)
class LIFParams:
    """Shared neuron parameters (every neuron of the network has the same)."""

    beta: float = 0.9  # decay per frame (float32 value is what counts)
    threshold: float = 1.0
    slope: float = 2.0  # arctan surrogate slope

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
    (global numbering) when recorded. ``steps``: ``(B, T)`` int32 number of send steps per
    frame after step 0 (unlayered, when recorded). ``n_spikes``: total spikes sent (all layers,
    all samples), a Python int. ``dropped``: neurons that crossed but were never sent because
    of the step cap (unlayered)."""

    counts: torch.Tensor
    spikes: torch.Tensor | None = None
    steps: torch.Tensor | None = None
    n_spikes: int = 0
    dropped: int = 0

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


def _dropout_mask(shape, p: float, device, generator) -> torch.Tensor | None:
    """Boolean mask, True with probability ``p`` (None when ``p`` is 0)."""
    if p <= 0:
        return None
    return torch.rand(shape, device=device, generator=generator) < p


def forward_layered(
    weights,
    x: torch.Tensor,
    params: LIFParams = LIFParams(),
    *,
    record: bool = False,
    input_dropout: float = 0.0,
    refractory_dropout: float = 0.0,
    generator: torch.Generator | None = None,
) -> ForwardResult:
    """Layer-synchronous forward over ``x`` of shape ``(B, T, C)`` (0/1 float32).

    ``weights[l]`` has shape ``(n_out, n_in)``. Dropouts apply only when > 0 (use them only in
    training): ``input_dropout`` removes each input spike with that probability;
    ``refractory_dropout`` makes each hidden neuron refractory for a whole frame (it neither
    integrates nor fires) with that probability.
    """
    sizes = _layer_sizes(weights)
    B, T, _ = x.shape
    dev, dt = x.device, torch.float32
    beta = torch.tensor(params.beta32, dtype=dt, device=dev)
    thr, slope = params.threshold32, params.slope
    L = len(weights)
    v = [torch.zeros(B, n, dtype=dt, device=dev) for n in sizes[1:]]
    counts = torch.zeros(B, sizes[-1], dtype=dt, device=dev)
    rec = [] if record else None
    n_spikes = torch.zeros((), dtype=torch.int64, device=dev)
    if input_dropout > 0:
        x = x * (~_dropout_mask(x.shape, input_dropout, dev, generator)).to(dt)
    # the first layer's currents of all frames in one matmul (the bulk of the work)
    cur_in = torch.nn.functional.linear(x, weights[0]).unbind(1)
    for t in range(T):
        h = None
        frame = []
        for l in range(L):
            v[l] = v[l] * beta
            cur = cur_in[t] if l == 0 else torch.nn.functional.linear(h, weights[l])
            drop = _dropout_mask((B, sizes[l + 1]), refractory_dropout, dev, generator) if l < L - 1 else None
            if drop is None:
                v[l] = v[l] + cur
                s = spike_fn(v[l], thr, slope)
            else:
                v[l] = torch.where(drop, v[l], v[l] + cur)
                s = spike_fn(v[l], thr, slope) * (~drop).to(dt)
            fired = s.detach() > 0
            v[l] = torch.where(fired, torch.zeros((), dtype=dt, device=dev), v[l])
            n_spikes = n_spikes + fired.sum()
            if record:
                frame.append(fired)
            h = s
        counts = counts + h
        if record:
            rec.append(torch.cat(frame, dim=1).to(torch.uint8))
    spikes = torch.stack(rec, dim=1) if record else None
    return ForwardResult(counts=counts, spikes=spikes, n_spikes=int(n_spikes))


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
    refractory_dropout: float = 0.0,
    ghost: bool | None = None,
    backward: str = "replay",
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
    float rounding of the surrogate's argument; "replay" is several times faster.
    """
    if scheduler not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {scheduler!r}; use one of {SCHEDULERS}")
    if int(group_size) < 1:
        raise ValueError(f"group_size must be >= 1, got {group_size}")
    if max_steps is not None and int(max_steps) < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")
    if backward not in ("replay", "steps"):
        raise ValueError(f"backward must be 'replay' or 'steps', got {backward!r}")
    if ghost is None:
        ghost = torch.is_grad_enabled()
    kw = dict(
        group_size=int(group_size),
        scheduler=scheduler,
        max_steps=max_steps,
        stop_after_output=stop_after_output,
        generator=generator,
        record=record,
        input_dropout=input_dropout,
        refractory_dropout=refractory_dropout,
    )
    if backward == "steps":
        return _unlayered_steps(weights, x, params, ghost=ghost, **kw)
    needs_grad = torch.is_grad_enabled() and any(w.requires_grad for w in weights)
    return _unlayered_replay(weights, x, params, ghost=ghost, needs_grad=needs_grad, **kw)


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
    weights,
    x,
    params,
    *,
    group_size,
    scheduler,
    max_steps,
    stop_after_output,
    generator,
    record,
    input_dropout,
    refractory_dropout,
    ghost,
    needs_grad,
) -> ForwardResult:
    """The schedule without autograd (float 0/1 masks, in-place updates), then, when gradients
    are needed, a replay of the recorded schedule with autograd, frame by frame and layer by
    layer (see :func:`forward_unlayered`)."""
    sizes = _layer_sizes(weights)
    B, T, _ = x.shape
    dev, dt = x.device, torch.float32
    L = len(weights)
    N, n1, n_out = sum(sizes[1:]), sizes[1], sizes[-1]
    offs = np.concatenate([[0], np.cumsum(sizes[1:])]).tolist()
    out0 = N - n_out
    F = min(group_size, N)
    cap = N if max_steps is None else int(max_steps)
    beta = torch.tensor(params.beta32, dtype=dt, device=dev)
    thr, slope = params.threshold32, params.slope
    hidden = torch.zeros(N, dtype=torch.bool, device=dev)
    hidden[:out0] = True
    # momentum keys (float64, exact): the float32 bits of the priority read as an integer (its
    # order is the float order for positive floats; made order-preserving and positive when the
    # threshold is not positive), times N+1, plus N-index: distinct, highest priority first and
    # ties to the lower index; non-ready entries get key 0, below every ready key.
    if N >= 2**20:
        raise ValueError(f"{N} neurons: the exact momentum keys support fewer than 2**20")
    tie = (N - torch.arange(N, device=dev)).to(torch.float64)  # N .. 1
    n_plus_1 = torch.tensor(float(N + 1), dtype=torch.float64, device=dev)
    positive_thr = thr > 0  # then every priority is > 0

    if input_dropout > 0:
        x = x * (~_dropout_mask(x.shape, input_dropout, dev, generator)).to(dt)
    cur_in = torch.nn.functional.linear(x, weights[0])  # (B, T, n1): one matmul
    wd = [w.detach() for w in weights]

    # ---- 1. the schedule, without autograd -------------------------------------------------
    frames = []  # per frame: (cross, sent, blocked, alive, K) -- cross = step+1, sent = step
    rec_spikes, rec_steps = [], []
    n_spikes = 0
    dropped = 0
    counts_d = torch.zeros(B, n_out, dtype=dt, device=dev)
    stopping = stop_after_output is not None
    with torch.no_grad():
        cur_in_d = cur_in.detach()
        v = torch.zeros(B, N, dtype=dt, device=dev)
        if stopping:
            k_stop = int(stop_after_output)
            alive = torch.ones(B, dtype=torch.bool, device=dev)
            sample_step = torch.zeros(B, dtype=torch.int64, device=dev)
            first_out = torch.full((B,), -1, dtype=torch.int64, device=dev)
        for t in range(T):
            v = v * beta
            if refractory_dropout > 0:
                blocked = _mask(_dropout_mask((B, N), refractory_dropout, dev, generator) & hidden)
                nref = 1.0 - blocked  # 1 = may integrate/fire
            else:
                blocked = None
                nref = torch.ones(B, N, dtype=dt, device=dev)
            alive_t = alive.clone() if stopping else None
            cur = cur_in_d[:, t]
            if stopping:
                cur = cur * _mask(alive).unsqueeze(1)
            if N > n1:
                cur = torch.cat([cur, cur.new_zeros(B, N - n1)], dim=1)
            # step 0
            v = torch.addcmul(v, cur, nref)  # v + I, non-refractory only
            new = _ge(v, thr) * nref
            prio = v * new
            v.mul_(1.0 - new)  # hard reset to 0
            nref.sub_(new)
            ready = new
            cross = new.clone()  # step + 1 at crossing
            sent = torch.zeros(B, N, dtype=dt, device=dev)  # step at sending
            steps_frame = torch.zeros(B, dtype=torch.int32, device=dev) if record else None
            if stopping:
                sample_step += alive.to(torch.int64)
            step = 0
            while step < cap:
                n_ready = ready.sum(dim=1)
                most = int(n_ready.max()) if B else 0
                if most == 0:
                    break
                step += 1
                if most > F:
                    if scheduler == "momentum":
                        bits = prio.view(torch.int32)
                        if not positive_thr:
                            bits = torch.where(bits < 0, bits ^ 0x7FFFFFFF, bits).to(torch.float64) + 2.0**31
                        score = torch.addcmul(tie, bits.to(torch.float64), n_plus_1)
                    else:
                        score = torch.rand(B, N, device=dev, generator=generator).to(torch.float64) + 1.0
                    picked = _pick(score, ready, F)
                    ready = ready - picked
                else:
                    picked, ready = ready, torch.zeros_like(ready)
                sent.add_(picked, alpha=step)
                if record or stopping:
                    had = n_ready > 0
                if record:
                    steps_frame += had.to(torch.int32)
                if stopping:
                    sample_step += had.to(torch.int64)
                    got = (picked[:, out0:].sum(dim=1) > 0) & (first_out < 0)
                    first_out = torch.where(got, sample_step, first_out)
                if out0 > 0:
                    parts = [v.new_zeros(B, n1)]
                    for l in range(1, L):
                        parts.append(torch.nn.functional.linear(picked[:, offs[l - 1] : offs[l]], wd[l]))
                    cur = torch.cat(parts, dim=1)
                    v = torch.addcmul(v, cur, nref)
                    new = _ge(v, thr) * nref
                    prio.addcmul_(v, new)  # prio was 0 for these
                    v.mul_(1.0 - new)
                    nref.sub_(new)
                    ready = ready + new
                    cross.add_(new, alpha=step + 1)
                if stopping:
                    done = (first_out >= 0) & (sample_step >= first_out + k_stop)
                    alive &= ~done
                    ready = ready * _mask(alive).unsqueeze(1)
            dropped += int(ready.sum())
            if stopping:
                done = (first_out >= 0) & (sample_step >= first_out + k_stop)
                alive &= ~done
            was_sent = sent > 0
            n_spikes += int(was_sent.sum())
            counts_d += _mask(was_sent[:, out0:])
            frames.append((cross, sent, blocked, alive_t, step))
            if record:
                rec_spikes.append(was_sent.to(torch.uint8))
                rec_steps.append(steps_frame)
    spikes = torch.stack(rec_spikes, dim=1) if record else None
    steps = torch.stack(rec_steps, dim=1) if record else None
    if not needs_grad:
        return ForwardResult(counts=counts_d, spikes=spikes, steps=steps, n_spikes=n_spikes, dropped=dropped)

    # ---- 2. replay the recorded schedule with autograd, frame by frame, layer by layer --------
    # Membrane of a neuron of layer l >= 2 at its crossing step c: the leaked start value plus
    # the currents of send steps 1..c (all steps when it stays silent). Masks are float 0/1.
    counts = torch.zeros(B, n_out, dtype=dt, device=dev)
    v0 = [torch.zeros(B, n, dtype=dt, device=dev) for n in sizes[1:]]
    cur_in_t = cur_in.unbind(1)  # views whose backward is one stack
    for t in range(T):
        cross, sent, blocked, alive_t, K = frames[t]
        g_prev = None
        s_prev = None
        for l in range(L):
            a, b = offs[l], offs[l + 1]
            cl = cross[:, a:b]
            crossed = _ge(cl, 0.5)
            base = v0[l] * beta
            if l == 0:
                cur = cur_in_t[t]
                if alive_t is not None:
                    cur = cur * _mask(alive_t).unsqueeze(1)
            elif K > 0:
                # source spikes by send step: S[b, k, i] = s_prev[b, i] if i was sent at step k
                ss = sent[:, offs[l - 1] : a].long().unsqueeze(1)  # 1..K, 0 = not sent
                S = torch.zeros(B, K + 1, a - offs[l - 1], dtype=dt, device=dev)
                S = torch.scatter(S, 1, ss, s_prev.unsqueeze(1))[:, 1:]
                C = torch.cumsum(torch.nn.functional.linear(S, weights[l]), dim=1)  # (B, K, n)
                # index of the last integrated step: crossing step (>= 1 here), or K if silent
                upto = (crossed * (cl - 1.0 - K) + K).long() - 1
                cur = torch.gather(C, 1, upto.unsqueeze(1)).squeeze(1)
            else:
                cur = None
            if blocked is not None:
                bl = blocked[:, a:b]
                v_at = base if cur is None else base + cur * (1.0 - bl)
                silent = 1.0 - crossed - bl
            else:
                v_at = base if cur is None else base + cur
                silent = 1.0 - crossed
            sm = _ge(sent[:, a:b], 0.5)
            s_l = _Gate.apply(v_at, sm, sm, thr, slope)
            v_end = v_at
            if ghost:
                if g_prev is not None:
                    v_end = v_end + silent * torch.nn.functional.linear(g_prev, weights[l])
                g_prev = _Gate.apply(v_end, torch.zeros_like(silent), silent, thr, slope)
            v0[l] = v_end * (1.0 - crossed)
            s_prev = s_l
        counts = counts + s_prev
        if ghost:
            counts = counts + g_prev
    return ForwardResult(counts=counts, spikes=spikes, steps=steps, n_spikes=n_spikes, dropped=dropped)


def _unlayered_steps(
    weights,
    x,
    params,
    *,
    group_size,
    scheduler,
    max_steps,
    stop_after_output,
    generator,
    record,
    input_dropout,
    refractory_dropout,
    ghost,
) -> ForwardResult:
    """Unlayered forward with autograd through every send step (the straightforward version,
    kept as the reference for :func:`_unlayered_replay`'s gradients)."""
    sizes = _layer_sizes(weights)
    B, T, _ = x.shape
    dev, dt = x.device, torch.float32
    N, n1, n_out = sum(sizes[1:]), sizes[1], sizes[-1]
    out0 = N - n_out
    F = min(int(group_size), N)
    cap = N if max_steps is None else int(max_steps)
    if cap < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps}")
    if ghost is None:
        ghost = torch.is_grad_enabled()
    beta = torch.tensor(params.beta32, dtype=dt, device=dev)
    thr, slope = params.threshold32, params.slope
    zero = torch.zeros((), dtype=dt, device=dev)
    G = _block_matrix(weights, sizes)  # (N, N): [target, source]
    hidden = torch.zeros(N, dtype=torch.bool, device=dev)
    hidden[:out0] = True

    if input_dropout > 0:
        x = x * (~_dropout_mask(x.shape, input_dropout, dev, generator)).to(dt)
    cur_in = torch.nn.functional.linear(x, weights[0]).unbind(1)  # T x (B, n1), one matmul
    v = torch.zeros(B, N, dtype=dt, device=dev)
    counts = torch.zeros(B, n_out, dtype=dt, device=dev)
    rec_spikes = [] if record else None
    rec_steps = [] if record else None
    n_spikes = torch.zeros((), dtype=torch.int64, device=dev)
    dropped = torch.zeros((), dtype=torch.int64, device=dev)
    stopping = stop_after_output is not None
    if stopping:
        k_stop = int(stop_after_output)
        alive = torch.ones(B, dtype=torch.bool, device=dev)
        sample_step = torch.zeros(B, dtype=torch.int64, device=dev)
        first_out = torch.full((B,), -1, dtype=torch.int64, device=dev)

    def cross(v, refr, ready, prio, pend):
        new = (v >= thr) & ~refr
        s = spike_fn(v, thr, slope)
        pend = torch.where(new, s, pend)
        prio = torch.where(new, v.detach(), prio)
        v = torch.where(new, zero, v)
        return v, refr | new, ready | new, prio, pend

    for t in range(T):
        # (a) leak, refractory flags clear (refractory dropout: hidden neurons sit out the frame)
        v = v * beta
        refr = torch.zeros(B, N, dtype=torch.bool, device=dev)
        if refractory_dropout > 0:
            refr = _dropout_mask((B, N), refractory_dropout, dev, generator) & hidden
        ready = torch.zeros(B, N, dtype=torch.bool, device=dev)
        prio = torch.zeros(B, N, dtype=dt, device=dev)
        pend = torch.zeros(B, N, dtype=dt, device=dev)
        sent_frame = torch.zeros(B, N, dtype=torch.bool, device=dev) if record else None
        steps_frame = torch.zeros(B, dtype=torch.int32, device=dev) if record else None
        # (b) step 0: the frame's input reaches layer 1 in one add
        cur = cur_in[t]
        if stopping:
            cur = torch.where(alive.unsqueeze(1), cur, zero)
        if N > n1:
            cur = torch.cat([cur, cur.new_zeros(B, N - n1)], dim=1)
        v = torch.where(refr, v, v + cur)
        v, refr, ready, prio, pend = cross(v, refr, ready, prio, pend)
        if stopping:
            sample_step = sample_step + alive.to(torch.int64)
        # (c) send steps
        step = 0
        while step < cap:
            n_ready = ready.sum(dim=1)
            if not bool((n_ready > 0).any()):
                break
            step += 1
            if bool((n_ready > F).any()):
                if scheduler == "momentum":
                    key = torch.where(ready, prio, torch.tensor(-math.inf, dtype=dt, device=dev))
                    order = torch.sort(key, dim=1, descending=True, stable=True).indices[:, :F]
                else:
                    key = torch.rand(B, N, device=dev, generator=generator)
                    key = torch.where(ready, key, torch.tensor(-1.0, dtype=key.dtype, device=dev))
                    order = torch.topk(key, F, dim=1).indices
                picked = torch.zeros(B, N, dtype=torch.bool, device=dev)
                picked.scatter_(1, order, True)
                picked &= ready
            else:
                picked = ready
            had = n_ready > 0
            sent = pend * picked.to(dt)
            ready = ready & ~picked
            n_spikes = n_spikes + picked.sum()
            out_sent = sent[:, out0:]
            counts = counts + out_sent
            if record:
                sent_frame |= picked
                steps_frame += had.to(torch.int32)
            if stopping:
                sample_step = sample_step + had.to(torch.int64)
                got = picked[:, out0:].any(dim=1) & (first_out < 0)
                first_out = torch.where(got, sample_step, first_out)
            if out0 > 0:
                cur = torch.nn.functional.linear(sent, G)
                v = torch.where(refr, v, v + cur)
                v, refr, ready, prio, pend = cross(v, refr, ready, prio, pend)
            if stopping:
                done = (first_out >= 0) & (sample_step >= first_out + k_stop)
                alive = alive & ~done
                ready = ready & alive.unsqueeze(1)
        dropped = dropped + ready.sum()
        if stopping:
            done = (first_out >= 0) & (sample_step >= first_out + k_stop)
            alive = alive & ~done
        # ghost pass: surrogate gradient for neurons silent this frame (forward value 0)
        if ghost:
            silent = ~refr  # never crossed this frame (and not dropped out)
            g_prev = None
            parts = []
            off = 0
            for l, w in enumerate(weights):
                n = sizes[l + 1]
                vl = v[:, off : off + n]
                if g_prev is not None:
                    rl = refr[:, off : off + n]
                    vl = torch.where(rl, vl, vl + torch.nn.functional.linear(g_prev, w))
                g_prev = spike_fn(vl, thr, slope) * silent[:, off : off + n].to(dt)
                parts.append(vl)
                off += n
            v = torch.cat(parts, dim=1)
            counts = counts + g_prev
        if record:
            rec_spikes.append(sent_frame.to(torch.uint8))
            rec_steps.append(steps_frame)
    spikes = torch.stack(rec_spikes, dim=1) if record else None
    steps = torch.stack(rec_steps, dim=1) if record else None
    return ForwardResult(counts=counts, spikes=spikes, steps=steps, n_spikes=int(n_spikes), dropped=int(dropped))


def forward(weights, x, params: LIFParams = LIFParams(), *, mode: str = "layered", **kw) -> ForwardResult:
    """Dispatch to :func:`forward_layered` or :func:`forward_unlayered` by ``mode``."""
    if mode == "layered":
        allowed = {"record", "input_dropout", "refractory_dropout", "generator"}
        return forward_layered(weights, x, params, **{k: v for k, v in kw.items() if k in allowed})
    if mode == "unlayered":
        return forward_unlayered(weights, x, params, **kw)
    raise ValueError(f"unknown mode {mode!r}; use one of {MODES}")


class SpikingMLP(torch.nn.Module):
    """Dense LIF layers without bias: ``sizes = [n_in, h_1, ..., n_out]``.

    Weights are initialised uniformly in ``+-gain / sqrt(n_in)`` (``gain`` 1 is torch's Linear
    default).
    """

    def __init__(
        self, sizes, params: LIFParams = LIFParams(), *, gain: float = 1.0, generator: torch.Generator | None = None
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

    def forward(self, x, *, mode: str = "layered", weights=None, **kw) -> ForwardResult:
        return forward(list(self.weights) if weights is None else weights, x, self.params, mode=mode, **kw)
