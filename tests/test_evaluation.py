"""Track-level aggregation and summaries against hand-computed examples; bin/evaluate.py."""

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from kerasmgr import evaluation
from kerasmgr.jobs import train as training

ROOT = Path(__file__).resolve().parents[1]


def test_aggregations_by_hand():
    # track 0 (true class 0): segments vote 1, 1, 0 but class 0 has the larger summed posterior
    t0 = np.array([[0.45, 0.55], [0.4, 0.6], [0.99, 0.01]])
    # track 1 (true class 1): every segment says 1
    t1 = np.array([[0.2, 0.8], [0.3, 0.7]])
    post = [t0, t1]
    mp = evaluation.aggregate(post, "max_probability")
    np.testing.assert_allclose(mp[0], [0.6133333, 0.3866667], rtol=1e-6)
    assert list(mp.argmax(1)) == [0, 1]
    mv = evaluation.aggregate(post, "majority_vote")
    assert list(mv.argmax(1)) == [1, 1]
    r = evaluation.evaluate_segments("genre", post, np.array([0, 1]), ["a", "b"])
    assert r["raw"]["accuracy"] == pytest.approx(3 / 5)  # segments: 0 wrong, 0 wrong, 0 right, 1, 1
    assert r["max_probability"]["accuracy"] == 1.0
    assert r["majority_vote"]["accuracy"] == 0.5
    assert r["majority_vote"]["confusion_matrix"] == [[0, 1], [0, 1]]


def test_majority_vote_tie_goes_to_the_larger_posterior_sum():
    post = [np.array([[0.9, 0.1], [0.4, 0.6]])]  # one vote each; class 0 sums to 1.3
    assert evaluation.aggregate(post, "majority_vote").argmax() == 0


def test_tagging_aggregation():
    post = [np.array([[0.9, 0.2], [0.7, 0.4]]), np.array([[0.1, 0.9]])]
    r = evaluation.evaluate_segments("tags", post, np.array([[1, 0], [0, 1]]), ["x", "y"])
    assert r["track"]["macro_roc_auc"] == 1.0 and r["track"]["n"] == 2
    assert r["raw"]["n"] == 3


def test_summarise_runs():
    runs = [{"max_probability": {"accuracy": 0.5}, "n": 3}, {"max_probability": {"accuracy": 0.7}, "n": 3}]
    s = evaluation.summarise_runs(runs)
    assert s["n_runs"] == 2
    assert s["mean"]["max_probability.accuracy"] == pytest.approx(0.6)
    assert s["std"]["max_probability.accuracy"] == pytest.approx(0.1)


def test_classification_table_layout():
    from kerasmgr.metrics import classification_metrics

    m = classification_metrics([0, 0, 1], np.eye(2)[[0, 1, 1]], ["blues", "jazz"])
    text = evaluation.format_classification_table(m, title="demo")
    lines = text.splitlines()
    assert lines[0] == "demo" and "recall" in lines[1] and lines[2].startswith("blues")
    assert "precision" in text and "F-score" in text and "accuracy 66.7 %" in text


@pytest.fixture(scope="module")
def genre_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return training.train(model="schindler_shallow", out=str(out), name="g", epochs=1, segments_per_clip=2,
                          verbose=0, dataset_kwargs=dict(clips_per_genre=3, duration=3.0))


def test_sidecar_describes_the_outputs(genre_run):
    meta = json.loads((genre_run.run_dir / "model.json").read_text())
    assert meta["task"] == "genre" and len(meta["labels"]) == 8 and meta["sample_rate"] == 22050
    assert meta["n_samples"] == 21388 and meta["frontend"]["kind"] == "mel"
    assert "accuracy" in meta["metrics"]


def test_evaluate_cli_on_a_saved_model(genre_run, tmp_path):
    proc = run_cli("evaluate.py", "--model", genre_run.model_path,
                   "--dataset-kwargs", json.dumps({"clips_per_genre": 3, "duration": 3.0}), "--out", tmp_path / "e")
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = json.loads((tmp_path / "e" / "metrics.json").read_text())
    assert set(m) >= {"raw", "max_probability", "majority_vote"}
    assert m["raw"]["n"] > m["max_probability"]["n"] == 8  # several segments per 3-s clip
    assert (tmp_path / "e" / "confusion_matrix.png").stat().st_size > 1000
    assert "precision" in (tmp_path / "e" / "table.txt").read_text()
    # same numbers as the training run's own test evaluation
    run_metrics = json.loads((genre_run.run_dir / "metrics.json").read_text())
    assert m["max_probability"]["accuracy"] == pytest.approx(run_metrics["accuracy"])
