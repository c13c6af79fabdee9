"""The explore front: three objectives with their senses, mapping keys of a spec (``n_cores``,
``neurons_per_core``) in the points and the table, and front mappings that re-run with
``neurosim run --mapping`` to the point's own figures."""

import json

import builders
import numpy as np
import pandas as pd
import pytest
import yaml

from neurosim.cli.main import main
from neurosim.errors import ConfigError
from neurosim.experiments.explore.pareto import pareto_mask
from neurosim.experiments.explore.spec import load_spec
from neurosim.experiments.explore.sweep import run_sweep


def write_spec(folder, model, **fields):
    return builders.write_spec(folder, model, **{"name": "front", **fields})


# ---- the front -----------------------------------------------------------------------------------


def test_a_less_accurate_point_does_not_dominate_a_more_accurate_one():
    df = pd.DataFrame(
        {
            "status": ["ok", "ok", "ok", "ok", "error", "ok"],
            "energy_j": [1.0, 2.0, 3.0, 1.0, 0.1, 0.5],
            "latency_s": [1.0, 2.0, 3.0, 1.0, 0.1, 5.0],
            "accuracy": [0.5, 0.9, 0.9, 0.5, 1.0, 0.1],
        }
    )
    # 0: front; 1: costlier than 0 but more accurate: front; 2: beaten by 1 on energy and latency
    # at equal accuracy; 3: a duplicate of 0; 4: failed; 5: least energy: front
    assert pareto_mask(df).tolist() == [True, True, False, False, False, True]
    # on energy and latency alone the accurate point 1 would be dropped
    two = (("energy_j", "min"), ("latency_s", "min"))
    assert pareto_mask(df, two).tolist() == [True, False, False, False, False, True]
    # the sense matters: maximising energy puts the costliest points on the front
    assert pareto_mask(df, (("energy_j", "max"),)).tolist() == [False, False, True, False, False, False]
    with pytest.raises(ValueError, match="sense"):
        pareto_mask(df, (("accuracy", "best"),))


def test_an_objective_nobody_has_is_left_out():
    df = pd.DataFrame(
        {
            "status": ["ok", "ok", "ok"],
            "energy_j": [1.0, 2.0, 0.5],
            "latency_s": [1.0, 0.5, 2.0],
            "accuracy": [np.nan, np.nan, np.nan],
        }
    )
    assert pareto_mask(df).tolist() == [True, True, True]
    df.loc[2, "accuracy"] = 0.5  # now only point 2 has every objective
    assert pareto_mask(df).tolist() == [False, False, True]


# ---- mapping keys of a spec ----------------------------------------------------------------------


def test_mapping_keys_make_a_grid(tmp_path, model):
    spec = load_spec(
        write_spec(tmp_path, model, n_cores=[4, "all"], neurons_per_core=16, strategies=["balanced", "random"])
    )
    assert spec.mapping_keys == ("n_cores", "neurons_per_core")
    got = [(p.params["mapping_options"], p.params["strategy"]) for p in spec.points]
    assert got == [
        ({"n_cores": 4, "neurons_per_core": 16}, "balanced"),
        ({"n_cores": 4, "neurons_per_core": 16}, "random"),
        ({"n_cores": "all", "neurons_per_core": 16}, "balanced"),
        ({"n_cores": "all", "neurons_per_core": 16}, "random"),
    ]
    # a spec without them keeps its points' keys (no mapping_options in the parameters)
    plain = load_spec(write_spec(tmp_path, model, strategies=["balanced"]))
    assert "mapping_options" not in plain.points[0].params and plain.mapping_keys == ()


@pytest.mark.parametrize(
    "fields,where,reason",
    [
        (
            {"n_cores": 4, "strategies": ["balanced", "sequential"]},
            "spec.yaml:9: n_cores:",
            "strategy 'sequential' with placement 'row-major' does not take n_cores",
        ),
        (
            {"n_cores": 4, "strategies": [{"name": "balanced", "options": {"n_cores": 2}}]},
            "spec.yaml:13: strategies.0.options.n_cores",
            "also given at the top level",
        ),
        ({"n_cores": [4, 0]}, "spec.yaml:9: n_cores", "entry 1: expected a positive integer or 'all', got 0"),
        ({"neurons_per_core": []}, "spec.yaml:9: neurons_per_core", "at least 1 item"),
    ],
)
def test_bad_mapping_keys_are_refused(tmp_path, model, fields, where, reason):
    with pytest.raises(ConfigError) as e:
        load_spec(write_spec(tmp_path, model, **fields))
    assert where in str(e.value) and reason in str(e.value), str(e.value)


# ---- front mappings re-run -----------------------------------------------------------------------


def test_front_mappings_rerun_to_the_points_figures(tmp_path, model, capsys, monkeypatch):
    """A point on a widened chip (4x2 tiles, 16 neurons per core; cores 8-15 exist only there),
    spread over 12 cores and placed by annealing: its front mapping re-runs to the same energy,
    latency and accuracy with ``neurosim run --mapping`` and no ``--set``."""
    monkeypatch.chdir(tmp_path)
    spec = write_spec(
        tmp_path,
        model,
        overrides={"mesh.width": [4], "core.max_neurons": [16]},
        n_cores=[12],
        strategies=["balanced", {"name": "random", "options": {"seed": 3}}],
        placements=["traffic-aware"],
    )
    out = tmp_path / "out"
    res = run_sweep(spec, out=out, workers=0, progress=False)
    df = res.table
    assert (df.status == "ok").all() and df["n_cores"].tolist() == [12, 12]
    assert df["cores_used"].tolist() == [12, 12]
    assert (out / "pareto.png").stat().st_size > 1000
    assert res.front
    for key in res.front:
        path = out / "front" / f"{key}.yaml"
        doc = yaml.safe_load(path.read_text())
        assert doc["hardware"] == "small" and doc["hardware_overrides"] == {"mesh.width": 4, "core.max_neurons": 16}
        assert doc["placement"] == "traffic-aware" and doc["placement_options"] == {"rates": "given", "seed": 0}
        assert doc["strategy_options"]["n_cores"] == 12 and doc["seed"] == 0
        assert max(c["core"] for c in doc["cores"]) >= 8  # would not exist on the plain chip
        rec = json.loads((out / "points" / f"{key}.json").read_text())["metrics"]
        rep = tmp_path / "rerun" / key  # each mapping file is another run (another identity)
        code = main(["run", str(model), "--hw", "small", "--mapping", str(path), "--samples", "4", "--out", str(rep)])
        err = capsys.readouterr().err
        assert code == 0, err
        assert "applied the hardware overrides recorded in" in err and "mesh.width=4 core.max_neurons=16" in err
        summary = json.loads((rep / "summary.json").read_text())
        assert summary["energy_per_inference_j"] == rec["energy_j"]
        assert summary["latency_per_inference_s"] == rec["latency_s"]
        assert summary["accuracy"] == rec["accuracy"]
        assert summary["hops_per_inference"] == rec["hops"] > 0
        assert summary["run"]["options"]["hardware_overrides"] == {"mesh.width": 4, "core.max_neurons": 16}
    # other hardware values than the mapping was made under are refused, in one line
    f = str(out / "front" / f"{res.front[0]}.yaml")
    code = main(["run", str(model), "--hw", "small", "--mapping", f, "--set", "mesh.width=4", "-q"])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "the hardware has core.max_neurons=64" in lines[0], lines


def test_table_records_mapping_options_given_per_strategy(tmp_path, model):
    spec = write_spec(
        tmp_path,
        model,
        strategies=[{"name": "balanced", "options": {"n_cores": 4}}, "sequential"],
        samples=2,
        rates="uniform",
    )
    res = run_sweep(spec, out=tmp_path / "out", workers=0, progress=False, plot=False)
    assert res.table["n_cores"].tolist()[0] == 4 and pd.isna(res.table["n_cores"].tolist()[1])
    assert res.table["cores_used"].tolist() == [4, 3]
