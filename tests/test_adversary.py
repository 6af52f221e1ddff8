"""Music adversaries: reaching targets under exact projections, resynthesis, training, the CLI."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from conftest import run_cli
from kerasmgr import adversary, models
from kerasmgr.jobs import train as training

ROOT = Path(__file__).resolve().parents[1]
DATA = dict(clips_per_genre=4, duration=3.0)


@pytest.fixture(scope="module")
def genre_model(tmp_path_factory):
    """A small frame DNN trained on generated audio (the embedded dataset, 3 s clips)."""
    out = tmp_path_factory.mktemp("adv-runs")
    r = training.train(model="dnn", out=str(out), name="dnn", epochs=8, segments_per_clip=200, verbose=0,
                       model_kwargs={"n_units": 50}, dataset_kwargs=DATA)
    return r.model_path


@pytest.fixture(scope="module")
def clip():
    from kerasmgr.data.datasets import load_dataset
    from kerasmgr.data.audio import load_audio

    ds = load_dataset("embedded", subset="test", sample_rate=22050, progress=False, **DATA)
    return load_audio(ds.items[0].path, 22050)


def test_projection_is_exact_and_keeps_non_negativity():
    rng = np.random.default_rng(0)
    X0 = tf.constant(np.abs(rng.standard_normal((50, 20))).astype(np.float32))
    Z = tf.maximum(X0 + tf.constant(rng.standard_normal((50, 20)).astype(np.float32)), 0.0)
    Y = adversary.project_snr(Z, X0, 20.0)
    assert adversary.snr_db(X0.numpy(), Y.numpy()) == pytest.approx(20.0, abs=1e-4)  # active: on the sphere
    assert float(tf.reduce_min(Y)) >= 0.0
    small = X0 * 1.001  # inside the ball: unchanged
    np.testing.assert_array_equal(adversary.project_snr(small, X0, 20.0).numpy(), small.numpy())


def test_adversary_reaches_target_within_the_bound(genre_model, clip):
    import keras

    model = keras.models.load_model(genre_model, compile=False)
    view = adversary.SpectralView(model)
    orig = int(np.argmax(view.posteriors(clip)))
    target = (orig + 1) % 8
    r = adversary.spectral_adversary(view, clip, target, snr=15.0, mu=0.1, max_iter=100, stop=0.9)
    assert r.reached and r.posteriors[target] >= 0.9
    assert r.snr_spectral_db >= 15.0 - 1e-4 and r.magnitude.min() >= 0.0
    assert r.audio.shape == clip.shape and np.isfinite(r.audio).all()
    # a bound too tight to reach the target is met exactly (the constraint is active)
    tight = adversary.spectral_adversary(view, clip, target, snr=60.0, mu=0.1, max_iter=15, stop=1.0)
    assert tight.snr_spectral_db == pytest.approx(60.0, abs=1e-3) and tight.magnitude.min() >= 0.0
    gl = adversary.spectral_adversary(view, clip, target, snr=15.0, max_iter=30, stop=0.9, griffin_lim=True)
    assert gl.snr_spectral_db >= 15.0 - 1e-4


def test_waveform_adversary_gives_valid_audio(genre_model, clip):
    import keras

    view = adversary.SpectralView(keras.models.load_model(genre_model, compile=False))
    target = (int(np.argmax(view.posteriors(clip))) + 2) % 8
    r = adversary.waveform_adversary(view, clip, target, snr=25.0, max_iter=60, stop=0.8)
    assert r.audio.shape == clip.shape and np.isfinite(r.audio).all() and np.abs(r.audio).max() <= 1.0
    assert r.snr_time_db >= 25.0 - 1e-3
    assert r.audio_posteriors[target] > r.original_posteriors[target]  # moved towards the target


def test_fgsm_and_ensemble(genre_model, clip):
    import keras

    view = adversary.SpectralView(keras.models.load_model(genre_model, compile=False))
    r = adversary.fgsm(view, clip, 3, mu=0.25)
    assert r.iterations == 1 and r.magnitude.min() >= 0.0
    assert r.posteriors[3] > r.original_posteriors[3]
    w = adversary.fgsm(view, clip, 3, mu=1e-3, domain="waveform")
    assert np.abs(w.audio - clip).max() <= 1e-3 + 1e-7
    results = adversary.ensemble(view, clip[: 22050], targets=[0, 5], max_iter=5)
    assert [x.target for x in results] == [0, 5]


@pytest.mark.parametrize("name,kw", [("k2c2", {}), ("cdnn", {"n_samples": 51712 * 2})])
def test_spectral_view_matches_the_model_and_stft_inverts(name, kw):
    model = models.build(name, n_outputs=4, activation="softmax", **kw)
    view = adversary.SpectralView(model)
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal(view.segment_samples)).astype(np.float32)
    # the magnitude path (front-end from |STFT| + the layers after it) gives the model's output
    Y = tf.abs(view.stft(x))
    p_view = np.exp(view.log_posteriors_from_magnitude(tf.cast(Y, tf.float32), len(x)).numpy()).mean(0)
    p_model = model(x[None], training=False).numpy()[0]
    np.testing.assert_allclose(p_view, p_model, atol=2e-4)
    # inverse STFT of the unperturbed spectrum reconstructs the input where frames cover it
    xr = view.istft(view.stft(x), len(x)).numpy()
    inner = slice(view.frontend.n_fft, -view.frontend.n_fft)
    np.testing.assert_allclose(xr[inner], x[inner], atol=1e-5)
    if view.frontend.framing == "center":
        np.testing.assert_allclose(xr, x, atol=1e-5)


def test_target_modes():
    y = np.arange(200) % 10
    assert (adversary.choose_targets(y, "right", 10) == y).all()
    assert (adversary.choose_targets(y, "wrong", 10) != y).all()
    assert (adversary.choose_targets(y, "fixed", 10, label=4) == 4).all()
    assert (adversary.choose_targets(y, "random", 10, p=1.0) == y).all()
    assert (adversary.choose_targets(y, "random", 10, p=0.0) != y).all()
    share = np.mean(adversary.choose_targets(np.arange(20000) % 10, "random", 10) == np.arange(20000) % 10)
    assert share == pytest.approx(0.1, abs=0.01)
    with pytest.raises(ValueError, match="label"):
        adversary.choose_targets(y, "fixed", 10)


def test_adversarial_training_perturbs_batches_and_trains(genre_model, tmp_path):
    import keras

    source = keras.models.load_model(genre_model, compile=False)
    x = tf.constant((0.1 * np.random.default_rng(0).standard_normal((3, 1024 * 4))).astype(np.float32))
    y = tf.constant([0, 1, 2])
    for domain, mu in (("spectral", 0.25), ("waveform", 1e-3)):
        xa, ya = adversary.perturbation_fn(source, mu=mu, domain=domain)(x, y)
        assert xa.shape == x.shape and np.isfinite(xa.numpy()).all() and (ya.numpy() == y.numpy()).all()
        assert float(tf.reduce_max(tf.abs(xa - x))) > 0
    r = training.train(model="dnn", out=str(tmp_path), name="adv", epochs=1, segments_per_clip=20, verbose=0,
                       model_kwargs={"n_units": 50}, dataset_kwargs=DATA, adversarial_source=str(genre_model))
    assert r.model_path.is_file() and 0.0 <= r.metrics["accuracy"] <= 1.0


def test_cli_writes_every_artifact_and_resumes(genre_model, tmp_path):
    out = tmp_path / "adv"
    cmd = ["adversary.py", "--model", genre_model, "--out", out, "--dataset-kwargs", json.dumps(DATA), "--limit", "2",
           "--domain", "spectral", "waveform", "--iterations", "20", "--robustness-snrs", "10", "30", "--figures", "1"]
    res = run_cli(*cmd)
    assert res.returncode == 0, res.stderr[-2000:]
    rows = list(csv.DictReader(open(out / "report.csv")))
    assert len(rows) == 4 and {r["domain"] for r in rows} == {"spectral", "waveform"}
    for r in rows:
        assert (out / r["wav"]).is_file()
        assert float(r["snr_spectral_db"]) >= 15.0 - 1e-3 or r["domain"] == "waveform"
    summary = json.loads((out / "summary.json").read_text())
    for d in ("spectral", "waveform"):
        s = summary["domains"][d]
        assert {"accuracy_before", "accuracy_after", "success_rate", "mean_confidence", "mean_iterations",
                "lowpass_accuracy_adversarial"} <= set(s) and s["snr_time_db"]["min"] <= s["snr_time_db"]["max"]
    assert [r["snr_db"] for r in summary["robustness"]] == [10.0, 30.0]
    assert len(list((out / "figures").glob("*.png"))) == 1 and (out / "robustness.png").is_file()
    # a rerun skips finished excerpts: no duplicate rows
    assert run_cli(*cmd).returncode == 0
    assert len(list(csv.DictReader(open(out / "report.csv")))) == 4


def test_cli_rejects_a_missing_model(tmp_path):
    res = run_cli("adversary.py", "--model", tmp_path / "no.keras", "--out", tmp_path / "o")
    assert res.returncode != 0 and "no.keras" in (res.stderr + res.stdout)
