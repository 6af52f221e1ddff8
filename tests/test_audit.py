"""bin/audit.py: the validity audit's measures, its report folder (resumable), bad input, tag
adversaries, and the page rendered in a real (headless Chromium) browser."""

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile as sf
from sklearn.metrics import average_precision_score, roc_auc_score

from conftest import make_signal, run_cli
from kerasmgr import adversary, audit, models, pretrained
from kerasmgr.data.selection import DataSelection, open_split
from kerasmgr.jobs.audit import run_audit

SMALL = dict(clips_per_genre=3, duration=3.0)
TAGGED = DataSelection(dataset_kwargs=dict(clips_per_genre=3, duration=8.0))  # short clips: synthesised in seconds
FAST = dict(limit=3, transforms=["gain", "lowpass", "white_noise", "time_stretch", "mp3"], adversary_snrs=(30.0,),
            adversary_clips=1, adversary_iterations=2, responds_clips=3, n_boot=100, progress=False)


def test_every_transformation_runs_and_keeps_audio_finite():
    y = make_signal("mix", 12000, 4.0)
    grid = audit.transform_grid(sample_rate=12000)
    assert {n for n, _, _ in grid} == set(audit.TRANSFORMS)
    assert all(s < 0.45 * 12000 for n, s, _ in grid if n in ("lowpass", "highpass", "bandstop"))
    for name, strength, perceptual in grid:
        z = audit.apply_transform(name, y, 12000, strength, seed=1)
        assert z.dtype == np.float32 and len(z) > 0 and np.isfinite(z).all(), name
        assert perceptual in ("inaudible", "irrelevant", "audible")
    np.testing.assert_allclose(audit.apply_transform("gain", y, 12000, 6.0), y * 10 ** (6 / 20), rtol=1e-6)
    a = audit.apply_transform("white_noise", y, 12000, 20.0, seed=3)
    assert 10 * np.log10(np.sum(y ** 2) / np.sum((a - y) ** 2)) == pytest.approx(20.0, abs=0.5)
    assert np.array_equal(a, audit.apply_transform("white_noise", y, 12000, 20.0, seed=3))  # seeded
    assert len(audit.apply_transform("time_stretch", y, 12000, 1.1)) == pytest.approx(len(y) / 1.1, rel=0.01)
    assert audit.TRANSFORMS["gain"].perceptual(1.0, 12000) == "inaudible"
    assert audit.TRANSFORMS["white_noise"].perceptual(20.0, 12000) == "audible"


def test_statistics_against_references():
    rng = np.random.default_rng(0)
    y = rng.random((50, 5)) < 0.3
    s = np.round(rng.random((50, 5)), 1)  # ties
    keep = [j for j in range(5) if 0 < y[:, j].sum() < 50]
    assert audit.macro_roc_auc(y, s) == pytest.approx(np.mean([roc_auc_score(y[:, j], s[:, j]) for j in keep]))
    assert audit.macro_average_precision(y, s) == pytest.approx(
        np.mean([average_precision_score(y[:, j], s[:, j]) for j in range(5) if y[:, j].any()]))
    labels = rng.integers(0, 3, 60)
    good = np.eye(3)[labels] * 0.8 + 0.1
    ci = audit.bootstrap_ci("genre", labels, good, n_boot=200)
    assert ci["value"] == 1.0 and ci["low"] == 1.0
    noisy = rng.random((60, 3))
    ci = audit.bootstrap_ci("genre", labels, noisy, n_boot=300)
    assert ci["low"] < ci["value"] < ci["high"]
    m = audit.mcnemar([True] * 10 + [False] * 2, [False] * 10 + [True] * 2)
    assert (m["b"], m["c"]) == (10, 2) and m["p"] == pytest.approx(0.0386, abs=1e-3)
    pb = audit.paired_bootstrap("genre", labels, good, noisy, n_boot=300)
    assert pb["difference"] > 0 and pb["low"] > 0 and pb["p"] < 0.01
    assert audit.flip_rate(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]), "genre") == 0.5
    assert audit.flag(0.2, 0.05, 0.15) == "fail" and audit.flag(0.1, 0.05, 0.15) == "warn"
    assert audit.flag(0.0, 0.05, 0.15) == "pass" and audit.flag(float("nan"), 0.05, 0.15) == "not run"


def test_tag_adversary_removes_the_top_tag_under_the_snr_bound():
    model, meta = pretrained.load("k2c2-embedded")
    clip = open_split(TAGGED, sample_rate=12000, progress=False).items[0].path
    from kerasmgr.data.audio import load_audio

    x = load_audio(clip, 12000)
    view = adversary.SpectralView(model)
    top = int(np.argmax(view.posteriors(x)))
    r = adversary.tag_adversary(view, x, top, direction="down", snr=30.0, max_iter=10)
    assert r.objective == "down" and r.snr_spectral_db >= 30.0 - 1e-3
    assert r.success == bool(r.audio_posteriors[top] < 0.5)
    up = adversary.tag_adversary(view, x, int(np.argmin(view.posteriors(x))), direction="up", domain="waveform",
                                 snr=40.0, max_iter=3)
    assert up.snr_time_db >= 40.0 - 1e-3 and up.objective == "up"
    genre = models.build("dnn", n_outputs=3, n_units=8)
    with pytest.raises(ValueError, match="sigmoid"):
        adversary.tag_adversary(genre, make_signal("mix", 22050, 1.0), 0)


@pytest.fixture(scope="module")
def tagger_audit(tmp_path_factory):
    out = tmp_path_factory.mktemp("audit")
    return out, run_audit("k2c2-embedded", out, TAGGED, **FAST)


def test_audit_of_a_tagger_writes_the_report_and_resumes(tagger_audit):
    out, r = tagger_audit
    for f in ("index.html", "audit.json", "per_tag_auc.png", "transformations.png", "adversarial.png",
              "sections/performance.json", "sections/transformations.json"):
        assert (out / f).is_file(), f
    saved = json.loads((out / "audit.json").read_text())
    tests = [v["test"] for v in saved["verdicts"]]
    assert tests[0] == "performance" and "transform: mp3" in tests and "adversarial" in tests
    assert {v["flag"] for v in saved["verdicts"]} <= {"pass", "warn", "fail", "not run", "info"}
    rows = saved["sections"]["transformations"]["rows"]
    assert {r["transform"] for r in rows} == set(FAST["transforms"])
    assert all(0 <= r["flip_rate"] <= 1 for r in rows)
    assert saved["sections"]["adversarial"]["what"] == "top tag kept"
    leak = next(v for v in saved["verdicts"] if v["test"] == "split leakage")
    assert leak["flag"] == "not run" and "--with-splits" in leak["sentence"]
    page = (out / "index.html").read_text()
    for src in [s.split('"')[0] for s in page.split('src="')[1:]]:
        assert (out / src).is_file(), src  # every image and audio file the page names exists
    assert "http://" not in page and "https://" not in page  # no network
    # resumable: finished sections are kept (not recomputed) when run again with the same settings
    before = (out / "sections" / "transformations.json").read_text()
    again = run_audit("k2c2-embedded", out, TAGGED, **FAST)
    assert json.loads(before)["rows"] == again["sections"]["transformations"]["rows"]
    assert again["timings"]["transformations"] == pytest.approx(r["timings"]["transformations"])


def test_audit_of_a_genre_model_with_a_comparison_and_bad_input(tmp_path, monkeypatch):
    keras.utils.set_random_seed(0)
    a, b = models.build("dnn", n_outputs=8, n_units=16), models.build("dnn", n_outputs=8, n_units=16)
    data = DataSelection(dataset_kwargs=SMALL)
    monkeypatch.setattr(sf, "available_formats", lambda: {})  # no lossy encoders in this libsndfile
    r = run_audit(a, tmp_path / "g", data, task="genre", compare=b, with_splits=True, responds=False,
                  **{**FAST, "limit": 6, "adversary_snrs": (20.0,)})
    v = {x["test"]: x for x in r["verdicts"]}
    assert v["transform: mp3"]["flag"] == "not run" and "MP3" in v["transform: mp3"]["sentence"]
    assert v["split leakage"]["flag"] == "not run" and "groups" in v["split leakage"]["sentence"]
    c = r["sections"]["comparison"]
    assert 0 <= c["mcnemar"]["p"] <= 1 and c["paired_bootstrap"]["low"] <= c["paired_bootstrap"]["high"]
    assert "McNemar" in (tmp_path / "g" / "index.html").read_text()
    # a model whose task cannot be inferred, without a sidecar
    inp = keras.Input((1024,))
    odd = keras.Model(inp, keras.layers.Dense(3, name="output")(keras.layers.Reshape((1024,))(inp)))
    with pytest.raises(ValueError, match="cannot infer the task"):
        run_audit(odd, tmp_path / "odd", data, **FAST)


def test_audit_cli(tmp_path):
    res = run_cli("audit.py", "--model", "k2c2-embedded", "--out", tmp_path / "c", "--limit", "2", "--transforms", "gain",
                  "--dataset-kwargs", "{clips_per_genre: 3, duration: 8.0}",
                  "--adversary-snrs", "--no-responds", "--bootstrap", "50")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "transform: gain" in res.stdout and "report:" in res.stdout
    bad = run_cli("audit.py", "--model", tmp_path / "missing.keras", "--out", tmp_path / "x")
    assert bad.returncode == 2 and "error:" in bad.stderr


def _chromium():
    for exe, drv in (("/usr/bin/chromium", "/usr/bin/chromedriver"),):
        if Path(exe).exists() and Path(drv).exists():
            return exe, drv
    return None


@pytest.mark.skipif(_chromium() is None, reason="Debian's chromium and chromium-driver are not installed "
                                                "(.ci/run installs them)")
def test_report_renders_in_headless_chromium(tagger_audit, tmp_path):
    selenium = pytest.importorskip("selenium", reason="selenium is a dev dependency (pip install -e '.[dev]')")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    out, _ = tagger_audit
    exe, drv = _chromium()
    opts = webdriver.ChromeOptions()
    opts.binary_location = exe
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1200,2400"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(drv), options=opts)  # the system driver: no download
    try:
        driver.get((out / "index.html").resolve().as_uri())
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete && i.naturalWidth > 0])")
        audio = driver.execute_script("return Array.from(document.querySelectorAll('audio')).map(a => a.getAttribute('src'))")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        driver.save_screenshot(str(tmp_path / "report.png"))
    finally:
        driver.quit()
    assert selenium.__version__
    assert images and all(ok for _, ok in images), images
    assert audio and all((out / a).is_file() for a in audio), audio
    assert errors == []
    assert (tmp_path / "report.png").stat().st_size > 10_000
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def test_adversary_cli_attacks_a_tagger(tmp_path):
    """bin/adversary.py on the released tagger: the top tag removed under the SNR bound, resumable
    (excerpts of at least one model input: 29 s)."""
    args = ["adversary.py", "--model", "k2c2-embedded", "--out", tmp_path / "adv", "--dataset-kwargs",
            "{clips_per_genre: 3, duration: 30.0}", "--limit", "1", "--iterations", "2", "--robustness-snrs", "30",
            "--domain", "spectral", "waveform", "--figures", "1", "--preset", "dnn-mgr"]
    res = run_cli(*args)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((tmp_path / "adv" / "summary.json").read_text())
    assert summary["direction"] == "down" and set(summary["domains"]) == {"spectral", "waveform"}
    assert summary["domains"]["spectral"]["snr_spectral_db"] >= 15.0 - 1e-3  # the default spectral bound
    rows = (tmp_path / "adv" / "report.csv").read_text().strip().split("\n")
    assert len(rows) == 1 + 2
    assert (tmp_path / "adv" / "robustness.png").is_file()
    again = run_cli(*args)  # finished excerpts are kept
    assert again.returncode == 0 and (tmp_path / "adv" / "report.csv").read_text().strip().split("\n") == rows
    named = run_cli("adversary.py", "--model", "k2c2-embedded", "--out", tmp_path / "up", "--dataset-kwargs",
                    "{clips_per_genre: 3, duration: 30.0}", "--limit", "1", "--iterations", "1", "--robustness-snrs",
                    "--tag", "guitar", "--direction", "up", "--no-audio", "--preset", "dnn-mgr")
    assert named.returncode == 0, named.stderr[-2000:]
    bad = run_cli("adversary.py", "--model", "k2c2-embedded", "--out", tmp_path / "bad", "--tag", "kazoo",
                  "--dataset-kwargs", "{clips_per_genre: 3, duration: 30.0}")
    assert bad.returncode == 2 and "kazoo" in bad.stderr


def test_split_leakage_retrains_on_a_random_and_an_artist_filtered_split(tmp_path):
    from kerasmgr.data import embedded

    root = embedded.make_gtzan_standin(tmp_path / "gtzan", artists_per_genre=3, excerpts_per_artist=2,
                                       excerpt_seconds=2.0, n_jobs=1, progress=False)
    keras.utils.set_random_seed(0)
    model = models.build("dnn", n_outputs=len(embedded.GENRES), n_units=8)
    pretrained.save(model, tmp_path / "dnn", {"model": "dnn", "task": "genre", "labels": list(embedded.GENRES),
                                              "sample_rate": 22050, "n_samples": 1024})
    data = DataSelection("gtzan", str(root), split="filtered")
    r = run_audit(tmp_path / "dnn.keras", tmp_path / "a", data, limit=4, transforms=["gain"], adversary_snrs=(),
                  responds=False, with_splits=True, n_boot=50, progress=False,
                  split_train={"epochs": 1, "segments_per_clip": 5, "model_kwargs": {"n_units": 8}})
    leak = r["sections"]["leakage"]
    assert set(leak["summaries"]) == {"audit-random", "audit-grouped"}
    assert (tmp_path / "a" / "splits" / "test_audit-grouped.txt").is_file()
    v = next(x for x in r["verdicts"] if x["test"] == "split leakage")
    assert v["flag"] in ("pass", "warn", "fail") and "artist-filtered" in v["sentence"]
    assert "Split leakage" in (tmp_path / "a" / "index.html").read_text()
