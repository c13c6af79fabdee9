"""Fuzz suite set-up: the commands' modules imported once before any case is timed, and the
case counter printed at the end of the run."""

from __future__ import annotations

import pytest
from fuzz_harness import CASES, cli


@pytest.fixture(scope="session", autouse=True)
def _warm(tmp_path_factory):
    """The first command of a process imports its modules (seconds): not part of any case."""
    missing = tmp_path_factory.mktemp("warm") / "missing.yaml"
    for argv in (["run", "--hw", str(missing)], ["explore", str(missing)], ["validate", str(missing)]):
        cli(argv)


def pytest_terminal_summary(terminalreporter):
    if CASES:
        total = sum(CASES.values())
        parts = ", ".join(f"{k} {v}" for k, v in sorted(CASES.items()))
        terminalreporter.write_line(f"fuzz cases run: {total} ({parts})")
