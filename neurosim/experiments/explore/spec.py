"""The sweep specification of ``neurosim explore``: a YAML file, validated with pydantic, errors
reported as ``file:line: key.path: reason``.

Format (``examples/explore_small.yaml`` is a complete example)::

    format: neurosim-explore/1
    name: small-mapping          # output goes to reports/explore/<name>/ (letters, digits, . _ -)
    description: free text       # optional
    seed: 0                      # default 0: every random choice (random strategy, annealing,
                                 #   async random policy) is seeded from it
    models:                      # NIR files; a bare name (no / and no suffix) means models/<name>.nir
      - ../models/digits_layered.nir
    hardware:                    # hardware YAML files; a bare name means the preset hw_configs/<name>.yaml
      - small
      - ../hw_configs/loihi.yaml
    overrides:                   # optional grid: every combination of these values is a point;
      core.max_neurons: [64, 128]                     # keys are hardware keys (as in --set)
      router.link_bandwidth_msgs_per_cycle: [0.5, 1.0]
    strategies:                  # default [sequential]; an entry is a name or {name, options, label}
      - sequential
      - balanced
      - {name: partition, options: {method: greedy}}
      - {name: random, options: {seed: 3}, label: random-3}
    placements: [row-major, traffic-aware]    # default [row-major]; same entry forms
    n_cores: [4, 16]             # optional grid (a value or a list): spread the network over N cores
                                 #   (or `all`), for strategies that take it (balanced, random),
                                 #   as `neurosim run --n-cores`
    neurons_per_core: [16]       # optional grid: at most N neurons per core (`--neurons-per-core`)
    modes: [sync]                # default [sync]; names from neurosim.sim.modes.MODES; an entry
                                 #   may be {name: async, options: {policy: momentum, group_size: 4}}
                                 #   whose options go to neurosim.sim.engine.simulate (its keyword
                                 #   arguments; `seed` defaults to the sweep's seed)
    samples: 20                  # test samples per point (default: the whole test split)
    dataset: null                # default: the model's own dataset (see neurosim.experiments.runner)
    data_path: null              # where an on-disk dataset lives
    dt: null                     # time step for NIR files that do not state it
    rates: profile               # traffic weights given to strategies/placements that take `rates`
                                 #   and used for the mapping-quality columns: `profile` (mean spikes
                                 #   per neuron measured by simulating the first `profile_samples`
                                 #   test samples in sync mode) or `uniform` (one spike per neuron)
    profile_samples: 4

Relative paths are relative to the directory of the spec file. The points of the sweep are the
product models x hardware x override grid x mapping grid (``n_cores`` x ``neurons_per_core``) x
strategies x placements x modes, in that order (the order of the output table). A mapping key
every strategy and placement of the spec refuses is an error of the spec; the same key in an
entry's ``options`` too is an error (give it in one place). Each point is identified by a
stable hash of its parameters (:func:`point_key`), which names its result file
``points/<key>.json``.

Files are not checked for existence here: a point whose hardware or model file is missing fails
on its own (its error is recorded) and the rest of the sweep goes on.
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, field_validator

from neurosim.describe.hardware import HardwareSpec, in_schema, value_error
from neurosim.errors import ConfigError
from neurosim.mapping.registry import accepted_options, registry
from neurosim.paths import is_bare_name, shipped_path
from neurosim.sim.engine import simulate
from neurosim.sim.modes import MODES
from neurosim.yamlfile import Located, load_yaml, validate

FORMAT = "neurosim-explore/1"
#: the spec's top-level mapping keys (grids, like ``neurosim run --n-cores / --neurons-per-core``)
MAPPING_KEYS = ("n_cores", "neurons_per_core")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Entry(_Strict):
    """A strategy, placement or mode with its options; ``label`` names it in the table."""

    name: str = Field(min_length=1)
    options: dict[str, Any] = Field(default_factory=dict)
    label: str | None = None

    def title(self) -> str:
        if self.label:
            return self.label
        if not self.options:
            return self.name
        return f"{self.name}(" + ",".join(f"{k}={v}" for k, v in sorted(self.options.items())) + ")"


def _entries(v):
    if isinstance(v, list):
        return [{"name": x} if isinstance(x, str) else x for x in v]
    return v


def _as_list(v):
    return v if v is None or isinstance(v, list) else [v]


class Spec(_Strict):
    format: Literal["neurosim-explore/1"]
    name: str = Field(pattern=r"^[A-Za-z0-9._-]+$")
    description: str = ""
    seed: int = 0
    models: list[str] = Field(min_length=1)
    hardware: list[str] = Field(min_length=1)
    overrides: dict[str, list[Any]] = Field(default_factory=dict)
    strategies: list[Entry] = Field(default_factory=lambda: [Entry(name="sequential")], min_length=1)
    placements: list[Entry] = Field(default_factory=lambda: [Entry(name="row-major")], min_length=1)
    modes: list[Entry] = Field(default_factory=lambda: [Entry(name="sync")], min_length=1)
    samples: PositiveInt | None = None
    dataset: str | None = None
    data_path: str | None = None
    dt: float | None = Field(None, gt=0)
    rates: Literal["profile", "uniform"] = "profile"
    profile_samples: PositiveInt = 4
    n_cores: list[Any] | None = Field(None, min_length=1)
    neurons_per_core: list[PositiveInt] | None = Field(None, min_length=1)

    _as_entries = field_validator("strategies", "placements", "modes", mode="before")(_entries)
    _as_lists = field_validator(*MAPPING_KEYS, mode="before")(_as_list)

    @field_validator("n_cores")
    @classmethod
    def _cores(cls, values):
        for i, v in enumerate(values or []):
            if v != "all" and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"entry {i}: expected a positive integer or 'all', got {v!r}")
        return values

    @field_validator("name")
    @classmethod
    def _not_dots(cls, name):  # the pattern allows dots; '.' and '..' would name no folder of its own
        if set(name) == {"."}:
            raise ValueError(f"{name!r} is not a folder name of its own (letters, digits, . _ -)")
        return name

    @field_validator("overrides")
    @classmethod
    def _non_empty(cls, grid):
        for key, values in grid.items():
            if not values:
                raise ValueError(f"override {key!r} lists no values")
        return grid


@dataclass(frozen=True)
class Point:
    """One simulation of the sweep. ``params`` (JSON-able) identify it; paths are resolved."""

    key: str
    params: dict[str, Any]
    model_path: str
    hardware_path: str
    data_path: str | None = None
    index: int = 0

    def job(self) -> dict[str, Any]:
        """What a worker needs (a plain dict, cheap to send to another process)."""
        return {
            "key": self.key,
            "params": self.params,
            "model_path": self.model_path,
            "hardware_path": self.hardware_path,
            "data_path": self.data_path,
        }


@dataclass(frozen=True)
class LoadedSpec:
    spec: Spec
    path: Path
    points: list[Point]
    override_keys: tuple[str, ...]
    #: the mapping options (``MAPPING_KEYS``) the spec gives, top-level or in an entry's options
    mapping_keys: tuple[str, ...] = ()


def point_key(params: dict[str, Any]) -> str:
    """A stable hash of a point's parameters (canonical JSON, sorted keys)."""
    blob = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _resolve(entry: str, base: Path, kind: str) -> str:
    p = Path(entry)
    if is_bare_name(entry):
        return str(shipped_path(entry, "hardware" if kind == "hardware" else "model"))
    return str(p if p.is_absolute() else (base / p).resolve())


def _check(doc: Located, spec: Spec) -> None:

    strategies, placements = registry()
    for group, known in (("strategies", strategies), ("placements", placements), ("modes", MODES)):
        for i, e in enumerate(getattr(spec, group)):
            if e.name not in known:
                raise doc.error(
                    (group, i),
                    f"unknown {group[:-1] if group != 'strategies' else 'strategy'} {e.name!r}; known: {sorted(known)}",
                )
        titles = [e.title() for e in getattr(spec, group)]
        dup = sorted({t for t in titles if titles.count(t) > 1})
        if dup:
            raise doc.error((group,), f"entries {dup} appear more than once (give them distinct labels)")
    accepted = simulate_options()
    for i, e in enumerate(spec.modes):
        for k in e.options:
            if k not in accepted:
                raise doc.error(
                    ("modes", i, "options", k), "not an option of simulate(); its options are listed in docs/api.md"
                )
    for key, values in spec.overrides.items():
        if not _hardware_key(key):
            raise doc.error(("overrides", key), "not a hardware key (see hw_configs/README.md), e.g. core.max_neurons")
        for i, value in enumerate(values):  # type and range of each value, before any point runs
            reason = value_error(HardwareSpec, key, value)
            if reason is not None:
                raise doc.error(("overrides", key, i), reason)
    for group in ("strategies", "placements"):
        for i, e in enumerate(getattr(spec, group)):
            if "rates" in e.options:
                raise doc.error(
                    (group, i, "options", "rates"),
                    "rates are set for the whole sweep (top-level key rates: profile | uniform)",
                )


#: arguments of ``simulate`` that a sweep sets itself
_RESERVED = {
    "hw",
    "net",
    "mapping",
    "inputs",
    "labels",
    "mode",
    "name",
    "dataset",
    "raster_sample",
    "progress",
    "options",
    "first_sample",
}


def simulate_options() -> set[str]:
    """Keyword options of :func:`neurosim.sim.engine.simulate` a mode entry may set."""

    return {
        n
        for n, p in inspect.signature(simulate).parameters.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    } - _RESERVED


def _hardware_key(dotted: str) -> bool:

    return in_schema(HardwareSpec, dotted)


def load_spec(path: str | Path) -> LoadedSpec:
    """Read, validate and expand a sweep specification."""
    doc = load_yaml(path)
    spec = validate(Spec, doc)
    _check_size(doc, spec)
    _check(doc, spec)
    mapping_keys = _check_mapping_keys(doc, spec)
    base = Path(path).resolve().parent
    keys = tuple(spec.overrides)
    data_path = str(base / spec.data_path) if spec.data_path else None
    grid = [dict(zip(keys, combo)) for combo in itertools.product(*(spec.overrides[k] for k in keys))]
    points: list[Point] = []
    for model, hw, ov, mg, st, pl, mo in itertools.product(
        spec.models, spec.hardware, grid, _mapping_grid(spec), spec.strategies, spec.placements, spec.modes
    ):
        params = {
            "model": model,
            "hardware": hw,
            "overrides": ov,
            "strategy": st.name,
            "strategy_options": st.options,
            "strategy_label": st.title(),
            "placement": pl.name,
            "placement_options": pl.options,
            "placement_label": pl.title(),
            "mode": mo.name,
            "mode_options": mo.options,
            "mode_label": mo.title(),
            "samples": spec.samples,
            "dataset": spec.dataset,
            "data_path": spec.data_path,
            "dt": spec.dt,
            "rates": spec.rates,
            "profile_samples": spec.profile_samples,
            "seed": spec.seed,
        }
        if mg:  # only when given, so that the keys of specs without mapping keys stay as they were
            params["mapping_options"] = mg
        params = json.loads(json.dumps(params, default=str))  # plain JSON types, as stored
        points.append(
            Point(
                point_key(params),
                params,
                _resolve(model, base, "model"),
                _resolve(hw, base, "hardware"),
                data_path,
                len(points),
            )
        )
    seen: dict[str, int] = {}
    for p in points:
        if p.key in seen:
            raise ConfigError(f"points {seen[p.key]} and {p.index} are identical", file=str(path))
        seen[p.key] = p.index
    return LoadedSpec(spec, Path(path), points, keys, mapping_keys)


MAX_POINTS = 100_000
"""Most points of a sweep; a larger product is refused before it is expanded."""


def _check_size(doc: Located, spec: Spec) -> None:
    """Refuse a sweep of more than ``MAX_POINTS`` points, counted from the list lengths alone."""
    lists: list[list[Any]] = [spec.models, spec.hardware, spec.strategies, spec.placements, spec.modes]
    lists += list(spec.overrides.values()) + [getattr(spec, k) or [None] for k in MAPPING_KEYS]
    n: int = math.prod(len(v) for v in lists)
    if n > MAX_POINTS:
        raise doc.error((), f"the sweep has {n} points, over the limit of {MAX_POINTS}")


def _mapping_grid(spec: Spec) -> list[dict[str, Any]]:
    """Every combination of the spec's top-level mapping keys (one empty dict without them)."""
    given = [k for k in MAPPING_KEYS if getattr(spec, k) is not None]
    return [dict(zip(given, combo)) for combo in itertools.product(*(getattr(spec, k) for k in given))]


def _check_mapping_keys(doc: Located, spec: Spec) -> tuple[str, ...]:
    """Refuse a top-level mapping key some strategy and placement of the spec would not take, or
    one an entry's options give too; return the mapping keys the spec gives anywhere."""
    top = [k for k in MAPPING_KEYS if getattr(spec, k) is not None]
    for key in top:
        for group in ("strategies", "placements"):
            for i, e in enumerate(getattr(spec, group)):
                if key in e.options:
                    raise doc.error((group, i, "options", key), f"{key} is also given at the top level; give it once")
        for st in spec.strategies:
            for pl in spec.placements:
                if key not in accepted_options(st.name, pl.name):
                    raise doc.error(
                        (key,),
                        f"strategy {st.name!r} with placement {pl.name!r} does not take {key} "
                        f"(takes {sorted(accepted_options(st.name, pl.name))}); "
                        "give it in the options of the strategies that take it",
                    )
    in_entries = {k for e in (*spec.strategies, *spec.placements) for k in e.options if k in MAPPING_KEYS}
    return tuple(k for k in MAPPING_KEYS if k in top or k in in_entries)


def mapping_option(params: dict[str, Any], key: str) -> Any:
    """The value of mapping option ``key`` at a point (top-level grid or the strategy's options), or None."""
    for where in (params.get("mapping_options") or {}, params["strategy_options"], params["placement_options"]):
        if key in where:
            return where[key]
    return None
