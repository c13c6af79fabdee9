"""The generated N-MNIST-like task: shapes, determinism, the DVS model's rules, statistics near
real N-MNIST's, balanced labels, and real N-MNIST .bin files written from it that the N-MNIST
loader reads back to the same frames."""

import numpy as np
import pytest

from neurosim.data import events, nmnist_like
from neurosim.data.dataset import DatasetError
from neurosim.data.nmnist_like import DVSConfig
from neurosim.data.registry import DATASETS, load_dataset

HAVE_TONIC = events.tonic_module() is not None
BACKENDS = ["numpy", pytest.param("tonic", marks=pytest.mark.skipif(not HAVE_TONIC, reason="tonic is not importable"))]


@pytest.fixture(scope="module")
def train100():
    """100 training samples (10 per class): events, labels and counts in 30 frames."""
    evs, labels, idx = nmnist_like.generate("train", limit=100)
    counts = np.stack([nmnist_like.count_frames(ev, 30) for ev in evs])
    return evs, labels, idx, counts


def test_registered_shapes_and_dtypes():
    assert "nmnist-like" in DATASETS
    d = load_dataset("nmnist-like", "test", frames=12, seed=3, limit=7)
    assert d.name == "nmnist-like" and len(d) == 7
    assert d.inputs.shape == (7, 12, 2 * 34 * 34) and d.inputs.dtype == np.bool_
    assert d.input_shape == (2, 34, 34) and d.n_classes == 10
    assert d.labels.dtype == np.int64 and d.params["seed"] == 3 and d.params["frames"] == 12
    ec = nmnist_like.load_counts("test", frames=12, seed=3, limit=7)
    assert ec.counts.shape == (7, 12, 2312) and ec.counts.dtype == np.uint8
    assert np.array_equal(d.inputs, ec.counts > 0) and np.array_equal(d.labels, ec.labels)
    assert ec.counts.max() > 1  # counts, not spikes: several events of a channel in one frame
    # every event is counted once: frames hold all of a sample's events
    evs, _, _ = nmnist_like.generate("test", seed=3, limit=7)
    assert ec.counts.sum(axis=(1, 2)).tolist() == [ev.t.size for ev in evs]


def test_determinism_seed_and_limit():
    a = nmnist_like.load_counts("train", frames=10, seed=5, limit=12)
    b = nmnist_like.load_counts("train", frames=10, seed=5, limit=12)
    assert np.array_equal(a.counts, b.counts) and np.array_equal(a.labels, b.labels)
    c = nmnist_like.load_counts("train", frames=10, seed=6, limit=12)
    assert np.array_equal(a.labels, c.labels) and not np.array_equal(a.counts, c.counts)
    prefix = nmnist_like.load_counts("train", frames=10, seed=5, limit=5)
    assert np.array_equal(prefix.counts, a.counts[:5])  # a sample does not depend on the limit


def test_labels_balanced_and_splits_disjoint():
    idx, labels = nmnist_like.split_indices("test")
    assert len(idx) == 360 and np.bincount(labels, minlength=10).min() >= 35
    assert np.bincount(labels[:100], minlength=10).tolist() == [10] * 10  # any prefix balanced
    train_idx, _ = nmnist_like.split_indices("train")
    assert len(train_idx) == 1437 and not set(train_idx) & set(idx)


def test_events_inside_sensor_and_time(train100):
    evs, _, _, _ = train100
    dur = DVSConfig().duration_us
    for ev in evs:
        assert ev.x.min() >= 0 and ev.x.max() < 34 and ev.y.min() >= 0 and ev.y.max() < 34
        assert set(np.unique(ev.p)) <= {0, 1}
        assert ev.t.min() >= 0 and ev.t.max() <= dur and np.all(np.diff(ev.t) >= 0)


def test_statistics_near_real_nmnist(train100):
    """The defaults land near real N-MNIST (docs/nmnist-like.md): ~4,000-5,000 events in
    ~300 ms, ON/OFF balanced; and a moving digit, not noise, makes the events."""
    evs, labels, _, counts = train100
    st = nmnist_like.statistics(evs, counts)
    assert 3800 <= st["events_per_sample"] <= 5200
    assert 0.45 <= st["on_fraction"] <= 0.55
    assert 280 <= st["duration_ms"] <= 301
    assert 80 <= st["active_channels_per_frame"] <= 160
    assert 1.05 <= st["events_per_active_channel"] <= 2.0
    # three saccades: the event rate dips where the motion turns (t = 100, 200 ms) and peaks mid-leg
    t = np.concatenate([ev.t for ev in evs])
    hist = np.bincount(t // 10_000, minlength=30)[:30]
    assert hist[[5, 15, 25]].min() > 3 * hist[[0, 10, 20]].max()


def test_static_scene_fires_only_noise():
    cfg = DVSConfig(noise_hz=0.0)
    blank = np.zeros((3, 28, 28), np.float32)
    assert all(ev.t.size == 0 for ev in nmnist_like.simulate(blank, np.arange(3), cfg, seed=0))
    cfg = DVSConfig(noise_hz=20.0)
    n = [ev.t.size for ev in nmnist_like.simulate(blank, np.arange(3), cfg, seed=0)]
    lam = 20.0 * 34 * 34 * 0.3
    assert all(abs(k - lam) < 5 * np.sqrt(lam) for k in n)


def test_events_follow_contrast_threshold():
    """Without mismatch, noise or refractoriness, a pixel fires one event per threshold C of
    log-intensity change: the net count (ON - OFF) of each pixel is the change of its level over
    the whole path (zero: the box returns to its start) within one event; the total grows as C
    shrinks, about as 1 / C."""
    images, _, _ = nmnist_like._digits()
    img = images[:4]
    per_c = {}
    for c in (0.2, 0.4):
        cfg = DVSConfig(threshold=c, threshold_sigma=0.0, noise_hz=0.0)
        evs = nmnist_like.simulate(img, np.arange(4), cfg, seed=1)
        for ev in evs:
            pix = ev.y * 34 + ev.x
            net = np.bincount(pix, weights=2 * ev.p - 1, minlength=34 * 34)
            assert np.abs(net).max() <= 1
        per_c[c] = sum(ev.t.size for ev in evs)
    assert 1.6 <= per_c[0.2] / per_c[0.4] <= 2.6


def test_refractory_period_spaces_events():
    images, _, _ = nmnist_like._digits()
    cfg = DVSConfig(noise_hz=0.0, refractory_us=20_000)
    free = nmnist_like.simulate(images[:2], np.arange(2), DVSConfig(noise_hz=0.0), seed=0)
    evs = nmnist_like.simulate(images[:2], np.arange(2), cfg, seed=0)
    for ev, ev_free in zip(evs, free):
        assert 0 < ev.t.size < ev_free.t.size
        pix = ev.y * 34 + ev.x
        order = np.lexsort((ev.t, pix))
        same = pix[order][1:] == pix[order][:-1]
        assert np.diff(ev.t[order])[same].min() >= 20_000


def test_sensor_mismatch_is_seeded():
    cfg = DVSConfig()
    a, b = nmnist_like.sensor_thresholds(cfg, 0), nmnist_like.sensor_thresholds(cfg, 1)
    assert a.shape == (2, 34 * 34) and np.array_equal(a, nmnist_like.sensor_thresholds(cfg, 0))
    assert not np.array_equal(a, b)
    assert abs(a.mean() - 0.25) < 0.005 and abs(a.std() - 0.03) < 0.005


@pytest.mark.parametrize("backend", BACKENDS)
def test_nmnist_bin_round_trip(tmp_path, backend):
    """Samples written as real N-MNIST .bin files decode to the same events and load through the
    N-MNIST loader (as --data-path does) to the same frames and labels."""
    files = nmnist_like.write_nmnist_split(tmp_path, "test", seed=2, limit=13)
    evs, labels, _ = nmnist_like.generate("test", seed=2, limit=13)
    for f, ev in zip(files, evs):
        back = events.read_nmnist_numpy(f)
        for k in ("x", "y", "p", "t"):
            assert np.array_equal(getattr(back, k), getattr(ev, k)), (f, k)
    loaded = events.load("nmnist", "test", path=tmp_path, frames=10, backend=backend)
    ours = nmnist_like.load("test", frames=10, seed=2, limit=13)
    assert np.array_equal(loaded.labels, ours.labels)
    assert np.array_equal(loaded.inputs, ours.inputs)
    via_registry = load_dataset("nmnist", "test", path=tmp_path, frames=10, limit=4)  # what --data-path does
    assert np.array_equal(via_registry.inputs, ours.inputs[:4])


def test_bad_parameters_are_refused():
    with pytest.raises(DatasetError, match="threshold"):
        DVSConfig(threshold=0.0)
    with pytest.raises(DatasetError, match="background"):
        DVSConfig(background=1.0)
    with pytest.raises(DatasetError, match="refractory_us"):
        DVSConfig(refractory_us=-1)
    with pytest.raises(DatasetError, match="frames"):
        nmnist_like.load("test", frames=0, limit=1)
    with pytest.raises(DatasetError, match="split"):
        nmnist_like.load("valid", limit=1)
    with pytest.raises(DatasetError, match="23-bit"):
        nmnist_like.nmnist_bytes(events.Events(*(np.array([v]) for v in (0, 0, 0, 1 << 23))))


def test_values_binary_or_counts():
    """``values``: count > 0 by default and "binary"; "counts" gives the event counts; other
    datasets refuse "counts"."""
    d = load_dataset("nmnist-like", "test", frames=6, limit=4, values="binary")
    assert d.inputs.dtype == np.bool_ and d.params["values"] == "binary"
    ec = nmnist_like.load_counts("test", frames=6, limit=4)
    c = load_dataset("nmnist-like", "test", frames=6, limit=4, values="counts")
    assert np.array_equal(np.asarray(c.inputs), ec.counts) and c.params["values"] == "counts"
    assert np.asarray(c.inputs).max() > 1
    with pytest.raises(DatasetError, match="values must be one of binary, counts"):
        nmnist_like.load("test", frames=6, limit=4, values="rates")
    with pytest.raises(DatasetError, match="offered by nmnist-like only"):
        load_dataset("digits", "test", values="counts")
