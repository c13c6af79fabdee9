"""An N-MNIST-like event task generated at run time (no download): digits moved along three
saccades in front of a simulated DVS camera, binned into event-count frames.

What it imitates
----------------
N-MNIST (Orchard et al. 2015, Front. Neurosci. 9:437) was recorded by showing each MNIST digit
on a monitor to an ATIS event camera on a pan-tilt unit that made three saccades of ~100 ms each
along an isosceles triangle, so edges of the digit cross pixels and fire events; a 34x34 pixel
field holds the 28x28 digit and its motion. Events are ``(x, y, polarity, t_us)``.

The scene
---------
Digit shapes are scikit-learn's bundled 8x8 digits (the same 1797 images, labels and 1437 / 360
train / test split as :mod:`neurosim.data.digits`): intensity / 16, upsampled by 2.5 with a cubic
spline to 20x20, placed in a 28x28 box (MNIST's 20x20 box with a 4-pixel margin), contrast
stretched ``clip((v - 0.1) * 1.6, 0, 1)`` so strokes saturate as MNIST's do, and blurred by a
Gaussian of sigma :data:`BLUR_PX` (the optics). The screen shows luminance
``I = background + (1 - background) * digit`` (white strokes on a dark screen). The 28x28 box moves
over the 34x34 field: its top-left corner follows :data:`SACCADE_VERTICES` (3, 0) -> (6, 6) ->
(0, 6) -> (3, 0) pixels (down-right, left, up-right: the triangle of the N-MNIST figure; the exact
amplitudes are our assumption, chosen to fill the 6-pixel margin), each leg lasting
``saccade_ms`` with a raised-cosine velocity profile (at rest at each vertex). The image at a
sub-pixel position is bilinearly interpolated. Every sample follows the same path, as the
pan-tilt unit ran the same script for every digit.

The DVS model (per pixel, ON and OFF channels)
----------------------------------------------
The scene is sampled along the path every ``step_px`` pixels of motion (0.25 by default, 79
samples; events per sample change by < 0.1% from 0.1 px), at the times the velocity profile
gives. Each pixel keeps a reference log intensity ``r``. When ``L = log I`` exceeds ``r + C_on``
the pixel fires ``n = floor((L - r) / C_on)`` ON events and ``r`` moves up by ``n * C_on`` (OFF:
``r - L`` and ``C_off``, ``r`` moves down), so a pixel may fire several events in one step; each
event gets the time at which ``L``, interpolated linearly in position between the two samples,
crossed its level (integer microseconds). The thresholds ``C_on`` and ``C_off`` are per pixel:
``threshold + threshold_sigma * N(0, 1)``, clipped at ``threshold / 4``, drawn once per ``seed``
(one camera for both splits, its mismatch seeded). At ``t = 0`` each pixel's reference is drawn
uniformly in ``(L0 - C_on, L0 + C_off)`` (the pixel's last event was long ago). With
``refractory_us > 0`` a pixel fires at most one event per step and none within ``refractory_us``
of its previous one (the change it missed stays in ``L - r`` and is reported when it recovers, at
the first sample after). Background noise: a Poisson number of
events at ``noise_hz`` per pixel per second (both polarities together), uniform over pixels,
polarities and time, added after the model.

Determinism and order: the sensor (thresholds) is drawn by ``default_rng([seed, 0])``; sample
``i`` (its index in the full 1797-image set) by ``default_rng([seed, 1, i])`` (initial references,
then noise), so a sample is the same in any ``limit`` and in either split. Samples are listed in
the digits split order, interleaved round-robin over the classes (as the N-MNIST loader in
:mod:`neurosim.data.events` orders files), so any prefix is class-balanced as far as the data
allows.

Frames
------
The events of one sample are binned exactly as :func:`neurosim.data.events.load` bins a real
N-MNIST file (default ``window=None``): time origin the sample's first event, ``frames`` equal
bins of ``ceil(span / frames)`` us, channel ``c = p * 34 * 34 + y * 34 + x`` (2312 channels,
``input_shape = (2, 34, 34)``). :func:`load_counts` gives the event counts per channel and frame
(uint8); :func:`load` gives the :class:`~neurosim.data.SpikeDataset`, whose inputs are boolean
(``counts > 0``) by default, as the N-MNIST loader gives for real files, or the counts with
``values="counts"``. The defaults (:class:`DVSConfig`) are chosen so the statistics land near real
N-MNIST's; ``docs/nmnist-like.md`` has the table and the assumptions. :func:`write_nmnist_split`
writes the samples as real N-MNIST ``.bin`` files, so ``load_dataset("nmnist", path=...)`` reads
them back to the same frames.

``python -m neurosim.data.nmnist_like`` prints the task's statistics next to real N-MNIST's.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import ndimage

from neurosim.data import events
from neurosim.data.dataset import DatasetError, SpikeDataset, check_limit, check_split
from neurosim.data.digits import digit_images
from neurosim.data.events import NMNIST_SENSOR, Events, bin_width_us, round_robin

NAME = "nmnist-like"
N_CLASSES = 10
W, H, P = NMNIST_SENSOR
N_PIXELS = W * H
N_CHANNELS = P * N_PIXELS
INPUT_SHAPE = (P, H, W)
DIGIT_PX = 28
BOX_PX = 20
BLUR_PX = 0.7
#: top-left corner of the 28x28 digit box in the 34x34 field at the start of each saccade (x, y)
SACCADE_VERTICES = ((3.0, 0.0), (6.0, 6.0), (0.0, 6.0), (3.0, 0.0))
DEFAULT_FRAMES = 30
#: what :func:`load` puts in the dataset: ``counts > 0`` (bool) or the event counts (uint8)
VALUES = ("binary", "counts")
SENSOR_STREAM = 0
SAMPLE_STREAM = 1
_CHUNK = 128  # samples simulated together (keeps the per-step arrays in cache)

#: real N-MNIST's published figures and our reading of them (see docs/nmnist-like.md)
REAL_NMNIST = {
    "duration_ms": (300.0, "3 saccades of ~100 ms (Orchard et al. 2015); samples last ~300-340 ms"),
    "events_per_sample": (4500.0, "assumed ~4,000-5,000 mean events per sample (literature, not re-measured here)"),
    "on_fraction": (0.5, "assumed roughly balanced ON/OFF (moving edges: leading ON, trailing OFF)"),
}


@dataclass(frozen=True)
class DVSConfig:
    """The camera and the motion. Defaults are chosen so the statistics land near real N-MNIST's
    (see the module doc and ``docs/nmnist-like.md``)."""

    threshold: float = 0.25  # contrast threshold C (log intensity)
    threshold_sigma: float = 0.03  # per-pixel mismatch of C (std, log intensity)
    noise_hz: float = 0.5  # background events per pixel per second (ON + OFF)
    refractory_us: int = 0  # 0: off
    background: float = 0.2  # screen luminance where there is no digit (white strokes = 1)
    saccade_ms: float = 100.0  # duration of each of the 3 saccades
    step_px: float = 0.25  # the scene is sampled every step_px pixels of motion

    def __post_init__(self):
        # name, value, lowest, highest, whether the lowest is allowed
        checks = (
            ("threshold", self.threshold, 0.0, 10.0, False),
            ("threshold_sigma", self.threshold_sigma, 0.0, 10.0, True),
            ("noise_hz", self.noise_hz, 0.0, 1e4, True),
            ("background", self.background, 0.0, 1.0, False),
            ("saccade_ms", self.saccade_ms, 0.0, 2000.0, False),
            ("step_px", self.step_px, 0.0, 1.0, False),
        )
        for name, value, lo, hi, closed in checks:
            ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and math.isfinite(value)
            if not (ok and (lo <= value if closed else lo < value) and value <= hi) or (
                name == "background" and value == hi
            ):
                interval = f"{'[' if closed else '('}{lo:g}, {hi:g}{')' if name == 'background' else ']'}"
                raise DatasetError(f"dataset {NAME!r}: {name} must be a number in {interval}, got {value!r}")
        if (
            isinstance(self.refractory_us, bool)
            or not isinstance(self.refractory_us, (int, np.integer))
            or self.refractory_us < 0
        ):
            raise DatasetError(f"dataset {NAME!r}: refractory_us must be an integer >= 0, got {self.refractory_us!r}")

    @property
    def duration_us(self) -> int:
        return int(round(3 * self.saccade_ms * 1000.0))


@dataclass(frozen=True, eq=False)
class EventCounts:
    """Event counts ``(N, frames, 2312)`` uint8, labels ``(N,)`` int64, the full-set index of each
    sample and the parameters that reproduce them."""

    counts: np.ndarray
    labels: np.ndarray
    indices: np.ndarray
    params: dict


# --------------------------------------------------------------------------- the scene


def _operator(n: int, apply) -> np.ndarray:
    """The matrix of a linear 1-D operation ``apply`` on vectors of length ``n`` (its columns are
    the images of the unit vectors), so a separable 2-D operation is ``A @ X @ A.T``."""
    return np.stack([apply(e) for e in np.eye(n)], axis=1)


@lru_cache(maxsize=1)
def _digits():
    """Images ``(1797, 28, 28)`` float32 in [0, 1], labels and the digits split (by full index)."""

    images8, labels, splits = digit_images()
    small = images8.reshape(-1, 8, 8) / 16.0
    zoom = _operator(8, lambda e: ndimage.zoom(e, BOX_PX / 8, order=3))  # (20, 8), cubic spline
    box = np.clip(zoom @ small @ zoom.T, 0.0, 1.0)
    m = (DIGIT_PX - BOX_PX) // 2
    img = np.zeros((len(labels), DIGIT_PX, DIGIT_PX))
    img[:, m : m + BOX_PX, m : m + BOX_PX] = np.clip((box - 0.1) * 1.6, 0.0, 1.0)
    blur = _operator(DIGIT_PX, lambda e: ndimage.gaussian_filter1d(e, BLUR_PX, mode="constant"))
    img = blur @ img @ blur.T
    return np.clip(img, 0.0, 1.0).astype(np.float32), labels, splits


class SaccadePath(NamedTuple):
    """Where the scene is sampled: the path parameter ``u`` (0..3: leg index plus the fraction
    of the leg's length covered), the digit box's top-left corner ``pos`` (x, y) and the time
    ``t_us`` (float) of each sample."""

    u: np.ndarray
    pos: np.ndarray
    t_us: np.ndarray


def path_time_us(u: np.ndarray, cfg: DVSConfig) -> np.ndarray:
    """Time (us, float) at which the box reaches path parameter ``u``: leg ``l = floor(u)``
    covers the fraction ``s = u - l`` of its length at ``(l + arccos(1 - 2 s) / pi) * saccade``
    (the raised-cosine velocity profile, at rest at each vertex)."""
    u = np.asarray(u, np.float64)
    leg = np.minimum(np.floor(u), 2.0)
    s = np.clip(u - leg, 0.0, 1.0)
    return (leg + np.arccos(1.0 - 2.0 * s) / np.pi) * (cfg.duration_us / 3.0)


def saccade_path(cfg: DVSConfig) -> SaccadePath:
    """The samples of the three legs along :data:`SACCADE_VERTICES`: evenly spaced in position,
    at most ``step_px`` pixels apart, with every vertex a sample."""
    v = np.asarray(SACCADE_VERTICES, np.float64)
    us = []
    for leg in range(3):
        steps = max(1, math.ceil(float(np.hypot(*(v[leg + 1] - v[leg]))) / cfg.step_px - 1e-9))
        us.append(leg + np.arange(steps) / steps)
    u = np.concatenate(us + [np.array([3.0])])
    leg = np.minimum(np.floor(u), 2).astype(np.int64)
    pos = v[leg] + (u - leg)[:, None] * (v[leg + 1] - v[leg])
    return SaccadePath(u, pos, path_time_us(u, cfg))


def _canvas(images: np.ndarray) -> np.ndarray:
    """Digits on a zero canvas wide enough for every integer shift of the box (0..6) and its
    bilinear neighbour: ``canvas[:, y + 7, x + 7] = digit[y, x]``."""
    n = images.shape[0]
    c = np.zeros((n, DIGIT_PX + 14, DIGIT_PX + 14), np.float32)
    c[:, 7 : 7 + DIGIT_PX, 7 : 7 + DIGIT_PX] = images
    return c


def render(canvas: np.ndarray, pos) -> np.ndarray:
    """Digit intensity ``(n, 34*34)`` float32 seen with the box's top-left corner at ``pos``
    (x, y), by bilinear interpolation: field pixel (x, y) shows digit point (x - pos_x, y - pos_y)."""
    px, py = float(pos[0]), float(pos[1])
    ix, iy = math.floor(px), math.floor(py)
    fx, fy = px - ix, py - iy
    if not (0 <= ix and ix + (fx > 0) <= W - DIGIT_PX and 0 <= iy and iy + (fy > 0) <= H - DIGIT_PX):
        raise DatasetError(f"dataset {NAME!r}: digit box at {pos} leaves the {W}x{H} field")
    y0, x0 = 6 - iy, 7 - ix  # canvas rows y0 .. y0 + 34 (one above the field for the y neighbour)
    rows = canvas[:, y0 : y0 + H + 1]
    a = rows[:, :, x0 : x0 + W]
    if fx:
        a = (1 - fx) * a + fx * rows[:, :, x0 - 1 : x0 - 1 + W]
    b = a[:, 1:]
    if fy:
        b = (1 - fy) * b + fy * a[:, :-1]
    return np.ascontiguousarray(b, dtype=np.float32).reshape(canvas.shape[0], N_PIXELS)


# --------------------------------------------------------------------------- the camera


def sensor_thresholds(cfg: DVSConfig, seed: int) -> np.ndarray:
    """Per-pixel ON and OFF thresholds ``(2, 34*34)`` float32 of the camera of ``seed``."""
    rng = np.random.default_rng([int(seed), SENSOR_STREAM])
    c = cfg.threshold + cfg.threshold_sigma * rng.standard_normal((2, N_PIXELS))
    return np.maximum(c, cfg.threshold / 4).astype(np.float32)


def simulate(images: np.ndarray, indices: np.ndarray, cfg: DVSConfig, seed: int) -> list[Events]:
    """The events of each digit image ``(n, 28, 28)`` (full-set indices ``indices``): the DVS
    model of the module doc along the saccade path, plus background noise; each sample's events
    sorted by time (ties: by channel)."""
    path = saccade_path(cfg)
    c_on, c_off = sensor_thresholds(cfg, seed)
    out: list[Events] = []
    for start in range(0, len(indices), _CHUNK):
        idx = indices[start : start + _CHUNK]
        rngs = [np.random.default_rng([int(seed), SAMPLE_STREAM, int(i)]) for i in idx]
        out += _collect(_chunk_events(images[start : start + _CHUNK], rngs, path, c_on, c_off, cfg), rngs, cfg)
    return out


def _chunk_events(images, rngs, path: SaccadePath, c_on, c_off, cfg: DVSConfig) -> list[tuple[np.ndarray, ...]]:
    """The model events (sample in chunk, pixel, polarity, time) of a chunk of images, in parts.

    The threshold test runs on the rendered digit value ``v`` (``I = background + scale * v``):
    a pixel fires when ``v > (exp(r + C_on) - background) / scale`` or below the OFF bound, which
    is ``L - r > C_on`` (``< -C_off``) without a logarithm per pixel and step; bounds move only
    where a pixel fired."""
    canvas = _canvas(images)
    n = images.shape[0]
    bg, scale = float(cfg.background), float(1.0 - cfg.background)
    prev_v = render(canvas, path.pos[0])
    prev = np.log(bg + scale * prev_v)
    u = np.stack([r.random(N_PIXELS, dtype=np.float32) for r in rngs]) if n else np.zeros((0, N_PIXELS), np.float32)
    ref = prev - c_on + u * (c_on + c_off)
    hi = (np.exp(ref + c_on) - bg) / scale
    lo = (np.exp(ref - c_off) - bg) / scale
    last = np.full((n, N_PIXELS), -np.inf)
    parts: list[tuple[np.ndarray, ...]] = []
    t = path.t_us
    for k in range(1, len(path.u)):
        v = render(canvas, path.pos[k])
        flat = np.flatnonzero((v > hi) | (v < lo))
        s, pix = np.divmod(flat, N_PIXELS)
        if cfg.refractory_us and s.size:
            ok = t[k] - last[s, pix] >= cfg.refractory_us
            s, pix = s[ok], pix[ok]
        if s.size:
            a, b = np.log(bg + scale * prev_v[s, pix]), np.log(bg + scale * v[s, pix])
            parts.append(_fire(s, pix, a, b, ref, last, path, k, c_on, c_off, cfg))
            r = ref[s, pix]
            hi[s, pix] = (np.exp(r + c_on[pix]) - bg) / scale
            lo[s, pix] = (np.exp(r - c_off[pix]) - bg) / scale
        prev_v = v
    return parts


def _fire(s, pix, a, b, ref, last, path: SaccadePath, k: int, c_on, c_off, cfg: DVSConfig):
    """The events of the pixels ``(s, pix)`` that crossed a threshold in the step from path
    sample ``k - 1`` (log intensity ``a``) to ``k`` (``b``); moves their references (and
    last-event times)."""
    ref_old = ref[s, pix]
    d = b - ref_old
    on = d > 0
    c = np.where(on, c_on[pix], c_off[pix])
    sign = np.where(on, 1.0, -1.0)
    m = np.maximum(np.floor(np.abs(d) / c).astype(np.int64), 1)
    if cfg.refractory_us:
        m[:] = 1
    ref[s, pix] = ref_old + sign * m * c
    # event j (1..m) of a pixel fired when the interpolated level crossed ref_old + sign * j * c
    rep = np.repeat(np.arange(s.size), m)
    j = np.arange(rep.size) - np.repeat(np.cumsum(m) - m, m) + 1
    level = ref_old[rep] + sign[rep] * j * c[rep]
    a, b = a[rep], b[rep]
    frac = np.clip((level - a) / np.where(b != a, b - a, 1.0), 0.0, 1.0)
    u0, u1 = path.u[k - 1], path.u[k]
    te = np.rint(path_time_us(u0 + frac * (u1 - u0), cfg))
    if cfg.refractory_us:  # m == 1: a pixel that recovered within the step fires when it recovers
        te = np.maximum(te, last[s, pix] + cfg.refractory_us)
        last[s, pix] = te
    return s[rep], pix[rep], on[rep].astype(np.int64), te.astype(np.int64)


def _collect(parts, rngs, cfg: DVSConfig) -> list[Events]:
    """Per sample of a chunk, its model events plus its noise (drawn by the sample's own
    generator), sorted by (time, channel)."""
    dur, n = cfg.duration_us, len(rngs)
    lam = cfg.noise_hz * N_PIXELS * dur / 1e6
    noise = []
    for i, rng in enumerate(rngs):
        k = int(rng.poisson(lam))
        noise.append((np.full(k, i), rng.integers(0, N_PIXELS, k), rng.integers(0, 2, k), rng.integers(0, dur + 1, k)))
    s, pix, p, te = (np.concatenate([np.asarray(x, np.int64) for x in a]) for a in zip(*parts, *noise))
    order = np.argsort((s << 36) | (te << 12) | (p * N_PIXELS + pix), kind="stable")  # t < 2**23, channel < 2**12
    s, pix, p, te = s[order], pix[order], p[order], te[order]
    cuts = np.searchsorted(s, np.arange(n + 1))
    return [Events(pix[a:b] % W, pix[a:b] // W, p[a:b], te[a:b]) for a, b in zip(cuts[:-1], cuts[1:])]


# --------------------------------------------------------------------------- frames and splits


def count_frames(ev: Events, frames: int) -> np.ndarray:
    """Event counts ``(frames, 2312)`` (int64) of one sample, binned as the N-MNIST loader bins a
    file (:mod:`neurosim.data.events`, ``window=None``)."""
    out_len = frames * N_CHANNELS
    if ev.t.size == 0:
        return np.zeros((frames, N_CHANNELS), np.int64)
    w = bin_width_us(ev, frames, None)
    k = (ev.t - int(ev.t.min())) // w
    ch = ev.p * N_PIXELS + ev.y * W + ev.x
    return np.bincount(k * N_CHANNELS + ch, minlength=out_len).reshape(frames, N_CHANNELS)


def _check(frames, seed) -> tuple[int, int]:
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1:
        raise DatasetError(f"dataset {NAME!r}: frames must be a positive integer, got {frames!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DatasetError(f"dataset {NAME!r}: seed must be a non-negative integer, got {seed!r}")
    return int(frames), int(seed)


def split_indices(split: str, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Full-set indices and labels of the samples of ``split`` in their order (round-robin over
    the classes), the first ``limit`` of them."""
    check_split(NAME, split)
    _, labels, splits = _digits()
    idx = splits[split]
    idx = idx[round_robin(labels[idx])]
    if limit is not None:
        idx = idx[:limit]
    return idx, labels[idx].copy()


def generate(
    split: str = "test", *, seed: int = 0, limit: int | None = None, config: DVSConfig | None = None
) -> tuple[list[Events], np.ndarray, np.ndarray]:
    """The events of each sample of ``split`` (see the module doc), their labels and full-set
    indices."""
    limit = check_limit(limit)
    _, seed = _check(1, seed)
    cfg = DVSConfig() if config is None else config
    idx, labels = split_indices(split, limit)
    images, _, _ = _digits()
    return simulate(images[idx], idx, cfg, seed), labels, idx


def _params(split: str, frames: int, seed: int, cfg: DVSConfig) -> dict:
    return {
        "split": split,
        "frames": frames,
        "seed": seed,
        **asdict(cfg),
        "duration_us": cfg.duration_us,
        "saccade_vertices": [list(v) for v in SACCADE_VERTICES],
        "binning": "per-sample span / frames (as the nmnist loader)",
        "channel_order": "p*H*W + y*W + x",
        "sample_order": "round-robin over classes",
        "encoding": "dvs-saccades",
    }


def load_counts(
    split: str = "test",
    *,
    frames: int = DEFAULT_FRAMES,
    seed: int = 0,
    limit: int | None = None,
    config: DVSConfig | None = None,
) -> EventCounts:
    """One split as event counts per channel and frame (see :class:`EventCounts`)."""
    frames, seed = _check(frames, seed)
    cfg = DVSConfig() if config is None else config
    evs, labels, idx = generate(split, seed=seed, limit=limit, config=cfg)
    counts = np.zeros((len(evs), frames, N_CHANNELS), np.uint8)
    for i, ev in enumerate(evs):
        c = count_frames(ev, frames)
        if c.size and c.max() > 255:
            raise DatasetError(
                f"dataset {NAME!r}: sample {int(idx[i])} has {int(c.max())} events in one channel and "
                f"frame (over 255); use more frames"
            )
        counts[i] = c
    return EventCounts(counts, labels, idx, _params(split, frames, seed, cfg))


def load(
    split: str = "test",
    *,
    frames: int = DEFAULT_FRAMES,
    seed: int = 0,
    limit: int | None = None,
    config: DVSConfig | None = None,
    values: str = "binary",
) -> SpikeDataset:
    """One split as a :class:`~neurosim.data.SpikeDataset`. ``values``: ``"binary"`` (default)
    gives ``counts > 0`` (bool), as the N-MNIST loader gives for real files; ``"counts"`` gives
    the event counts per channel and frame (uint8, :func:`load_counts`; a count ``k`` is ``k``
    input spikes to the trainer and the simulator)."""
    check_split(NAME, split)
    if values not in VALUES:
        raise DatasetError(f"dataset {NAME!r}: values must be one of {', '.join(VALUES)}, got {values!r}")
    ec = load_counts(split, frames=frames, seed=seed, limit=limit, config=config)
    cfg = DVSConfig() if config is None else config
    what = "channel spikes = event count > 0" if values == "binary" else "event counts per channel and frame"
    return _dataset(ec, cfg, ec.counts > 0 if values == "binary" else ec.counts, what, values)


def _dataset(ec: EventCounts, cfg: DVSConfig, inputs: np.ndarray, what: str, values: str) -> SpikeDataset:
    return SpikeDataset(
        name=NAME,
        inputs=inputs,
        labels=ec.labels,
        n_classes=N_CLASSES,
        input_shape=INPUT_SHAPE,
        description=(
            f"N-MNIST-like: sklearn digits (28x28) moved along 3 saccades of {cfg.saccade_ms:g} ms in front of a "
            f"DVS model (C={cfg.threshold:g} +- {cfg.threshold_sigma:g}, noise {cfg.noise_hz:g} Hz/pixel), "
            f"2x34x34 channels, {ec.counts.shape[1]} frames per sample span, {what}"
        ),
        params={**ec.params, "values": values},
    )


# --------------------------------------------------------------------------- N-MNIST files


def nmnist_bytes(ev: Events) -> bytes:
    """One sample in the N-MNIST ``.bin`` layout (5 bytes per event, big-endian: x, y, polarity
    in bit 7 of byte 2, then the 23-bit timestamp in us)."""
    t = np.asarray(ev.t, np.int64)
    if t.size and (t.min() < 0 or t.max() >= 1 << 23):
        raise DatasetError(f"dataset {NAME!r}: timestamps outside the N-MNIST 23-bit range 0..{(1 << 23) - 1} us")
    raw = np.empty((t.size, 5), np.uint8)
    raw[:, 0] = ev.x
    raw[:, 1] = ev.y
    raw[:, 2] = (np.asarray(ev.p, np.int64) << 7) | (t >> 16)
    raw[:, 3] = (t >> 8) & 0xFF
    raw[:, 4] = t & 0xFF
    return raw.tobytes()


def write_nmnist_split(
    root, split: str = "test", *, seed: int = 0, limit: int | None = None, config: DVSConfig | None = None
) -> list[Path]:
    """Write the samples of ``split`` as ``<root>/Train|Test/<digit>/<rank>.bin``, the layout
    :mod:`neurosim.data.events` reads (``rank``: five digits, the sample's position in this
    task's order, so the loader lists the files in the same order)."""
    evs, labels, _ = generate(split, seed=seed, limit=limit, config=config)
    sub = Path(root) / ("Train" if split == "train" else "Test")
    files = []
    for rank, (ev, label) in enumerate(zip(evs, labels)):
        d = sub / str(int(label))
        d.mkdir(parents=True, exist_ok=True)
        f = d / f"{rank:05d}.bin"
        f.write_bytes(nmnist_bytes(ev))
        files.append(f)
    return files


# --------------------------------------------------------------------------- statistics


def statistics(evs: list[Events], counts: np.ndarray) -> dict[str, float]:
    """Events per sample (mean, std), duration, ON fraction, and per frame: active channels and
    events per active channel (mean)."""
    n_ev = np.array([ev.t.size for ev in evs], np.float64)
    on = sum(int(ev.p.sum()) for ev in evs)
    span = np.array([(ev.t.max() - ev.t.min()) / 1000.0 if ev.t.size else 0.0 for ev in evs])
    active = (counts > 0).sum(axis=2)
    return {
        "samples": float(len(evs)),
        "events_per_sample": float(n_ev.mean()) if len(evs) else 0.0,
        "events_per_sample_std": float(n_ev.std()) if len(evs) else 0.0,
        "duration_ms": float(span.mean()) if len(evs) else 0.0,
        "on_fraction": on / max(1.0, float(n_ev.sum())),
        "active_channels_per_frame": float(active.mean()) if counts.size else 0.0,
        "events_per_active_channel": float(counts.sum() / max(1, int(active.sum()))),
        "max_count": float(counts.max()) if counts.size else 0.0,
    }


def real_nmnist_events(path, limit: int) -> list[Events]:
    """Events of the first ``limit`` real N-MNIST training files under ``path`` (``Train`` or
    ``NMNIST/Train``), class-balanced as the loader orders them, for the same statistics."""
    root = Path(path)
    files = sorted(root.glob("Train/*/*.bin")) or sorted(root.glob("NMNIST/Train/*/*.bin"))
    if not files:
        raise DatasetError(f"{root}: no N-MNIST Train/<digit>/*.bin files")
    labels = np.array([int(f.parent.name) if f.parent.name.isdigit() else -1 for f in files])
    return [events.read_nmnist_numpy(files[i]) for i in round_robin(labels)[:limit]]


def _table(st: dict[str, float], real: dict[str, float] | None) -> list[str]:
    rows = ["| statistic | nmnist-like | real N-MNIST |", "|---|---|---|"]
    for key, value in st.items():
        if real is not None:
            other = f"{real[key]:.3f} (measured)"
        else:
            ref = REAL_NMNIST.get(key)
            other = "" if ref is None else f"~{ref[0]:g}: {ref[1]}"
        rows.append(f"| {key} | {value:.3f} | {other} |")
    return rows


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a report printed by hand
    """Generate ``--samples`` training samples, print the generation time and the statistics
    table (markdown) next to real N-MNIST's figures, or next to real files (``--real PATH``)."""

    ap = argparse.ArgumentParser(prog="python -m neurosim.data.nmnist_like", description=main.__doc__)
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", default=None, help="folder of real N-MNIST files to measure the same way")
    a = ap.parse_args(argv)
    _digits()  # the image cache, timed apart
    t0, c0 = time.perf_counter(), time.process_time()
    evs, labels, _ = generate("train", seed=a.seed, limit=a.samples)
    wall_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    st = statistics(evs, np.stack([count_frames(ev, a.frames) for ev in evs]))
    real = None
    if a.real:
        rev = real_nmnist_events(a.real, a.samples)
        real = statistics(rev, np.stack([count_frames(ev, a.frames) for ev in rev]))
    per_class = [np.mean([ev.t.size for ev, y in zip(evs, labels) if y == c]) for c in range(N_CLASSES)]
    print(f"{NAME}: {len(evs)} train samples (seed {a.seed}) generated in {wall_s:.2f} s ({cpu_s:.2f} s CPU)")
    print(f"frames = {a.frames}; events per sample by class 0..9: " + ", ".join(f"{v:.0f}" for v in per_class))
    print("\n".join(_table(st, real)))


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = [
    "NAME",
    "DVSConfig",
    "EventCounts",
    "load",
    "load_counts",
    "generate",
    "simulate",
    "saccade_path",
    "render",
    "sensor_thresholds",
    "count_frames",
    "split_indices",
    "nmnist_bytes",
    "write_nmnist_split",
    "statistics",
    "real_nmnist_events",
    "REAL_NMNIST",
]
