"""``neurosim info``: describe a hardware, mapping or model file."""

from __future__ import annotations

from pathlib import Path

from neurosim.cli.commands import COMMANDS
from neurosim.cli.files import load_any
from neurosim.report.text import describe


def register(sub) -> None:
    """Add ``info`` to the main parser's subparsers."""
    i = sub.add_parser("info", help=COMMANDS["info"][1])
    i.add_argument("file")
    i.add_argument("--model", help="model a mapping file refers to")
    i.add_argument("--hw", help="hardware a mapping file refers to")
    i.add_argument("--dt", type=float, help="time step for NIR files without one")
    i.set_defaults(func=cmd_info)


def cmd_info(a) -> int:
    kind, obj = load_any(Path(a.file), a)
    print(describe(kind, obj))
    return 0
