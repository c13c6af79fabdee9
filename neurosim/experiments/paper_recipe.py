"""``neurosim study --recipe paper``: the matrix of Koopman et al. (TMLR 2025, arXiv 2408.05098)
on the N-MNIST-like task, trained here, run in the simulator, and the paper's claims checked.

The matrix (:class:`Recipe`): trainings {layered, unlayered-random, unlayered-momentum} x
architectures {fc; paper-cnn where the trainer has it} x seeds. Every unlayered model is trained
at each forward group size F of its scheduler (momentum: ``group_sizes``; random:
``random_group_sizes``, a subset to save time) and run asynchronously at that F with its own
scheduler; every layered model runs in sync and asynchronously with each scheduler at those F.
The stop-on-output runs (``stop_on_output_frame`` K in ``stop_ks``: each frame ends K forward
steps after its first output spike) take F = ``train_group_size`` and the momentum scheduler.
Each run records accuracy, spikes, time to a correct decision, energy, latency and the paper's
per-frame metrics (:mod:`neurosim.analysis.paper_metrics`).

The claims (:data:`CLAIMS`), each checked per setting (scheduler, F, K) on the effect per seed
(an unlayered model against the layered model of the same seed, both asynchronous):

1. fewer spikes: ``1 - spikes_unlayered / spikes_layered`` (paper: up to 0.5), with the
   simulator's spikes per inference (``fewer-spikes``) and, as the paper counts, the network
   spikes of a frame up to the target class's first spike (``fewer-spikes-to-target``, from
   :mod:`neurosim.analysis.paper_metrics` when the simulator records it);
2. sooner correct decisions: ``layered / unlayered - 1`` (paper: up to 1, i.e. 2x) of the
   hardware time to a correct decision (``sooner-decision``) and of the forward steps of a frame
   to the target's first spike (``sooner-target-steps``);
3. higher accuracy: ``accuracy_unlayered - accuracy_layered`` (paper: up to ~0.1);
4. layered models degrade or gain nothing when run asynchronously: the gain
   ``accuracy_async - accuracy_sync`` of the layered model (``layered-degrades``).

Verdicts (:func:`verdict`): claims 1-3 *hold* when the mean effect over seeds exceeds the
claim's margin and every seed's effect is positive, *hold in direction only* when the mean is
positive, else *do not hold*; claim 4 holds when no seed gains more than the margin, in
direction only when the mean gain is within the margin, else it does not hold.

Ablation: when a claim does not hold at the main setting (momentum, F = ``train_group_size``,
no stop), the asynctorch ingredients (:data:`INGREDIENTS`) are switched on one at a time, the
layered and unlayered-momentum models retrained with it (``ablation_seeds``) and re-run, and the
change of each claim's mean effect is reported. An ingredient combination the trainer or the
simulator refuses is named in the report with the refusal, never approximated.

Everything is cached under ``out/cache`` by the hash of its configuration (models: the training
config and the sample limits; runs: the model's hash, the run options, the samples and the
hardware file), so an interrupted recipe resumes and a second run reuses every model and run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurosim import atomic
from neurosim.analysis.paper_metrics import paper_metrics as pm
from neurosim.data.registry import load_dataset
from neurosim.errors import ConfigError, NeurosimError
from neurosim.experiments.runner import prepare
from neurosim.experiments.study import Row
from neurosim.paths import DEFAULT_HW

TRAININGS: dict[str, dict[str, Any]] = {
    "layered": {"mode": "layered"},
    "unlayered-random": {"mode": "unlayered", "scheduler": "random"},
    "unlayered-momentum": {"mode": "unlayered", "scheduler": "momentum"},
}
POLICY_OF = {"unlayered-random": "random", "unlayered-momentum": "momentum"}

#: the ingredients of asynctorch's recipe, switched on one at a time in the ablation:
#: (training overrides: TrainConfig fields; simulator options: neurosim.sim.engine.simulate
#: keywords; what it is). Training options in :data:`ASYNC_ONLY` apply to the unlayered models
#: only (the trainer refuses them for layered BPTT); the layered model keeps its baseline training.
INGREDIENTS: dict[str, tuple[dict[str, Any], dict[str, Any], str]] = {
    "threshold-0.3": ({"threshold": 0.3}, {}, "threshold 0.3 instead of 1"),
    "decay-e^-10": ({"beta": math.exp(-10.0)}, {}, "membrane decay e^-10 per frame instead of 0.9"),
    "refrac-dropout-0.8": (
        {"refrac_dropout": 0.8},
        {"refrac_dropout": 0.8},
        "asynctorch's refractory dropout p = 0.8 (a crossing leaves the neuron non-refractory)",
    ),
    "input-dropout-0.25": ({"input_dropout": 0.25}, {}, "input dropout 0.25 (training)"),
    "ce-rate": ({"loss": "ce-rate"}, {}, "cross-entropy at every frame instead of on the counts"),
    "queued-input": (
        {"prioritize_input": False},
        {"prioritize_input": False},
        "input events queued with the network's spikes (sent F at a time) instead of all at once",
    ),
    "counts-input": ({}, {}, "event counts per channel and frame as the input, instead of count > 0"),
    "stop-on-output-2": (
        {"stop_on_output_frame": 2},
        {"stop_on_output_frame": 2},
        "each frame ends 2 steps after its first output spike (training and running)",
    ),
}
ASYNC_ONLY = ("refrac_dropout", "stop_on_output_frame", "prioritize_input")
#: ingredients that change the data the trainer and the simulator receive (dataset ``values``)
DATA_VALUES = {"counts-input": "counts"}

CLAIMS = {
    "fewer-spikes": "unlayered models use fewer spikes (paper: up to 50% fewer)",
    "fewer-spikes-to-target": "... counted as the paper does: network spikes of a frame up to the target's first spike",
    "sooner-decision": "unlayered models reach a correct decision sooner (paper: up to 2x)",
    "sooner-target-steps": "... counted as the paper does: forward steps of a frame to the target's first spike",
    "higher-accuracy": "unlayered models are more accurate (paper: up to ~10 points)",
    "layered-degrades": "layered models lose accuracy or gain nothing when run asynchronously",
}
#: an effect this small is within the noise of a few hundred test samples
MARGINS = {
    "fewer-spikes": 0.05,
    "fewer-spikes-to-target": 0.05,
    "sooner-decision": 0.10,
    "sooner-target-steps": 0.10,
    "higher-accuracy": 0.02,
    "layered-degrades": 0.02,
}
HOLDS, DIRECTION, FAILS = "holds", "holds in direction only", "does not hold"
#: the run metric each claim compares (claims 1-2 in the hardware's and in the paper's counting)
_METRIC = {
    "fewer-spikes": "spikes",
    "fewer-spikes-to-target": "spikes_to_target_mean",
    "sooner-decision": "decision_us",
    "sooner-target-steps": "steps_to_target_mean",
    "higher-accuracy": "accuracy",
    "layered-degrades": "accuracy",
}


@dataclass(frozen=True)
class Recipe:
    """What the recipe trains and runs (see the module doc)."""

    name: str = "paper"
    dataset: str = "nmnist-like"
    trainings: tuple[str, ...] = tuple(TRAININGS)
    archs: tuple[str, ...] = ("fc", "paper-cnn")
    seeds: tuple[int, ...] = (0, 1, 2)
    hidden: tuple[int, ...] = (64, 64, 64)
    frames: int = 10
    train_samples: int = 600
    test_samples: int = 100
    epochs: int = 4
    group_sizes: tuple[int, ...] = (8, 16, 128)
    train_group_size: int = 8
    random_group_sizes: tuple[int, ...] | None = (8,)  # None: every F of group_sizes
    stop_ks: tuple[int, ...] = (0, 8)
    base: dict[str, Any] = field(default_factory=lambda: {"beta": 0.9, "threshold": 1.0, "lr": 3e-3, "batch_size": 16})
    ingredients: tuple[str, ...] = tuple(INGREDIENTS)
    ablation: str = "auto"  # "auto": when a claim does not hold; "always"; "never"
    ablation_seeds: tuple[int, ...] = (0,)
    #: per architecture, fields that differ from the ones above (a smaller matrix for the CNN)
    arch_overrides: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {
            "paper-cnn": {
                "seeds": (0, 1),
                "group_sizes": (8,),
                "stop_ks": (),
                "epochs": 3,
                "train_samples": 300,
                "base": {
                    "beta": 0.9,
                    "threshold": 0.3,
                    "lr": 3e-3,
                    "batch_size": 16,
                },  # at threshold 1 it did not learn
            }
        }
    )

    def sizes_of(self, policy: str) -> tuple[int, ...]:
        """The forward group sizes F run with ``policy`` (random: ``random_group_sizes``)."""
        if policy == "random" and self.random_group_sizes is not None:
            return tuple(F for F in self.group_sizes if F in self.random_group_sizes)
        return self.group_sizes

    def for_arch(self, arch: str) -> Recipe:
        """This recipe with ``arch``'s overrides applied."""
        return dataclasses.replace(self, **self.arch_overrides.get(arch, {}), arch_overrides={})

    def __post_init__(self):
        bad = [t for t in self.trainings if t not in TRAININGS] + [i for i in self.ingredients if i not in INGREDIENTS]
        if bad or self.ablation not in ("auto", "always", "never") or self.train_group_size not in self.group_sizes:
            raise ConfigError(
                f"recipe {self.name!r}: unknown trainings/ingredients {bad}, ablation {self.ablation!r} or "
                f"train_group_size {self.train_group_size} not in group_sizes {self.group_sizes}"
            )


PAPER = Recipe()
QUICK = Recipe(
    name="quick",
    arch_overrides={},
    archs=("fc",),
    seeds=(0, 1),
    hidden=(12,),
    frames=3,
    train_samples=30,
    test_samples=6,
    epochs=1,
    group_sizes=(8, 128),
    stop_ks=(1,),
    ingredients=("threshold-0.3", "refrac-dropout-0.8"),
    ablation="always",
    ablation_seeds=(0,),
)
RECIPES = {"paper": PAPER, "quick": QUICK}


# --------------------------------------------------------------------------- verdicts


def summary(effects: list[float]) -> dict[str, float]:
    """Mean, standard deviation (ddof 1; 0 for one seed), min, max and count of the effects."""
    x = np.asarray([e for e in effects if math.isfinite(e)], float)
    if x.size == 0:
        return {"mean": math.nan, "std": math.nan, "min": math.nan, "max": math.nan, "n": 0}
    std = float(x.std(ddof=1)) if x.size > 1 else 0.0
    return {"mean": float(x.mean()), "std": std, "min": float(x.min()), "max": float(x.max()), "n": int(x.size)}


def verdict(claim: str, effects: list[float]) -> str:
    """The verdict on one claim from its effect per seed (see the module doc); no finite effect
    (e.g. no decision in any sample) is ``"not measured"``."""
    s = summary(effects)
    margin = MARGINS[claim] + 1e-9  # accuracies differ by whole samples: 0.85 - 0.83 is 0.02, not 0.0200...01
    if s["n"] == 0:
        return "not measured"
    if claim == "layered-degrades":  # the effects are the layered model's accuracy gains
        return HOLDS if s["max"] <= margin else DIRECTION if s["mean"] <= margin else FAILS
    return HOLDS if s["mean"] > margin and s["min"] > 0 else DIRECTION if s["mean"] > 0 else FAILS


def effect(claim: str, unlayered: dict | None, layered: dict) -> float:
    """One seed's effect (> 0 favours the paper for claims 1-3); ``unlayered`` is the layered
    model's sync run for claim 4."""
    if claim == "layered-degrades":
        return layered["accuracy"] - unlayered["accuracy"] if unlayered else math.nan
    if unlayered is None:
        return math.nan
    if claim == "higher-accuracy":
        return unlayered["accuracy"] - layered["accuracy"]
    u, v = unlayered.get(_METRIC[claim], math.nan), layered.get(_METRIC[claim], math.nan)
    if not (math.isfinite(u) and math.isfinite(v) and u > 0 and v > 0):
        return math.nan
    return 1.0 - u / v if claim.startswith("fewer") else v / u - 1.0


# --------------------------------------------------------------------------- caching


def config_hash(config: dict[str, Any]) -> str:
    """A short stable hash of a JSON-able configuration."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _file_hash(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def arch_options(recipe: Recipe, arch: str) -> dict[str, Any]:
    """Training overrides of an architecture."""
    if arch == "fc":
        return {"hidden": tuple(recipe.hidden)}
    if arch == "paper-cnn":
        return {"conv": "paper-cnn"}
    raise ConfigError(f"recipe {recipe.name!r}: unknown architecture {arch!r}; use fc or paper-cnn")


@dataclass
class Cache:
    """The recipe's folder: ``cache/models/<hash>.nir|.json`` and ``cache/runs/<hash>.json``."""

    out: Path
    hw: Path
    log: Callable[[str], None] = print
    _data: dict = field(default_factory=dict)
    trained: int = 0
    reused: int = 0
    simulated: int = 0
    train_s: float = 0.0
    sim_s: float = 0.0

    def times(self) -> dict[str, float]:
        """Time since the recipe started and the training and simulation totals of its work."""
        t = {"total_s": time.perf_counter() - self.t0, "train_s": self.train_s, "sim_s": self.sim_s}
        return t | {"trained": self.trained, "reused": self.reused, "simulated": self.simulated}

    def __post_init__(self):
        self.t0 = time.perf_counter()
        self.out = atomic.claim(self.out, "study")
        for sub in ("models", "runs"):
            (self.out / "cache" / sub).mkdir(parents=True, exist_ok=True)
        self.hw_hash = _file_hash(self.hw)

    def data(self, recipe: Recipe, split: str, values: str):

        n = recipe.train_samples if split == "train" else recipe.test_samples
        key = (recipe.dataset, split, recipe.frames, n, values)
        if key not in self._data:
            self._data[key] = load_dataset(
                recipe.dataset, split, frames=recipe.frames, limit=n, values=None if values == "binary" else values
            )
        return self._data[key]


# --------------------------------------------------------------------------- training


def train_config(recipe: Recipe, training: str, arch_opts: dict, seed: int, F: int, ingredient: str | None):
    """The :class:`~neurosim.train.trainer.TrainConfig` of one model of the matrix."""
    from neurosim.train.trainer import TrainConfig  # noqa: PLC0415

    opts: dict[str, Any] = {**recipe.base, **TRAININGS[training], **arch_opts}
    if ingredient is not None:
        extra = INGREDIENTS[ingredient][0]
        opts.update({k: v for k, v in extra.items() if opts["mode"] == "unlayered" or k not in ASYNC_ONLY})
    return TrainConfig(
        dataset=recipe.dataset,
        epochs=recipe.epochs,
        seed=seed,
        frames=recipe.frames,
        group_size=F,
        threads=1,
        device="cpu",
        progress=False,
        **opts,
    )


def train_model(cache: Cache, recipe: Recipe, key: dict[str, Any]) -> dict[str, Any]:
    """Train one model (or reuse the cached one): ``key`` holds training, arch, seed, F and
    ingredient. Returns its record (key, hash, path, test accuracy, training time)."""
    from neurosim.train.trainer import train  # noqa: PLC0415

    cfg = train_config(recipe, key["training"], key["arch_opts"], key["seed"], key["F"], key["ingredient"])
    cfg.validate()
    conf = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("progress", "threads", "device")}
    values = DATA_VALUES.get(key["ingredient"] or "", "binary")
    conf.update(train_samples=recipe.train_samples, test_samples=recipe.test_samples)
    if values != "binary":
        conf["values"] = values
    h = config_hash(conf)
    path, meta_path = cache.out / "cache" / "models" / f"{h}.nir", cache.out / "cache" / "models" / f"{h}.json"
    record = {k: v for k, v in key.items() if k != "arch_opts"} | {"hash": h, "path": str(path)}
    if path.exists() and meta_path.exists():
        cache.reused += 1
        return record | json.loads(meta_path.read_text())
    t0 = time.perf_counter()
    res = train(cfg, train_data=cache.data(recipe, "train", values), test_data=cache.data(recipe, "test", values))
    wall = time.perf_counter() - t0
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    res.export(tmp)
    os.replace(tmp, path)
    info = {"test_accuracy": res.test_accuracy, "train_time_s": res.train_time_s, "train_wall_s": wall, "config": conf}
    atomic.write_text(meta_path, json.dumps(info, default=str, indent=1))
    cache.trained += 1
    cache.train_s += wall
    cache.log(
        f"trained {record['training']} {record['arch']} seed {key['seed']} F={key['F']} "
        f"{key['ingredient'] or ''}: acc {res.test_accuracy:.3f} in {wall:.1f} s"
    )
    return record | info


# --------------------------------------------------------------------------- simulation


#: the paper's per-frame metrics taken from :func:`neurosim.analysis.paper_metrics.paper_metrics`
PAPER_KEYS = (
    "spikes_to_first_output_mean",
    "steps_to_first_output_mean",
    "spikes_to_target_mean",
    "steps_to_target_mean",
    "frames_with_target_fraction",
    "steps_per_frame_mean",
    "spike_density",
    "network_spikes_per_frame_mean",
)


def paper_metrics(result) -> dict[str, float]:
    """The paper's per-frame metrics of a run (NaN where a figure is n/a)."""
    got = pm(result)
    return {k: math.nan if got.get(k) is None else float(got[k]) for k in PAPER_KEYS}


def simulate_model(cache: Cache, recipe: Recipe, model: dict, run: dict[str, Any]) -> dict[str, Any]:
    """One simulator run of a trained model (or the cached one): ``run`` holds mode, policy, F,
    K and the ingredient's simulator options. Returns the model's record, the run and its metrics."""
    K, sim_opts = run.get("K"), dict(run.get("sim", {}))
    if K is not None:
        sim_opts["stop_on_output_frame"] = K
    conf = {"model": model["hash"], "hw": cache.hw_hash, "samples": recipe.test_samples, **run, "sim": sim_opts}
    h = config_hash(conf)
    path = cache.out / "cache" / "runs" / f"{h}.json"
    head = {k: model[k] for k in ("training", "arch", "seed", "F", "ingredient", "hash")}
    head |= {"mode": run["mode"], "policy": run["policy"], "run_F": run["F"], "K": K}
    if path.exists():
        return head | json.loads(path.read_text())
    setup = prepare(model["path"], cache.hw, samples=recipe.test_samples)
    values = DATA_VALUES.get(model["ingredient"] or "", "binary")
    if values != "binary":  # the same samples, as the dataset's other values
        setup = dataclasses.replace(setup, data=cache.data(recipe, "test", values))
    t0 = time.perf_counter()
    res = setup.simulate(
        mode=run["mode"],
        scope="global",
        policy=run["policy"] if run["mode"] == "async" else "fifo",
        group_size=run["F"],
        seed=model["seed"],
        name=f"{model['hash']}-{run['mode']}-{run['policy']}",
        raster_sample=None,
        **sim_opts,
    )
    wall = time.perf_counter() - t0
    m = Row(model["hash"], model["training"], run["mode"], run["policy"], res).metrics()
    metrics = {k: m[k] for k in ("accuracy", "spikes", "synops", "latency_us", "decision_us", "decided")}
    metrics |= {k: m[k] for k in ("spikes_to_decision", "energy_uj")} | paper_metrics(res)
    metrics |= {"sim_wall_s": wall, "stop_option": next((k for k in sim_opts if k.startswith("stop")), None)}
    atomic.write_text(path, json.dumps(metrics, default=float, indent=1))
    cache.simulated += 1
    cache.sim_s += wall
    return head | metrics


# --------------------------------------------------------------------------- the matrix


def matrix_jobs(recipe: Recipe, arch: str, seed: int) -> list[tuple[dict, list[dict]]]:
    """(model key, its runs) of the main matrix for one architecture and seed."""
    jobs = []
    for training in recipe.trainings:
        if training == "layered":
            runs = [{"mode": "sync", "policy": "-", "F": recipe.train_group_size}]
            runs += [{"mode": "async", "policy": p, "F": F} for p in ("random", "momentum") for F in recipe.sizes_of(p)]
            runs += [
                {"mode": "async", "policy": "momentum", "F": recipe.train_group_size, "K": K} for K in recipe.stop_ks
            ]
            jobs.append(({"training": training, "F": 0}, runs))
            continue
        pol = POLICY_OF[training]
        for F in recipe.sizes_of(pol):
            runs = [{"mode": "async", "policy": pol, "F": F}]
            if F == recipe.train_group_size:
                runs.append({"mode": "sync", "policy": "-", "F": F})
                if pol == "momentum":
                    runs += [{"mode": "async", "policy": pol, "F": F, "K": K} for K in recipe.stop_ks]
            jobs.append(({"training": training, "F": F}, runs))
    return [({**k, "arch": arch, "seed": seed, "ingredient": None}, r) for k, r in jobs]


def ablation_jobs(recipe: Recipe, ingredient: str, seed: int) -> list[tuple[dict, list[dict]]]:
    """The ablation's models and runs of one ingredient and seed (fc, momentum, F = train F):
    the layered model in sync and async, the unlayered-momentum model in async."""
    F, sim = recipe.train_group_size, dict(INGREDIENTS[ingredient][1])
    K = sim.pop("stop_on_output_frame", None)  # the ingredient's stop is the async runs' K
    run = {"mode": "async", "policy": "momentum", "F": F, "sim": sim} | ({"K": K} if K is not None else {})
    sync = {"mode": "sync", "policy": "-", "F": F, "sim": {k: v for k, v in sim.items() if k not in ASYNC_ONLY}}
    lay = [sync, run]
    key = {"arch": "fc", "seed": seed, "ingredient": ingredient}
    return [({**key, "training": "layered", "F": 0}, lay), ({**key, "training": "unlayered-momentum", "F": F}, [run])]


def _run_jobs(cache: Cache, recipe: Recipe, jobs, arch_opts: dict) -> tuple[list[dict], list[dict]]:
    models, runs = [], []
    for key, job_runs in jobs:
        m = train_model(cache, recipe, {**key, "F": key["F"] or recipe.train_group_size, "arch_opts": arch_opts})
        m["F"] = key["F"]
        models.append(m)
        runs += [simulate_model(cache, recipe, m, r) for r in job_runs]
    return models, runs


# --------------------------------------------------------------------------- claims


def _index(runs: list[dict]) -> dict[tuple, dict]:
    keys = ("training", "arch", "seed", "F", "ingredient", "mode", "policy", "run_F", "K")
    return {tuple(r[k] for k in keys): r for r in runs}


def settings(recipe: Recipe) -> list[tuple[str, int, int | None]]:
    """The (scheduler, F, K) settings the claims are checked at."""
    out: list[tuple[str, int, int | None]] = [(p, F, None) for p in ("momentum", "random") for F in recipe.sizes_of(p)]
    return out + [("momentum", recipe.train_group_size, K) for K in recipe.stop_ks]


def _pair(idx, recipe: Recipe, claim: str, arch: str, seed: int, setting, ingredient=None):
    """The two runs one seed's effect compares (see :func:`effect`), either None when missing."""
    p, F, K = setting
    lay = idx.get(("layered", arch, seed, 0, ingredient, "async", p, F, K))
    if claim == "layered-degrades":
        return (idx.get(("layered", arch, seed, 0, ingredient, "sync", "-", recipe.train_group_size, None)), lay)
    model_F = F if K is None else recipe.train_group_size
    return idx.get((f"unlayered-{p}", arch, seed, model_F, ingredient, "async", p, F, K)), lay


def claim_row(idx, recipe: Recipe, claim: str, arch: str, setting, seeds, ingredient=None) -> dict | None:
    """One claim at one setting over ``seeds``: the effects, their summary, the verdict and the
    compared means (unlayered / layered; claim 4: sync / async); None when no seed has both runs."""
    pairs = [(s, *_pair(idx, recipe, claim, arch, s, setting, ingredient)) for s in seeds]
    pairs = [(s, u, l) for s, u, l in pairs if u is not None and l is not None]
    if not pairs:
        return None
    effects = [effect(claim, u, l) for _, u, l in pairs]
    metric = _METRIC[claim]
    a = summary([u.get(metric, math.nan) for _, u, _ in pairs])
    b = summary([l.get(metric, math.nan) for _, _, l in pairs])
    return {
        "claim": claim,
        "arch": arch,
        "policy": setting[0],
        "F": setting[1],
        "K": setting[2],
        "ingredient": ingredient,
        "seeds": [s for s, _, _ in pairs],
        "effects": effects,
        **{f"effect_{k}": v for k, v in summary(effects).items()},
        "verdict": verdict(claim, effects),
        "metric": metric,
        "a_mean": a["mean"],
        "a_std": a["std"],
        "b_mean": b["mean"],
        "b_std": b["std"],
    }


def claim_table(recipe: Recipe, runs: list[dict], archs) -> list[dict]:
    """Every claim x architecture x setting of the main matrix."""
    idx = _index(runs)
    rows = [claim_row(idx, recipe, c, a, st, recipe.seeds) for c in CLAIMS for a in archs for st in settings(recipe)]
    return [r for r in rows if r is not None]


def main_setting(recipe: Recipe) -> tuple[str, int, None]:
    return ("momentum", recipe.train_group_size, None)


def failing_claims(table: list[dict], recipe: Recipe) -> list[str]:
    """The claims that do not hold (or hold in direction only) for fc at the main setting."""
    p, F, K = main_setting(recipe)
    main = [r for r in table if r["arch"] == "fc" and (r["policy"], r["F"], r["K"]) == (p, F, K)]
    return [r["claim"] for r in main if r["verdict"] != HOLDS]


def ablation_table(recipe: Recipe, runs: list[dict], done: dict[str, str]) -> list[dict]:
    """Per ingredient and claim: the mean effect with the ingredient, the baseline's on the same
    seeds, the change and both verdicts. ``done``: ingredient -> "" or why it was not run."""
    idx = _index(runs)
    out = []
    for ing, why in done.items():
        K = INGREDIENTS[ing][1].get("stop_on_output_frame")
        setting = ("momentum", recipe.train_group_size, K)
        for claim in CLAIMS:
            base = claim_row(idx, recipe, claim, "fc", main_setting(recipe), recipe.ablation_seeds)
            row = None if why else claim_row(idx, recipe, claim, "fc", setting, recipe.ablation_seeds, ing)
            out.append(
                {
                    "ingredient": ing,
                    "claim": claim,
                    "status": why or ("run" if row else "no runs"),
                    "base_mean": base["effect_mean"] if base else math.nan,
                    "base_verdict": base["verdict"] if base else "",
                    "mean": row["effect_mean"] if row else math.nan,
                    "std": row["effect_std"] if row else math.nan,
                    "delta": (row["effect_mean"] - base["effect_mean"]) if row and base else math.nan,
                    "verdict": row["verdict"] if row else "",
                }
            )
            delta = float(out[-1]["delta"])
            out[-1]["moves"] = bool(
                row and base and (out[-1]["verdict"] != out[-1]["base_verdict"] or abs(delta) > MARGINS[claim])
            )
    return out


def movers(abl: list[dict], claims: list[str]) -> list[str]:
    """Per claim, the ingredients that move it (its verdict changes, or its mean effect by more
    than the claim's margin), the strongest change first."""
    lines = []
    for claim in claims:
        rows = sorted((r for r in abl if r["claim"] == claim and r["moves"]), key=lambda r: -abs(r["delta"]))
        moved = ", ".join(f"{r['ingredient']} ({r['delta']:+.3f}: {r['base_verdict']} -> {r['verdict']})" for r in rows)
        lines.append(f"- **{claim}**: " + (moved or "no ingredient moves it beyond its margin"))
    return lines


# --------------------------------------------------------------------------- the recipe


@dataclass
class RecipeResult:
    recipe: Recipe
    models: list[dict]
    runs: list[dict]
    table: list[dict]
    ablation: list[dict]
    notes: list[str]
    times: dict[str, float]


def run_recipe(recipe: Recipe, out, hw=DEFAULT_HW, log: Callable[[str], None] = print) -> RecipeResult:
    """Train and run the matrix (reusing what ``out/cache`` holds), check the claims, run the
    ablation when asked (:attr:`Recipe.ablation`), write the report into ``out``. Order: the fc
    matrix, the ablation (fc), then the other architectures; the report is rewritten after each
    stage, so a recipe stopped part-way leaves the findings of the stages it finished."""
    cache = Cache(Path(out), Path(hw), log)
    result = RecipeResult(recipe, [], [], [], [], [], {})
    archs: list[str] = []
    order = sorted(recipe.archs, key=lambda a: a != "fc")
    for arch in order:
        opts = arch_options(recipe, arch)
        archs.append(arch)
        sub = recipe.for_arch(arch)
        for seed in sub.seeds:
            m, r = _run_jobs(cache, sub, matrix_jobs(sub, arch, seed), opts)
            result.models += m
            result.runs += r
        result.table = [row for a in archs for row in claim_table(recipe.for_arch(a), result.runs, [a])]
        if arch == "fc":
            _ablation_stage(cache, recipe, result)
        result.times = cache.times()
        write_recipe_report(result, cache.out)
        log(f"stage {arch} done: {result.times['total_s']:.0f} s")
    if not archs:
        write_recipe_report(result, cache.out)
    return result


def _ablation_stage(cache: Cache, recipe: Recipe, result: RecipeResult) -> None:
    failing = failing_claims(result.table, recipe)
    done: dict[str, str] = {}
    if recipe.ablation == "always" or (recipe.ablation == "auto" and failing):
        for ing in recipe.ingredients:
            done[ing] = _ablate(cache, recipe, ing, result.models, result.runs)
            result.ablation = ablation_table(recipe, result.runs, done)
            result.times = cache.times()
            write_recipe_report(result, cache.out)
    elif recipe.ablation == "auto":
        result.notes.append("ablation: not run, every claim holds for fc at the main setting")


def _ablate(cache: Cache, recipe: Recipe, ing: str, models: list, runs: list) -> str:
    """Train and run one ingredient's models into ``models`` / ``runs``; "" or why not."""
    try:
        for seed in recipe.ablation_seeds:
            m, r = _run_jobs(cache, recipe.for_arch("fc"), ablation_jobs(recipe, ing, seed), {"hidden": recipe.hidden})
            models += m
            runs += r
    except NeurosimError as exc:  # a combination this tree refuses, named in the report
        return f"refused: {exc}"
    return ""


def best_models(result: RecipeResult) -> dict[tuple[str, str], dict]:
    """Per training x architecture of the main matrix (unlayered at F = train F), the seed with
    the highest test accuracy."""
    best: dict[tuple[str, str], dict] = {}
    for m in result.models:
        if m["ingredient"] is None and m["F"] in (0, result.recipe.train_group_size):
            k = (m["training"], m["arch"])
            if k not in best or m["test_accuracy"] > best[k]["test_accuracy"]:
                best[k] = m
    return best


# --------------------------------------------------------------------------- the report


def _pm(mean: float, std: float, digits: int = 3) -> str:
    return "n/a" if not math.isfinite(mean) else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _setting(r: dict) -> str:
    return f"{r['policy']}, F={r['F']}" + ("" if r["K"] is None else f", K={r['K']}")


def claims_markdown(table: list[dict]) -> list[str]:
    """The claims table: compared means, the effect per seed summarised, the verdict."""
    lines = [
        "| claim | arch | setting | unlayered (claim 4: sync) | layered (async) | effect mean ± std [min, max] (seeds) "
        "| verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table:
        d = 3 if r["metric"] == "accuracy" else 1
        lines.append(
            f"| {r['claim']} | {r['arch']} | {_setting(r)} | {r['metric']} {_pm(r['a_mean'], r['a_std'], d)} | "
            f"{_pm(r['b_mean'], r['b_std'], d)} | {_pm(r['effect_mean'], r['effect_std'])} "
            f"[{r['effect_min']:.3f}, {r['effect_max']:.3f}] ({r['effect_n']}) | {r['verdict']} |"
        )
    return lines


def headline(table: list[dict], recipe: Recipe) -> list[str]:
    """Per claim and architecture: the verdict at the main setting and the count over settings."""
    lines = []
    for claim, text in CLAIMS.items():
        for arch in sorted({r["arch"] for r in table}):
            rows = [r for r in table if r["claim"] == claim and r["arch"] == arch]
            main = [r for r in rows if (r["policy"], r["F"], r["K"]) == main_setting(recipe)]
            counts = {v: sum(r["verdict"] == v for r in rows) for v in (HOLDS, DIRECTION, FAILS)}
            m = main[0] if main else None
            at = (
                f"at {_setting(m)}: **{m['verdict']}** (effect {_pm(m['effect_mean'], m['effect_std'])}, "
                f"min {m['effect_min']:.3f}, max {m['effect_max']:.3f}, {m['effect_n']} seeds)"
                if m
                else "main setting not run"
            )
            lines.append(
                f"- **{claim}** ({text}), {arch}: {at}; over {len(rows)} settings: "
                + ", ".join(f"{v} {n}" for v, n in counts.items())
            )
    return lines


def ablation_markdown(abl: list[dict]) -> list[str]:
    lines = [
        "| ingredient | claim | status | baseline effect (verdict) | with the ingredient: effect mean ± std "
        "(verdict) | change |",
        "|---|---|---|---|---|---|",
    ]
    for r in abl:
        lines.append(
            f"| {r['ingredient']} | {r['claim']} | {r['status']} | {r['base_mean']:.3f} ({r['base_verdict']}) | "
            f"{_pm(r['mean'], r['std'])} ({r['verdict']}) | {r['delta']:+.3f} |"
        )
    return lines


def models_markdown(models: list[dict]) -> list[str]:
    lines = ["| training | arch | F | seed | ingredient | test accuracy (trainer) | train time (s) | hash |"]
    lines.append("|---|---|---|---|---|---|---|---|")
    for m in models:
        lines.append(
            f"| {m['training']} | {m['arch']} | {m['F'] or '-'} | {m['seed']} | {m['ingredient'] or '-'} | "
            f"{m['test_accuracy']:.3f} | {m['train_time_s']:.1f} | {m['hash']} |"
        )
    return lines


def write_recipe_report(result: RecipeResult, out: Path) -> None:
    """``findings.md``, ``results.json`` and ``runs.csv`` into ``out``."""
    rc, t = result.recipe, result.times
    text = [
        f"# The paper's claims on {rc.dataset}: recipe {rc.name!r}",
        "",
        f"{rc.train_samples} train / {rc.test_samples} test samples, {rc.frames} frames, {rc.epochs} epochs, "
        f"seeds {list(rc.seeds)}, F {list(rc.group_sizes)} (unlayered models trained at each F), stop-on-output K "
        f"{list(rc.stop_ks)} (momentum, F={rc.train_group_size}), base {rc.base}, hidden {list(rc.hidden)} (fc). "
        f"Per architecture: {rc.arch_overrides or 'none'}. Ablation seeds {list(rc.ablation_seeds)}. "
        f"Margins: {MARGINS}.",
        f"Time: {t['total_s']:.0f} s in all; training {t['train_s']:.0f} s ({t['trained']} models trained, "
        f"{t['reused']} reused), simulation {t['sim_s']:.0f} s ({t['simulated']} runs simulated).",
        "",
        "## Findings",
        "",
        *headline(result.table, rc),
        "",
        *[f"- {n}" for n in result.notes],
        "",
        "## Claims per setting",
        "",
        *claims_markdown(result.table),
        "",
        "## Ablation (fc, momentum, one ingredient at a time)",
        "",
        *(
            movers(result.ablation, list(CLAIMS)) + [""] + ablation_markdown(result.ablation)
            if result.ablation
            else ["not run"]
        ),
        "",
        "## Models",
        "",
        *models_markdown(result.models),
        "",
    ]
    atomic.write_text(out / "findings.md", "\n".join(text))
    payload = {k: getattr(result, k) for k in ("models", "runs", "table", "ablation", "notes", "times")}
    payload["recipe"] = dataclasses.asdict(rc)
    atomic.write_text(out / "results.json", json.dumps(payload, indent=1, default=_plain))
    keys = sorted({k for r in result.runs for k in r})
    rows = [",".join(keys)] + [",".join(_csv(r.get(k)) for k in keys) for r in result.runs]
    atomic.write_text(out / "runs.csv", "\n".join(rows) + "\n")


def _plain(x):
    return float(x) if isinstance(x, (np.floating, np.integer)) else str(x)


def _csv(v) -> str:
    return "" if v is None else str(v).replace(",", ";")
