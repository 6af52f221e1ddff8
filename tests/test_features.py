"""Transfer features: convnet (multi-layer), random convnet, MFCC; resumable extraction jobs."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from kerasmgr import features
from kerasmgr.jobs import extract
from kerasmgr.data import embedded
from conftest import make_signal, run_cli

ROOT = Path(__file__).resolve().parents[1]
SR = 12000


@pytest.fixture(scope="module")
def extractor():
    return features.FeatureExtractor(features.random_convnet("k2c2", seed=3), layers="12345")


def test_dimensions_and_boundaries(extractor):
    assert extractor.dim == 160 and extractor.dims == [32] * 5
    assert extractor.boundaries[1] == [0, 32] and extractor.boundaries[5] == [128, 160]
    three = features.FeatureExtractor(features.random_convnet("k2c2", seed=3), layers="135")
    assert three.dim == 96
    with pytest.raises(ValueError, match="no layer"):
        features.FeatureExtractor(features.random_convnet("k2c2"), layers="6")


def test_features_do_not_depend_on_batch_size_or_company(extractor):
    clips = [make_signal(k, SR, 29.0, seed=i) for i, k in enumerate(["noise", "sine", "chirp", "mix"])]
    clips[1] = clips[1] * 1e-3
    a = extractor.transform(clips)
    extractor.batch_size = 1
    b = extractor.transform(clips)
    extractor.batch_size = 8
    c = extractor.transform(clips[2:3])
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(a[2:3], c, atol=1e-5)
    # the compiled batch predictor gives what Keras' predict gave before it (extraction unchanged)
    segs = np.concatenate([extractor.windows_of(y) for y in clips])
    ref = np.concatenate(extractor.model.predict(segs, batch_size=8, verbose=0), axis=1)
    extractor.batch_size = 2
    np.testing.assert_allclose(extractor.transform(clips), ref, atol=1e-6)


def test_short_signals_are_repeated_and_long_ones_cropped_or_averaged(extractor):
    y = make_signal("mix", SR, 10.0)
    tiled = np.tile(y, 4)[: extractor.n_samples]
    np.testing.assert_allclose(extractor.transform([y]), extractor.transform([tiled]), atol=1e-5)
    long = make_signal("chirp", SR, 60.0)
    crop = extractor.transform([long])
    ext_avg = features.FeatureExtractor(features.random_convnet("k2c2", seed=3), long="average")
    w = extractor.windows_of(long)
    assert w.shape == (1, extractor.n_samples)
    windows = ext_avg.windows_of(long)
    assert len(windows) == 2
    np.testing.assert_allclose(ext_avg.transform([long]), ext_avg.transform(list(windows)).mean(0, keepdims=True),
                               atol=1e-5)
    assert not np.allclose(crop, ext_avg.transform([long]))


def test_random_convnet_is_seeded():
    a = features.random_convnet("k2c2", seed=1).get_layer("conv2").get_weights()[0]
    b = features.random_convnet("k2c2", seed=1).get_layer("conv2").get_weights()[0]
    c = features.random_convnet("k2c2", seed=2).get_layer("conv2").get_weights()[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert 0.5 < np.std(a) * np.sqrt(9 * 32 / 2) < 1.5  # He-normal scale


def test_mfcc_baseline():
    import librosa

    y = make_signal("mix", 22050, 5.0)
    f = features.mfcc_features(y, 22050)
    assert f.shape == (120,)
    m = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=20)
    np.testing.assert_allclose(f[:20], m.mean(1), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(f[20:40], m.std(1), rtol=1e-5, atol=1e-4)


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "music"
    for g in ["jazz", "rock", "techno", "classical", "reggae"]:
        y, _ = embedded.generate_clip(g, embedded.clip_seed(1, g, 0), sample_rate=16000, duration=8.0)
        (d / g).mkdir(parents=True)
        sf.write(d / g / f"{g}.wav", y, 16000)
    sf.write(d / "rock" / "tiny.wav", make_signal("sine", 16000, 0.3), 16000)
    (d / "jazz" / "broken.wav").write_text("no audio here")
    return d


def test_extract_array_reports_failures_and_resumes(folder, tmp_path, extractor, monkeypatch):
    files = extract.audio_files([folder])
    assert len(files) == 7
    full = extract.extract_array(files, tmp_path / "full.npy", extractor, chunk=2, progress=False)
    assert full["n_ok"] == 5 and full["n_failed"] == 2
    reasons = dict(full["failed"])
    assert any("too short" in r for r in reasons.values()) and any("decode" in r for r in reasons.values())
    X = np.load(tmp_path / "full.npy")
    assert X.shape == (7, 160) and np.isnan(X).any(axis=1).sum() == 2

    # interrupted after two chunks, then run again: finished rows kept, the rest computed
    calls = {"n": 0}
    real = extract._Computer.__call__

    def dying(self, paths):
        calls["n"] += 1
        if calls["n"] > 2:
            raise KeyboardInterrupt("killed")
        return real(self, paths)

    monkeypatch.setattr(extract._Computer, "__call__", dying)
    with pytest.raises(KeyboardInterrupt):
        extract.extract_array(files, tmp_path / "part.npy", extractor, chunk=2, progress=False)
    with open(tmp_path / "part.csv") as f:
        assert len(list(csv.DictReader(f))) == 4
    monkeypatch.setattr(extract._Computer, "__call__", real)
    calls["n"] = 0
    resumed = extract.extract_array(files, tmp_path / "part.npy", extractor, chunk=2, progress=False)
    assert resumed["n_ok"] == 5
    np.testing.assert_allclose(np.load(tmp_path / "part.npy"), X, atol=1e-5, equal_nan=True)
    with open(tmp_path / "part.csv") as f:
        assert sorted(int(r["row"]) for r in csv.DictReader(f)) == list(range(7))
    with pytest.raises(ValueError, match="other files"):
        extract.extract_array(files[::-1], tmp_path / "part.npy", extractor, progress=False)


def test_extract_files_skips_existing(folder, tmp_path):
    r = extract.extract_files(extract.audio_files([folder]), tmp_path / "npz", "mfcc", suffix="_mfcc",
                               progress=False)
    assert r["n_written"] == 5 and r["n_failed"] == 2
    out = tmp_path / "npz" / "rock" / "rock_mfcc.npz"
    z = np.load(out)
    assert z["features"].shape == (120,) and json.loads(str(z["metadata"]))["dim"] == 120
    again = extract.extract_files(extract.audio_files([folder]), tmp_path / "npz", "mfcc", suffix="_mfcc",
                                   progress=False)
    assert again["n_skipped"] == 5 and again["n_written"] == 0


def test_cli_array_random_and_embedded_dataset(folder, tmp_path):
    proc = run_cli("extract_features.py", folder, "--out", tmp_path / "f.npy", "--layers", "135")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "5 of 7 files" in proc.stdout and "broken.wav" in proc.stderr
    meta = json.loads((tmp_path / "f.json").read_text())
    assert meta["boundaries"] == {"1": [0, 32], "3": [32, 64], "5": [64, 96]} and meta["extractor"] == "convnet"
    proc = run_cli("extract_features.py", "--dataset", "embedded",
                   "--dataset-kwargs", json.dumps({"clips_per_genre": 3, "duration": 3.0}), "--subset", "test",
                   "--random", "--out", tmp_path / "r.npy")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert np.load(tmp_path / "r.npy").shape == (8, 160)
    assert json.loads((tmp_path / "r.json").read_text())["extractor"] == "random_convnet"
