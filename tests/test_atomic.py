"""neurosim.atomic: files and folders appear complete or not at all, survive kills at any moment,
never replace what neurosim did not write, and what a killed writer left is cleaned up next time."""

import errno
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from neurosim import atomic
from neurosim.errors import NeurosimError


def leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if ".tmp" in p.name or ".old-" in p.name)


def dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.fixture
def sleeper():
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield p.pid
    p.kill()
    p.wait()


def make_report(out, version, files=5):
    with atomic.folder(out) as tmp:
        for i in range(files):
            (tmp / f"f{i}.txt").write_text(f"{version}\n")
    return out


def version_of(out, files=5):
    """The version every file of a complete report holds (fails if the report is incomplete)."""
    names = sorted(p.name for p in out.iterdir())
    assert names == [".neurosim-report"] + [f"f{i}.txt" for i in range(files)], names
    versions = {(out / f"f{i}.txt").read_text() for i in range(files)}
    assert len(versions) == 1, versions
    return int(versions.pop())


# ---- write_text ----------------------------------------------------------------------------------


def test_write_text_replaces_and_leaves_nothing(tmp_path):
    p = tmp_path / "sub" / "a.json"
    assert atomic.write_text(p, "one") == p
    atomic.write_text(p, "twö")
    assert p.read_text(encoding="utf-8") == "twö" and os.listdir(p.parent) == ["a.json"]


@pytest.mark.parametrize("where", ["open", "mid-write", "fsync", "close", "replace", "interrupt"])
def test_write_text_failure_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, where):
    p = tmp_path / "rec.json"
    p.write_text("old")
    real_write = os.write

    def fail(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    def half_then_full(fd, data):  # the disk fills up in the middle of the file
        if len(data) > 4:
            return real_write(fd, data[:4])
        raise OSError(errno.ENOSPC, "No space left on device")

    def interrupt(*a, **k):
        raise KeyboardInterrupt

    patch = {
        "open": ("open", fail),
        "mid-write": ("write", half_then_full),
        "fsync": ("fsync", fail),
        "close": ("close", lambda fd: (os.closerange(fd, fd + 1), fail())),
        "replace": ("replace", fail),
        "interrupt": ("write", interrupt),
    }[where]
    monkeypatch.setattr(atomic.os, patch[0], patch[1])
    with pytest.raises((OSError, KeyboardInterrupt)):
        atomic.write_text(p, "new text that does not fit")
    monkeypatch.undo()
    assert p.read_text() == "old"
    assert os.listdir(tmp_path) == ["rec.json"]


def test_write_text_on_a_full_file_system_leaves_no_temporary(tmp_path):
    """A real short write: the file size limit (RLIMIT_FSIZE) makes write() fail with EFBIG
    part-way through (Python ignores SIGXFSZ)."""
    code = textwrap.dedent(
        f"""
        import resource, sys
        from neurosim import atomic
        resource.setrlimit(resource.RLIMIT_FSIZE, (10000, 10000))
        try:
            atomic.write_text({str(tmp_path / "big.json")!r}, "x" * 50000)
        except OSError as exc:
            print(exc.errno)
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == str(errno.EFBIG), r.stderr
    assert os.listdir(tmp_path) == []


def test_clean_stale_files_removes_only_those_of_writers_that_are_gone(tmp_path, sleeper):
    gone = dead_pid()
    stale = [f".a.json.tmp-{gone}-0123abcd", f".b.json.tmp{gone}"]  # this version's name, the older one
    live = [f".c.json.tmp-{sleeper}-0123abcd", f".d.json.tmp-{os.getpid()}-0123abcd"]
    for name in stale + live + ["e.json"]:
        (tmp_path / name).write_text("{")
    assert sorted(p.name for p in atomic.clean_stale_files(tmp_path)) == sorted(stale)
    assert sorted(os.listdir(tmp_path)) == sorted(live + ["e.json"])
    # a live process that started after the leftover was last written reuses a dead writer's id
    old = time.time() - 3600
    os.utime(tmp_path / live[0], (old, old))
    assert [p.name for p in atomic.clean_stale_files(tmp_path)] == [live[0]]


# ---- ownership: never replace what neurosim did not write ----------------------------------------


def test_a_folder_of_the_users_files_is_refused_and_untouched(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    (out / "data").mkdir()
    (out / "data" / "x.csv").write_text("1,2")
    with pytest.raises(NeurosimError) as e:
        make_report(out, 1)
    msg = str(e.value)
    assert "\n" not in msg and str(out) in msg and "neurosim did not write" in msg
    assert (out / "thesis.tex").read_text() == "years of work" and (out / "data" / "x.csv").read_text() == "1,2"
    assert sorted(os.listdir(tmp_path)) == ["mine"] and sorted(os.listdir(out)) == ["data", "thesis.tex"]
    with pytest.raises(NeurosimError):
        atomic.claim(out, "sweep")
    assert sorted(os.listdir(out)) == ["data", "thesis.tex"]


def test_the_working_directory_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("keep")
    for out in (".", tmp_path, tmp_path.parent):
        with pytest.raises(NeurosimError, match="working directory"):
            make_report(out, 1)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    with pytest.raises(NeurosimError, match="working directory"):  # even when empty
        make_report(".", 1)
    assert sorted(os.listdir(tmp_path)) == ["empty", "notes.txt"]


def test_new_empty_and_own_folders_are_used(tmp_path):
    new = make_report(tmp_path / "a" / "new", 1)
    assert version_of(new) == 1 and (new / ".neurosim-report").read_text() == "report\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert version_of(make_report(empty, 2)) == 2
    assert version_of(make_report(new, 3)) == 3  # a previous report is replaced
    legacy = tmp_path / "legacy"  # an older neurosim's report, adopted by an empty marker
    legacy.mkdir()
    (legacy / "summary.json").write_text("{}")
    (legacy / ".neurosim-report").write_text("")
    assert version_of(make_report(legacy, 4)) == 4
    assert leftovers(tmp_path) == []


def test_other_kinds_links_and_files_are_refused(tmp_path):
    sweep = atomic.claim(tmp_path / "sweep", "sweep")
    assert (sweep / ".neurosim-report").read_text() == "sweep\n"
    (sweep / "points").mkdir()
    with pytest.raises(NeurosimError, match="neurosim sweep folder, not a report folder"):
        make_report(sweep, 1)
    assert atomic.claim(sweep, "sweep") == sweep  # a sweep folder is its own
    link = tmp_path / "link"
    link.symlink_to(make_report(tmp_path / "real", 1))
    with pytest.raises(NeurosimError, match="symbolic link"):
        make_report(link, 2)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NeurosimError, match="not a folder"):
        make_report(tmp_path / "file", 2)
    assert version_of(tmp_path / "real") == 1 and link.is_symlink()


# ---- folder: atomic swap, failures, interrupts ---------------------------------------------------


def test_the_swap_is_one_atomic_exchange_on_linux(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a")
    (b / "x").write_text("b")
    if not atomic._exchange(a, b):
        pytest.skip("renameat2(RENAME_EXCHANGE) not supported here")
    assert (a / "x").read_text() == "b" and (b / "x").read_text() == "a"


@pytest.mark.parametrize("exchange", [True, False])
def test_a_failure_or_interrupt_leaves_the_previous_folder(tmp_path, monkeypatch, exchange):
    if not exchange:
        monkeypatch.setattr(atomic, "_exchange", lambda a, b: False)
    out = make_report(tmp_path / "rep", 1)
    for exc in (RuntimeError("plot failed"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with atomic.folder(out) as tmp:
                (tmp / "f0.txt").write_text("2\n")
                raise exc
        assert version_of(out) == 1 and leftovers(tmp_path) == []
    assert version_of(make_report(out, 2)) == 2 and leftovers(tmp_path) == []


def test_a_kill_between_the_two_renames_is_repaired_by_the_next_run(tmp_path, monkeypatch):
    """Without RENAME_EXCHANGE: SIGKILL after the previous report was moved aside, before the
    new one was moved in. The next run puts the previous one back (then replaces it)."""
    out = make_report(tmp_path / "rep", 1)
    code = textwrap.dedent(
        f"""
        import os, signal
        from neurosim import atomic
        atomic._exchange = lambda a, b: False
        real, calls = os.replace, []
        def replace(a, b):
            calls.append(a)
            real(a, b)
            if len(calls) == 1:
                os.kill(os.getpid(), signal.SIGKILL)
        atomic.os.replace = replace
        with atomic.folder({str(out)!r}) as tmp:
            for i in range(5):
                (tmp / f"f{{i}}.txt").write_text("2\\n")
        """
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert not out.exists()
    left = leftovers(tmp_path)
    assert len(left) == 2 and {n.split(".")[2].split("-")[0] for n in left} == {"tmp", "old"}
    with pytest.raises(RuntimeError):  # the next run fails, yet the previous report is back
        with atomic.folder(out):
            raise RuntimeError("boom")
    assert version_of(out) == 1 and leftovers(tmp_path) == []


WRITER = textwrap.dedent(
    """
    import sys
    from neurosim import atomic
    out, mode = sys.argv[1], sys.argv[2]
    if mode == "rename":
        atomic._exchange = lambda a, b: False
    print("ready", flush=True)
    version = 1
    while True:
        version += 1
        with atomic.folder(out) as tmp:
            for i in range(5):
                (tmp / f"f{i}.txt").write_text(f"{version}\\n")
    """
)


def kill_trials(tmp_path, mode, sig, trials, seed):
    """Kill a process that rewrites a report in a loop at random moments; after each kill the
    report is complete (old or new) and, after SIGINT, nothing temporary is left; the next write
    cleans what a SIGKILL left. Returns what each trial left: (version, leftovers)."""
    rng = random.Random(seed)
    out = make_report(tmp_path / "rep", 1)
    seen = []
    for _ in range(trials):
        p = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(out), mode], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert p.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.4))
        p.send_signal(sig)
        p.wait(timeout=30)
        p.stdout.close()
        left = leftovers(tmp_path)
        if sig == signal.SIGINT:
            assert left == [] and out.is_dir()
        if not out.exists():  # only between the two renames of the fallback
            assert mode == "rename" and sig == signal.SIGKILL
            atomic.recover(out)
        seen.append((version_of(out), left))
    assert version_of(make_report(out, 0)) == 0 and leftovers(tmp_path) == []
    return seen


@pytest.mark.parametrize(
    "mode,sig", [("exchange", signal.SIGKILL), ("rename", signal.SIGKILL), ("exchange", signal.SIGINT)]
)
def test_killed_at_random_moments_the_report_is_old_or_new(tmp_path, mode, sig):
    seen = kill_trials(tmp_path, mode, sig, trials=3, seed=10 * len(mode) + int(sig))
    assert len(seen) == 3 and all(v >= 1 for v, _ in seen)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["exchange", "rename"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_at_random_moments_many_trials(tmp_path, mode, sig):
    seen = kill_trials(tmp_path, mode, sig, trials=25, seed=7)
    print(f"{mode} {sig.name}: versions {[v for v, _ in seen]}; leftovers {sum(bool(lf) for _, lf in seen)}")
