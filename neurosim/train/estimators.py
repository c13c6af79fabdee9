"""Compare the unlayered gradient estimators (``backward`` = replay, steps, bptt) on one batch:
cosine similarity and norm ratio of the weight gradients per layer, and the time of a training
step (forward + backward). The numbers in docs/training-estimators.md come from::

    python -m neurosim.train.estimators --dataset digits --batch 64 --seed 0
    python -m neurosim.train.estimators --dataset digits --batch 64 --seed 0 \
        --weights models/digits_unlayered_momentum.nir
    python -m neurosim.train.estimators --dataset nmnist-like --limit 256 --batch 64 --seed 0
"""

from __future__ import annotations

import argparse
import statistics
import time

import nir
import numpy as np
import torch  # noqa: TID253 - the trainer is the torch extra (pyproject lists model, trainer, losses)

from neurosim.data.registry import load_dataset
from neurosim.train.losses import total_loss
from neurosim.train.model import SpikingMLP
from neurosim.train.trainer import TrainConfig, lif_params, make_generator, run_forward

BACKWARDS = ("replay", "steps", "bptt")


def _weights(args, sizes) -> list[torch.Tensor]:
    if args.weights:
        g = nir.read(args.weights)
        ws = [np.asarray(g.nodes[f"fc{l}"].weight, np.float32) for l in range(1, len(sizes))]
        return [torch.tensor(w, requires_grad=True) for w in ws]
    model = SpikingMLP(sizes, lif_params(TrainConfig()), generator=make_generator(torch.device("cpu"), args.seed))
    return [w.detach().clone().requires_grad_() for w in model.weights]


def gradients(ws, x, y, cfg: TrainConfig, seed: int) -> tuple[list[torch.Tensor], float, int]:
    """The loss gradients of ``ws`` on ``(x, y)`` with ``cfg``'s forward, the loss and the spikes."""
    r = run_forward(ws, x, cfg, generator=make_generator(torch.device("cpu"), seed), train=True)
    loss = total_loss(r, y, cfg.loss, cfg.loss_scale, cfg.spike_penalty)
    return list(torch.autograd.grad(loss, ws)), float(loss.detach()), r.n_spikes


def step_time(ws, x, y, cfg: TrainConfig, repeats: int) -> float:
    """Median seconds of forward + backward (the optimiser step excluded: the same for all)."""
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        gradients(ws, x, y, cfg, i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", default="64,64")
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--scheduler", default="momentum")
    ap.add_argument("--loss", default="ce-count")
    ap.add_argument("--weights", default=None, help="NIR file whose weights to use (default: the seed's init)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    data = load_dataset(args.dataset, "train", limit=args.limit)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    sizes = [data.n_channels, *hidden, data.n_classes]
    idx = np.random.default_rng([args.seed, 1]).permutation(len(data))[: args.batch]  # the trainer's first batch
    x = torch.from_numpy(data.inputs[idx]).to(torch.float32)
    y = torch.from_numpy(data.labels[idx])
    ws = _weights(args, sizes)
    res = {}
    for b in BACKWARDS:
        cfg = TrainConfig(
            dataset=args.dataset,
            mode="unlayered",
            scheduler=args.scheduler,
            group_size=args.group_size,
            loss=args.loss,
            backward=b,
            hidden=hidden,
        ).validate()
        g, loss, spikes = gradients(ws, x, y, cfg, args.seed)
        res[b] = (g, loss, spikes, step_time(ws, x, y, cfg, args.repeats))
    src = args.weights or f"init seed {args.seed}"
    print(
        f"{args.dataset} ({'-'.join(map(str, sizes))}, batch {args.batch}, {src}, F={args.group_size} {args.scheduler})"
    )
    for b in BACKWARDS:
        _, loss, spikes, t = res[b]
        print(f"  {b:7s} loss {loss:.5f}  spikes/sample {spikes / len(idx):.1f}  step {t * 1000:.0f} ms")
    for a, b in (("steps", "replay"), ("bptt", "replay"), ("bptt", "steps")):
        cos = [
            float(torch.nn.functional.cosine_similarity(p.flatten(), q.flatten(), dim=0))
            for p, q in zip(res[a][0], res[b][0])
        ]
        ratio = [float(p.norm() / q.norm()) for p, q in zip(res[a][0], res[b][0])]
        print(
            f"  {a} vs {b}: cosine per layer {', '.join(f'{c:.4f}' for c in cos)}; "
            f"norm ratio {', '.join(f'{r:.3f}' for r in ratio)}"
        )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
