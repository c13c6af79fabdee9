"""A synthetic temporal-order task: the class is *when* channel groups fire, not how often.

The task ("ring order")
-----------------------
32 input channels form 4 groups of 8 (group ``g`` is channels ``8g .. 8g+7``). Every sample
contains exactly one burst of each group, 4 bursts in all, one after the other. The class is
the order of the bursts: the bursts travel around the ring of groups 0-1-2-3 starting at one
group and going one way round::

    class c = 0..3: start group c, ascending    (c, c+1, c+2, c+3)  mod 4
    class c = 4..7: start group c-4, descending (c-4, c-5, c-6, c-7) mod 4

so class 0 is 0,1,2,3; class 1 is 1,2,3,0; ... class 4 is 0,3,2,1; class 5 is 1,0,3,2; ...
(:data:`ORDERS` lists them). 8 classes.

Frames and timing: ``frames`` = T frames (default 40, at least 8). A burst lasts
``L = max(2, T // 10)`` frames. The ``T - 4L`` frames of slack are split at random into 5 gaps
(before the first burst, between bursts, after the last) by a multinomial draw with equal
probabilities, so onsets, spacing and overall tempo jitter from sample to sample; bursts never
overlap and always fit in the T frames. During its burst each channel of the group spikes in
each frame with probability ``p_burst = 0.6``.

Noise: on top of that, every channel spikes in every frame with probability ``p_noise = 0.02``
(independent background). A frame holds at most one spike per channel (bool).

Why timing matters: every group bursts exactly once in every sample, with the same length and
spike probability, and the burst positions are drawn independently of the class. So the joint
distribution of the per-channel spike counts (the rate code, or the sum over frames) is
exactly the same for all 8 classes: a rate-only model is at chance (1/8). The class is
carried only by the order of the bursts: which group goes first, and which way round it goes
next. A single frame shows at most which group is bursting at that moment; because the
onsets jitter, no fixed frame identifies the class. A model has to integrate over time and
remember what came before (e.g. membrane/synaptic state of a recurrent or delayed SNN).
Measured at frames=40, seed 0 (train -> test): nearest centroid on per-channel counts 12%
(chance 12.5%); logistic regression on any one frame at most ~38%; nearest centroid on each
group's mean spike time 100%. It is not a hard task for a model that sees the whole
spatio-temporal pattern (a linear readout of all T x C inputs also reaches ~100%): it checks
that timing reaches the classifier, not that a model is powerful.

Splits and determinism (numpy only): the train split has 2400 samples and the test split 800
(300 / 100 per class). Sample ``i`` of a split is drawn by
``numpy.random.default_rng([seed, split_code, i])`` with ``split_code`` 1 for train and 2 for
test, so train and test come from different seed streams and do not share samples. Labels come
in blocks of 8 consecutive samples, each block a random permutation of the 8 classes (drawn by
``default_rng([seed, split_code, 0xC1A55, block])``), so classes are balanced and any prefix
(``limit``) is as balanced as it can be. A sample depends only on ``(seed, split, i, frames)``:
``limit`` returns exactly the first samples of the full split.
"""

from __future__ import annotations

import numpy as np

from neurosim.data.dataset import DatasetError, SpikeDataset, check_limit, check_split

NAME = "temporal"
GROUPS = 4
GROUP_SIZE = 8
N_CHANNELS = GROUPS * GROUP_SIZE
INPUT_SHAPE = (N_CHANNELS,)
DEFAULT_FRAMES = 40
MIN_FRAMES = 8
P_BURST = 0.6
P_NOISE = 0.02
SPLIT_CODES = {"train": 1, "test": 2}
SPLIT_SIZES = {"train": 2400, "test": 800}
_LABEL_STREAM = 0xC1A55

#: burst order (group indices, first to last) of each class
ORDERS: tuple[tuple[int, ...], ...] = tuple(
    tuple((start + direction * k) % GROUPS for k in range(GROUPS)) for direction in (1, -1) for start in range(GROUPS)
)
N_CLASSES = len(ORDERS)


def burst_frames(frames: int) -> int:
    """Length L of one burst, in frames, for a sample of ``frames`` frames."""
    return max(2, int(frames) // 10)


def _labels(n: int, seed: int, code: int) -> np.ndarray:
    blocks = -(-n // N_CLASSES)
    out = np.empty(blocks * N_CLASSES, dtype=np.int64)
    for b in range(blocks):
        rng = np.random.default_rng([seed, code, _LABEL_STREAM, b])
        out[b * N_CLASSES : (b + 1) * N_CLASSES] = rng.permutation(N_CLASSES)
    return out[:n]


def sample(label: int, rng: np.random.Generator, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """One sample of class ``label``: (spikes bool ``(frames, 32)``, burst onsets in burst order)."""
    T, L = int(frames), burst_frames(frames)
    slack = T - GROUPS * L
    gaps = rng.multinomial(slack, [1.0 / (GROUPS + 1)] * (GROUPS + 1))
    onsets = np.cumsum(gaps[:GROUPS]) + np.arange(GROUPS) * L
    x = rng.random((T, N_CHANNELS)) < P_NOISE
    burst = rng.random((GROUPS, L, GROUP_SIZE)) < P_BURST
    for k, g in enumerate(ORDERS[label]):
        o = int(onsets[k])
        x[o : o + L, g * GROUP_SIZE : (g + 1) * GROUP_SIZE] |= burst[k]
    return x, onsets


def load(split: str = "test", *, frames: int | None = None, seed: int = 0, limit: int | None = None) -> SpikeDataset:
    """One split of the ring-order task as a :class:`~neurosim.data.SpikeDataset` (see the
    module doc): inputs ``(N, frames, 32)`` bool, 8 balanced classes."""
    check_split(NAME, split)
    limit = check_limit(limit)
    if frames is None:
        frames = DEFAULT_FRAMES
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < MIN_FRAMES:
        raise DatasetError(f"dataset 'temporal': frames must be an integer >= {MIN_FRAMES}, got {frames!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DatasetError(f"dataset 'temporal': seed must be a non-negative integer, got {seed!r}")
    frames, seed = int(frames), int(seed)
    code = SPLIT_CODES[split]
    n = SPLIT_SIZES[split] if limit is None else min(limit, SPLIT_SIZES[split])
    labels = _labels(n, seed, code)
    inputs = np.empty((n, frames, N_CHANNELS), dtype=bool)
    for i in range(n):
        inputs[i], _ = sample(int(labels[i]), np.random.default_rng([seed, code, i]), frames)
    params = {
        "frames": frames,
        "seed": seed,
        "split": split,
        "split_code": code,
        "groups": GROUPS,
        "group_size": GROUP_SIZE,
        "burst_frames": burst_frames(frames),
        "p_burst": P_BURST,
        "p_noise": P_NOISE,
        "orders": [list(o) for o in ORDERS],
        "encoding": "burst-order",
    }
    return SpikeDataset(
        name=NAME,
        inputs=inputs,
        labels=labels,
        n_classes=N_CLASSES,
        input_shape=INPUT_SHAPE,
        description=(
            f"ring-order task: 4 groups x 8 channels burst once each ({burst_frames(frames)}"
            f" frames, p={P_BURST}) in one of 8 orders (start group x direction), random "
            f"gaps, background noise p={P_NOISE}; counts are class-independent, only the "
            f"order carries the class"
        ),
        params=params,
    )


__all__ = ["load", "sample", "burst_frames", "ORDERS", "N_CLASSES", "NAME"]
