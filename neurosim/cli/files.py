"""Any input file by its kind, for ``validate`` and ``info``: a NIR model, a mapping YAML (read
against ``--model`` and ``--hw``) or a hardware YAML."""

from __future__ import annotations

from pathlib import Path

from neurosim.io.hardware_file import load_hardware
from neurosim.io.mapping_file import load_mapping, read_mapping, recorded_overrides
from neurosim.io.nir_read import load_network
from neurosim.paths import DEFAULT_HW, DEFAULT_MODEL
from neurosim.yamlfile import MAX_BYTES, load_yaml


def file_kind(path: Path) -> str:
    """``model`` (NIR), ``mapping`` (a YAML file of format neurosim-mapping) or ``hardware``."""
    if path.suffix.lower() in (".nir", ".h5", ".hdf5"):
        return "model"
    if path.is_file() and path.stat().st_size > MAX_BYTES:  # only a mapping file may be that big
        return "mapping"
    fmt = str(load_yaml(path).data.get("format", ""))
    if fmt.startswith("neurosim-mapping"):
        return "mapping"
    return "hardware"


def load_any(path: Path, a) -> tuple[str, object]:
    """Load a model, hardware or mapping file (a mapping against ``--model`` and ``--hw``)."""
    kind = file_kind(path)
    if kind == "model":
        return kind, load_network(path, dt=getattr(a, "dt", None))
    if kind == "hardware":
        return kind, load_hardware(path)
    net = load_network(a.model or DEFAULT_MODEL, dt=getattr(a, "dt", None))
    read = read_mapping(path)
    hw = load_hardware(a.hw or DEFAULT_HW, recorded_overrides(read) or None)  # as the mapping was made
    return kind, load_mapping(read, net, hw)
