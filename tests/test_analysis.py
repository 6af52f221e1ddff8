"""Label analysis (Eqs. 3.1, 3.2, 7.1), label noise, seed 003's measures, and the analysis CLIs."""

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from kerasmgr import activations, analysis

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "weights" / "k2c2-embedded.h5"
DATA = {"clips_per_genre": 3, "duration": 30.0, "sample_rate": 12000}


def test_co_occurrence_on_toy_labels():
    Y = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 1, 0]])
    C = analysis.co_occurrence(Y)
    # C(i, j) = #(y_i and y_j) / #y_i: rock (3 items) co-occurs with pop twice -> 2/3; pop (3) with rock -> 2/3
    np.testing.assert_allclose(C, [[1, 2 / 3, 1 / 3], [2 / 3, 1, 1 / 3], [1, 1, 1]])
    assert np.isnan(analysis.co_occurrence([[1, 0], [1, 0]])[1]).all()  # a tag that never occurs


def test_label_vector_similarity_and_ranking():
    W = np.array([[1.0, 0.9, 0.0], [0.0, 0.1, 1.0]])  # tags a and b point the same way, c elsewhere
    S = analysis.label_vector_similarity(W)
    np.testing.assert_allclose(S, [[1, 0.9, 0], [0.9, 0.82, 0.1], [0, 0.1, 1]])
    C = np.array([[1, 0.8, 0.1], [0.5, 1, 0.2], [0.05, 0.3, 1]])
    r = analysis.compare_lvs_nco(S, C, ["a", "b", "c"], k=1)
    assert r["top_lvs"][0][:2] == ("a", "b") and r["top_nco"][0][:2] == ("a", "b") and r["common"] == [["a", "b"]]
    assert r["pearson_of_rankings"] == pytest.approx(1.0)  # same order of the 3 pairs: ab > bc > ac


def test_equation_3_2_reproduces_table_3a():
    # thesis Table 3-A (MSD, T = 242,842): N+ and the error rates give column (f)
    T = 242842
    est = analysis.estimate_positive_count([8424, 17840, 3026, 3311], T, [0.06, 0.04, 0.02, 0.02],
                                           [0.12, 0.24, 0.64, 0.70])
    np.testing.assert_allclose(est, [36048, 71127, 156448, 170916], atol=1.0)


def test_bootstrap_intervals_cover_the_true_rates():
    rng = np.random.default_rng(0)
    truth = (rng.random((600, 4)) < [0.2, 0.4, 0.5, 0.6]).astype(int)
    missing = np.array([0.1, 0.3, 0.5, 0.2])
    G, A = analysis.simulate_annotation(truth, missing=missing, false=0.0, seed=1)
    rows = analysis.label_noise(G, A, list("abcd"), n_boot=500)
    for r, m in zip(rows, missing):
        assert r["recall_low"] <= 1 - m <= r["recall_high"], r
        assert r["precision"] == 1.0 and r["error_rate_positive"] == 0.0
        true_share = A[:, "abcd".index(r["tag"])].mean()
        assert r["error_rate_negative_low"] <= r["error_rate_negative"] <= r["error_rate_negative_high"]
        assert r["estimated_positive_low"] / 600 <= true_share <= r["estimated_positive_high"] / 600


def test_activation_correlations():
    rng = np.random.default_rng(0)
    f = rng.random(50)
    A = np.stack([f * 3 + 1, -f, rng.random(50), np.ones(50)], 1)
    r = activations.activation_correlations(A, {"x": f})["x"]
    np.testing.assert_allclose(r["pearson"][:2], [1, -1], atol=1e-12)
    assert abs(r["pearson"][2]) < 0.5 and np.isnan(r["pearson"][3])
    assert r["l2"][0] == pytest.approx(0.0, abs=1e-12) and r["l2"][1] > r["l2"][0]


def test_sift_similarity_of_a_map_with_itself_beats_noise():
    rng = np.random.default_rng(0)
    t = np.arange(200)[:, None]
    f = np.arange(96)[None, :]
    m = np.sin(t / 7.0) * np.cos(f / 5.0) + (np.abs(f - 40 - 10 * np.sin(t / 20.0)) < 3)  # structured "map"
    same = activations.sift_similarity(m, m)
    noise = activations.sift_similarity(m, rng.random((200, 96)))
    assert same["similarity"] > 0.5 and same["similarity"] > noise["similarity"] + 0.3
    assert activations.sift_similarity(m, np.zeros((10, 10)))["similarity"] == 0.0  # no keypoints


def test_hand_crafted_features():
    sr = 12000
    y = np.zeros(sr * 4, np.float32)
    y[:: sr // 2] = 1.0  # two clicks per second
    assert activations.onset_rate(y, sr) == pytest.approx(2.0, abs=0.5)
    assert activations.mean_loudness(2 * y) == pytest.approx(2 ** 1.34 * activations.mean_loudness(y), rel=1e-6)
    maps = activations.reference_maps(np.random.default_rng(0).standard_normal(sr * 2).astype(np.float32), sr)
    assert maps["harmonic"].shape[1] == 128 and maps["chroma"].shape[1] == 12


def _run(script, *args):
    res = run_cli(script, *args)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def test_analyse_subcommands_on_the_embedded_model(tmp_path):
    kw = json.dumps(DATA)
    out = _run(ROOT / "bin" / "analyse.py", "labels", "--model", MODEL, "--dataset-kwargs", kw, "--out", tmp_path / "l")
    assert "Pearson correlation" in out
    for f in ("cooccurrence.csv", "cooccurrence.png", "lvs.csv", "lvs.png", "top_pairs.csv", "comparison.json"):
        assert (tmp_path / "l" / f).is_file(), f
    _run(ROOT / "bin" / "analyse.py", "label-noise", "--simulate", "--dataset-kwargs", kw, "--bootstrap", "200",
         "--out", tmp_path / "n")
    for f in ("label_noise.csv", "label_noise.txt", "label_noise.png", "ground_truth.csv", "annotation.csv"):
        assert (tmp_path / "n" / f).is_file(), f
    # the CSV route on the files the simulation wrote
    _run(ROOT / "bin" / "analyse.py", "label-noise", "--ground-truth", tmp_path / "n" / "ground_truth.csv",
         "--annotation", tmp_path / "n" / "annotation.csv", "--bootstrap", "100", "--out", tmp_path / "n2")
    _run(ROOT / "bin" / "analyse.py", "activations", "--model", MODEL, "--dataset-kwargs", kw, "--limit", "6",
         "--map-clips", "1", "--conv-layers", "1", "--out", tmp_path / "a")
    report = json.loads((tmp_path / "a" / "report.json").read_text())
    assert report["n_clips"] == 6 and "onset_rate" in report["dense"]["embedding"]
    assert report["maps"]["pool1"]["harmonic"][0]["similarity"] >= 0
    for f in ("correlations.csv", "sift.csv", "sift_histograms.png", "correlations.png", "clip_features.csv"):
        assert (tmp_path / "a" / f).is_file(), f


def test_auralise_cli(tmp_path, signal):
    import soundfile as sf

    sf.write(tmp_path / "clip.wav", signal("mix", 12000, 30.0), 12000)
    out = _run(ROOT / "bin" / "auralise.py", "--model", MODEL, "--audio", tmp_path / "clip.wav", "--layer", "1",
               "--layer", "3", "--top", "2", "--out", tmp_path / "au")
    assert "conv5" in out  # Table 7-A for the whole model
    wavs = sorted(p.name for p in (tmp_path / "au" / "wav").glob("*.wav"))
    assert len(wavs) == 4 and wavs[0].startswith("layer1_feature")
    for f in ("deconvolved.png", "original.wav", "receptive_fields.txt", "receptive_fields.json", "summary.json"):
        assert (tmp_path / "au" / f).is_file(), f
    res = run_cli("auralise.py", "--model", MODEL, "--audio", tmp_path / "missing.wav", "--out", tmp_path / "x")
    assert res.returncode == 2 and "missing.wav" in res.stderr
