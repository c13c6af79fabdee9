"""The dataset container (:class:`SpikeDataset`: boolean spikes or non-negative integer event
counts ``(samples, frames, channels)`` and labels), its error type and the checks of a split name and a sample limit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurosim.errors import NeurosimError

SPLITS = ("train", "test")


class DatasetError(NeurosimError, ValueError):
    """A dataset name, split or parameter is unknown or invalid, or its files are missing."""


@dataclass(frozen=True, eq=False)
class SpikeDataset:
    """Input spikes and labels of one split of a dataset.

    ``inputs[n, t, c]`` is True when input channel ``c`` spikes in frame ``t`` of sample ``n``
    (boolean spikes), or the number of input spikes (events) of channel ``c`` in that frame
    (a non-negative integer dtype: a count ``k`` is ``k`` input spike messages, current = count x
    weights). Use :attr:`is_counts` and :meth:`n_input_spikes` rather than ``inputs.sum()`` on a
    bool array's nonzero entries. ``params`` holds the encoding parameters that,
    with the name and split, reproduce ``inputs`` exactly (for example frames and seed).
    """

    name: str
    inputs: np.ndarray  # bool or non-negative integer counts, shape (N, T, C)
    labels: np.ndarray  # int64, shape (N,)
    n_classes: int
    input_shape: tuple  # shape of one frame before flattening to C channels, e.g. (8, 8)
    description: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        inputs = np.asarray(self.inputs)
        labels = np.asarray(self.labels)
        if inputs.ndim != 3:
            raise DatasetError(
                f"dataset {self.name!r}: inputs must have shape (samples, frames, channels), got {inputs.shape}"
            )
        if inputs.dtype != np.bool_ and not np.issubdtype(inputs.dtype, np.integer):
            raise DatasetError(
                f"dataset {self.name!r}: inputs must be boolean spikes or non-negative integer event counts, "
                f"got dtype {inputs.dtype}"
            )
        if inputs.dtype != np.bool_ and inputs.size and inputs.min() < 0:
            raise DatasetError(
                f"dataset {self.name!r}: inputs hold negative event counts (min {int(inputs.min())}); "
                f"counts must be >= 0"
            )
        if labels.shape != (inputs.shape[0],):
            raise DatasetError(f"dataset {self.name!r}: {labels.shape} labels for {inputs.shape[0]} samples")
        labels = labels.astype(np.int64, copy=False)
        if len(labels) and (labels.min() < 0 or labels.max() >= self.n_classes):
            raise DatasetError(f"dataset {self.name!r}: labels outside 0..{self.n_classes - 1}")
        if int(np.prod(self.input_shape)) != inputs.shape[2]:
            raise DatasetError(
                f"dataset {self.name!r}: input_shape {tuple(self.input_shape)} does not "
                f"flatten to {inputs.shape[2]} channels"
            )
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "input_shape", tuple(int(s) for s in self.input_shape))

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def n_channels(self) -> int:
        return int(self.inputs.shape[2])

    @property
    def is_counts(self) -> bool:
        """True when ``inputs`` holds event counts (an integer dtype) rather than boolean spikes."""
        return self.inputs.dtype != np.bool_

    def n_input_spikes(self) -> int:
        """Input spikes of all samples: the sum of the counts (a boolean spike counts 1)."""
        return int(self.inputs.sum(dtype=np.int64))

    def subset(self, idx) -> SpikeDataset:
        """The samples ``idx`` (an index array, slice or boolean mask), same encoding."""
        return SpikeDataset(
            self.name,
            self.inputs[idx],
            self.labels[idx],
            self.n_classes,
            self.input_shape,
            self.description,
            dict(self.params),
        )


def check_split(name: str, split: str) -> str:
    if split not in SPLITS:
        raise DatasetError(f"dataset {name!r}: unknown split {split!r}; use one of {', '.join(SPLITS)}")
    return split


def check_limit(limit: int | None) -> int | None:
    if limit is not None and (not isinstance(limit, (int, np.integer)) or isinstance(limit, bool) or limit < 0):
        raise DatasetError(f"limit must be a non-negative integer or None, got {limit!r}")
    return None if limit is None else int(limit)
