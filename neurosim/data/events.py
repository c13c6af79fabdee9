"""N-MNIST, SHD and DVS Gesture read from files the user already has, binned into frames.

Nothing here downloads: every loader reads the ``path`` it is given and fails with a
:class:`~neurosim.data.DatasetError` (a :class:`~neurosim.errors.NeurosimError`) whose one-line
message names the path and the reason when a folder or file is missing or malformed.

Datasets and the on-disk formats read
-------------------------------------
``nmnist`` (Orchard et al. 2015), 10 classes, 34x34 sensor, 2 polarities.
    ``<path>/Train/<digit>/*.bin`` and ``<path>/Test/<digit>/*.bin`` (tonic's cache layout
    ``<path>/NMNIST/Train/...`` is found too). Each event is 5 bytes (40 bits, big-endian):
    byte 0 = x, byte 1 = y, byte 2 bit 7 = polarity, byte 2 bits 6..0 then bytes 3 and 4 = the
    23-bit timestamp in microseconds. As in the reference reader (and tonic), an event with
    y == 240 is a timestamp-overflow marker: it is dropped and adds 2**13 us to every later
    event. The label is the digit folder.
``shd`` (Cramer et al. 2020, Spiking Heidelberg Digits), 20 classes, 700 channels.
    HDF5 ``<path>/shd_train.h5`` / ``<path>/shd_test.h5`` (or ``<path>/SHD/...``, or ``path``
    the .h5 file itself), with variable-length datasets ``spikes/times`` (seconds, float16 in
    the released files) and ``spikes/units`` (0..699), and ``labels``. Needs ``h5py``.
``dvsgesture`` (Amir et al. 2017, IBM DVS Gesture), 11 classes, 128x128 sensor, 2 polarities.
    tonic's preprocessed release: ``<path>/ibmGestureTrain/userNN_<lighting>/<label>.npy`` and
    ``<path>/ibmGestureTest/...`` (or ``<path>/DVSGesture/ibmGesture...``), each a 2-D array of
    shape (events, 4) with columns ``x, y, p, t`` and ``t`` in milliseconds (tonic multiplies it
    by 1000 to get microseconds; so do we, rounding). The label is the file name. The original
    IBM ``.aedat`` release is not read here.

Times are handled in integer microseconds (SHD: ``rint(seconds * 1e6)``).

Spatial/channel downsampling: ``downsample = d`` maps x -> x // d and y -> y // d (SHD: unit ->
unit // d), so the sensor becomes ceil(W/d) x ceil(H/d) (default d = 4 for DVS Gesture, giving
32x32x2; 1 for the others).

Binning (``frames`` = T; events -> bool frames)
-----------------------------------------------
Time origin ``t0`` = the sample's first event. By default (``window=None``) every sample is cut
into T equal bins over its own span: bin width ``w = ceil((t_last - t0 + 1) / T)`` us, so every
event lands in a frame. With ``window`` (seconds) the bin width is fixed for all samples,
``w = max(1, round(window * 1e6 / T))`` us, and events at or after ``t0 + T * w`` are dropped.
An event at time t goes to frame ``(t - t0) // w``. Several events of one channel in one frame
are a single spike (bool). A sample with no events is all False.

Channels: ``c = p * H * W + y * W + x`` (``input_shape = (2, H, W)``, tonic's (T, P, H, W)
frame layout flattened); SHD: ``c = unit`` (``input_shape = (700,)``).

Order and ``limit``: samples are listed in file order (N-MNIST: digit, then file name; SHD:
the HDF5 order; DVS Gesture: user folder, then label), then interleaved round-robin over the
classes (first sample of class 0, of class 1, ..., then the second of each ...), so any prefix is
class-balanced as far as the data allows. ``limit`` keeps the first ``limit`` samples of that
order and only reads those files.

tonic
-----
With ``backend="auto"`` (default) the loaders use tonic when it imports: N-MNIST files are
decoded by ``tonic.io.read_mnist_file``, DVS Gesture columns are mapped with
``tonic.datasets.DVSGesture.dtype`` and every dataset is binned with
``tonic.transforms.ToFrame(time_window=w, start_time=t0, end_time=t0 + T * w)``. SHD has no
standalone tonic reader (tonic's SHD class downloads when its zip is missing), so SHD is read
with h5py in both backends. ``backend="numpy"`` uses the pure-numpy readers and binning below,
which give identical frames; ``backend="tonic"`` insists on tonic. tonic's dataset classes are
never instantiated (they download when files are missing).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from neurosim.data.dataset import DatasetError, SpikeDataset, check_limit, check_split

NMNIST_SENSOR = (34, 34, 2)
SHD_CHANNELS = 700
DVS_SENSOR = (128, 128, 2)
NMNIST_OVERFLOW_Y = 240
NMNIST_OVERFLOW_US = 1 << 13
BACKENDS = ("auto", "tonic", "numpy")


class Events(NamedTuple):
    """Events of one sample as parallel int64 arrays; ``t`` in microseconds. SHD: ``x`` is the
    unit, ``y`` and ``p`` are 0."""

    x: np.ndarray
    y: np.ndarray
    p: np.ndarray
    t: np.ndarray


@dataclass(frozen=True)
class _Spec:
    name: str
    title: str
    n_classes: int
    sensor: tuple  # (W, H, P) as in tonic
    default_frames: int
    default_downsample: int


SPECS = {
    "nmnist": _Spec("nmnist", "N-MNIST", 10, NMNIST_SENSOR, 30, 1),
    "shd": _Spec("shd", "SHD", 20, (SHD_CHANNELS, 1, 1), 100, 1),
    "dvsgesture": _Spec("dvsgesture", "DVS Gesture", 11, DVS_SENSOR, 60, 4),
}


def _err(place, reason: str) -> DatasetError:
    reason = " ".join(str(reason).split())  # one line
    return DatasetError(f"{place}: {reason}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


# --------------------------------------------------------------------------- optional modules


def tonic_module():
    """tonic if it imports, else None."""
    try:
        import tonic  # noqa: F401, PLC0415 - optional extra
        import tonic.io  # noqa: PLC0415 - optional extra
        import tonic.transforms  # noqa: PLC0415 - optional extra
    except Exception:  # noqa: BLE001 - any broken install means "no tonic"
        return None
    return tonic


def _resolve_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise DatasetError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if backend == "numpy":
        return "numpy"
    if tonic_module() is not None:
        return "tonic"
    if backend == "tonic":
        try:
            import tonic  # noqa: F401, PLC0415 - optional extra
        except Exception as exc:  # noqa: BLE001
            reason = _first_line(exc)
        else:
            reason = "tonic.io / tonic.transforms do not import"
        raise DatasetError(
            f"backend 'tonic' requested but tonic cannot be imported ({reason}); "
            "install it with: pip install 'tonic>=1.4' (see setup.cfg extra 'data')"
        )
    return "numpy"


def _h5py(file):
    try:
        import h5py  # noqa: PLC0415 - optional extra
    except ImportError:
        raise _err(file, "reading SHD needs h5py; install it with: pip install 'h5py>=3.8'") from None
    return h5py


# --------------------------------------------------------------------------- N-MNIST


def _nmnist_raw(file: Path) -> np.ndarray:
    try:
        raw = np.fromfile(file, dtype=np.uint8)
    except OSError as exc:
        raise _err(file, f"cannot read N-MNIST file ({_first_line(exc)})") from None
    if raw.size % 5:
        raise _err(file, f"malformed N-MNIST file: {raw.size} bytes is not a multiple of the 5-byte event size")
    return raw


def _check_xy(file, what: str, ev: Events, sensor) -> Events:
    W, H, _ = sensor
    if ev.x.size and (ev.x.min() < 0 or ev.x.max() >= W or ev.y.min() < 0 or ev.y.max() >= H):
        bad = int(np.flatnonzero((ev.x < 0) | (ev.x >= W) | (ev.y < 0) | (ev.y >= H))[0])
        raise _err(
            file,
            f"malformed {what} file: event {bad} at x={int(ev.x[bad])}, "
            f"y={int(ev.y[bad])} is outside the {W}x{H} sensor",
        )
    return ev


def read_nmnist_numpy(file) -> Events:
    """Decode one N-MNIST ``.bin`` file with numpy (see the module doc for the bit layout)."""
    file = Path(file)
    raw = _nmnist_raw(file).astype(np.int64).reshape(-1, 5)
    x, y = raw[:, 0], raw[:, 1]
    p = raw[:, 2] >> 7
    t = ((raw[:, 2] & 0x7F) << 16) | (raw[:, 3] << 8) | raw[:, 4]
    overflow = y == NMNIST_OVERFLOW_Y
    t = t + NMNIST_OVERFLOW_US * np.cumsum(overflow)
    keep = ~overflow
    return _check_xy(file, "N-MNIST", Events(x[keep], y[keep], p[keep], t[keep]), NMNIST_SENSOR)


def read_nmnist_tonic(file) -> Events:
    """Decode one N-MNIST ``.bin`` file with ``tonic.io.read_mnist_file``."""
    import tonic.io  # noqa: PLC0415 - optional extra

    file = Path(file)
    _nmnist_raw(file)  # size check first: tonic would fail with a shape error
    dtype = np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)])
    try:
        ev = tonic.io.read_mnist_file(str(file), dtype=dtype)
    except Exception as exc:  # noqa: BLE001
        raise _err(file, f"malformed N-MNIST file ({_first_line(exc)})") from None
    out = Events(*(np.asarray(ev[k], dtype=np.int64) for k in ("x", "y", "p", "t")))
    return _check_xy(file, "N-MNIST", out, NMNIST_SENSOR)


def _find_split_dir(root: Path, sub: str, tonic_folder: str, what: str, layout: str) -> Path:
    for cand in (root / sub, root / tonic_folder / sub):
        if cand.is_dir():
            return cand
    raise _err(root, f"no {what} folder {sub!r} (expected {layout})")


def _index_nmnist(root: Path, split: str):
    sub = "Train" if split == "train" else "Test"
    d = _find_split_dir(root, sub, "NMNIST", "N-MNIST split", f"{sub}/<digit>/*.bin")
    files, labels = [], []
    for digit in range(10):
        dd = d / str(digit)
        if not dd.is_dir():
            continue
        found = sorted(f for f in dd.iterdir() if f.suffix == ".bin" and f.is_file())
        files += found
        labels += [digit] * len(found)
    if not files:
        raise _err(d, "no N-MNIST .bin files (expected <digit>/*.bin with digit folders 0..9)")
    return files, np.asarray(labels, dtype=np.int64)


# --------------------------------------------------------------------------- SHD


def _shd_file(root: Path, split: str) -> Path:
    if root.is_file():
        return root
    name = f"shd_{split}.h5"
    for cand in (root / name, root / "SHD" / name):
        if cand.is_file():
            return cand
    raise _err(root, f"no SHD file {name!r} (expected {name} in this folder or in SHD/)")


def _open_shd(file: Path):
    h5py = _h5py(file)
    try:
        f = h5py.File(file, "r")
    except Exception as exc:  # noqa: BLE001 - h5py raises OSError and others
        raise _err(file, f"not a readable HDF5 file ({_first_line(exc)})") from None
    try:
        for key in ("spikes/times", "spikes/units", "labels"):
            if key not in f:
                raise _err(file, f"malformed SHD file: no dataset {key!r}")
        n = len(f["labels"])
        if len(f["spikes/times"]) != n or len(f["spikes/units"]) != n:
            raise _err(
                file,
                f"malformed SHD file: {len(f['spikes/times'])} spike-time and "
                f"{len(f['spikes/units'])} unit arrays for {n} labels",
            )
    except BaseException:
        f.close()
        raise
    return f


def read_shd(file, indices=None) -> tuple[list[Events], np.ndarray]:
    """Read samples ``indices`` (default all) of an SHD HDF5 file: their events (x = unit,
    t in us) and their labels."""
    file = Path(file)
    with _open_shd(file) as f:
        labels_all = _shd_labels(file, f)
        idx = np.arange(len(labels_all)) if indices is None else np.asarray(indices, dtype=np.int64)
        times_ds, units_ds = f["spikes/times"], f["spikes/units"]
        try:
            if len(idx) > 32:  # one bulk read is much faster than many small ones
                times_all, units_all = times_ds[()], units_ds[()]
            else:
                times_all = {int(i): times_ds[int(i)] for i in idx}
                units_all = {int(i): units_ds[int(i)] for i in idx}
        except Exception as exc:  # noqa: BLE001
            raise _err(file, f"malformed SHD file: spikes unreadable ({_first_line(exc)})") from None
        out = []
        for i in idx:
            try:
                times = np.asarray(times_all[int(i)], dtype=np.float64).ravel()
                units = np.asarray(units_all[int(i)]).ravel()
            except Exception as exc:  # noqa: BLE001
                raise _err(file, f"malformed SHD file: sample {int(i)} unreadable ({_first_line(exc)})") from None
            if times.shape != units.shape:
                raise _err(file, f"malformed SHD file: sample {int(i)} has {times.size} times and {units.size} units")
            if times.size and (not np.all(np.isfinite(times)) or times.min() < 0):
                raise _err(file, f"malformed SHD file: sample {int(i)} has negative or non-finite spike times")
            if units.size and (
                not np.issubdtype(units.dtype, np.number)
                or np.any(units != np.floor(units))
                or units.min() < 0
                or units.max() >= SHD_CHANNELS
            ):
                raise _err(file, f"malformed SHD file: sample {int(i)} has units outside 0..{SHD_CHANNELS - 1}")
            t = np.rint(times * 1e6).astype(np.int64)
            u = units.astype(np.int64)
            zeros = np.zeros_like(u)
            out.append(Events(u, zeros, zeros.copy(), t))
        return out, labels_all[idx]


def _shd_labels(file: Path, f) -> np.ndarray:
    try:
        labels = np.asarray(f["labels"][()])
    except Exception as exc:  # noqa: BLE001
        raise _err(file, f"malformed SHD file: labels unreadable ({_first_line(exc)})") from None
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise _err(file, f"malformed SHD file: labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= SPECS["shd"].n_classes):
        raise _err(file, f"malformed SHD file: labels outside 0..{SPECS['shd'].n_classes - 1}")
    return labels.astype(np.int64)


# --------------------------------------------------------------------------- DVS Gesture


def _dvs_columns(file: Path):
    try:
        a = np.load(file, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001
        raise _err(file, f"malformed DVS Gesture file: not a readable .npy array ({_first_line(exc)})") from None
    if a.ndim != 2 or a.shape[1] != 4 or a.dtype.names is not None or not np.issubdtype(a.dtype, np.number):
        raise _err(
            file,
            f"malformed DVS Gesture file: expected a numeric (events, 4) array with "
            f"columns x, y, p, t(ms), got {a.dtype} {a.shape}",
        )
    if a.size and not np.all(np.isfinite(a)):
        raise _err(file, "malformed DVS Gesture file: non-finite values")
    return a


def _dvs_events(file: Path, x, y, p, t_ms) -> Events:
    x, y, p = (np.asarray(v).astype(np.int64) for v in (x, y, p))
    if p.size and not np.all(np.isin(p, (0, 1))):
        raise _err(file, "malformed DVS Gesture file: polarity column has values other than 0/1")
    t = np.rint(np.asarray(t_ms, dtype=np.float64) * 1000.0).astype(np.int64)
    return _check_xy(file, "DVS Gesture", Events(x, y, p, t), DVS_SENSOR)


def read_dvsgesture_numpy(file) -> Events:
    """Read one preprocessed DVS Gesture ``.npy`` sample (columns x, y, p, t in ms)."""
    file = Path(file)
    a = _dvs_columns(file)
    return _dvs_events(file, a[:, 0], a[:, 1], a[:, 2], a[:, 3])


def read_dvsgesture_tonic(file) -> Events:
    """Read one preprocessed DVS Gesture sample, naming its columns with tonic's
    ``DVSGesture.ordering`` (the column order tonic's own reader assumes)."""
    from tonic.datasets import DVSGesture  # noqa: PLC0415 - optional extra

    file = Path(file)
    a = _dvs_columns(file)
    col = {name: a[:, k] for k, name in enumerate(DVSGesture.ordering)}
    return _dvs_events(file, col["x"], col["y"], col["p"], col["t"])


def _user_key(d: Path):
    head = d.name.split("_", 1)[0]
    digits = "".join(ch for ch in head if ch.isdigit())
    return (int(digits) if digits else 1 << 30, d.name)


def _index_dvsgesture(root: Path, split: str):
    sub = "ibmGestureTrain" if split == "train" else "ibmGestureTest"
    d = _find_split_dir(root, sub, "DVSGesture", "DVS Gesture split", f"{sub}/userNN_<lighting>/<label>.npy")
    files, labels = [], []
    n_classes = SPECS["dvsgesture"].n_classes
    for ud in sorted((u for u in d.iterdir() if u.is_dir()), key=_user_key):
        found = []
        for f in ud.iterdir():
            if f.suffix != ".npy" or not f.is_file():
                continue
            if not f.stem.isdigit() or int(f.stem) >= n_classes:
                raise _err(f, f"unexpected DVS Gesture file name (expected <label>.npy with label 0..{n_classes - 1})")
            found.append((int(f.stem), f))
        for label, f in sorted(found):
            files.append(f)
            labels.append(label)
    if not files:
        raise _err(d, "no DVS Gesture .npy files (expected userNN_<lighting>/<label>.npy)")
    return files, np.asarray(labels, dtype=np.int64)


# --------------------------------------------------------------------------- binning


def downsampled_sensor(sensor, factor: int) -> tuple:
    """Sensor size (W, H, P) after :func:`downsample_events` by ``factor``."""
    W, H, P = sensor
    return (math.ceil(W / factor), math.ceil(H / factor), P)


def downsample_events(ev: Events, factor: int) -> Events:
    """Integer spatial (SHD: channel) downsampling: x // factor, y // factor."""
    if factor == 1:
        return ev
    return Events(ev.x // factor, ev.y // factor, ev.p, ev.t)


def bin_width_us(ev: Events, frames: int, window_us: int | None) -> int:
    """The bin width w (us) of a sample (see the module doc); 1 for an empty sample."""
    if window_us is not None:
        return int(window_us)
    if ev.t.size == 0:
        return 1
    span = int(ev.t.max() - ev.t.min()) + 1
    return max(1, -(-span // frames))


def frames_numpy(ev: Events, sensor, frames: int, window_us: int | None = None) -> np.ndarray:
    """Bool frames ``(frames, P*H*W)`` of one sample, pure numpy."""
    W, H, P = sensor
    out = np.zeros((frames, P * H * W), dtype=bool)
    if ev.t.size == 0:
        return out
    w = bin_width_us(ev, frames, window_us)
    t0 = int(ev.t.min())
    k = (ev.t - t0) // w
    keep = k < frames
    ch = ev.p * (H * W) + ev.y * W + ev.x
    out[k[keep], ch[keep]] = True
    return out


def frames_tonic(ev: Events, sensor, frames: int, window_us: int | None = None) -> np.ndarray:
    """Bool frames ``(frames, P*H*W)`` of one sample via ``tonic.transforms.ToFrame``."""
    from tonic.transforms import ToFrame  # noqa: PLC0415 - optional extra

    W, H, P = sensor
    if ev.t.size == 0:
        return np.zeros((frames, P * H * W), dtype=bool)
    w = bin_width_us(ev, frames, window_us)
    order = np.argsort(ev.t, kind="stable")
    s = np.empty(ev.t.size, dtype=np.dtype([("x", np.int64), ("y", np.int64), ("t", np.int64), ("p", np.int64)]))
    for k in ("x", "y", "p", "t"):
        s[k] = getattr(ev, k)[order]
    t0 = int(s["t"][0])
    counts = ToFrame(sensor_size=(W, H, P), time_window=w, start_time=t0, end_time=t0 + frames * w)(s)
    counts = np.asarray(counts)
    if counts.shape[0] != frames:  # pragma: no cover - guards against tonic behaviour changes
        raise DatasetError(f"tonic ToFrame returned {counts.shape[0]} frames instead of {frames}")
    return counts.reshape(frames, P * H * W) > 0


# --------------------------------------------------------------------------- load


def round_robin(labels: np.ndarray) -> np.ndarray:
    """Indices that interleave ``labels`` over the classes, keeping file order within a class."""
    labels = np.asarray(labels)
    rank = np.empty(labels.size, dtype=np.int64)
    for c in np.unique(labels):
        where = np.flatnonzero(labels == c)
        rank[where] = np.arange(where.size)
    return np.lexsort((labels, rank))


def _positive_int(name: str, what: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise DatasetError(f"dataset {name!r}: {what} must be a positive integer, got {value!r}")
    return int(value)


def load(
    name: str,
    split: str = "test",
    *,
    path=None,
    frames: int | None = None,
    limit: int | None = None,
    window: float | None = None,
    downsample: int | None = None,
    backend: str = "auto",
) -> SpikeDataset:
    """One split of ``nmnist``, ``shd`` or ``dvsgesture`` from the files under ``path``, as a
    :class:`~neurosim.data.SpikeDataset` of bool frames ``(N, frames, C)``.

    ``frames``: number of frames (default 30 / 100 / 60). ``window``: fixed bin window in
    seconds (default: each sample's own span, see the module doc). ``downsample``: integer
    spatial/channel factor (default 1 / 1 / 4). ``backend``: "auto", "tonic" or "numpy".
    Never downloads anything.
    """
    key = str(name).lower()
    if key not in SPECS:
        raise DatasetError(f"unknown event dataset {name!r}; use one of {', '.join(SPECS)}")
    spec = SPECS[key]
    check_split(key, split)
    limit = check_limit(limit)
    frames = _positive_int(key, "frames", spec.default_frames if frames is None else frames)
    factor = _positive_int(key, "downsample", spec.default_downsample if downsample is None else downsample)
    window, window_us = _window(key, window, frames)
    used = _resolve_backend(backend)
    root = _root(key, path)
    samples, labels, source = _read_samples(key, root, split, limit, used)
    sensor = downsampled_sensor(spec.sensor, factor)
    inputs = _bin_samples(samples, len(labels), sensor, frames, factor, window_us, used)
    binning = _Binning(frames, factor, window, window_us)
    return _dataset(spec, split, source, inputs, labels, sensor, binning, used)


class _Binning(NamedTuple):
    """How a load binned its events: frames, downsampling, window (seconds) and bin width (us)."""

    frames: int
    factor: int
    window: float | None
    window_us: int | None


def _window(key: str, window, frames: int) -> tuple[float | None, int | None]:
    """The fixed window in seconds (checked) and its bin width in us; ``(None, None)`` without one."""
    if window is None:
        return None, None
    try:
        window = float(window)
    except (TypeError, ValueError):
        raise DatasetError(f"dataset {key!r}: window must be a number of seconds, got {window!r}") from None
    if not (math.isfinite(window) and window > 0):
        raise DatasetError(f"dataset {key!r}: window must be a positive number of seconds, got {window!r}")
    return window, max(1, round(window * 1e6 / frames))


def _root(key: str, path) -> Path:
    """The existing file or folder ``path`` names."""
    if path is None:
        raise DatasetError(f"dataset {key!r}: needs path= the folder holding the files (nothing is downloaded)")
    root = Path(path).expanduser()
    if not root.exists():
        raise _err(root, "no such file or directory")
    return root


def _read_samples(
    key: str, root: Path, split: str, limit: int | None, used: str
) -> tuple[Iterable[Events], np.ndarray, str]:
    """The events of the first ``limit`` samples in round-robin order (lazily, but for SHD),
    their labels and the source (file or folder) they come from."""
    if key == "shd":
        file = _shd_file(root, split)
        with _open_shd(file) as f:
            all_labels = _shd_labels(file, f)
        order = round_robin(all_labels)[:limit]
        samples, labels = read_shd(file, order)
        return samples, labels, str(file)
    if not root.is_dir():
        raise _err(root, "not a directory")
    index = _index_nmnist if key == "nmnist" else _index_dvsgesture
    files, all_labels = index(root, split)
    order = round_robin(all_labels)[:limit]
    if key == "nmnist":
        reader = read_nmnist_tonic if used == "tonic" else read_nmnist_numpy
    else:
        reader = read_dvsgesture_tonic if used == "tonic" else read_dvsgesture_numpy
    return (reader(files[i]) for i in order), all_labels[order], str(root)


def _bin_samples(
    samples: Iterable[Events], n: int, sensor: tuple, frames: int, factor: int, window_us: int | None, used: str
) -> np.ndarray:
    """Bool frames ``(n, frames, P*H*W)`` of the ``n`` samples, downsampled by ``factor``."""
    W, H, P = sensor
    binner = frames_tonic if used == "tonic" else frames_numpy
    inputs = np.zeros((n, frames, P * H * W), dtype=bool)
    for k, ev in enumerate(samples):
        inputs[k] = binner(downsample_events(ev, factor), sensor, frames, window_us)
    return inputs


def _dataset(
    spec: _Spec,
    split: str,
    source: str,
    inputs: np.ndarray,
    labels: np.ndarray,
    sensor: tuple,
    b: _Binning,
    used: str,
) -> SpikeDataset:
    """The loaded split with its description and loading parameters."""
    key, (W, H, P) = spec.name, sensor
    input_shape = (W,) if key == "shd" else (P, H, W)
    binning = (
        "per-sample span / frames"
        if b.window_us is None
        else f"fixed {b.window_us} us bins ({b.frames * b.window_us / 1e6:g} s window)"
    )
    params = {
        "split": split,
        "path": source,
        "frames": b.frames,
        "binning": "per-sample" if b.window_us is None else "fixed-window",
        "window_s": b.window,
        "bin_us": b.window_us,
        "downsample": b.factor,
        "sensor_size": tuple(spec.sensor),
        "binned_sensor_size": tuple(sensor),
        "channel_order": "unit" if key == "shd" else "p*H*W + y*W + x",
        "sample_order": "round-robin over classes",
        "backend": used,
    }
    return SpikeDataset(
        name=key,
        inputs=inputs,
        labels=np.asarray(labels, dtype=np.int64),
        n_classes=spec.n_classes,
        input_shape=input_shape,
        description=(
            f"{spec.title} {split} split from {source}: events binned into {b.frames} "
            f"frames ({binning}, time origin = first event), downsample {b.factor}, "
            f"{'x'.join(map(str, input_shape))} channels, read with {used}"
        ),
        params=params,
    )


__all__ = [
    "load",
    "Events",
    "SPECS",
    "read_nmnist_numpy",
    "read_nmnist_tonic",
    "read_shd",
    "read_dvsgesture_numpy",
    "read_dvsgesture_tonic",
    "frames_numpy",
    "frames_tonic",
    "downsample_events",
    "downsampled_sensor",
    "bin_width_us",
    "round_robin",
    "tonic_module",
]
