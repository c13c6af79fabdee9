"""scikit-learn's bundled 8x8 handwritten digits as rate-coded spikes (no download).

Source: ``sklearn.datasets.load_digits`` (1797 samples of 8x8 pixels, intensities 0..16,
10 classes; the UCI "optical recognition of handwritten digits" test set).

Split: ``train_test_split(indices, test_size=0.2, stratify=labels, random_state=0)``, i.e.
1437 training and 360 test samples, in the order that call returns them.

Encoding (Bernoulli rate coding): pixel ``c`` of sample ``i`` spikes in frame ``t`` when
``u[t, c] < intensity[c] / 16 * max_rate``, where ``u`` is drawn by
``numpy.random.default_rng([seed, i]).random((frames, 64))`` and ``i`` is the sample's index in
the full 1797-sample set. Each sample has its own generator, so a sample is encoded identically
in any subset (``limit``) and in either split; the whole encoding is a function of
``(seed, frames, max_rate)``. Channels are the 64 pixels in row-major order.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from neurosim.data.dataset import DatasetError, SpikeDataset, check_limit, check_split

NAME = "digits"
DEFAULT_FRAMES = 16
DEFAULT_MAX_RATE = 0.5
N_CLASSES = 10
INPUT_SHAPE = (8, 8)
TEST_SIZE = 0.2
SPLIT_SEED = 0


@lru_cache(maxsize=1)
def digit_images():
    """scikit-learn's 8x8 digits: (images (1797 x 64, 0..16), labels, {"train", "test"}: indices of
    the stratified split), loaded once."""
    d = load_digits()
    images = np.asarray(d.data, dtype=np.float64)  # (1797, 64), 0..16
    labels = np.asarray(d.target, dtype=np.int64)
    idx = np.arange(len(labels))
    train_idx, test_idx = train_test_split(idx, test_size=TEST_SIZE, stratify=labels, random_state=SPLIT_SEED)
    return images, labels, {"train": np.asarray(train_idx), "test": np.asarray(test_idx)}


def encode(images: np.ndarray, indices: np.ndarray, *, frames: int, seed: int, max_rate: float) -> np.ndarray:
    """Rate-code ``images`` (rows of 64 intensities 0..16) whose full-set indices are ``indices``:
    boolean spikes of shape ``(len(indices), frames, 64)``."""
    p = np.clip(images / 16.0 * max_rate, 0.0, 1.0)
    out = np.empty((len(indices), frames, images.shape[1]), dtype=bool)
    for k, i in enumerate(indices):
        rng = np.random.default_rng([int(seed), int(i)])
        out[k] = rng.random((frames, images.shape[1])) < p[k]
    return out


def load(
    split: str = "test",
    *,
    frames: int = DEFAULT_FRAMES,
    seed: int = 0,
    limit: int | None = None,
    max_rate: float = DEFAULT_MAX_RATE,
) -> SpikeDataset:
    """One split of the digits as a :class:`~neurosim.data.SpikeDataset` (see the module doc)."""
    check_split(NAME, split)
    limit = check_limit(limit)
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise DatasetError(f"dataset 'digits': frames must be a positive integer, got {frames!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DatasetError(f"dataset 'digits': seed must be a non-negative integer, got {seed!r}")
    if not (0.0 < float(max_rate) <= 1.0):
        raise DatasetError(f"dataset 'digits': max_rate must be in (0, 1], got {max_rate!r}")
    images, labels, splits = digit_images()
    idx = splits[split]
    if limit is not None:
        idx = idx[:limit]
    inputs = encode(images[idx], idx, frames=int(frames), seed=int(seed), max_rate=float(max_rate))
    params = {
        "frames": int(frames),
        "seed": int(seed),
        "max_rate": float(max_rate),
        "encoding": "bernoulli-rate",
        "split": split,
        "test_size": TEST_SIZE,
        "split_seed": SPLIT_SEED,
    }
    return SpikeDataset(
        name=NAME,
        inputs=inputs,
        labels=labels[idx].copy(),
        n_classes=N_CLASSES,
        input_shape=INPUT_SHAPE,
        description=(
            "sklearn 8x8 digits, Bernoulli rate coding p = intensity/16 * max_rate per "
            "frame, generator seeded by (seed, sample index)"
        ),
        params=params,
    )
