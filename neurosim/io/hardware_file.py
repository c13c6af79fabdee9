"""Hardware files: load a hardware YAML file (or a shipped preset by name) into a validated
:class:`~neurosim.describe.hardware.HardwareSpec`, with ``--set``-style overrides of dotted keys."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from neurosim.describe.hardware import HardwareSpec, in_schema, value_error
from neurosim.errors import ConfigError
from neurosim.paths import is_bare_name, shipped_names, shipped_path
from neurosim.yamlfile import load_yaml, set_path, validate


def load_hardware(path: str | Path, overrides: dict[str, Any] | None = None) -> HardwareSpec:
    """Load and validate a hardware YAML file. ``overrides`` maps dotted keys to new values,
    e.g. ``{"core.max_neurons": 64}``. ``path`` may name a shipped preset (``loihi``)."""
    if not str(path).strip():
        raise ConfigError("the hardware file name is empty (--hw): give a file or a preset name")
    if is_bare_name(str(path)) and not Path(path).exists():
        path = resolve_hardware_path(path)
    doc = load_yaml(path)
    data = doc.data
    if overrides:
        data = copy.deepcopy(data)
        for key, value in overrides.items():
            if not in_schema(HardwareSpec, str(key)):
                raise ConfigError(f"override {key!r}: no such key (see hw_configs/README.md)", file=str(path))
            if isinstance(value, np.generic):  # sweeps pass numpy scalars; the schema is strict
                value = value.item()
            reason = value_error(HardwareSpec, str(key), value)
            if reason is not None:  # named as the override, not as the file's line it replaces
                raise ConfigError(f"override {key!r}: {reason}", file=str(path))
            set_path(data, key, value, create=True)  # a key the file leaves to its default may be set
    hw = validate(HardwareSpec, doc, data)
    return hw.model_copy(update={"source": str(path)})


def preset_path(name: str) -> Path:
    """Path of a shipped preset (``loihi``, ``seneca``, ``small``, ...) in ``hw_configs/``."""
    return shipped_path(name, "hardware")


def resolve_hardware_path(name: str | Path) -> Path:
    """``name`` as a path if it exists, else a shipped preset of that name; else a ConfigError."""
    p = Path(name)
    if p.exists():
        return p
    if is_bare_name(str(name)) and preset_path(str(name)).is_file():
        return preset_path(str(name))
    presets = ", ".join(shipped_names("hardware"))
    raise ConfigError(f"no such file, and not a preset (presets: {presets})", file=str(name))
