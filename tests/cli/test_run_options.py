"""``neurosim run --n-cores / --neurons-per-core`` and ``--seed`` reaching the random mapping
choices (``--strategy random``, ``--placement traffic-aware``)."""

import json

import pytest
import yaml

from neurosim.cli.main import main
from neurosim.experiments.runner import prepare
from neurosim.paths import HW_DIR

SMALL = str(HW_DIR / "small.yaml")


def run(capsys, tmp_path, model, *argv, name="rep"):
    """Run on the small chip with 2 samples; (exit code, stderr, saved mapping or None, summary or None)."""
    m = tmp_path / f"{name}.yaml"
    code = main(
        ["run", str(model), "--hw", SMALL, "--samples", "2", "-q", "--out", str(tmp_path / name)]
        + ["--save-mapping", str(m)]
        + [str(a) for a in argv]
    )
    err = capsys.readouterr().err
    if code != 0:
        return code, err, None, None
    summary = json.loads((tmp_path / name / "summary.json").read_text())
    return code, err, yaml.safe_load(m.read_text()), summary


def cores(doc):
    return [(c["core"], c["neurons"]) for c in doc["cores"]]


def test_n_cores_spreads_the_network(capsys, tmp_path, model):
    code, err, doc, summary = run(capsys, tmp_path, model, "--strategy", "balanced", "--n-cores", "6")
    assert code == 0, err
    assert len(doc["cores"]) == 6 and doc["strategy_options"] == {"n_cores": 6}
    assert summary["run"]["options"]["mapping_options"] == {"n_cores": 6}
    # without it, balanced uses as many cores as sequential (one per population here)
    code, err, doc, _ = run(capsys, tmp_path, model, "--strategy", "balanced", name="plain")
    assert code == 0, err
    assert len(doc["cores"]) == 3


def test_n_cores_all_and_neurons_per_core(capsys, tmp_path, model):
    code, err, doc, _ = run(capsys, tmp_path, model, "--strategy", "random", "--n-cores", "all")
    assert code == 0, err
    assert len(doc["cores"]) == 8
    code, err, doc, _ = run(capsys, tmp_path, model, "--neurons-per-core", "16", name="npc")
    assert code == 0, err
    # sequential, at most 16 neurons per core: 64 inputs -> 4 cores, 20 -> 2, 10 -> 1
    assert len(doc["cores"]) == 7 and doc["strategy_options"] == {"neurons_per_core": 16}


@pytest.mark.parametrize(
    "argv,words",
    [
        (["--n-cores", "4"], "option(s) ['n_cores'] are not understood by strategy 'sequential'"),
        (["--strategy", "balanced", "--n-cores", "few"], "--n-cores: expected a positive integer or 'all'"),
        (["--strategy", "balanced", "--n-cores", "0"], "n_cores must be a positive integer"),
        (["--strategy", "balanced", "--n-cores", "9"], "n_cores=9 but hardware 'small' has 8 cores"),
        (["--neurons-per-core", "0"], "--neurons-per-core: expected a positive integer, got '0'"),
        (["--neurons-per-core", "10"], "the network needs 10 cores, hardware 'small' has 8"),
        (["--mapping", "m.yaml", "--n-cores", "4"], "cannot be combined with --strategy/--placement/--n-cores"),
        (["--mapping", "m.yaml", "--neurons-per-core", "4"], "cannot be combined"),
    ],
)
def test_bad_mapping_options_give_one_line(capsys, tmp_path, model, argv, words):
    code, err, _, _ = run(capsys, tmp_path, model, *argv)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("neurosim: error:"), err
    assert words in lines[0], lines[0]
    assert not (tmp_path / "rep").exists()


def test_seed_reaches_the_random_strategy(capsys, tmp_path, model):
    got = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        code, err, doc, _ = run(
            capsys, tmp_path, model, "--strategy", "random", "--n-cores", "8", "--seed", seed, name=name
        )
        assert code == 0, err
        assert doc["seed"] == seed and doc["strategy_options"]["seed"] == seed
        got[name] = cores(doc)
    assert got["a"] == got["b"]
    assert got["a"] != got["c"]


def test_seed_reaches_the_placement(tmp_path, model):
    a = prepare(model, SMALL, samples=1, strategy="balanced", placement="traffic-aware", seed=7)
    assert a.mapping.meta["placement_options"] == {"seed": 7}
    # strategies without a seed are not given one (and do not fail)
    b = prepare(model, SMALL, samples=1, strategy="balanced", seed=7, mapping_options={"n_cores": 4})
    assert b.mapping.meta == {"strategy_options": {"n_cores": 4}, "placement_options": {}}
