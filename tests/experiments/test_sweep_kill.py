"""A sweep killed at a random (seeded) moment: its worker processes end with it whatever ends it
(SIGKILL, SIGTERM, SIGINT), no temporary record file is left once it is resumed, and the resumed
sweep gives the table of an uninterrupted one (wall-time columns aside)."""

import os
import random
import signal
import subprocess
import sys
import time
import uuid

import pandas as pd
import pytest
import yaml
from builders import comparable, random_network

from neurosim.experiments.explore.sweep import run_sweep
from neurosim.io.nir_write import save_network

MARK = "NEUROSIM_SWEEP_KILL_TEST"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """A spec of 4 points and the table of its uninterrupted sweep."""
    root = tmp_path_factory.mktemp("sweepkill")
    model = root / "tiny.nir"
    save_network(random_network([64, 24, 10], seed=1, density=0.3, name="tiny"), model)
    spec = root / "spec.yaml"
    doc = {
        "format": "neurosim-explore/1",
        "name": "k",
        "models": [str(model)],
        "hardware": ["small"],
        "samples": 6,
        "profile_samples": 2,
        "strategies": ["sequential", {"name": "random", "options": {"seed": 2}}],
        "placements": ["row-major", "traffic-aware"],
    }
    spec.write_text(yaml.safe_dump(doc, sort_keys=False))
    ref = run_sweep(spec, out=root / "ref", workers=0, progress=False, plot=False)
    assert (ref.table["status"] == "ok").all()
    return spec, ref.table


def marked(mark):
    """(pid, state) of the live processes that carry ``mark`` in their environment (the sweep's
    process and every process it started: fork server, workers, resource tracker)."""
    needle = f"{MARK}={mark}".encode()
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                if needle not in f.read():
                    continue
            with open(f"/proc/{d}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X"):
            found.append((int(d), state))
    return found


def temp_records(out):
    folder = out / "points"
    return sorted(n for n in os.listdir(folder) if ".tmp" in n) if folder.is_dir() else []


def n_records(out):
    folder = out / "points"
    return (
        len([n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith(".")]) if folder.is_dir() else 0
    )


def kill_sweep(spec, out, sig, when, rng):
    """Start ``neurosim explore`` on 2 workers; once its workers run (``when="workers"``: then
    wait up to 1.5 s) or its first record is written (``"records"``: then up to 0.3 s), send
    ``sig``. Returns (exit code, stderr, the processes still there 5 s later, records written)."""
    mark = uuid.uuid4().hex
    env = dict(os.environ, **{MARK: mark})
    cmd = [sys.executable, "-m", "neurosim.cli.main", "explore", str(spec), "--out", str(out), "--workers", "2", "-q"]
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while p.poll() is None and len(marked(mark)) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)  # the sweep, the fork server and the 2 workers
        while when == "records" and p.poll() is None and n_records(out) == 0:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 1.5 if when == "workers" else 0.3))
        assert p.poll() is None, "the sweep ended before it could be killed"
        p.send_signal(sig)
        _, err = p.communicate(timeout=60)
        deadline = time.monotonic() + 5.0
        while marked(mark) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = marked(mark)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    for pid, _ in left:  # do not leave them running if the test fails
        os.kill(pid, signal.SIGKILL)
    return p.returncode, err, left, n_records(out)


def trial(spec, ref_table, out, sig, when, rng):
    code, err, left, records = kill_sweep(spec, out, sig, when, rng)
    assert left == [], f"orphan processes 5 s after {sig.name}: {left}"
    if sig == signal.SIGKILL:
        assert code == -signal.SIGKILL
    else:
        assert code == 128 + sig, err
        assert err.strip().splitlines()[-1] == (
            "neurosim: interrupted" if sig == signal.SIGINT else "neurosim: terminated"
        )
        assert "Traceback" not in err
        assert temp_records(out) == []
    resumed = run_sweep(spec, out=out, workers=0, progress=False, plot=False)
    assert resumed.skipped == records and resumed.computed == 4 - records
    pd.testing.assert_frame_equal(comparable(resumed.table), comparable(ref_table))
    assert temp_records(out) == []
    return f"{sig.name} after the {when}: exit {code}, {records} of 4 records before the kill, orphans {left}"


def test_a_killed_sweep_leaves_no_worker_and_resumes_to_the_same_table(sweep, tmp_path):
    spec, ref_table = sweep
    print(trial(spec, ref_table, tmp_path / "out", signal.SIGKILL, "records", random.Random(0)))


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT])
def test_killed_sweeps_many_trials(sweep, tmp_path, sig):
    spec, ref_table = sweep
    rng = random.Random(int(sig))
    for i, when in enumerate(["workers", "records", "workers"]):
        print(trial(spec, ref_table, tmp_path / f"out{i}", sig, when, rng))
