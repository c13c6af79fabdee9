"""``neurosim validate``: load and check hardware, mapping or model files, one line each."""

from __future__ import annotations

from pathlib import Path

from neurosim.cli.commands import COMMANDS
from neurosim.cli.files import load_any


def register(sub) -> None:
    """Add ``validate`` to the main parser's subparsers."""
    v = sub.add_parser(
        "validate",
        help=COMMANDS["validate"][1],
        description="Load and check each file: hardware YAML, mapping YAML (against "
        "--model and --hw) or NIR model. Prints one line per file.",
    )
    v.add_argument("files", nargs="+", metavar="FILE")
    v.add_argument("--model", help="model a mapping file refers to (default: the shipped default)")
    v.add_argument("--hw", help="hardware a mapping file refers to (default: loihi)")
    v.add_argument("--dt", type=float, help="time step for NIR files without one")
    v.set_defaults(func=cmd_validate)


def cmd_validate(a) -> int:
    for f in a.files:
        kind, _ = load_any(Path(f), a)
        print(f"{f}: ok ({kind})")
    return 0
