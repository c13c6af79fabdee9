"""The ``neurosim`` command line.

Bad input (a malformed file, a wrong value, a mapping over capacity) prints one line on stderr,
``neurosim: error: <place>: <reason>``, and exits with code 2: no traceback, no half-written report.
"""

from __future__ import annotations

import sys

from neurosim import __version__
from neurosim.cli import explore, hw, info, run, study, train, validate
from neurosim.cli.args import EXIT_USAGE, Parser, fail
from neurosim.errors import NeurosimError

#: the commands, in the order ``neurosim --help`` lists them
COMMANDS = (run, validate, info, train, study, hw, explore)


def build_parser() -> Parser:
    p = Parser(prog="neurosim", description="Simulate spiking neural networks on neuromorphic hardware.")
    p.add_argument("--version", action="version", version=f"neurosim {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:  # `train` imports no torch until it runs
        command.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        a = parser.parse_args(argv)
        if not getattr(a, "command", None):
            parser.print_help()
            return EXIT_USAGE
        return int(a.func(a) or 0)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    except NeurosimError as exc:
        return fail(str(exc))
    except (OSError, ValueError) as exc:  # e.g. an unwritable --out, a bad number in a file
        return fail(f"{type(exc).__name__}: {exc}")
    except KeyboardInterrupt:
        return fail("interrupted")


if __name__ == "__main__":
    sys.exit(main())
