"""The command line's argument parser and its one-line error: all that ``neurosim --help`` needs,
so it imports only the standard library (the commands' shared pieces, with tqdm, numpy and the
YAML reader, are :mod:`neurosim.cli.args`, loaded with a command)."""

from __future__ import annotations

import argparse
import sys

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """argparse's own errors as one line and exit code 2."""

    def error(self, message):
        raise SystemExit(fail(f"{self.prog}: {message}"))


def fail(msg: str) -> int:
    """Print ``neurosim: error: <msg>`` as one line on stderr; returns the exit code for bad input."""
    print(f"neurosim: error: {' '.join(str(msg).split())}", file=sys.stderr)
    return EXIT_USAGE
