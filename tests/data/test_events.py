"""Event-data loaders on tiny files written here in each real on-disk format: the decoded
events, frame bins, channels and labels must be exactly what was written, with tonic (when it
imports) and with the pure-numpy fallback."""

import math

import numpy as np
import pytest

from neurosim.data import events
from neurosim.data.dataset import DatasetError
from neurosim.errors import NeurosimError

HAVE_TONIC = events.tonic_module() is not None
BACKENDS = ["numpy", pytest.param("tonic", marks=pytest.mark.skipif(not HAVE_TONIC, reason="tonic is not importable"))]


# ----------------------------------------------------------------------------- writers


def nmnist_bytes(evs):
    """Encode (x, y, p, t_us) events in the N-MNIST 40-bit layout (Orchard et al. 2015)."""
    out = bytearray()
    for x, y, p, t in evs:
        assert 0 <= t < 1 << 23
        out += bytes([x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF])
    return bytes(out)


def write_nmnist(root, split, digit, name, evs):
    d = root / split / str(digit)
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(nmnist_bytes(evs))


NM_A = [(0, 0, 0, 0), (33, 0, 1, 100), (5, 7, 1, 250), (5, 7, 1, 260), (2, 33, 0, 399)]
NM_B = [(1, 2, 1, 1000), (1, 2, 0, 1500)]
NM_C = [(10, 20, 1, 0), (11, 21, 0, 8191), (12, 22, 1, 1 << 22)]
NM_TRAIN = [(3, 3, 1, 7)]


@pytest.fixture
def nmnist_root(tmp_path):
    write_nmnist(tmp_path, "Test", 0, "00001.bin", NM_A)
    write_nmnist(tmp_path, "Test", 0, "00002.bin", NM_B)
    write_nmnist(tmp_path, "Test", 3, "00001.bin", NM_C)
    write_nmnist(tmp_path, "Train", 7, "00001.bin", NM_TRAIN)
    return tmp_path


def shd_write(file, samples, labels):
    import h5py

    with h5py.File(file, "w") as f:
        g = f.create_group("spikes")
        times = g.create_dataset("times", (len(samples),), dtype=h5py.vlen_dtype(np.float16))
        units = g.create_dataset("units", (len(samples),), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(samples):
            times[i] = np.asarray(t, dtype=np.float16)
            units[i] = np.asarray(u, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        extra = f.create_group("extra")
        extra.create_dataset("speaker", data=np.zeros(len(samples), dtype=np.uint16))
        extra.create_dataset("keys", data=np.array([f"k{i}".encode() for i in range(20)]))


SHD_SAMPLES = [([0.0, 0.1, 0.25, 0.5, 0.5], [0, 699, 350, 1, 1]), ([0.0123, 0.9], [7, 8]), ([], [])]
SHD_LABELS = [19, 4, 4]


def us(seconds):
    return np.rint(np.asarray(seconds, dtype=np.float16).astype(np.float64) * 1e6).astype(np.int64)


def write_dvs(root, split_folder, user, label, rows, dtype=np.float64):
    d = root / split_folder / user
    d.mkdir(parents=True, exist_ok=True)
    np.save(d / f"{label}.npy", np.asarray(rows, dtype=dtype).reshape(-1, 4))


# columns x, y, p, t[ms]
DVS_A = [(0, 0, 0, 10.0), (127, 127, 1, 20.0), (64, 3, 1, 29.999), (65, 2, 1, 30.0)]
DVS_B = [(8, 9, 0, 0), (100, 50, 1, 5)]
DVS_C = [(1, 1, 1, 1000.0)]


@pytest.fixture
def dvs_root(tmp_path):
    write_dvs(tmp_path, "ibmGestureTest", "user24_led", 10, DVS_A)
    write_dvs(tmp_path, "ibmGestureTest", "user24_led", 2, DVS_B, dtype=np.int64)
    write_dvs(tmp_path, "ibmGestureTest", "user25_natural", 10, DVS_C)
    write_dvs(tmp_path, "ibmGestureTrain", "user01_fluorescent", 0, DVS_B)
    return tmp_path


def active(frames, shape):
    """Set of (frame, *unflattened channel index) of the True entries of one sample."""
    t, c = np.nonzero(frames)
    return {(int(a), *map(int, np.unravel_index(b, shape))) for a, b in zip(t, c)}


# ----------------------------------------------------------------------------- N-MNIST


@pytest.mark.parametrize(
    "reader",
    ["numpy", pytest.param("tonic", marks=pytest.mark.skipif(not HAVE_TONIC, reason="tonic is not importable"))],
)
def test_nmnist_decodes_exact_events(nmnist_root, reader):
    read = events.read_nmnist_numpy if reader == "numpy" else events.read_nmnist_tonic
    for name, evs in (("Test/0/00001.bin", NM_A), ("Test/3/00001.bin", NM_C)):
        ev = read(nmnist_root / name)
        got = list(zip(ev.x.tolist(), ev.y.tolist(), ev.p.tolist(), ev.t.tolist()))
        assert got == list(evs)


def test_nmnist_overflow_marker(tmp_path):
    f = tmp_path / "o.bin"
    f.write_bytes(nmnist_bytes([(1, 1, 0, 5), (0, 240, 0, 0), (2, 2, 1, 6)]))
    ev = events.read_nmnist_numpy(f)
    assert ev.t.tolist() == [5, 6 + (1 << 13)] and ev.x.tolist() == [1, 2]
    if HAVE_TONIC:
        assert events.read_nmnist_tonic(f).t.tolist() == ev.t.tolist()


@pytest.mark.parametrize("backend", BACKENDS)
def test_nmnist_load_frames_and_labels(nmnist_root, backend):
    ds = events.load("nmnist", "test", path=nmnist_root, frames=4, backend=backend)
    assert ds.name == "nmnist" and ds.n_classes == 10 and ds.input_shape == (2, 34, 34)
    assert ds.inputs.shape == (3, 4, 2 * 34 * 34) and ds.params["backend"] == backend
    # round-robin over classes: class 0 file 1, class 3 file 1, class 0 file 2
    assert ds.labels.tolist() == [0, 3, 0]
    # NM_A: span 400 us -> w = 100 us; the two (5, 7) events share frame 2 -> one spike
    assert active(ds.inputs[0], (2, 34, 34)) == {(0, 0, 0, 0), (1, 1, 0, 33), (2, 1, 7, 5), (3, 0, 33, 2)}
    assert ds.inputs[0].sum() == 4
    # NM_C: span 2**22 + 1 us -> w = ceil(span / 4); t0 = 0
    w = math.ceil(((1 << 22) + 1) / 4)
    assert active(ds.inputs[1], (2, 34, 34)) == {(0, 1, 20, 10), (8191 // w, 0, 21, 11), ((1 << 22) // w, 1, 22, 12)}
    # NM_B: time origin is the first event (t = 1000), span 501 -> w = 126
    assert active(ds.inputs[2], (2, 34, 34)) == {(0, 1, 2, 1), (3, 0, 2, 1)}
    train = events.load("nmnist", "train", path=nmnist_root, frames=2, backend=backend)
    assert train.labels.tolist() == [7] and active(train.inputs[0], (2, 34, 34)) == {(0, 1, 3, 3)}


@pytest.mark.parametrize("backend", BACKENDS)
def test_nmnist_fixed_window_and_limit(nmnist_root, backend):
    # 100 us window over 4 frames -> 25 us bins from the first event; later events dropped
    ds = events.load("nmnist", "test", path=nmnist_root, frames=4, window=100e-6, limit=2, backend=backend)
    assert ds.labels.tolist() == [0, 3] and ds.params["bin_us"] == 25
    assert active(ds.inputs[0], (2, 34, 34)) == {(0, 0, 0, 0)}
    assert active(ds.inputs[1], (2, 34, 34)) == {(0, 1, 20, 10)}


def test_nmnist_downsample(nmnist_root):
    ds = events.load("nmnist", "test", path=nmnist_root, frames=4, downsample=2, limit=1, backend="numpy")
    assert ds.input_shape == (2, 17, 17)
    assert active(ds.inputs[0], (2, 17, 17)) == {(0, 0, 0, 0), (1, 1, 0, 16), (2, 1, 3, 2), (3, 0, 16, 1)}


@pytest.mark.skipif(not HAVE_TONIC, reason="tonic is not importable")
def test_nmnist_tonic_and_numpy_agree(nmnist_root):
    for window in (None, 300e-6):
        a = events.load("nmnist", "test", path=nmnist_root, frames=5, window=window, backend="tonic")
        b = events.load("nmnist", "test", path=nmnist_root, frames=5, window=window, backend="numpy")
        assert np.array_equal(a.inputs, b.inputs) and np.array_equal(a.labels, b.labels)


def test_tonic_layout_is_found(tmp_path):
    write_nmnist(tmp_path / "NMNIST", "Test", 1, "x.bin", NM_B)
    ds = events.load("nmnist", "test", path=tmp_path, frames=2, backend="numpy")
    assert ds.labels.tolist() == [1]


# ----------------------------------------------------------------------------- SHD


@pytest.fixture
def shd_root(tmp_path):
    pytest.importorskip("h5py")
    shd_write(tmp_path / "shd_test.h5", SHD_SAMPLES, SHD_LABELS)
    shd_write(tmp_path / "shd_train.h5", SHD_SAMPLES[1:2], [11])
    return tmp_path


def test_shd_decodes_exact_events(shd_root):
    evs, labels = events.read_shd(shd_root / "shd_test.h5")
    assert labels.tolist() == SHD_LABELS
    for ev, (t, u) in zip(evs, SHD_SAMPLES):
        assert ev.x.tolist() == list(u)
        assert ev.t.tolist() == us(t).tolist()
        assert not ev.y.any() and not ev.p.any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_shd_load(shd_root, backend):
    ds = events.load("shd", "test", path=shd_root, frames=5, backend=backend)
    assert ds.n_classes == 20 and ds.input_shape == (700,) and ds.inputs.shape == (3, 5, 700)
    # round-robin: class 4 (first), class 19, class 4 (second)
    assert ds.labels.tolist() == [4, 19, 4]
    t1 = us([0.0123, 0.9])
    w = math.ceil((t1[1] - t1[0] + 1) / 5)
    assert active(ds.inputs[0], (700,)) == {(0, 7), (int((t1[1] - t1[0]) // w), 8)}
    t0 = us(SHD_SAMPLES[0][0])
    w = math.ceil((t0.max() + 1) / 5)  # 500001 us span -> 100001
    assert active(ds.inputs[1], (700,)) == {
        (0, 0),
        (int(t0[1] // w), 699),
        (int(t0[2] // w), 350),
        (int(t0[3] // w), 1),
    }
    assert ds.inputs[1].sum() == 4  # two unit-1 spikes -> one
    assert not ds.inputs[2].any()  # empty sample
    train = events.load("shd", "train", path=shd_root, frames=5, backend=backend)
    assert train.labels.tolist() == [11]


def test_shd_file_path_window_downsample(shd_root):
    ds = events.load(
        "shd", "test", path=shd_root / "shd_test.h5", frames=10, window=1.0, downsample=10, limit=2, backend="numpy"
    )
    assert ds.input_shape == (70,) and ds.params["bin_us"] == 100000
    assert active(ds.inputs[0], (70,)) == {(0, 0), (int((us(0.9) - us(0.0123)) // 100000), 0)}
    # float16 seconds: 0.1 is stored as 0.09997... -> 99976 us -> frame 0
    t0 = us(SHD_SAMPLES[0][0])
    assert t0[1] == 99976
    assert active(ds.inputs[1], (70,)) == {(0, 0), (int(t0[1] // 100000), 69), (int(t0[2] // 100000), 35), (5, 0)}


@pytest.mark.skipif(not HAVE_TONIC, reason="tonic is not importable")
def test_shd_tonic_and_numpy_agree(shd_root):
    a = events.load("shd", "test", path=shd_root, frames=7, backend="tonic")
    b = events.load("shd", "test", path=shd_root, frames=7, backend="numpy")
    assert np.array_equal(a.inputs, b.inputs)


# ----------------------------------------------------------------------------- DVS Gesture


@pytest.mark.parametrize(
    "reader",
    ["numpy", pytest.param("tonic", marks=pytest.mark.skipif(not HAVE_TONIC, reason="tonic is not importable"))],
)
def test_dvs_decodes_exact_events(dvs_root, reader):
    read = events.read_dvsgesture_numpy if reader == "numpy" else events.read_dvsgesture_tonic
    ev = read(dvs_root / "ibmGestureTest" / "user24_led" / "10.npy")
    assert ev.x.tolist() == [0, 127, 64, 65] and ev.y.tolist() == [0, 127, 3, 2]
    assert ev.p.tolist() == [0, 1, 1, 1] and ev.t.tolist() == [10000, 20000, 29999, 30000]
    ev = read(dvs_root / "ibmGestureTest" / "user24_led" / "2.npy")
    assert ev.t.tolist() == [0, 5000] and ev.x.tolist() == [8, 100]


@pytest.mark.parametrize("backend", BACKENDS)
def test_dvs_load(dvs_root, backend):
    ds = events.load("dvsgesture", "test", path=dvs_root, frames=2, backend=backend)
    assert ds.n_classes == 11 and ds.input_shape == (2, 32, 32)  # default downsample 4
    # file order user24: 2, 10; user25: 10 -> round robin: 2, 10 (user24), 10 (user25)
    assert ds.labels.tolist() == [2, 10, 10]
    assert active(ds.inputs[0], (2, 32, 32)) == {(0, 0, 2, 2), (1, 1, 12, 25)}
    # span 20001 us -> w = 10001: t = 0, 10000 -> frame 0; 19999, 20000 -> frame 1
    assert active(ds.inputs[1], (2, 32, 32)) == {(0, 0, 0, 0), (0, 1, 31, 31), (1, 1, 0, 16)}
    assert active(ds.inputs[2], (2, 32, 32)) == {(0, 1, 0, 0)}
    full = events.load("dvsgesture", "test", path=dvs_root, frames=2, downsample=1, limit=2, backend=backend)
    assert full.input_shape == (2, 128, 128)
    assert active(full.inputs[1], (2, 128, 128)) == {(0, 0, 0, 0), (0, 1, 127, 127), (1, 1, 3, 64), (1, 1, 2, 65)}


@pytest.mark.skipif(not HAVE_TONIC, reason="tonic is not importable")
def test_dvs_tonic_and_numpy_agree(dvs_root):
    for window in (None, 0.02):
        a = events.load("dvsgesture", "test", path=dvs_root, frames=3, window=window, backend="tonic")
        b = events.load("dvsgesture", "test", path=dvs_root, frames=3, window=window, backend="numpy")
        assert np.array_equal(a.inputs, b.inputs)


def test_dvs_tonic_cache_layout(tmp_path):
    write_dvs(tmp_path / "DVSGesture", "ibmGestureTrain", "user02_led", 5, DVS_C)
    ds = events.load("dvsgesture", "train", path=tmp_path, frames=1, backend="numpy")
    assert ds.labels.tolist() == [5]


# ----------------------------------------------------------------------------- errors


def _one_line_error(exc_info, *needles):
    msg = str(exc_info.value)
    assert isinstance(exc_info.value, NeurosimError) and "\n" not in msg
    for n in needles:
        assert str(n) in msg, msg


@pytest.mark.parametrize("name", ["nmnist", "shd", "dvsgesture"])
def test_missing_path(tmp_path, name):
    with pytest.raises(NeurosimError) as e:
        events.load(name, path=tmp_path / "nope", backend="numpy")
    _one_line_error(e, tmp_path / "nope", "no such")
    with pytest.raises(NeurosimError) as e:
        events.load(name, backend="numpy")
    _one_line_error(e, "path")


@pytest.mark.parametrize("name", ["nmnist", "shd", "dvsgesture"])
def test_missing_files(tmp_path, name):
    with pytest.raises(NeurosimError) as e:
        events.load(name, "train", path=tmp_path, backend="numpy")
    _one_line_error(e, tmp_path)


def test_nmnist_empty_split_folder(tmp_path):
    (tmp_path / "Test" / "4").mkdir(parents=True)
    with pytest.raises(DatasetError) as e:
        events.load("nmnist", path=tmp_path, backend="numpy")
    _one_line_error(e, tmp_path / "Test", "no N-MNIST .bin files")


@pytest.mark.parametrize("backend", BACKENDS)
def test_nmnist_malformed(tmp_path, backend):
    d = tmp_path / "Test" / "1"
    d.mkdir(parents=True)
    (d / "bad.bin").write_bytes(nmnist_bytes(NM_B) + b"\x01\x02")
    with pytest.raises(DatasetError) as e:
        events.load("nmnist", path=tmp_path, backend=backend)
    _one_line_error(e, d / "bad.bin", "not a multiple")
    (d / "bad.bin").write_bytes(nmnist_bytes([(40, 1, 0, 3)]))
    with pytest.raises(DatasetError) as e:
        events.load("nmnist", path=tmp_path, backend=backend)
    _one_line_error(e, d / "bad.bin", "outside the 34x34 sensor")


def test_shd_malformed(tmp_path):
    h5py = pytest.importorskip("h5py")
    f = tmp_path / "shd_test.h5"
    f.write_bytes(b"this is not hdf5")
    with pytest.raises(DatasetError) as e:
        events.load("shd", path=tmp_path, backend="numpy")
    _one_line_error(e, f, "not a readable HDF5 file")
    with h5py.File(f, "w") as h:
        h.create_dataset("labels", data=np.zeros(1, np.uint8))
    with pytest.raises(DatasetError) as e:
        events.load("shd", path=tmp_path, backend="numpy")
    _one_line_error(e, f, "spikes/times")
    shd_write(f, [([0.1], [700])], [0])
    with pytest.raises(DatasetError) as e:
        events.load("shd", path=tmp_path, backend="numpy")
    _one_line_error(e, f, "units outside 0..699")
    shd_write(f, [([0.1], [3])], [20])
    with pytest.raises(DatasetError) as e:
        events.load("shd", path=tmp_path, backend="numpy")
    _one_line_error(e, f, "labels outside")


@pytest.mark.parametrize("backend", BACKENDS)
def test_dvs_malformed(tmp_path, backend):
    d = tmp_path / "ibmGestureTest" / "user30_led"
    d.mkdir(parents=True)
    np.save(d / "1.npy", np.zeros((3, 3)))
    with pytest.raises(DatasetError) as e:
        events.load("dvsgesture", path=tmp_path, backend=backend)
    _one_line_error(e, d / "1.npy", "(events, 4)")
    np.save(d / "1.npy", np.array([[0, 0, 2, 1.0]]))
    with pytest.raises(DatasetError) as e:
        events.load("dvsgesture", path=tmp_path, backend=backend)
    _one_line_error(e, d / "1.npy", "polarity")
    (d / "1.npy").write_bytes(b"garbage")
    with pytest.raises(DatasetError) as e:
        events.load("dvsgesture", path=tmp_path, backend=backend)
    _one_line_error(e, d / "1.npy", "not a readable .npy")
    (d / "1.npy").unlink()
    np.save(d / "11.npy", np.zeros((1, 4)))
    with pytest.raises(DatasetError) as e:
        events.load("dvsgesture", path=tmp_path, backend=backend)
    _one_line_error(e, d / "11.npy", "label 0..10")


def test_bad_arguments(nmnist_root):
    for kw, needle in (
        ({"frames": 0}, "frames"),
        ({"downsample": 0}, "downsample"),
        ({"window": -1.0}, "window"),
        ({"backend": "torch"}, "backend"),
        ({"limit": -1}, "limit"),
    ):
        with pytest.raises(DatasetError, match=needle):
            events.load("nmnist", path=nmnist_root, **kw)
    with pytest.raises(DatasetError, match="unknown"):
        events.load("cifar10dvs", path=nmnist_root)
    with pytest.raises(DatasetError, match="split"):
        events.load("nmnist", "valid", path=nmnist_root)


def test_without_tonic_auto_falls_back_and_tonic_backend_fails(nmnist_root, monkeypatch):
    monkeypatch.setattr(events, "tonic_module", lambda: None)
    ds = events.load("nmnist", path=nmnist_root, frames=4)
    assert ds.params["backend"] == "numpy" and ds.labels.tolist() == [0, 3, 0]
    with pytest.raises(DatasetError, match="tonic"):
        events.load("nmnist", path=nmnist_root, frames=4, backend="tonic")


def test_load_dataset_dispatch(nmnist_root):
    from neurosim.data.registry import load_dataset

    ds = load_dataset("nmnist", "test", path=nmnist_root, frames=4, limit=1)
    assert ds.labels.tolist() == [0] and ds.inputs.shape == (1, 4, 2312)
    with pytest.raises(DatasetError, match="path"):
        load_dataset("shd")
    assert load_dataset("temporal", "test", limit=8).inputs.shape == (8, 40, 32)


def test_shd_bulk_and_single_reads_agree(tmp_path):
    pytest.importorskip("h5py")
    rng = np.random.default_rng(5)
    samples = [(np.sort(rng.random(6)) * 0.8, rng.integers(0, 700, 6)) for _ in range(40)]
    shd_write(tmp_path / "shd_test.h5", samples, rng.integers(0, 20, 40))
    full = events.load("shd", path=tmp_path, frames=6, backend="numpy")  # bulk read
    part = events.load("shd", path=tmp_path, frames=6, limit=10, backend="numpy")
    assert np.array_equal(full.inputs[:10], part.inputs)
    assert np.array_equal(full.labels[:10], part.labels)
    evs, _ = events.read_shd(tmp_path / "shd_test.h5")
    assert [e.x.tolist() for e in evs] == [u.tolist() for _, u in samples]
