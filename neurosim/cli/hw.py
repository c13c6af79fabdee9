"""``neurosim hw``: commands about hardware descriptions.

    neurosim hw describe FILE [--set KEY=VALUE ...]
    neurosim hw schema [--out FILE]

prints the chip: mesh (and chip grid), capacity, per-operation costs, NoC, barrier, static power
and derived peak figures (synaptic operations per second per core and in all, energy per synaptic
operation, bisection bandwidth in messages per cycle and per second). ``FILE`` is a hardware YAML
file or the name of a shipped preset (``loihi``, ``loihi_2chip``, ``seneca``, ``truenorth``,
``small``). ``schema`` prints the JSON Schema of a hardware file (for editors; ``--out`` writes it
to a file, atomically). Errors are :class:`~neurosim.errors.NeurosimError`\\ s (the CLI prints one line and
exits with code 2).

Hooked into the main parser by ``register(subparsers)``.
"""

from __future__ import annotations

from neurosim import atomic
from neurosim.cli.args import parse_overrides
from neurosim.cli.commands import COMMANDS
from neurosim.describe.hardware_schema import hardware_schema_text
from neurosim.errors import NeurosimError
from neurosim.io.hardware_file import load_hardware, resolve_hardware_path
from neurosim.report.text import describe_hardware


def cmd_hw_describe(a) -> int:

    hw = load_hardware(resolve_hardware_path(a.file), parse_overrides(a.set))
    print(describe_hardware(hw))
    return 0


def cmd_hw_schema(a) -> int:
    text = hardware_schema_text()
    if a.out is None:
        print(text, end="")
    else:
        try:
            path = atomic.write_text(a.out, text)
        except OSError as e:
            raise NeurosimError(f"hw schema --out {a.out}: cannot write: {e.strerror or e}") from e
        print(f"wrote {path}")
    return 0


def _hw_missing_subcommand(a) -> int:
    raise NeurosimError("hw: a subcommand is required: describe, schema")


def register(subparsers) -> None:
    """Add ``hw`` (with ``describe`` and ``schema``) to the main parser's subparsers."""
    hw = subparsers.add_parser(
        "hw",
        help=COMMANDS["hw"][1],
        description="Commands about hardware descriptions (hw_configs/*.yaml).",
    )
    hw.set_defaults(func=_hw_missing_subcommand)
    sub = hw.add_subparsers(dest="hw_command", metavar="SUBCOMMAND", parser_class=type(hw))
    d = sub.add_parser(
        "describe",
        help="print a chip's mesh, capacity, costs and peak figures",
        description="Print a hardware description: mesh (and chip grid), capacity, "
        "per-operation costs, NoC, barrier, static power and derived peak "
        "figures (synops/s per core, energy per synop, bisection bandwidth).",
    )
    d.add_argument("file", metavar="FILE", help="hardware YAML file or preset name (e.g. loihi)")
    d.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a hardware value, e.g. --set chips.width=2 (repeatable)",
    )
    d.set_defaults(func=cmd_hw_describe)
    sc = sub.add_parser(
        "schema",
        help="print the JSON Schema of a hardware file (for editors)",
        description="Print the JSON Schema (draft 2020-12) of a hardware YAML file: keys, types, "
        "required keys, defaults; editors validate and complete hw_configs/*.yaml with it "
        "(hw_configs/README.md, Editor support).",
    )
    sc.add_argument("--out", metavar="FILE", help="write the schema to FILE (atomically) instead of printing it")
    sc.set_defaults(func=cmd_hw_schema)
