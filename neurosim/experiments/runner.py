"""One run end to end: model + hardware (+ mapping) + the model's test data -> result + report.

The stimulus comes from the dataset the model was trained on, read from its NIR metadata
(``metadata["neurosim"]["dataset"]`` with its encoding parameters), so the simulator sees exactly
the trainer's test inputs. A model without that metadata runs on the bundled digits test split.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurosim.data.dataset import SpikeDataset
from neurosim.data.registry import load_dataset
from neurosim.describe.hardware import HardwareSpec
from neurosim.describe.mapping import Mapping
from neurosim.describe.network import Network
from neurosim.errors import NeurosimError
from neurosim.io.hardware_file import load_hardware
from neurosim.io.mapping_file import load_mapping
from neurosim.io.nir_read import load_network
from neurosim.mapping.registry import map_network
from neurosim.sim.counters import RunResult
from neurosim.sim.engine import simulate


@dataclass
class Setup:
    """The three inputs of a run and its stimulus, ready to simulate."""

    hardware: HardwareSpec
    network: Network
    mapping: Mapping
    data: SpikeDataset

    def simulate(self, **options: Any) -> RunResult:
        """:func:`neurosim.sim.engine.simulate` of the whole stimulus (``dataset`` defaults to its name)."""
        options.setdefault("dataset", self.data.name)
        return simulate(self.hardware, self.network, self.mapping, self.data.inputs, self.data.labels, **options)


def dataset_for(
    net: Network,
    *,
    samples: int | None = None,
    dataset: str | None = None,
    data_path: str | None = None,
    frames: int | None = None,
    seed: int | None = None,
) -> SpikeDataset:
    """The test split the model was trained on (per its metadata), or ``dataset`` when given."""
    meta = net.metadata.get("neurosim", {}) if isinstance(net.metadata, dict) else {}
    params = meta.get("encoding", {}) or {}
    name = dataset or meta.get("dataset", "digits")
    if frames is None:
        frames = params.get("frames", meta.get("frames"))
    if seed is None:
        seed = int(params.get("seed", meta.get("data_seed", 0)))
    data = load_dataset(
        name, "test", frames=None if frames is None else int(frames), seed=seed, path=data_path, limit=samples
    )
    n_in = net.by_name[net.input].size
    if data.n_channels != n_in:
        raise NeurosimError(
            f"model {net.name!r} takes {n_in} inputs but dataset {name!r} has "
            f"{data.n_channels} channels; pass --dataset"
        )
    if len(data) == 0:
        raise NeurosimError(f"dataset {name!r}: no samples selected")
    return data


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
) -> Setup:
    hardware = load_hardware(hw, overrides)
    network = load_network(model, dt=dt)
    if mapping is not None:
        m = load_mapping(mapping, network, hardware)
    else:
        m = map_network(network, hardware, strategy=strategy, placement=placement)
    return Setup(hardware, network, m, dataset_for(network, samples=samples, dataset=dataset, data_path=data_path))
