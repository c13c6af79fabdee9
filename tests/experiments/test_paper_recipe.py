"""``neurosim study --recipe paper``: the verdicts on hand-built numbers, the claims table from
runs, and the quick recipe end to end (trained, simulated, reported) with a second run that
reuses every cached model and run."""

import dataclasses
import json
import math

import pytest

from neurosim.experiments import paper_recipe as pr
from neurosim.paths import DEFAULT_HW

pytest.importorskip("torch")


@pytest.mark.parametrize(
    "claim, effects, want",
    [
        ("fewer-spikes", [0.30, 0.20, 0.25], pr.HOLDS),  # mean 0.25 > 0.05, every seed positive
        ("fewer-spikes", [0.30, -0.01, 0.25], pr.DIRECTION),  # one seed against it
        ("fewer-spikes", [0.03, 0.02, 0.04], pr.DIRECTION),  # positive, within the margin
        ("fewer-spikes", [-0.10, 0.02, 0.01], pr.FAILS),
        ("sooner-decision", [1.0, 0.8], pr.HOLDS),
        ("sooner-decision", [0.05, 0.08], pr.DIRECTION),
        ("higher-accuracy", [-0.02, -0.05], pr.FAILS),
        ("higher-accuracy", [0.05, 0.03], pr.HOLDS),
        ("layered-degrades", [-0.05, 0.0, 0.01], pr.HOLDS),  # no seed gains more than 0.02
        ("layered-degrades", [-0.05, 0.05, 0.0], pr.DIRECTION),  # one seed gains, the mean does not
        ("layered-degrades", [0.04, 0.06], pr.FAILS),  # the layered model gains when run async
        ("fewer-spikes", [math.nan], "not measured"),
    ],
)
def test_verdicts_follow_the_numbers(claim, effects, want):
    assert pr.verdict(claim, effects) == want


def test_effects_and_summary():
    u = {"spikes": 50.0, "decision_us": 5.0, "accuracy": 0.9, "steps_to_target_mean": 2.0}
    lay = {"spikes": 100.0, "decision_us": 10.0, "accuracy": 0.8, "steps_to_target_mean": 3.0}
    assert pr.effect("fewer-spikes", u, lay) == 0.5
    assert pr.effect("sooner-decision", u, lay) == 1.0  # 2x sooner
    assert pr.effect("sooner-target-steps", u, lay) == pytest.approx(0.5)
    assert pr.effect("higher-accuracy", u, lay) == pytest.approx(0.1)
    assert math.isnan(pr.effect("fewer-spikes-to-target", u, lay))  # not recorded: not measured
    assert pr.effect("layered-degrades", {"accuracy": 0.9}, {"accuracy": 0.85}) == pytest.approx(-0.05)
    s = pr.summary([0.1, 0.3, math.nan])
    assert s["n"] == 2 and s["mean"] == pytest.approx(0.2) and s["min"] == 0.1 and s["max"] == 0.3
    assert s["std"] == pytest.approx(math.sqrt(0.02))


def _run(training, seed, mode, policy, F, accuracy, spikes, model_F=None, K=None):
    return {
        "training": training,
        "arch": "fc",
        "seed": seed,
        "F": 0 if training == "layered" else (model_F or F),
        "ingredient": None,
        "mode": mode,
        "policy": policy,
        "run_F": F,
        "K": K,
        "accuracy": accuracy,
        "spikes": spikes,
        "decision_us": spikes / 10,
    }


def test_claim_table_pairs_seeds_and_settings():
    recipe = dataclasses.replace(pr.QUICK, seeds=(0, 1), group_sizes=(8,), stop_ks=())
    runs = []
    for seed in (0, 1):
        runs += [
            _run("layered", seed, "sync", "-", 8, 0.80, 100),
            _run("layered", seed, "async", "momentum", 8, 0.70 + 0.01 * seed, 100),
            _run("layered", seed, "async", "random", 8, 0.70, 100),
            _run("unlayered-momentum", seed, "async", "momentum", 8, 0.75, 60 + 20 * seed),
            _run("unlayered-random", seed, "async", "random", 8, 0.60, 120),
        ]
    table = {(r["claim"], r["policy"]): r for r in pr.claim_table(recipe, runs, ["fc"])}
    m = table[("fewer-spikes", "momentum")]
    assert m["effects"] == pytest.approx([0.4, 0.2]) and m["verdict"] == pr.HOLDS and m["seeds"] == [0, 1]
    assert table[("fewer-spikes", "random")]["verdict"] == pr.FAILS
    assert table[("higher-accuracy", "momentum")]["effect_mean"] == pytest.approx(0.045)
    assert table[("layered-degrades", "momentum")]["verdict"] == pr.HOLDS  # async below sync
    assert ("fewer-spikes-to-target", "momentum") in table  # listed, not measured in these runs
    assert table[("fewer-spikes-to-target", "momentum")]["verdict"] == "not measured"
    assert pr.failing_claims(list(table.values()), recipe) == ["fewer-spikes-to-target", "sooner-target-steps"]


@pytest.mark.slow  # ~30 s on the shared 2-core machine (12 s of CPU)
def test_quick_recipe_end_to_end_and_resumes(tmp_path):
    recipe = dataclasses.replace(pr.QUICK, seeds=(0, 1), group_sizes=(8,), ingredients=("threshold-0.3",))
    quiet = lambda _s: None
    first = pr.run_recipe(recipe, tmp_path / "study", DEFAULT_HW, log=quiet)
    n_models = 2 * 3 + 2  # 3 trainings x 2 seeds, plus the ablation's 2 models of seed 0
    assert first.times["trained"] == n_models and first.times["reused"] == 0
    assert {m["training"] for m in first.models} == set(pr.TRAININGS)
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["spikes"] >= 0 for r in first.runs)
    claims = {r["claim"] for r in first.table}
    assert {"fewer-spikes", "sooner-decision", "higher-accuracy", "layered-degrades"} <= claims
    assert all(r["verdict"] in (pr.HOLDS, pr.DIRECTION, pr.FAILS, "not measured") for r in first.table)
    assert {r["ingredient"] for r in first.ablation} == {"threshold-0.3"}
    text = (tmp_path / "study" / "findings.md").read_text()
    assert "## Claims per setting" in text and "## Ablation" in text and "threshold-0.3" in text
    saved = json.loads((tmp_path / "study" / "results.json").read_text())
    assert len(saved["runs"]) == len(first.runs)
    second = pr.run_recipe(recipe, tmp_path / "study", DEFAULT_HW, log=quiet)
    assert second.times["trained"] == 0 and second.times["simulated"] == 0  # all from the cache
    assert second.times["reused"] == n_models
    assert json.dumps(second.table) == json.dumps(first.table)


def test_cli_refuses_mixed_options(tmp_path, capsys):
    from neurosim.cli.main import main  # noqa: PLC0415

    assert main(["study", "--ship", str(tmp_path / "m"), "--out", str(tmp_path / "s")]) == 2
    assert "--ship takes the models of --recipe paper" in capsys.readouterr().err
    assert main(["study", "--recipe", "paper", "--models", "x.nir", "--out", str(tmp_path / "s")]) == 2
    assert "--models does not apply" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()  # refused before anything is written


def test_recipe_refuses_unknown_parts():
    with pytest.raises(pr.ConfigError, match="unknown trainings/ingredients"):
        pr.Recipe(trainings=("layered", "bptt-everything"))
    with pytest.raises(pr.ConfigError, match="train_group_size 4 not in group_sizes"):
        pr.Recipe(train_group_size=4)
    assert pr.PAPER.for_arch("paper-cnn").group_sizes == (8,) and pr.PAPER.for_arch("fc").group_sizes == (8, 16, 128)
