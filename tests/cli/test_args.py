"""Progress bars only on a terminal, one overall bar for many runs, and the library's notes and
warnings as one line on stderr (``neurosim.cli.args``, ``neurosim.cli.main``)."""

import io
import logging
import warnings

from neurosim.cli.args import OverallBar, progress_bar
from neurosim.cli.main import _log_to_stderr


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_bars_are_silent_when_stderr_is_not_a_terminal(monkeypatch):
    log = io.StringIO()
    monkeypatch.setattr("sys.stderr", log)
    assert list(progress_bar(True)(range(50))) == list(range(50))
    bar = OverallBar(10)
    assert list(bar(range(4))) == list(range(4))
    bar.close()
    assert log.getvalue() == ""


def test_one_overall_bar_counts_every_run(monkeypatch):
    tty = _Tty()
    monkeypatch.setattr("sys.stderr", tty)
    bar = OverallBar(6)
    for run in ("a", "b", "c"):
        bar.label(run)
        assert list(bar(range(2))) == [0, 1]
    assert bar.bar.n == 6 and bar.bar.total == 6
    bar.close()
    shown = tty.getvalue()
    assert "0/6" in shown and shown.count("runs:") >= 1 and "0/2" not in shown  # one bar over all runs


def test_notes_and_warnings_are_one_line_and_quiet_keeps_warnings(capsys):
    log = logging.getLogger("neurosim")
    handlers, level = list(log.handlers), log.level
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        _log_to_stderr(quiet=False)
        logging.getLogger("neurosim.experiments.runner").info("applied the\noverrides")
        warnings.warn("KL takes minutes", stacklevel=1)
        _log_to_stderr(quiet=True)
        logging.getLogger("neurosim.x").info("hidden")
        logging.getLogger("neurosim.x").warning("shown")
    log.handlers[:] = handlers
    log.setLevel(level)
    assert capsys.readouterr().err.splitlines() == [
        "neurosim: note: applied the overrides",
        "neurosim: warning: KL takes minutes",
        "neurosim: warning: shown",
    ]


def test_help_imports_only_the_standard_library():
    """`neurosim --help` builds the parser without numpy, tqdm, the YAML reader or any command's
    module (so it starts in ~0.1 s: benchmarks/README measures it)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from neurosim.cli.main import main\n"
        "try:\n"
        "    main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('numpy', 'tqdm', 'yaml', 'pydantic', 'scipy', 'simpy', 'neurosim.cli.run') "
        "if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out, out
