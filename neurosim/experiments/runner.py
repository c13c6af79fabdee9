"""One run end to end: model + hardware (+ mapping) + the model's test data -> result + report.

The stimulus comes from the dataset the model was trained on, read from its NIR metadata
(``metadata["neurosim"]["dataset"]`` with its encoding parameters), so the simulator sees exactly
the trainer's test inputs. A model without that metadata runs on the bundled digits test split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import logging
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurosim.data.dataset import SpikeDataset
from neurosim.data.registry import load_dataset
from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import Mapping
from neurosim.describe.network import Network
from neurosim.errors import NeurosimError
from neurosim.io.hardware_file import load_hardware
from neurosim.io.mapping_file import load_mapping, read_mapping, recorded_overrides
from neurosim.io.nir_read import load_network
from neurosim.mapping.registry import accepted_options, map_network
from neurosim.paths import display_path
from neurosim.plain import plain
from neurosim.sim.counters import RunResult
from neurosim.sim.engine import simulate

log = logging.getLogger(__name__)


@dataclass
class Setup:
    """The three inputs of a run and its stimulus, ready to simulate. ``overrides`` are the
    hardware overrides ``hardware`` was loaded with; ``overrides_from`` names the mapping file
    they were taken from when the run gave none and the file recorded some."""

    hardware: HardwareSpec
    network: Network
    mapping: Mapping
    data: SpikeDataset
    overrides: dict[str, Any] = field(default_factory=dict)
    overrides_from: str | None = None

    def simulate(self, **options: Any) -> RunResult:
        """:func:`neurosim.sim.engine.simulate` of the whole stimulus (``dataset`` defaults to its name)."""
        options.setdefault("dataset", self.data.name)
        return simulate(self.hardware, self.network, self.mapping, self.data.inputs, self.data.labels, **options)


MAX_FRAMES = 10_000
"""Most frames per sample a model's metadata (or ``frames=``) may ask for; checked before the
stimulus is built."""


def dataset_for(
    net: Network,
    *,
    samples: int | None = None,
    dataset: str | None = None,
    data_path: str | None = None,
    frames: int | None = None,
    seed: int | None = None,
    source: str | Path | None = None,
) -> SpikeDataset:
    """The test split the model was trained on (per its metadata), or ``dataset`` when given.
    A malformed metadata value (``dataset``, ``frames``, the encoding ``seed``) is a one-line
    error naming ``source`` (the model file; default: the network's name)."""
    where = str(source) if source is not None else f"model {net.name!r}"
    meta = net.metadata.get("neurosim", {}) if isinstance(net.metadata, dict) else {}
    meta = meta if isinstance(meta, dict) else {}
    params = meta.get("encoding", {}) or {}
    params = params if isinstance(params, dict) else {}
    name = dataset or meta.get("dataset", "digits")
    if not isinstance(name, str) or not name:
        raise NeurosimError(f"{where}: metadata neurosim.dataset must be a dataset name, got {name!r}")
    if frames is None:
        key = "neurosim.encoding.frames" if "frames" in params else "neurosim.frames"
        frames = params.get("frames", meta.get("frames"))
        if frames is not None:
            frames = _metadata_int(where, key, frames, 1, MAX_FRAMES)
    if seed is None:
        key = "neurosim.encoding.seed" if "seed" in params else "neurosim.data_seed"
        seed = _metadata_int(where, key, params.get("seed", meta.get("data_seed", 0)), 0, 2**63 - 1)
    values = params.get("values")
    if values is not None and not isinstance(values, str):
        raise NeurosimError(f"{where}: metadata neurosim.encoding.values must be binary or counts, got {values!r}")
    # a model without the key was trained on spikes; "counts": the event counts it was trained on
    values = "counts" if values == "counts" else None
    try:
        data = load_dataset(
            name,
            "test",
            frames=None if frames is None else int(frames),
            seed=seed,
            path=data_path,
            limit=samples,
            values=values,
        )
    except NeurosimError as exc:
        if dataset:  # the caller's choice, not the file's
            raise
        raise NeurosimError(f"{where}: metadata neurosim.dataset: {exc}") from None
    n_in = net.by_name[net.input].size
    if data.n_channels != n_in:
        raise NeurosimError(
            f"model {net.name!r} takes {n_in} inputs but dataset {name!r} has "
            f"{data.n_channels} channels; pass --dataset"
        )
    if len(data) == 0:
        raise NeurosimError(f"dataset {name!r}: no samples selected")
    if samples is not None and len(data) < samples:
        raise NeurosimError(f"--samples {samples}: dataset {name!r} has only {len(data)} test samples")
    return data


def _metadata_int(where: str, key: str, value: Any, lo: int, hi: int) -> int:
    """A metadata value that must be a whole number in ``[lo, hi]`` (a float with an integer value
    is accepted, as NIR files may store one), else a one-line error naming ``where`` and ``key``."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if not (ok and value == int(value) and lo <= int(value) <= hi):
        raise NeurosimError(f"{where}: metadata {key} must be an integer in [{lo}, {hi}], got {value!r}")
    return int(value)


def prepare(
    model: str | Path,
    hw: str | Path,
    *,
    mapping: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    dt: float | None = None,
    samples: int | None = None,
    dataset: str | None = None,
    data_path: str | None = None,
    strategy: str = "sequential",
    placement: str = "row-major",
    mapping_options: dict[str, Any] | None = None,
    seed: int | None = None,
) -> Setup:
    """Hardware (with ``overrides``), network, mapping and test data of a run.

    With ``mapping`` (a mapping file) and no ``overrides``, the overrides the file records are
    applied (``Setup.overrides_from`` says so); the file is refused when the hardware differs
    from the one it was made on. Otherwise ``strategy`` and ``placement`` map the network, with
    ``mapping_options`` (e.g. ``n_cores``, ``neurons_per_core``; one neither takes is an error)
    and ``seed`` for those that take one."""
    if mapping is not None and mapping_options:
        raise NeurosimError(f"mapping file {mapping} gives the mapping; options {sorted(mapping_options)} do not apply")
    overrides = dict(overrides or {})
    overrides_from = None
    read = read_mapping(mapping) if mapping is not None else None
    if read is not None and not overrides:
        overrides = dict(recorded_overrides(read) or {})
        overrides_from = str(mapping) if overrides else None
    hardware = load_hardware(hw, overrides or None)
    network = load_network(model, dt=dt)
    if read is not None:
        m = _as_file_mapping(load_mapping(read, network, hardware), read.path)
        if overrides_from:
            shown = " ".join(f"{k}={v}" for k, v in overrides.items())
            log.info("applied the hardware overrides recorded in %s: %s", overrides_from, shown)
    else:
        options = dict(mapping_options or {})
        if seed is not None and "seed" in accepted_options(strategy, placement):
            options.setdefault("seed", seed)
        m = map_network(network, hardware, strategy=strategy, placement=placement, **options)
    data = dataset_for(network, samples=samples, dataset=dataset, data_path=data_path, source=model)
    return Setup(hardware, network, m, data, overrides, overrides_from)


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _as_file_mapping(m: Mapping, path: str | Path) -> Mapping:
    """A mapping read from a file, reported as strategy ``file`` with the file's path and sha256
    (it may have been edited by hand: what the file says made it is kept as ``made_by``)."""
    meta = {**m.meta, "made_by": m.strategy, "file": display_path(path), "sha256": file_sha256(path)}
    return dataclasses.replace(m, strategy="file", meta=meta)


def mapping_source(m: Mapping) -> dict[str, Any]:
    """Where a run's mapping came from: ``{"kind": "file", "sha256"}`` for a mapping file (its
    content; the path is ``m.meta["file"]``), else the strategy, the placement and their options
    (the seed included, when one was taken)."""
    if m.strategy == "file" and "sha256" in m.meta:
        return {"kind": "file", "sha256": m.meta["sha256"]}
    return {
        "kind": "strategy",
        "strategy": m.strategy,
        "strategy_options": dict(m.meta.get("strategy_options", {})),
        "placement": m.placement,
        "placement_options": dict(m.meta.get("placement_options", {})),
    }


def dataset_source(data: SpikeDataset) -> dict[str, Any]:
    """The data set of a run: name, its encoding parameters and the version of the package that
    supplies it (digits: scikit-learn's, whose copy of the images it encodes)."""
    version = None
    if data.name == "digits":
        version = {"sklearn": importlib.metadata.version("scikit-learn")}
    return {"name": data.name, "version": version, "params": dict(data.params)}


def run_identity(parts: dict[str, Any]) -> dict[str, Any]:
    """``{"inputs": parts, "hash": <16 hex>}``: a stable hash of the canonical JSON (sorted keys,
    no spaces) of everything that changes a run's result. Runs with equal hashes give equal results."""
    inputs = plain(parts, json=True)
    text = json.dumps(inputs, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return {"inputs": inputs, "hash": hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]}
