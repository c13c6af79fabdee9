"""Dask on a real cluster: a ``dask scheduler`` and two ``dask worker`` processes started on
127.0.0.1 by the test (each worker in a folder of its own), and stopped by it.

The spec's files are moved away once the client has read them, so the sweep can only succeed if
their bytes travel with the jobs; the table equals the local ``--workers 1`` one. A sweep whose
points all fail exits 1, naming the client's path; a worker with another package version is
refused; a run's samples on the cluster give the single-process summary."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import builders
import pandas as pd
import pytest
from builders import comparable, random_network

from neurosim.analysis.summary import samples_csv_rows, summarize
from neurosim.cli.main import main
from neurosim.experiments import cluster
from neurosim.experiments.explore import sweep as sweep_mod
from neurosim.experiments.explore.point import run_point
from neurosim.experiments.explore.spec import load_spec
from neurosim.experiments.explore.sweep import run_sweep
from neurosim.experiments.runner import prepare
from neurosim.experiments.shard import simulate_sharded
from neurosim.io.nir_write import save_network
from neurosim.paths import DEFAULT_MODEL, HW_DIR
from neurosim.sim.engine import simulate

distributed = pytest.importorskip("distributed")
DASK = Path(sys.executable).parent / "dask"
STARTUP_S = 90


def _wait(predicate, what: str, timeout: float = STARTUP_S) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError(f"{what} within {timeout} s")
        time.sleep(0.2)


def _n_workers(address: str) -> int:
    with distributed.Client(address, timeout="20s") as c:
        return len(c.scheduler_info()["workers"])


def _start_worker(address: str, folder: Path, name: str, *extra: str) -> subprocess.Popen:
    folder.mkdir(parents=True, exist_ok=True)
    cmd = [str(DASK), "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--name", name]
    cmd += ["--local-directory", str(folder), "--death-timeout", "60", *extra]
    log = open(folder / "worker.log", "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, cwd=folder, stdout=log, stderr=subprocess.STDOUT)


def _stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=15)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """The address of a scheduler with two workers, each started in a folder of its own."""
    if not DASK.exists():
        pytest.skip("the dask command is not installed")
    root = tmp_path_factory.mktemp("cluster")
    (root / "scheduler").mkdir()
    info = root / "scheduler" / "scheduler.json"
    cmd = [str(DASK), "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", str(info)]
    cmd += ["--dashboard-address", "127.0.0.1:0", "--idle-timeout", "600"]
    log = open(root / "scheduler" / "scheduler.log", "w")  # noqa: SIM115 - closed at the end
    procs = [subprocess.Popen(cmd, cwd=root / "scheduler", stdout=log, stderr=subprocess.STDOUT)]
    try:
        _wait(lambda: info.exists() and info.stat().st_size > 0, "the scheduler did not write its address")
        address = json.loads(info.read_text())["address"]
        procs += [_start_worker(address, root / f"worker{k}", f"w{k}") for k in (1, 2)]
        _wait(lambda: _n_workers(address) == 2, "two workers did not join")
        yield address
    finally:
        _stop(procs[1:])
        _stop(procs[:1])
        log.close()


@pytest.fixture
def spec_dir(tmp_path):
    """A folder holding a model, a hardware file and a spec that names them by relative paths."""
    d = tmp_path / "spec"
    d.mkdir()
    save_network(random_network([64, 24, 10], seed=1, density=0.3, name="tiny"), d / "tiny.nir")
    shutil.copyfile(HW_DIR / "small.yaml", d / "chip.yaml")
    return d


def write_spec(folder: Path, **fields) -> Path:
    """The sweep of these tests: its files named relative to the spec (they travel as bytes)."""
    base = {"models": ["tiny.nir"], "hardware": ["chip.yaml"], "overrides": {"mesh.width": [4]}}
    base |= {"strategies": ["sequential", "balanced"], "placements": ["row-major", "traffic-aware"]}
    return builders.write_spec(folder, **{**base, **fields})


# ---- the files travel as bytes (no cluster needed) -----------------------------------------------


def test_a_job_runs_from_the_bytes_alone(spec_dir, tmp_path):
    """The worker side writes the shipped bytes to a temporary folder: the original files can be
    gone, and paths in an error are given back as the client's."""
    point = load_spec(write_spec(spec_dir)).points[0]
    job = point.job()
    files = cluster.read_files([job])
    assert set(files) == {job["model_path"], job["hardware_path"]}
    assert files[job["hardware_path"]] == (HW_DIR / "small.yaml").read_bytes()
    expected = run_point(job)
    shutil.rmtree(spec_dir)  # nothing left to read by path
    rec = cluster.run_with_files(run_point, job, files)
    assert rec["status"] == "ok", rec["error"]
    assert rec["metrics"] == expected["metrics"] and rec["mapping"] == expected["mapping"]
    missing = {**files, job["hardware_path"]: None}  # unreadable on the client
    rec = cluster.run_with_files(run_point, job, missing)
    assert rec["status"] == "error" and rec["error"].endswith(f"{job['hardware_path']}: no such file")
    assert "neurosim-job-" not in rec["error"] + rec["traceback"]


def test_version_mismatch_names_the_worker_and_the_package():
    mine = {"python": "3.12", "neurosim": "0.1.0", "numpy": "2.4.6", "pymetis": None}
    same = {"tcp://a:1": dict(mine), "tcp://b:2": dict(mine)}
    assert cluster.version_mismatch(mine, same) is None
    skewed = {**same, "tcp://b:2": {**mine, "numpy": "1.26.4"}}
    assert cluster.version_mismatch(mine, skewed) == "worker tcp://b:2 has numpy 1.26.4, this process 2.4.6"
    extra = {**same, "tcp://a:1": {**mine, "pymetis": "2025.2.2"}}
    assert cluster.version_mismatch(mine, extra) == "worker tcp://a:1 has pymetis 2025.2.2, this process not installed"
    v = cluster.versions()
    assert v["neurosim"] and v["numpy"] and v["nir"] and v["simpy"] and len(v["neurosim source"]) == 16


# ---- against the cluster ---------------------------------------------------------------------------


def test_sweep_on_a_cluster_needs_no_shared_files(scheduler, spec_dir, tmp_path, monkeypatch, capsys):
    spec = write_spec(spec_dir)
    local = run_sweep(spec, out=tmp_path / "local", workers=1, progress=False, plot=False)
    assert local.failed == 0 and len(local.table) == 4
    away = spec_dir.with_name("away")
    read_files, finish = cluster.read_files, sweep_mod.finish

    def read_then_hide(jobs):  # the client has read the files: the workers cannot find them
        out = read_files(jobs)
        spec_dir.rename(away)
        return out

    def restore_then_finish(*args, **kw):  # the front mappings are written from the spec's files
        away.rename(spec_dir)
        return finish(*args, **kw)

    monkeypatch.setattr(cluster, "read_files", read_then_hide)
    monkeypatch.setattr(sweep_mod, "finish", restore_then_finish)
    out = tmp_path / "cluster"
    assert main(["explore", str(spec), "--dask", scheduler, "--out", str(out), "-q"]) == 0
    err = capsys.readouterr().err
    assert f"dask scheduler {scheduler}; dashboard: http://127.0.0.1:" in err
    table = pd.read_csv(out / "table.csv")
    assert (table.status == "ok").all(), table.error.tolist()
    pd.testing.assert_frame_equal(comparable(table), comparable(pd.read_csv(tmp_path / "local" / "table.csv")))


def test_a_sweep_whose_points_all_fail_exits_1(scheduler, spec_dir, tmp_path, capsys):
    spec = write_spec(spec_dir, hardware=["missing.yaml"])
    assert main(["explore", str(spec), "--dask", scheduler, "--out", str(tmp_path / "out"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("neurosim: error: every point of t failed; first error: ConfigError: ")
    assert err.endswith(f"{spec_dir / 'missing.yaml'}: no such file")


def test_run_on_a_cluster_gives_the_single_process_result(scheduler, capsys):
    s = prepare(DEFAULT_MODEL, "loihi", overrides={"core.max_neurons": 16}, samples=8)
    d, options = s.data, {"mode": "async", "scope": "core", "policy": "random", "name": "r", "dataset": s.data.name}
    one = simulate(s.hardware, s.network, s.mapping, d.inputs, d.labels, **options)
    on_cluster = simulate_sharded(s.hardware, s.network, s.mapping, d.inputs, d.labels, dask=scheduler, **options)
    assert json.dumps(summarize(on_cluster)) == json.dumps(summarize(one))
    assert samples_csv_rows(on_cluster) == samples_csv_rows(one)
    assert "dashboard: http://127.0.0.1:" in capsys.readouterr().err


def test_a_worker_with_another_version_is_refused(scheduler, spec_dir, tmp_path, capsys):
    preload = tmp_path / "skew.py"
    preload.write_text("import simpy\n\nsimpy.__version__ = '0.0-skewed'\n")
    worker = _start_worker(scheduler, tmp_path / "w3", "w3", "--preload", str(preload))
    try:
        _wait(lambda: _n_workers(scheduler) == 3, "the third worker did not join")
        spec = write_spec(spec_dir)
        assert main(["explore", str(spec), "--dask", scheduler, "--out", str(tmp_path / "out"), "-q"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "has simpy 0.0-skewed, this process " in err[0], err
        assert err[0].startswith("neurosim: error: --dask: worker tcp://127.0.0.1:")
        assert not (tmp_path / "out" / "points").exists() or not os.listdir(tmp_path / "out" / "points")
    finally:
        _stop([worker])
        _wait(lambda: _n_workers(scheduler) == 2, "the third worker did not leave")
