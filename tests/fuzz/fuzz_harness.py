"""What every fuzz case asserts, and the bookkeeping of how many cases each input kind gets.

:func:`refused` runs the ``neurosim`` command line in this process (``neurosim.cli.main.main``)
and checks the contract for bad input: exit code 2, exactly one short line on stderr (no
traceback) naming the file, key or argument, no report folder written, every file that existed
before untouched and none added, within a time bound; with ``max_mib``, the peak of Python
memory allocations (numpy's included, via ``tracemalloc``) too.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import time
import tracemalloc
import warnings
from collections import Counter
from pathlib import Path

from neurosim.cli.main import main

MAX_LINE = 300
"""Longest accepted error line (characters)."""

MAX_SECONDS = 5.0
"""Longest a refused case may take (generous: the machine running the suite may be loaded)."""

CASES: Counter = Counter()
"""Cases run per input kind (printed at the end of the run by this folder's conftest)."""


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path -> sha256), to prove nothing changed."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@contextlib.contextmanager
def _peak_memory():
    box = {"peak": 0}
    tracemalloc.start()
    try:
        yield box
    finally:
        box["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def cli(argv: list[str]) -> tuple[int, str, str, float]:
    """``neurosim ARGV`` in this process: (exit code, stdout, stderr, seconds). Warnings are
    written to stderr as the command line would print them (pytest would hide them)."""
    err, out = io.StringIO(), io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        rc = main(list(argv))
    for x in w:
        err.write(warnings.formatwarning(x.message, x.category, x.filename, x.lineno))
    return rc, out.getvalue(), err.getvalue(), time.perf_counter() - t0


def refused(
    kind: str,
    argv: list[str],
    watch: Path,
    names: list[str] | tuple[str, ...],
    *,
    out: Path | None = None,
    max_seconds: float = MAX_SECONDS,
    max_mib: float | None = None,
) -> str:
    """Run ``neurosim ARGV`` and assert it is refused cleanly; returns the error line.

    ``watch``: a folder whose files must stay as they are (the inputs live there); ``names``: the
    line must contain one of them (the file, key or argument at fault); ``out``: the report folder
    the command was given, which must not exist afterwards."""
    CASES[kind] += 1
    before = snapshot(watch)
    rc, _, err, seconds = cli(argv)
    lines = err.splitlines()
    shown = f"neurosim {' '.join(argv)}\n-> rc {rc}, stderr {err[:2000]!r}"
    assert rc == 2, shown
    assert len(lines) == 1, shown
    line = lines[0]
    assert line.startswith("neurosim: error: "), shown
    assert len(line) < MAX_LINE, shown
    assert "Traceback" not in err, shown
    assert any(str(n) in line for n in names), f"{shown}\n-> names none of {names}"
    if out is not None:
        assert not out.exists(), f"{shown}\n-> wrote {out}"
    assert snapshot(watch) == before, f"{shown}\n-> changed files under {watch}"
    assert seconds < max_seconds, f"{shown}\n-> took {seconds:.2f} s"
    if max_mib is not None:  # again, traced (tracing slows it down: the time is the first run's)
        with _peak_memory() as mem:
            assert cli(argv)[0] == 2
        assert mem["peak"] < max_mib * 2**20, f"{shown}\n-> peak {mem['peak'] / 2**20:.1f} MiB"
    return line


def ran(kind: str, argv: list[str], out: Path) -> str:
    """Run ``neurosim ARGV`` (a legal input) and assert it succeeds and writes its report."""
    CASES[kind] += 1
    rc, stdout, err, _ = cli(argv)
    assert rc == 0, f"neurosim {' '.join(argv)}\n-> rc {rc}, stderr {err[:2000]!r}"
    assert (out / "summary.json").is_file()
    return stdout
