"""The embedded dataset: deterministic synthesis, on-disk layout, caching and loading."""

import csv
import json
import os

import numpy as np
import pytest
import soundfile as sf

from kerasmgr.data import embedded
from kerasmgr.data.datasets import load_dataset


@pytest.mark.parametrize("genre", embedded.GENRES)
def test_every_genre_renders_valid_tagged_audio(genre):
    seed = embedded.clip_seed(0, genre, 0)
    y, meta = embedded.generate_clip(genre, seed, sample_rate=8000, duration=6.0)
    assert y.dtype == np.float32 and y.shape == (48000,)
    assert np.isfinite(y).all() and 0.01 < np.abs(y).max() < 1.0
    assert set(meta["tags"]) <= set(embedded.TAGS)
    assert ("major" in meta["tags"]) != ("minor" in meta["tags"])
    assert ("fast" in meta["tags"]) == (meta["tempo"] >= 125)


def test_synthesis_is_deterministic_and_rate_independent():
    seed = embedded.clip_seed(7, "jazz", 3)
    a, ma = embedded.generate_clip("jazz", seed, sample_rate=8000, duration=4.0)
    b, mb = embedded.generate_clip("jazz", seed, sample_rate=8000, duration=4.0)
    np.testing.assert_array_equal(a, b)
    assert ma == mb
    _, m16 = embedded.generate_clip("jazz", seed, sample_rate=16000, duration=4.0)
    assert m16 == ma  # same score (and so labels) at another sample rate
    c, _ = embedded.generate_clip("jazz", embedded.clip_seed(7, "jazz", 4), sample_rate=8000, duration=4.0)
    assert not np.array_equal(a, c)


def test_classes_differ_in_tempo_and_rhythm():
    tempos = {g: [embedded.generate_clip(g, embedded.clip_seed(0, g, i), sample_rate=4000, duration=1.0)[1]["tempo"]
                  for i in range(4)] for g in ("ambient", "techno")}
    assert max(tempos["ambient"]) < min(tempos["techno"])


def test_dataset_layout_cache_and_resume(tmp_path):
    kw = dict(seed=1, clips_per_genre=3, duration=2.0, sample_rate=8000, root=tmp_path, n_jobs=1, progress=False)
    folder = embedded.ensure_dataset(**kw)
    files = sorted(p.relative_to(folder).as_posix() for p in folder.glob("genres/*/*.flac"))
    assert len(files) == 3 * len(embedded.GENRES)
    assert "genres/rock/rock.00002.flac" in files
    info = sf.info(folder / "genres/rock/rock.00002.flac")
    assert info.samplerate == 8000 and info.frames == 16000 and info.channels == 1
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["splits"] == {"train": 8, "valid": 8, "test": 8}
    with open(folder / "tags.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24 and set(rows[0]) >= {"path", "genre", "tags"}
    for split in ("train", "valid", "test"):
        lines = (folder / "splits" / f"{split}_default.txt").read_text().split()
        assert len(lines) == 8 and all((folder / p).exists() for p in lines)

    # second call: nothing regenerated
    mtime = os.path.getmtime(folder / "genres/rock/rock.00002.flac")
    assert embedded.ensure_dataset(**kw) == folder
    assert os.path.getmtime(folder / "genres/rock/rock.00002.flac") == mtime

    # interrupted run: the missing clip is written again, finished ones are kept, labels identical
    (folder / "manifest.json").unlink()
    (folder / "genres/jazz/jazz.00001.flac").unlink()
    old_tags = (folder / "tags.csv").read_text()
    embedded.ensure_dataset(**kw)
    assert (folder / "genres/jazz/jazz.00001.flac").exists()
    assert os.path.getmtime(folder / "genres/rock/rock.00002.flac") == mtime
    assert (folder / "tags.csv").read_text() == old_tags


def test_load_dataset_embedded(tmp_path):
    ds = load_dataset("embedded", tmp_path, subset="valid", sample_rate=8000, clips_per_genre=3, duration=2.0,
                      progress=False)
    assert len(ds) == 8 and ds.classes == list(embedded.GENRES) and ds.tags == list(embedded.TAGS)
    y = ds.targets("genre")
    assert y.shape == (8,) and sorted(y) == list(range(8))
    t = ds.targets("tags")
    assert t.shape == (8, 16) and set(np.unique(t)) <= {0.0, 1.0}
    assert (t[:, embedded.TAGS.index("major")] + t[:, embedded.TAGS.index("minor")] == 1).all()
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("gtzan-v9", tmp_path)
    with pytest.raises(ValueError, match="task"):
        ds.targets("mood")
