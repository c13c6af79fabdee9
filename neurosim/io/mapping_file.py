"""Mapping files. A mapping is written to and read from a YAML file a person can edit::

    format: neurosim-mapping/1
    network: digits_layered
    hardware: loihi
    strategy: sequential
    placement: row-major
    cores:
      - core: 0            # physical core index (tiles row-major, then the slot in the tile)
        tile: [0, 0]       # x, y on the mesh (must agree with `core`)
        neurons:
          - {population: input, start: 0, stop: 64}

Physical cores are numbered ``tile * cores_per_tile + slot`` with tiles row-major
(``tile = y * width + x``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from neurosim import atomic
from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import Mapping, check_mapping
from neurosim.describe.network import Network
from neurosim.errors import MappingError
from neurosim.yamlfile import load_yaml, validate

FORMAT = "neurosim-mapping/1"


# ---- YAML ------------------------------------------------------------------------------------------


class _Range(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    population: str
    start: NonNegativeInt
    stop: NonNegativeInt


class _CoreEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    core: NonNegativeInt
    tile: tuple[NonNegativeInt, NonNegativeInt] | None = None
    neurons: list[_Range] = Field(min_length=1)


class _MappingFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    format: str = Field(pattern=r"^neurosim-mapping/1$")
    network: str | None = None
    hardware: str | None = None
    strategy: str = "file"
    placement: str = "file"
    cores: list[_CoreEntry] = Field(min_length=1)


def _ranges(idx: np.ndarray) -> list[tuple[int, int]]:
    if idx.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) != 1) + 1
    return [(int(s[0]), int(s[-1]) + 1) for s in np.split(idx, breaks)]


def save_mapping(m: Mapping, net: Network, hw: HardwareSpec, path: str | Path) -> Path:
    """Write the mapping as YAML, neuron ranges per core and population."""
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
        "strategy": m.strategy,
        "placement": m.placement,
        "cores": cores,
    }
    return atomic.write_text(path, yaml.safe_dump(doc, sort_keys=False, default_flow_style=None))


def load_mapping(path: str | Path, net: Network, hw: HardwareSpec) -> Mapping:
    """Read a mapping YAML and check it against the network and the hardware."""
    doc = load_yaml(path)
    spec = validate(_MappingFile, doc)
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
    m = Mapping(core_of, spec.strategy, spec.placement, {"file": str(path)})
    try:
        check_mapping(net, hw, m)
    except MappingError as exc:
        raise MappingError(f"{path}: {exc}") from None
    return m
