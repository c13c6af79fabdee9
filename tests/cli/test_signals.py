"""Runs killed at random (seeded) moments: SIGINT exits 130 and SIGTERM 143 with one line and no
traceback, wherever they land (imports included); after SIGKILL, SIGTERM or SIGINT there is the
previous complete report or the new complete one, never neither; SIGINT and SIGTERM leave no
temporary folder and the next run cleans what a SIGKILL left. ``--out`` never replaces a folder
of the user's files."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
import types

import pytest
from builders import random_network

from neurosim.cli import main as main_mod
from neurosim.cli.main import main
from neurosim.io.nir_write import save_network
from neurosim.paths import HW_DIR

SMALL = str(HW_DIR / "small.yaml")
EXPECTED = {signal.SIGINT: (130, "neurosim: interrupted\n"), signal.SIGTERM: (143, "neurosim: terminated\n")}


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A model, the arguments of a small run and the complete report it writes."""
    root = tmp_path_factory.mktemp("signals")
    model = root / "m.nir"
    save_network(random_network([64, 20, 10], seed=0, name="m"), model)
    args = ["run", str(model), "--hw", SMALL, "--samples", "2", "-q", "--seed", "1"]
    ref = root / "ref"
    ref.mkdir()  # an existing empty folder is used
    assert main([*args, "--out", str(ref)]) == 0
    return types.SimpleNamespace(
        args=args, names=sorted(os.listdir(ref)), summary=(ref / "summary.json").read_bytes(), ref=ref
    )


def leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if ".tmp-" in p.name or ".old-" in p.name)


def assert_complete(out, base):
    """``out`` is a complete report of the run (the summary is byte-identical to the reference's:
    the old report and the new one have the same)."""
    assert sorted(os.listdir(out)) == base.names
    assert (out / "summary.json").read_bytes() == base.summary
    assert (out / "report.md").stat().st_size > 0


def catches(pid, signum) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (SigCgt in /proc/<pid>/status)."""
    try:
        line = next(x for x in open(f"/proc/{pid}/status") if x.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(int(line.split()[1], 16) >> (signum - 1) & 1)


def kill_run(base, out, sig, when, rng):
    """Start ``neurosim run``; once its ``main`` is running (it handles SIGTERM), wait until
    ``when`` (``imports``: up to 0.3 s, ``random``: up to 6 s, ``writing``: up to 0.3 s after the
    report's temporary folder appeared) and send ``sig``. Returns (exit code, stderr, whether the
    signal was sent, the process id)."""
    cmd = [sys.executable, "-m", "neurosim.cli.main", *base.args, "--out", str(out)]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while p.poll() is None and not catches(p.pid, signal.SIGTERM):
            time.sleep(0.002)
        if when == "writing":  # (a temporary folder of this process, not one a SIGKILLed run left)
            mine = f".{out.name}.tmp-{p.pid}-"
            while p.poll() is None and not any(n.startswith(mine) for n in os.listdir(out.parent)):
                time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 6.0 if when == "random" else 0.3))
        sent = p.poll() is None
        if sent:
            p.send_signal(sig)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, err, sent, p.pid


def trials(base, tmp_path, plan, seed):
    """Run the kill trials of ``plan`` [(signal, when)] on one report folder that holds the
    previous report; then a complete run, which must leave nothing temporary. Returns a line per
    trial: what it was, how it ended and what it left."""
    rng = random.Random(seed)
    out = tmp_path / "rep"
    shutil.copytree(base.ref, out)
    log = []
    for sig, when in plan:
        code, err, sent, pid = kill_run(base, out, sig, when, rng)
        left = leftovers(tmp_path)
        own = [n for n in left if f"-{pid}-" in n]  # (others are a SIGKILLed trial's, until a run cleans them)
        if not sent:
            assert code == 0, err
        elif sig == signal.SIGKILL:
            assert code == -signal.SIGKILL
        else:
            assert (code, err) == EXPECTED[sig], (sig.name, when, log)
            assert own == []
        assert_complete(out, base)
        log.append(f"{sig.name} at {when}: exit {code}, leftovers {left}")
    assert main([*base.args, "--out", str(out)]) == 0
    assert_complete(out, base)
    assert leftovers(tmp_path) == []
    return log


def test_killed_runs_leave_the_old_report_or_the_new_one(base, tmp_path):
    plan = [(signal.SIGKILL, "writing"), (signal.SIGINT, "imports"), (signal.SIGTERM, "writing")]
    log = trials(base, tmp_path, plan, seed=0)
    print("\n".join(log))


@pytest.mark.slow
def test_killed_runs_many_random_trials(base, tmp_path):
    rng = random.Random(15)
    sigs, whens = [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ["imports", "random", "writing"]
    plan = [(rng.choice(sigs), rng.choice(whens)) for _ in range(15)]
    log = trials(base, tmp_path, plan, seed=15)
    print("\n".join(log))


# ---- in process: the exit codes and the one line ------------------------------------------------


@pytest.fixture
def command(monkeypatch):
    """A fake command ``boom`` whose work is ``command.work``."""
    mod = types.ModuleType("fake_boom")
    state = types.SimpleNamespace(work=lambda: 0)

    def register(sub):
        sub.add_parser("boom").set_defaults(func=lambda a: state.work())

    mod.register = register
    monkeypatch.setitem(sys.modules, "fake_boom", mod)
    monkeypatch.setitem(main_mod.COMMANDS, "boom", ("fake_boom", "a test command"))
    return state


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_turned_into_another_error_still_exits_with_its_code(command, capsys, sig):
    """numpy and numba turn an interrupted import into ``ImportError: initialization failed``."""

    def work():
        try:
            os.kill(os.getpid(), sig)
            time.sleep(5)
        except BaseException:
            raise ImportError("initialization failed") from None
        return 0

    command.work = work
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    code = main(["boom"])
    out, err = capsys.readouterr()
    assert (code, err) == EXPECTED[sig] and out == ""
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_a_second_signal_does_not_break_off_the_cleanup(command, capsys):
    cleaned = []

    def work():
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C again, during the cleanup
            os.kill(os.getpid(), signal.SIGTERM)
            cleaned.append(True)

    command.work = work
    assert main(["boom"]) == 130 and cleaned == [True]
    assert capsys.readouterr().err == "neurosim: interrupted\n"


# ---- --out never deletes what neurosim did not write --------------------------------------------


def test_out_refuses_the_users_folder_and_the_working_directory(base, tmp_path, monkeypatch, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    assert main([*base.args, "--out", str(mine)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "neurosim did not write" in err and str(mine) in err
    assert os.listdir(mine) == ["notes.txt"] and (mine / "notes.txt").read_text() == "keep me"
    here = os.getcwd()  # (summary.json shows paths relative to the working directory)
    monkeypatch.chdir(mine)
    assert main([*base.args, "--out", "."]) == 2
    assert "working directory" in capsys.readouterr().err
    monkeypatch.chdir(here)
    assert sorted(os.listdir(tmp_path)) == ["mine"] and os.listdir(mine) == ["notes.txt"]


def test_a_reader_that_goes_away_ends_the_run_quietly(tmp_path):
    """``neurosim run | head -1``: the report is written, then stdout's reader is gone; the run
    ends with 141 (as a shell shows SIGPIPE) and no error line or traceback."""
    out = tmp_path / "rep"
    p = subprocess.Popen(
        [sys.executable, "-m", "neurosim.cli.main", "run", "--samples", "2", "-q", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    p.stdout.close()
    _, err = p.communicate(timeout=120)
    assert p.returncode == 141, err
    assert err == b""
    assert (out / "summary.json").exists()
