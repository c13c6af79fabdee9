"""The ``neurosim`` command line.

Bad input (a malformed file, a wrong value, a mapping over capacity) prints one line on stderr,
``neurosim: error: <place>: <reason>``, and exits with code 2: no traceback, no half-written report.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable

from neurosim import __version__
from neurosim.cli.args import EXIT_USAGE, Parser, fail
from neurosim.cli.commands import COMMANDS
from neurosim.errors import NeurosimError


def build_parser(defined: Iterable[str] | None = None) -> Parser:
    """The parser. The commands in ``defined`` (default: all) get their arguments from their
    module's ``register``; the others are listed by name and help only, so that parsing one
    command imports only that command's module. ``train`` imports no torch until it runs."""
    names = set(COMMANDS if defined is None else defined)
    p = Parser(prog="neurosim", description="Simulate spiking neural networks on neuromorphic hardware.")
    p.add_argument("--version", action="version", version=f"neurosim {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for name, (module, summary) in COMMANDS.items():
        if name in names:
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=summary)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((x for x in argv if not x.startswith("-")), None)
    parser = build_parser([command] if command in COMMANDS else [])
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
