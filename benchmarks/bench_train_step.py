"""Training-step time of the neurosim trainer: layered BPTT vs unlayered backprop.

Same workload as the snnTorch anchor (/work/shared/reference/peers/snntorch_step.py):
2312-64-64-64-10 LIF MLP (beta 0.9, arctan surrogate; no bias), batch 256, 30 frames, 5% input
spike density, forward + backward + Adam. Prints the median of 20 timed steps after 5 warm-ups
for ``layered`` and ``unlayered`` (F=8, momentum; and random with --random).

    python benchmarks/bench_train_step.py --device cpu [--threads N] [--steps 20] [--warmup 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from neurosim.train.model import LIFParams, SpikingMLP, count_loss


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--group-size", type=int, default=8)
    ap.add_argument("--random", action="store_true", help="also time the random scheduler")
    ap.add_argument("--modes", default="layered,unlayered")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    torch.manual_seed(0)
    T, B, sizes = args.frames, args.batch, [2312, 64, 64, 64, 10]
    x = (torch.rand(B, T, sizes[0], device=dev) < 0.05).float()
    y = torch.randint(0, 10, (B,), device=dev)
    runs = []
    for mode in args.modes.split(","):
        if mode == "layered":
            runs.append(("layered", {}))
        else:
            runs.append(
                (f"unlayered F={args.group_size} momentum", dict(group_size=args.group_size, scheduler="momentum"))
            )
            if args.random:
                runs.append(
                    (
                        f"unlayered F={args.group_size} random",
                        dict(
                            group_size=args.group_size,
                            scheduler="random",
                            generator=torch.Generator(device=dev).manual_seed(0),
                        ),
                    )
                )
    print(
        f"device={dev} torch={torch.__version__} threads={torch.get_num_threads()} "
        f"net={'-'.join(map(str, sizes))} batch={B} frames={T} density=0.05"
    )
    for name, kw in runs:
        torch.manual_seed(0)
        net = SpikingMLP(sizes, LIFParams(beta=0.9)).to(dev)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        mode = "layered" if name == "layered" else "unlayered"
        info = {}

        def step():
            opt.zero_grad()
            r = net(x, mode=mode, record=(mode == "unlayered"), **kw)
            loss = count_loss(r.counts, y)
            loss.backward()
            opt.step()
            if dev.type == "cuda":
                torch.cuda.synchronize()
            info["spikes"] = r.n_spikes / B
            if r.steps is not None:
                info["steps"] = float(r.steps.float().mean())
                info["max_steps"] = int(r.steps.max())

        for _ in range(args.warmup):
            step()
        ts = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            step()
            ts.append(time.perf_counter() - t0)
        extra = ""
        if "steps" in info:
            extra = f" send_steps/frame mean={info['steps']:.2f} max={info['max_steps']}"
        print(
            f"{name:<28} median_step_ms={1e3 * statistics.median(ts):8.2f} min={1e3 * min(ts):8.2f} "
            f"max={1e3 * max(ts):8.2f} spikes/sample={info['spikes']:.1f}{extra}"
        )


if __name__ == "__main__":
    main()
