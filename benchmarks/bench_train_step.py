"""Training-step time of the neurosim trainer: layered BPTT vs unlayered backprop.

Same workload as the snnTorch anchor (/work/shared/reference/peers/snntorch_step.py):
2312-64-64-64-10 LIF MLP (beta 0.9, arctan surrogate; no bias), batch 256, 30 frames, 5% input
spike density, forward + backward + Adam. Prints the median of 20 timed steps after 5 warm-ups
for ``layered`` and ``unlayered`` (F=8, momentum; and random with --random).

    python benchmarks/bench_train_step.py --device cpu [--threads N] [--steps 20] [--warmup 5]

``--table``: a markdown table of ms per training step, layered vs unlayered (momentum, each
``--group-sizes``) and their ratio, on nmnist-like input (the first ``--batch`` training samples,
``--frames`` frames) for the paper's FC net (2312-64-64-64-10) and the paper's CNN (2x34x34, Conv
8k3s2, 16k3s2p1, 32k3s2p1, Linear 512->10; :mod:`neurosim.train.conv`)::

    python benchmarks/bench_train_step.py --table --batch 64 --nets fc,cnn --group-sizes 8,16,128
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from neurosim.train.model import LIFParams, SpikingMLP, count_loss


def step_times(step, warmup: int, steps: int) -> list[float]:
    """Seconds of each of ``steps`` calls of ``step`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    return ts


def _table(args, dev):
    """``--table``: time one training step (forward, backward, Adam) per net and mode on
    nmnist-like input; print a markdown table (median ms, ratio to the layered step)."""
    from neurosim.data.registry import load_dataset
    from neurosim.train.conv import SpikingCNN

    d = load_dataset("nmnist-like", "train", frames=args.frames, limit=args.batch)
    x = torch.from_numpy(d.inputs).to(device=dev, dtype=torch.float32)
    y = torch.from_numpy(d.labels).to(dev)
    params = LIFParams(beta=0.9)
    print(
        f"device={dev} torch={torch.__version__} threads={torch.get_num_threads()} batch={len(d)} "
        f"frames={d.n_frames} nmnist-like input density={float(x.mean()):.4f} steps={args.steps} warmup={args.warmup}"
    )
    rows = []
    base = float("nan")
    for net_name in args.nets.split(","):
        for F in [None, *(int(f) for f in args.group_sizes.split(","))]:
            gen = torch.Generator().manual_seed(0)
            if net_name == "cnn":
                net = SpikingCNN("paper-cnn", d.input_shape, d.n_classes, params, generator=gen).to(dev)
            else:
                net = SpikingMLP([d.n_channels, 64, 64, 64, d.n_classes], params, generator=gen).to(dev)
            opt = torch.optim.Adam(net.parameters(), lr=1e-3)
            kw = {} if F is None else dict(group_size=F, scheduler="momentum", record=True)
            info = {}

            def step():
                opt.zero_grad()
                r = net(x, mode="layered" if F is None else "unlayered", **kw)
                count_loss(r.counts, y).backward()
                opt.step()
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                info["spikes"] = r.n_spikes / len(d)
                info["steps"] = float(r.steps.float().mean()) if r.steps is not None else float("nan")

            ts = step_times(step, args.warmup, args.steps)
            ms = 1e3 * statistics.median(ts)
            if F is None:
                base = ms
            label = "paper CNN 2x34x34-8k3s2-16k3s2p1-32k3s2p1-10" if net_name == "cnn" else "paper FC 2312-64-64-64-10"
            rows.append((label, "layered" if F is None else f"unlayered F={F}", ms, ms / base, info))
            print(f"  {label} {rows[-1][1]}: {ms:.1f} ms", flush=True)
    print("\n| net | mode | ms/step | unlayered/layered | spikes/sample | send steps/frame |")
    print("|---|---|---:|---:|---:|---:|")
    for label, mode, ms, ratio, info in rows:
        st = "" if info["steps"] != info["steps"] else f"{info['steps']:.1f}"
        print(f"| {label} | {mode} | {ms:.1f} | {ratio:.2f} | {info['spikes']:.1f} | {st} |")


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
    ap.add_argument(
        "--backward", choices=("replay", "steps", "bptt"), default="replay", help="unlayered gradient estimator"
    )
    ap.add_argument("--table", action="store_true", help="markdown table on nmnist-like input (see the doc)")
    ap.add_argument("--nets", default="fc,cnn", help="--table: fc (2312-64-64-64-10) and/or cnn (paper-cnn)")
    ap.add_argument("--group-sizes", default="8,16,128", help="--table: unlayered group sizes F")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    if args.table:
        return _table(args, dev)
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
                (
                    f"unlayered F={args.group_size} momentum {args.backward}",
                    dict(group_size=args.group_size, scheduler="momentum", backward=args.backward),
                )
            )
            if args.random:
                runs.append(
                    (
                        f"unlayered F={args.group_size} random {args.backward}",
                        dict(
                            group_size=args.group_size,
                            scheduler="random",
                            backward=args.backward,
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

        ts = step_times(step, args.warmup, args.steps)
        extra = ""
        if "steps" in info:
            extra = f" send_steps/frame mean={info['steps']:.2f} max={info['max_steps']}"
        print(
            f"{name:<28} median_step_ms={1e3 * statistics.median(ts):8.2f} min={1e3 * min(ts):8.2f} "
            f"max={1e3 * max(ts):8.2f} spikes/sample={info['spikes']:.1f}{extra}"
        )


if __name__ == "__main__":
    main()
