"""The ``neurosim`` command line.

Bad input (a malformed file, a wrong value, a mapping over capacity) prints one line on stderr,
``neurosim: error: <place>: <reason>``, and exits with code 2: no traceback, no half-written report.

Signals: SIGINT (Ctrl-C) prints ``neurosim: interrupted`` and exits with 130, SIGTERM prints
``neurosim: terminated`` and exits with 143 (128 + the signal), wherever they land: in an import
(numpy and numba then raise ``ImportError``), in the simulation or while a report is written. Both
are raised in the main thread (``KeyboardInterrupt``, :class:`Terminated`), so that every cleanup
runs: no temporary folder is left and a previous report stays intact. A second signal within
:data:`GRACE_S` of the first is only noted, so that it cannot break off that cleanup. Only this
module's few imports (the standard library, :mod:`neurosim.errors`, :mod:`neurosim.cli.commands`)
are outside that net; everything else is imported inside :func:`main`.
"""

from __future__ import annotations

import ctypes
import importlib
import logging
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterable

from neurosim import __version__
from neurosim.cli.commands import COMMANDS
from neurosim.errors import NeurosimError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 128 + signal.SIGINT  # 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE  # 141, what a shell shows for a writer whose reader left
GRACE_S = 5.0


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that cleanups (``except BaseException``) run."""


class _Signals:
    """While active (in the main thread): SIGINT raises KeyboardInterrupt and SIGTERM raises
    :class:`Terminated`; :attr:`first` is the first signal received. Handlers the process
    inherited as ignored stay ignored; the previous handlers come back on exit."""

    def __init__(self) -> None:
        self.first: int | None = None
        self.at = 0.0
        self.saved: dict[int, object] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(sig) is not signal.SIG_IGN:
                    self.saved[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

    def _handle(self, signum, frame) -> None:
        now = time.monotonic()
        if self.first is not None and now - self.at < GRACE_S:
            return
        if self.first is None:
            self.first, self.at = signum, now
        raise KeyboardInterrupt if signum == signal.SIGINT else Terminated


def build_parser(defined: Iterable[str] | None = None):
    """The parser. The commands in ``defined`` (default: all) get their arguments from their
    module's ``register``; the others are listed by name and help only, so that parsing one
    command imports only that command's module. ``train`` imports no torch until it runs."""
    parser_class = importlib.import_module("neurosim.cli.parser").Parser
    names = set(COMMANDS if defined is None else defined)
    p = parser_class(prog="neurosim", description="Simulate spiking neural networks on neuromorphic hardware.")
    p.add_argument("--version", action="version", version=f"neurosim {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=parser_class)
    for name, (module, summary) in COMMANDS.items():
        if name in names:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=summary)
    return p


def _run(argv: list[str]) -> int:
    command = next((x for x in argv if not x.startswith("-")), None)
    parser = build_parser([command] if command in COMMANDS else [])
    a = parser.parse_args(argv)
    _log_to_stderr(quiet=bool(getattr(a, "quiet", False)))
    if not getattr(a, "command", None):
        parser.print_help()
        return EXIT_USAGE
    return int(a.func(a) or 0)


class _OneLine(logging.Handler):
    """The library's log records and warnings as one line each on (the current) stderr:
    ``neurosim: note: ...`` below WARNING, ``neurosim: warning: ...`` from it."""

    def emit(self, record: logging.LogRecord) -> None:
        kind = "note" if record.levelno < logging.WARNING else "warning"
        try:
            print(f"neurosim: {kind}: {' '.join(record.getMessage().split())}", file=sys.stderr)
        except (OSError, ValueError):  # stderr closed
            pass


_HANDLER = _OneLine()


def _log_to_stderr(quiet: bool) -> None:
    """Route the ``neurosim`` loggers and ``warnings.warn`` through :class:`_OneLine`; ``-q``
    keeps warnings only."""
    log = logging.getLogger("neurosim")
    if _HANDLER not in log.handlers:
        log.addHandler(_HANDLER)
    log.setLevel(logging.WARNING if quiet else logging.INFO)

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        _HANDLER.handle(logging.makeLogRecord({"msg": str(message), "levelno": logging.WARNING}))

    warnings.showwarning = show


def _exit_code(exc: BaseException, first: int | None) -> int:
    """The exit code (and the one line on stderr) for what ended the command."""
    if first is not None or isinstance(exc, (KeyboardInterrupt, Terminated)):
        return _stopped(signal.SIGTERM if first is None and isinstance(exc, Terminated) else first)
    if isinstance(exc, SystemExit):
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    if isinstance(exc, BrokenPipeError):  # the reader went away (``neurosim run | head -1``): nothing to say
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    fail = importlib.import_module("neurosim.cli.parser").fail
    if isinstance(exc, NeurosimError):
        return fail(str(exc))
    if isinstance(exc, (OSError, ValueError)):  # e.g. an unwritable --out, a bad number in a file
        return fail(f"{type(exc).__name__}: {exc}")
    raise exc


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that flushing it at exit does not raise again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _stopped(signum: int | None) -> int:
    term = signum == signal.SIGTERM
    _forget_keyboard_interrupt()
    try:
        print("neurosim: terminated" if term else "neurosim: interrupted", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed
        pass
    return EXIT_TERMINATED if term else EXIT_INTERRUPTED


def _forget_keyboard_interrupt() -> None:
    """Tell CPython 3.11 that the KeyboardInterrupt was handled. When one goes through some of its
    C-level code paths (as in an import), it sets a process-wide flag and then ends the process by
    SIGINT at exit (status -2) whatever the exit code: seen in 1 of 30 runs interrupted ~0.2 s in.
    (3.12 keeps that flag elsewhere; nothing to do there.)"""
    try:
        ctypes.c_int.in_dll(ctypes.pythonapi, "_Py_UnhandledKeyboardInterrupt").value = 0
    except (AttributeError, ValueError, OSError):
        pass


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    with _Signals() as signals:
        try:
            code = _run(argv)
            sys.stdout.flush()  # a reader that went away shows here, not at interpreter exit
        except BaseException as exc:  # noqa: B036 - every way out gets its exit code and one line
            return _exit_code(exc, signals.first)
        return _stopped(signals.first) if signals.first is not None else code


if __name__ == "__main__":
    sys.exit(main())
