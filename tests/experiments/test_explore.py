"""neurosim explore: spec validation, resumable sweeps, failing points, lost workers, the local
pool and Dask giving the same table, and the outputs (table, Pareto plot, front mappings)."""

import json
import os
import sys

import numpy as np
import pandas as pd
import pytest
from builders import comparable, write_spec

from neurosim.cli.main import main
from neurosim.errors import ConfigError, NeurosimError
from neurosim.experiments.explore import sweep as sweep_mod
from neurosim.experiments.explore.pareto import pareto_mask
from neurosim.experiments.explore.point import run_point
from neurosim.experiments.explore.spec import load_spec
from neurosim.experiments.explore.sweep import run_sweep
from neurosim.io.hardware_file import load_hardware
from neurosim.io.mapping_file import load_mapping
from neurosim.io.nir_read import load_network
from neurosim.paths import HW_DIR

# ---- the spec --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,where,reason",
    [
        ("strategies: [sequential, clever]\n", "spec.yaml:6: strategies.1", "unknown strategy 'clever'"),
        ("placements: [row-major, snake]\n", "spec.yaml:6: placements.1", "unknown placement 'snake'"),
        ("modes: [sync, warp]\n", "spec.yaml:6: modes.1", "unknown mode 'warp'"),
        (
            "modes:\n  - {name: sync, options: {polcy: fifo}}\n",
            "spec.yaml:7: modes.0.options.polcy",
            "not an option of simulate()",
        ),
        ("overrides:\n  core.max_neuron: [64]\n", "spec.yaml:7: overrides.core.max_neuron", "not a hardware key"),
        ("overrides:\n  core.max_neurons: []\n", "spec.yaml:6: overrides", "lists no values"),
        ("stratgies: [sequential]\n", "spec.yaml:6: stratgies", "unknown key"),
        ("samples: 0\n", "spec.yaml:6: samples", "greater than 0"),
        (
            "strategies:\n  - {name: partition, options: {rates: 1}}\n",
            "spec.yaml:7: strategies.0.options.rates",
            "whole sweep",
        ),
        ("strategies: [sequential, sequential]\n", "spec.yaml:6: strategies", "more than once"),
    ],
)
def test_spec_errors_name_file_line_and_key(tmp_path, body, where, reason):
    path = tmp_path / "spec.yaml"
    path.write_text("format: neurosim-explore/1\nname: t\nmodels: [m.nir]\nhardware: [small]\nseed: 0\n" + body)
    with pytest.raises(ConfigError) as e:
        load_spec(path)
    assert where in str(e.value) and reason in str(e.value), str(e.value)


def test_points_expand_in_order_with_stable_keys(tmp_path, model):
    path = write_spec(
        tmp_path,
        model,
        hardware=["small", "../hw/other.yaml"],
        overrides={"core.max_neurons": [32, 64], "router.link_bandwidth_msgs_per_cycle": [0.5, 1.0]},
        strategies=["sequential", {"name": "random", "options": {"seed": 2}}],
        placements=["row-major", "traffic-aware"],
    )
    a, b = load_spec(path), load_spec(path)
    assert len(a.points) == 2 * 4 * 2 * 2
    assert [p.key for p in a.points] == [p.key for p in b.points]
    assert len({p.key for p in a.points}) == len(a.points)
    first, last = a.points[0].params, a.points[-1].params
    assert (first["hardware"], first["overrides"], first["strategy"], first["placement"]) == (
        "small",
        {"core.max_neurons": 32, "router.link_bandwidth_msgs_per_cycle": 0.5},
        "sequential",
        "row-major",
    )
    assert last["strategy_label"] == "random(seed=2)" and last["placement"] == "traffic-aware"
    assert a.points[0].hardware_path == str(HW_DIR / "small.yaml")
    assert a.points[-1].hardware_path == str((tmp_path / "../hw/other.yaml").resolve())
    # a different seed is a different point
    c = load_spec(
        write_spec(
            tmp_path,
            model,
            seed=1,
            hardware=["small", "../hw/other.yaml"],
            overrides={"core.max_neurons": [32, 64], "router.link_bandwidth_msgs_per_cycle": [0.5, 1.0]},
            strategies=["sequential", {"name": "random", "options": {"seed": 2}}],
            placements=["row-major", "traffic-aware"],
        )
    )
    assert not {p.key for p in c.points} & {p.key for p in a.points}


def test_example_spec_is_valid():
    from neurosim.paths import ROOT

    spec = load_spec(ROOT / "examples" / "explore_small.yaml")
    assert len(spec.points) == 48


# ---- sweeps ------------------------------------------------------------------------------------------


def test_sweep_records_failures_goes_on_and_skips_finished_points(tmp_path, model):
    spec = write_spec(
        tmp_path,
        model,
        hardware=["small", "missing.yaml"],
        overrides={"mesh.width": [4], "core.max_fan_in": [256, 8]},
        strategies=["sequential", "partition"],
        placements=["row-major", "traffic-aware"],
    )
    out = tmp_path / "out"
    res = run_sweep(spec, out=out, workers=0, progress=False)
    df = res.table
    assert len(df) == 16 and res.computed == 16 and res.skipped == 0
    ok = df[df.status == "ok"]
    assert len(ok) == 4 and set(ok["core.max_fan_in"]) == {256} and set(ok.hardware) == {"small"}
    missing = df[df.hardware == "missing.yaml"]
    assert (missing.status == "error").all()
    assert missing.error.str.contains("missing.yaml: no such file").all()
    infeasible = df[(df.hardware == "small") & (df["core.max_fan_in"] == 8)]
    assert (infeasible.status == "error").all() and infeasible.error.str.contains("fan-in").all()
    assert all("\n" not in e for e in df.error.dropna())
    for col in (
        "accuracy",
        "energy_j",
        "latency_s",
        "edp_js",
        "spikes",
        "synops",
        "messages",
        "hops",
        "cut_traffic",
        "mean_hops",
        "max_load",
        "wall_s",
        "Effective_ACs",
        "Dense",
        "ActivationSparsity",
        "ConnectionSparsity",
        "ParameterCount",
        "Footprint",
        "weight_memory_bytes",
    ):
        assert ok[col].notna().all(), col
    assert (ok["Effective_ACs"] == ok["synops"]).all()  # NeuroBench's name for the same count
    # outputs: one record per point, the table twice, the plot, the front mappings (loadable)
    assert len(list((out / "points").glob("*.json"))) == 16
    assert pd.read_parquet(out / "table.parquet").shape == df.shape
    assert comparable(pd.read_csv(out / "table.csv")).shape == comparable(df).shape
    assert (out / "pareto.png").stat().st_size > 1000
    front = sorted((out / "front").glob("*.yaml"))
    assert len(front) == int(df.pareto.sum()) >= 1
    net = load_network(model)
    hw = load_hardware(HW_DIR / "small.yaml", {"mesh.width": 4, "core.max_fan_in": 256})
    for f in front:
        assert load_mapping(f, net, hw).core_of.shape == (net.n_neurons,)
    # again: nothing new is computed, nothing is rewritten, the same table comes out
    stamps = {f: f.stat().st_mtime_ns for f in (out / "points").glob("*.json")}
    again = run_sweep(spec, out=out, workers=2, progress=False)
    assert again.computed == 0 and again.skipped == 16
    assert stamps == {f: f.stat().st_mtime_ns for f in (out / "points").glob("*.json")}
    pd.testing.assert_frame_equal(again.table, df)
    # --retry-failed runs the failed points only (and they fail again)
    retried = run_sweep(spec, out=out, workers=0, progress=False, retry_failed=True, plot=False)
    assert retried.computed == 12 and retried.failed == 12


def test_local_pool_gives_the_same_table_as_in_process(tmp_path, model):
    spec = write_spec(
        tmp_path,
        model,
        overrides={"router.link_bandwidth_msgs_per_cycle": [0.5, 1.0]},
        strategies=["balanced", {"name": "random", "options": {"seed": 3}}],
        placements=["row-major", "traffic-aware"],
    )
    inline = run_sweep(spec, out=tmp_path / "a", workers=0, progress=False, plot=False)
    pool = run_sweep(spec, out=tmp_path / "b", workers=2, progress=False, plot=False)
    assert inline.failed == 0 and pool.computed == 8
    pd.testing.assert_frame_equal(comparable(inline.table), comparable(pool.table))
    assert (tmp_path / "a" / "table.csv").read_text().splitlines()[0] == (
        tmp_path / "b" / "table.csv"
    ).read_text().splitlines()[0]


def crash_on_random(job):
    """Stands in for run_point in the worker processes: the `random` points kill their worker."""
    if job["params"]["strategy"] == "random":
        os._exit(13)
    return run_point(job)


def test_a_lost_worker_costs_only_its_own_point(tmp_path, model, monkeypatch):
    import multiprocessing as mp

    monkeypatch.setattr(sweep_mod, "run_point", crash_on_random)
    # forked workers inherit the patched module; a fork server would re-import this test module
    monkeypatch.setattr(sweep_mod, "_context", lambda: mp.get_context("fork"))
    spec = write_spec(
        tmp_path, model, overrides={"core.max_neurons": [32, 64]}, strategies=["sequential", "random", "balanced"]
    )
    res = run_sweep(spec, out=tmp_path / "out", workers=2, progress=False, plot=False)
    df = res.table
    lost = df[df.strategy == "random"]
    assert (lost.status == "error").all() and lost.error.str.startswith("WorkerLost").all()
    assert (df[df.strategy != "random"].status == "ok").all()  # the points lost with the pool ran again


def test_dask_local_cluster_gives_the_same_table_as_the_local_pool(tmp_path, model):
    pytest.importorskip("distributed")
    spec = write_spec(
        tmp_path,
        model,
        overrides={"core.max_neurons": [32]},
        strategies=["sequential", "partition", {"name": "random", "options": {"seed": 1}}],
        placements=["row-major", "traffic-aware"],
    )
    pool = run_sweep(spec, out=tmp_path / "pool", workers=2, progress=False, plot=False)
    dask = run_sweep(spec, out=tmp_path / "dask", workers=2, dask="local", progress=False, plot=False)
    assert dask.computed == 6 and dask.failed == 0
    pd.testing.assert_frame_equal(comparable(pool.table), comparable(dask.table))


def test_dask_missing_is_a_clear_error(tmp_path, model, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed -> ImportError
    spec = write_spec(tmp_path, model)
    with pytest.raises(NeurosimError, match=r"pip install 'neurosim-hw\[dask\]'"):
        run_sweep(spec, out=tmp_path / "out", dask="local", progress=False)


# ---- CLI and pieces -----------------------------------------------------------------------------------


def test_cli_explore(tmp_path, model, capsys):
    spec = write_spec(tmp_path, model, strategies=["sequential", "partition"])
    out = tmp_path / "out"
    assert main(["explore", str(spec), "--out", str(out), "--workers", "0", "-q"]) == 0
    text = capsys.readouterr().out
    assert "t: 2 points (2 run, 0 already done, 0 failed)" in text and "lowest EDP" in text
    rec = json.loads(next((out / "points").glob("*.json")).read_text())
    assert rec["status"] == "ok" and rec["mapping"]["core_of"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("format: neurosim-explore/1\nname: t\nmodels: [m.nir]\nhardware: [small]\nmodes: [warp]\n")
    assert main(["explore", str(bad), "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosim: error: ") and "bad.yaml:5: modes.0" in err and len(err.splitlines()) == 1


def test_pareto_mask():
    df = pd.DataFrame(
        {
            "status": ["ok", "ok", "ok", "error", "ok", "ok"],
            "latency_s": [1.0, 2.0, 3.0, 0.1, 2.0, 1.0],
            "energy_j": [3.0, 2.0, 2.5, 0.1, 1.0, 3.0],
        }
    )
    # 0: front; 1: beaten by 4 (same latency, less energy); 2: beaten by 4; 3: failed; 4: front;
    # 5: a duplicate of 0, not listed twice
    assert pareto_mask(df).tolist() == [True, False, False, False, True, False]
    assert np.count_nonzero(pareto_mask(df.iloc[:0])) == 0
