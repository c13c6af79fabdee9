"""Spike datasets: inputs as boolean spike tensors ``(samples, frames, channels)`` (or, with
``values="counts"``, non-negative integer event counts of the same shape).

One entry point, :func:`load_dataset`, dispatches on the dataset name:

``digits``
    scikit-learn's bundled 8x8 handwritten digits, rate-coded into spikes
    (:mod:`neurosim.data.digits`; numpy and scikit-learn only, no download).
``temporal``
    a synthetic temporal-pattern task (:mod:`neurosim.data.temporal`).
``nmnist-like``
    an N-MNIST-like event task generated at run time: digits moved along saccades in front of a
    simulated DVS camera, 2x34x34 channels (:mod:`neurosim.data.nmnist_like`; no download).
``nmnist``, ``shd``, ``dvsgesture``
    event-camera / cochlea datasets read from disk (:mod:`neurosim.data.events`).

The per-dataset modules are imported lazily, so loading ``digits`` never imports the optional
event-data dependencies. Nothing here imports torch.
"""

from __future__ import annotations

import importlib

from neurosim.data.dataset import SPLITS, DatasetError, SpikeDataset, check_limit

#: names accepted by :func:`load_dataset`, in the order they are listed in error messages
DATASETS = ("digits", "temporal", "nmnist", "shd", "dvsgesture", "nmnist-like")
EVENT_DATASETS = ("nmnist", "shd", "dvsgesture")
#: datasets whose loader offers event counts (``values="counts"``)
COUNT_DATASETS = ("nmnist-like",)
#: the module of ``neurosim.data`` that reads each dataset (imported on first use)
_MODULES = {
    "digits": "digits",
    "temporal": "temporal",
    "nmnist-like": "nmnist_like",
    "nmnist": "events",
    "shd": "events",
    "dvsgesture": "events",
}


def _import(module: str, name: str, hint: str = ""):
    """Import ``neurosim.data.<module>`` lazily; a missing module or dependency is a DatasetError."""
    try:
        return importlib.import_module(f"neurosim.data.{module}")
    except ImportError as exc:
        raise DatasetError(f"dataset {name!r} is not available: {exc}{hint}") from exc


def load_dataset(
    name: str,
    split: str = "test",
    *,
    frames: int | None = None,
    seed: int = 0,
    path=None,
    limit: int | None = None,
    values: str | None = None,
) -> SpikeDataset:
    """Load one split of a dataset as a :class:`SpikeDataset`.

    ``frames``: number of frames (time bins); None picks the dataset's default. ``seed``: the
    seed of any random encoding (deterministic given the seed). ``path``: where the files of an
    on-disk dataset live (ignored by ``digits``, ``temporal`` and ``nmnist-like``). ``limit``: keep only the first
    ``limit`` samples of the split (encoded exactly as in the full split). ``values``: None (the
    dataset's spikes) or, for datasets in :data:`COUNT_DATASETS`, ``"binary"`` or ``"counts"``
    (event counts per channel and frame instead of count > 0); others refuse ``"counts"``.
    Unknown names raise :class:`DatasetError` listing the known ones.
    """
    key = str(name).lower()
    limit = check_limit(limit)
    if key not in _MODULES:
        raise DatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    module = _import(_MODULES[key], key, hint=" (pip install -e .[data])" if key in EVENT_DATASETS else "")
    kw: dict = {} if frames is None else {"frames": frames}
    if values is not None and values != "binary":
        if key not in COUNT_DATASETS:
            raise DatasetError(
                f"dataset {name!r}: values={values!r} is offered by {', '.join(COUNT_DATASETS)} only; "
                f"omit it for spikes"
            )
        kw["values"] = values
    if key in EVENT_DATASETS:
        if path is not None:
            kw["path"] = path
        return module.load(key, split, limit=limit, **kw)
    return module.load(split, seed=seed, limit=limit, **kw)


__all__ = ["SpikeDataset", "DatasetError", "load_dataset", "DATASETS", "SPLITS"]
