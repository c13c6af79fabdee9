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


def li_readout_model(path):
    """A 64-16-10 digits-sized net whose output is NIR's non-spiking LI, written to ``path``."""
    import nir
    import numpy as np

    rng = np.random.default_rng(0)
    tau = np.full(16, 2e-3)
    nodes = {
        "input": nir.Input({"input": np.array([64])}),
        "fc1": nir.Linear((np.round(rng.normal(0.05, 0.2, (16, 64)) * 64) / 64).astype(np.float32)),
        "lif": nir.LIF(tau=tau, r=tau / 1e-3, v_leak=np.zeros(16), v_threshold=np.ones(16), v_reset=np.zeros(16)),
        "fc2": nir.Linear((np.round(rng.normal(0, 0.5, (10, 16)) * 64) / 64).astype(np.float32)),
        "li": nir.LI(tau=np.full(10, 4e-3), r=np.full(10, 4.0), v_leak=np.zeros(10)),
        "output": nir.Output({"output": np.array([10])}),
    }
    names = list(nodes)
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=list(zip(names, names[1:])), metadata={"dt": 1e-3}))
    return path


def test_readout_of_a_non_spiking_output(capsys, tmp_path):
    """``--readout`` reaches the run of a model with an LI output: recorded, in the identity, and
    refused for a value it does not know."""
    model = li_readout_model(tmp_path / "li.nir")
    runs = {}
    for how in ("max", "last"):
        code, err, _, summary = run(capsys, tmp_path, model, "--readout", how, "--dataset", "digits", name=how)
        assert code == 0, err
        assert summary["readout"] == f"membrane {how}"
        runs[how] = summary["run"]["identity"]
    assert runs["max"] != runs["last"]
    assert main(["run", str(model), "--hw", SMALL, "--readout", "median"]) == 2
    assert "invalid choice" in capsys.readouterr().err


def _without_wall(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if "wall" not in k and k != "run"} | {
        "run": {k: v for k, v in summary["run"].items() if "wall" not in k}
    }


def test_engine_reference_reaches_the_process_model(capsys, tmp_path, model):
    """``--engine reference`` runs the SimPy process model: the same summary as the fast engine,
    and it refuses, in one line, an option it does not model (which the fast engine takes)."""
    code, err, _, fast = run(capsys, tmp_path, model, "--mode", "async", name="fast")
    assert code == 0, err
    code, err, _, ref = run(capsys, tmp_path, model, "--mode", "async", "--engine", "reference", name="ref")
    assert code == 0, err
    assert _without_wall(ref) == _without_wall(fast)
    code, err, _, _ = run(capsys, tmp_path, model, "--mode", "async", "--refrac-dropout", "0.5", name="fast2")
    assert code == 0, err
    argv = ("--mode", "async", "--refrac-dropout", "0.5", "--engine", "reference")
    code, err, _, _ = run(capsys, tmp_path, model, *argv, name="ref2")
    assert code == 2 and "refrac_dropout" in err and len(err.strip().splitlines()) == 1, err
