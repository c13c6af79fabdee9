"""Mapping files. A mapping is written to and read from a YAML file a person can edit::

    format: neurosim-mapping/1
    network: digits_layered
    hardware: loihi
    hardware_overrides: {core.max_neurons: 64}   # the --set values the mapping was made under
    strategy: balanced
    strategy_options: {n_cores: 16}
    placement: traffic-aware
    placement_options: {seed: 0}
    seed: 0                # the run's seed
    cores:
      - core: 0            # physical core index (tiles row-major, then the slot in the tile)
        tile: [0, 0]       # x, y on the mesh (must agree with `core`)
        neurons:
          - {population: input, start: 0, stop: 64}

Physical cores are numbered ``tile * cores_per_tile + slot`` with tiles row-major
(``tile = y * width + x``).

What the mapping was made on is checked when it is read: the hardware's ``name`` must be the
file's ``hardware``, and every recorded ``hardware_overrides`` value must hold in the hardware
(``neurosim run --mapping`` applies the recorded overrides when it is given no ``--set``); keys
the file does not record may take other values (the same mapping on a slower link, say). The
strategy, placement, their options and the seed say how the mapping was made; they are kept in
:attr:`Mapping.meta` and not re-run (the ``cores`` are the mapping). Every key but ``format``
and ``cores`` is optional, so a hand-written file needs none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, Strict

from neurosim import atomic
from neurosim.describe.hardware import HardwareSpec, in_schema
from neurosim.describe.mapping import Mapping, check_mapping
from neurosim.describe.network import Network
from neurosim.errors import MappingError
from neurosim.plain import plain
from neurosim.yamlfile import MAX_MAPPING_BYTES, Located, load_yaml, validate

FORMAT = "neurosim-mapping/1"


# ---- YAML ------------------------------------------------------------------------------------------


# indices are strict integers: a boolean (true would read as 1) or a float (1e30) is a wrong type
_Index = Annotated[int, Strict(), Field(ge=0)]


class _Range(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    population: str
    start: _Index
    stop: _Index


class _CoreEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    core: _Index
    tile: tuple[_Index, _Index] | None = None
    neurons: list[_Range] = Field(min_length=1)


class _MappingFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    format: str = Field(pattern=r"^neurosim-mapping/1$")
    network: str | None = None
    hardware: str | None = None
    hardware_overrides: dict[str, Any] | None = None
    strategy: str = "file"
    strategy_options: dict[str, Any] = Field(default_factory=dict)
    placement: str = "file"
    placement_options: dict[str, Any] = Field(default_factory=dict)
    seed: NonNegativeInt | None = None
    cores: list[_CoreEntry] = Field(min_length=1)


def _ranges(idx: np.ndarray) -> list[tuple[int, int]]:
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    return [(int(s[0]), int(s[-1]) + 1) for s in np.split(idx, breaks)]


def save_mapping(
    m: Mapping,
    net: Network,
    hw: HardwareSpec,
    path: str | Path,
    *,
    overrides: dict[str, Any] | None = None,
    seed: int | None = None,
) -> Path:
    """Write the mapping as YAML, neuron ranges per core and population, with what it was made
    on: the hardware's name and ``overrides`` (the ``--set`` values ``hw`` was loaded with), the
    strategy and placement with their options (``m.meta``, as :func:`map_network` records them)
    and the run's ``seed``."""
    cores = []
    for core in m.used_cores:
        neurons = []
        for pop in net.populations:
            sl = net.span(pop.name)
            local = np.flatnonzero(m.core_of[sl] == core)
            neurons += [{"population": pop.name, "start": a, "stop": b} for a, b in _ranges(local)]
        cores.append({"core": int(core), "tile": list(hw.tile_xy(int(core))), "neurons": neurons})
    doc = {
        "format": FORMAT,
        "network": net.name,
        "hardware": hw.name,
        "hardware_overrides": plain(dict(overrides or {})),
        "strategy": m.strategy,
        "strategy_options": plain(dict(m.meta.get("strategy_options", {}))),
        "placement": m.placement,
        "placement_options": plain(dict(m.meta.get("placement_options", {}))),
        "seed": None if seed is None else int(seed),
        "cores": cores,
    }
    if doc["seed"] is None:
        del doc["seed"]
    return atomic.write_text(path, yaml.safe_dump(doc, sort_keys=False, default_flow_style=None))


@dataclass(frozen=True)
class MappingDoc:
    """A mapping YAML read and validated once (:func:`read_mapping`), not yet checked against a
    network and hardware: what :func:`load_mapping` and :func:`recorded_overrides` take."""

    path: str | Path
    doc: Located
    spec: _MappingFile


def read_mapping(path: str | Path) -> MappingDoc:
    """Read and validate a mapping YAML (its size, syntax and keys)."""
    doc = load_yaml(path, MAX_MAPPING_BYTES)
    return MappingDoc(path, doc, validate(_MappingFile, doc))


def _read(source: str | Path | MappingDoc) -> MappingDoc:
    return source if isinstance(source, MappingDoc) else read_mapping(source)


def load_mapping(source: str | Path | MappingDoc, net: Network, hw: HardwareSpec) -> Mapping:
    """Read a mapping YAML (or take one :func:`read_mapping` read) and check it against the
    network and the hardware."""
    read = _read(source)
    path, doc, spec = read.path, read.doc, read.spec
    _check_made_on(doc, spec, hw)
    core_of = np.full(net.n_neurons, -1, np.int64)
    for i, entry in enumerate(spec.cores):
        where = ("cores", i)
        if entry.core >= hw.n_cores:
            raise doc.error(
                where + ("core",),
                f"core {entry.core} does not exist: hardware {hw.name!r} has cores 0..{hw.n_cores - 1}",
            )
        if entry.tile is not None and tuple(entry.tile) != hw.tile_xy(entry.core):
            raise doc.error(
                where + ("tile",),
                f"core {entry.core} is on tile {list(hw.tile_xy(entry.core))}, not {list(entry.tile)}",
            )
        for j, r in enumerate(entry.neurons):
            rw = where + ("neurons", j)
            if r.population not in net.by_name:
                raise doc.error(
                    rw + ("population",),
                    f"population {r.population!r} is not in network "
                    f"{net.name!r} (has {[p.name for p in net.populations]})",
                )
            size = net.by_name[r.population].size
            if not (r.start < r.stop <= size):
                raise doc.error(
                    rw, f"range [{r.start}, {r.stop}) is empty or beyond population {r.population!r} of {size} neurons"
                )
            sl = net.span(r.population)
            dst = core_of[sl.start + r.start : sl.start + r.stop]
            if (dst >= 0).any():
                n = sl.start + r.start + int(np.flatnonzero(dst >= 0)[0])
                raise doc.error(
                    rw, f"neuron {n} of {r.population!r} is mapped twice (cores {int(core_of[n])} and {entry.core})"
                )
            dst[:] = entry.core
    missing = np.flatnonzero(core_of < 0)
    if missing.size:
        pop = net.populations[net.population_of[missing[0]]].name
        raise doc.error(
            ("cores",),
            f"{missing.size} neurons are not mapped (first: neuron "
            f"{missing[0] - net.span(pop).start} of population {pop!r})",
        )
    made = {k: getattr(spec, k) for k in ("hardware_overrides", "strategy_options", "placement_options", "seed")}
    m = Mapping(core_of, spec.strategy, spec.placement, {"file": str(path), **made})
    try:
        check_mapping(net, hw, m)
    except MappingError as exc:
        raise MappingError(f"{path}: {exc}") from None
    return m


def recorded_overrides(source: str | Path | MappingDoc) -> dict[str, Any] | None:
    """The hardware overrides a mapping file says it was made under (None when it does not say)."""
    return _read(source).spec.hardware_overrides


def _hw_value(hw: HardwareSpec, dotted: str) -> Any:
    value: Any = hw
    for part in dotted.split("."):
        value = getattr(value, part, None)
    return plain(value)


def _check_made_on(doc: Located, spec: _MappingFile, hw: HardwareSpec) -> None:
    """Refuse hardware other than the one the mapping file says it was made on."""
    if spec.hardware is not None and spec.hardware != hw.name:
        raise doc.error(("hardware",), f"the mapping was made for hardware {spec.hardware!r}, not {hw.name!r}")
    recorded = spec.hardware_overrides or {}
    for key in recorded:
        if not in_schema(HardwareSpec, str(key)):
            raise doc.error(("hardware_overrides", key), "not a hardware key (see hw_configs/README.md)")
    differ = {k: _hw_value(hw, k) for k, v in recorded.items() if _hw_value(hw, k) != plain(v)}
    if differ:
        first = next(iter(differ))
        made = ", ".join(f"{k}={v}" for k, v in recorded.items())
        has = ", ".join(f"{k}={v}" for k, v in differ.items())
        raise doc.error(
            ("hardware_overrides", first),
            f"the mapping was made under {made} but the hardware has {has}; "
            "run it with the same --set values, or with no --set to apply the file's",
        )
