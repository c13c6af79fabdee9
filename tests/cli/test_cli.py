"""The command line: bad input gives one line on stderr, exit code 2, no report; good input
writes a complete report."""

import json

import nir
import numpy as np
import pytest
from builders import random_network

from neurosim.cli.main import main
from neurosim.io.nir_write import save_network
from neurosim.paths import HW_DIR

SMALL = str(HW_DIR / "small.yaml")


@pytest.fixture
def model(tmp_path):
    net = random_network([64, 20, 10], seed=0, name="m")
    path = tmp_path / "m.nir"
    save_network(net, path)
    return path


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def hw_text(**edits):
    text = (HW_DIR / "small.yaml").read_text()
    for old, new in edits.items():
        assert old in text
        text = text.replace(old, new, 1)
    return text


def bad_inputs(tmp_path, model):
    """(description, argv, words expected in the message) for each kind of malformed input."""
    nir_bad = tmp_path / "cuba.nir"
    nir.write(
        str(nir_bad),
        nir.NIRGraph(
            nodes={
                "input": nir.Input({"input": np.array([2])}),
                "fc": nir.Affine(np.ones((2, 2), np.float32), np.zeros(2, np.float32)),
                "cuba": nir.CubaLIF(
                    tau_syn=np.full(2, 1e-5),
                    tau_mem=np.ones(2),
                    r=np.ones(2),
                    v_leak=np.zeros(2),
                    v_threshold=np.ones(2),
                ),
                "output": nir.Output({"output": np.array([2])}),
            },
            edges=[("input", "fc"), ("fc", "cuba"), ("cuba", "output")],
            metadata={"dt": 1e-3},
        ),
    )
    return [
        ("hardware YAML syntax", ["run", model, "--hw", write(tmp_path, "a.yaml", "mesh: [1, 2\n")], "malformed YAML"),
        (
            "hardware unknown key",
            ["run", model, "--hw", write(tmp_path, "b.yaml", hw_text(**{"max_fan_in": "max_fanin"}))],
            "unknown key",
        ),
        (
            "hardware wrong type",
            ["run", model, "--hw", write(tmp_path, "c.yaml", hw_text(**{"clock_mhz: 100": "clock_mhz: fast"}))],
            "core.clock_mhz",
        ),
        (
            "hardware negative cost",
            ["validate", write(tmp_path, "d.yaml", hw_text(**{"energy_synop_pj: 1.0": "energy_synop_pj: -1"}))],
            "core.energy_synop_pj",
        ),
        ("hardware missing file", ["run", model, "--hw", tmp_path / "none.yaml"], "no such file"),
        (
            "mapping over capacity",
            [
                "run",
                model,
                "--hw",
                SMALL,
                "--mapping",
                write(
                    tmp_path,
                    "m1.yaml",
                    "format: neurosim-mapping/1\ncores:\n  - core: 0\n    neurons:\n"
                    "      - {population: in, start: 0, stop: 64}\n      - {population: l0, start: 0, stop: 20}\n"
                    "      - {population: l1, start: 0, stop: 10}\n",
                ),
            ],
            "94 neurons needed, capacity is 64",
        ),
        (
            "mapping unknown population",
            [
                "run",
                model,
                "--hw",
                SMALL,
                "--mapping",
                write(
                    tmp_path,
                    "m2.yaml",
                    "format: neurosim-mapping/1\ncores:\n  - core: 0\n    neurons:\n"
                    "      - {population: hidden, start: 0, stop: 64}\n",
                ),
            ],
            "population 'hidden'",
        ),
        ("model node it cannot run (tau_syn < dt)", ["run", nir_bad, "--hw", SMALL], "CubaLIF"),
        ("model not a NIR file", ["run", write(tmp_path, "x.nir", "not hdf5"), "--hw", SMALL], "x.nir"),
        ("model missing file", ["info", tmp_path / "gone.nir"], "gone.nir"),
        ("bad sample count", ["run", model, "--hw", SMALL, "--samples", "0"], "--samples must be positive"),
        ("bad override", ["run", model, "--hw", SMALL, "--set", "core.max_neuron=3"], "core.max_neuron"),
        ("override infeasible", ["run", model, "--hw", SMALL, "--set", "core.max_neurons=8"], "needs"),
        ("unknown option value", ["run", model, "--mode", "turbo"], "invalid choice"),
        (
            "report path is a file",
            ["run", model, "--hw", SMALL, "--samples", "2", "--out", write(tmp_path, "file.txt", "")],
            "file.txt",
        ),
    ]


def test_malformed_inputs_give_one_line_and_exit_2(tmp_path, model, capsys):
    cases = bad_inputs(tmp_path, model)
    assert len(cases) >= 10
    for what, argv, words in cases:
        code, out, err = run_cli(capsys, *argv, *(["-q"] if argv[0] == "run" else []))
        assert code == 2, what
        lines = err.strip().splitlines()
        assert len(lines) == 1, (what, err)
        assert lines[0].startswith("neurosim: error:"), (what, err)
        assert words in lines[0], (what, lines[0])
        assert "Traceback" not in err
    assert not (tmp_path / "reports").exists()


def test_run_writes_a_complete_report(tmp_path, model, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(
        capsys,
        "run",
        model,
        "--hw",
        SMALL,
        "--samples",
        "5",
        "-q",
        "--dataset",
        "digits",
        "--save-mapping",
        tmp_path / "map.yaml",
    )
    assert code == 0, err
    (rep,) = (tmp_path / "reports").iterdir()  # --samples/--dataset: the name carries the run's hash
    summary = json.loads((rep / "summary.json").read_text())
    assert rep.name == f"m-small-sync-{summary['run']['identity']['hash'][:8]}"
    for key in (
        "accuracy",
        "energy_per_inference_j",
        "latency_per_inference_s",
        "spikes_per_inference",
        "synops_per_inference",
        "messages_per_inference",
        "hops_per_inference",
        "per_core",
        "energy_breakdown_per_inference_j",
    ):
        assert key in summary
    assert summary["energy_per_inference_j"] > 0 and summary["latency_per_inference_s"] > 0
    assert (rep / "samples.csv").read_text().count("\n") == 6
    for f in ("report.md", "fig_energy.png", "fig_cores.png", "fig_raster.png", "fig_latency.png"):
        assert (rep / f).stat().st_size > 0
    # the saved mapping reproduces the run
    code, _, err = run_cli(
        capsys,
        "run",
        model,
        "--hw",
        SMALL,
        "--samples",
        "5",
        "-q",
        "--dataset",
        "digits",
        "--mapping",
        tmp_path / "map.yaml",
        "--out",
        tmp_path / "again",
    )
    assert code == 0, err
    again = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert again["energy_per_inference_j"] == summary["energy_per_inference_j"]


def test_same_seed_same_report(tmp_path, model, capsys):
    for d in ("a", "b"):
        assert (
            run_cli(
                capsys,
                "run",
                model,
                "--hw",
                SMALL,
                "--samples",
                "4",
                "-q",
                "--dataset",
                "digits",
                "--mode",
                "async",
                "--scheduler",
                "random",
                "--seed",
                "3",
                "--out",
                tmp_path / d,
            )[0]
            == 0
        )
    # same inputs, same bytes: the wall-clock figures are in timing.json, not in summary.json
    a, b = ((tmp_path / d / "summary.json").read_bytes() for d in "ab")
    assert a == b and "wall_s" not in json.loads(a)["run"]


def test_validate_and_info(tmp_path, model, capsys):
    code, out, _ = run_cli(capsys, "validate", SMALL, model)
    assert code == 0 and out.count(": ok") == 2
    code, out, _ = run_cli(capsys, "info", SMALL)
    assert code == 0 and "8 cores" in out and "synop" in out
    code, out, _ = run_cli(capsys, "info", model)
    assert code == 0 and "94 neurons" in out
    assert main(["--help"]) == 0
    capsys.readouterr()


def test_report_has_the_critical_path_and_noc_figures(tmp_path, capsys):
    """A run whose layers span tiles: link figures, energy per tile and the critical path."""
    from builders import random_network

    net = random_network([64, 40, 30, 10], seed=2, name="wide")
    save_network(net, tmp_path / "wide.nir")
    code, _, err = run_cli(
        capsys,
        "run",
        tmp_path / "wide.nir",
        "--hw",
        SMALL,
        "--samples",
        "3",
        "-q",
        "--dataset",
        "digits",
        "--set",
        "core.max_neurons=20",
        "--set",
        "mesh.width=4",
        "--out",
        tmp_path / "r",
    )
    assert code == 0, err
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    cp = summary["critical_path"]
    assert cp["sample"] == 0 and [s["phase"] for s in cp["steps"]] == ["in", "l0", "l1", "l2"]
    assert cp["cycles"] == sum(s["cycles"] for s in cp["steps"])
    assert any(s["link"] is not None for s in cp["steps"]) and summary["per_link"]
    for f in ("fig_links.png", "fig_tiles.png", "fig_critical.png"):
        assert (tmp_path / "r" / f).stat().st_size > 0
    assert "## Critical path" in (tmp_path / "r" / "report.md").read_text()
