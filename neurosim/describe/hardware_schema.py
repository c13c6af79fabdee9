"""The JSON Schema of a hardware file (``format: neurosim-hardware/1``), for editors.

Generated from the pydantic model :class:`neurosim.describe.hardware.HardwareSpec`, so it never
drifts from what the loader accepts: the keys, their types, required keys, defaults, lower bounds,
unknown keys refused (``additionalProperties: false``) and the descriptions of the sections. The
loader is stricter still: the upper limits (hw_configs/README.md, "Limits"), strictly increasing
barrier rows, a chip grid's link figures, synapse unit names (``core.synapse_units``: no ``@``, ``/``,
backslash, spaces or control characters; each unit's two figures and no other key are in the schema)
and integers written as ``4.0`` are checked at load only.
``neurosim hw schema`` prints it; see hw_configs/README.md, "Editor support".
"""

from __future__ import annotations

import json
from typing import Any

from neurosim.describe.hardware import FORMAT, HardwareSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"
NOT_IN_FILE = ("source",)  # set by the loader (the file's path), never written in a file


def hardware_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a hardware YAML file, as a dict."""
    schema = HardwareSpec.model_json_schema()
    for key in NOT_IN_FILE:
        schema["properties"].pop(key, None)
    head = {
        "$schema": DIALECT,
        "title": f"neurosim hardware description ({FORMAT})",
        "description": "A chip for the neurosim simulator: a 2D mesh of tiles, each a router and N cores, "
        "with per-operation costs (latency_<op>_cycles, energy_<op>_pj); optionally a grid of chips "
        "joined by chip-to-chip links. Key by key: hw_configs/README.md.",
    }
    return {**head, **{k: v for k, v in schema.items() if k not in head}}


def hardware_schema_text() -> str:
    """:func:`hardware_schema` as indented JSON text, ending in a newline."""
    return json.dumps(hardware_schema(), indent=2, sort_keys=False) + "\n"
