"""Clip stores and the tf.data training pipeline."""

import numpy as np
import pytest
import soundfile as sf

from kerasmgr.data.pipeline import ClipStore, training_dataset


@pytest.fixture
def files(tmp_path):
    paths = []
    for i in range(5):
        p = tmp_path / f"c{i}.wav"
        sf.write(p, np.full(16000 + 1000 * i, 0.01 * (i + 1), dtype=np.float32), 16000)
        paths.append(str(p))
    bad = tmp_path / "bad.wav"
    bad.write_text("garbage")
    return paths[:2] + [str(bad)] + paths[2:]


@pytest.mark.parametrize("mode", ["memory", "disk", "none"])
def test_stores_agree_and_skip_bad_files(files, tmp_path, mode):
    store = ClipStore(files, 8000, mode=mode, cache_dir=tmp_path / "cache", min_samples=12000, progress=False)
    assert len(store) == 5 and list(store.index) == [0, 1, 3, 4, 5]
    assert store.errors[0][0].endswith("bad.wav")
    y = store.get(2)
    assert y.dtype == np.float32 and len(y) == 12000  # 9000 samples at 8 kHz, padded to min_samples
    assert abs(float(np.median(y[:8000])) - 0.03) < 1e-3
    w = store.crop(4, 4000, 0.999)
    assert w.shape == (4000,)


def test_disk_cache_is_reused(files, tmp_path):
    cache = tmp_path / "cache"
    ClipStore(files, 8000, mode="disk", cache_dir=cache, progress=False)
    cached = sorted(cache.rglob("*.npy"))
    assert len(cached) == 5
    mtimes = [p.stat().st_mtime_ns for p in cached]
    store = ClipStore(files, 8000, mode="disk", cache_dir=cache, progress=False)
    assert [p.stat().st_mtime_ns for p in sorted(cache.rglob("*.npy"))] == mtimes
    assert store.get(0).dtype == np.float32


def test_training_dataset_epochs_and_determinism(files, tmp_path):
    store = ClipStore(files, 8000, mode="memory", progress=False)
    targets = np.arange(5)
    ds, steps = training_dataset(store, targets, 4000, segments_per_clip=3, batch_size=4, seed=1)
    assert steps == 4  # 15 examples per epoch
    batches = list(ds.take(steps))
    xs = np.concatenate([b[0].numpy() for b in batches])[:15]
    ys = np.concatenate([b[1].numpy() for b in batches])[:15]
    assert xs.shape[1] == 4000
    assert sorted(np.bincount(ys[:15], minlength=5)) == [3, 3, 3, 3, 3]  # every clip 3 times per epoch
    for x, y in zip(xs, ys):  # each window comes from its clip (constant level per clip)
        assert np.allclose(x, 0.01 * (y + 1), atol=2e-3)
    again = np.concatenate([b[0].numpy() for b in training_dataset(store, targets, 4000, segments_per_clip=3,
                                                                   batch_size=4, seed=1)[0].take(steps)])
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in batches]), again)
