"""A GTZAN-layout folder of generated music with two partitions' split lists, run through every
protocol: training with segment aggregation, evaluation, partition comparison with repeats, the
DNN-feature random forests and the MFCC+ZCR baseline."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
import yaml

from kerasmgr.data import embedded

ROOT = Path(__file__).resolve().parents[1]
N_PER_GENRE = 4


@pytest.fixture(scope="module")
def gtzan(tmp_path_factory):
    root = tmp_path_factory.mktemp("gtzan")
    for genre in embedded.GENRES:
        for i in range(N_PER_GENRE):
            y, _ = embedded.generate_clip(genre, embedded.clip_seed(42, genre, i), sr=22050, duration=6.0)
            path = root / "genres" / genre / f"{genre}.{i:05d}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, y, 22050)
    (root / "splits").mkdir()
    for name, order in (("stratified", [0, 1, 2, 3]), ("filtered", [3, 2, 1, 0])):
        for subset, pos in (("train", order[:2]), ("valid", order[2:3]), ("test", order[3:])):
            lines = [f"{g}/{g}.{i:05d}.wav" for g in embedded.GENRES for i in pos]
            (root / "splits" / f"{subset}_{name}.txt").write_text("\n".join(lines) + "\n")
    return root


def run(*args, timeout=900):
    proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def test_train_and_evaluate_on_a_partition(gtzan, tmp_path):
    out = run(ROOT / "bin/train.py", "--model", "schindler_shallow", "--dataset", "gtzan", "--data-root", gtzan,
              "--split", "filtered", "--epochs", "2", "--segments-per-clip", "3", "--learning-rate", "0.001",
              "--out", tmp_path, "--name", "s", "--verbose", "0")
    assert "test accuracy" in out
    m = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert m["n"] == 8 and m["aggregation"] == "max_probability"
    assert set(m["other_aggregations"]) == {"raw", "majority_vote"}
    assert m["other_aggregations"]["raw"]["n"] > 8  # several 0.93-s segments per 6-s clip
    ev = run(ROOT / "bin/evaluate.py", "--model", tmp_path / "s" / "model.keras", "--dataset", "gtzan",
             "--data-root", gtzan, "--split", "filtered", "--out", tmp_path / "ev")
    assert "precision" in ev and "F-score" in ev
    e = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert e["max_probability"]["accuracy"] == pytest.approx(m["accuracy"])


def test_compare_splits_trains_each_partition_with_repeats(gtzan, tmp_path):
    cfg = tmp_path / "dnn.yaml"
    cfg.write_text(yaml.safe_dump({"model": "dnn", "model_kwargs": {"n_units": 16}, "epochs": 1,
                                   "segments_per_clip": 20, "verbose": 0}))
    out = run(ROOT / "bin/evaluate.py", "--compare-splits", "stratified", "filtered", "--train-config", cfg,
              "--dataset", "gtzan", "--data-root", gtzan, "--repeats", "2", "--out", tmp_path / "cmp")
    assert "stratified" in out and "filtered" in out and "±" in out
    comp = json.loads((tmp_path / "cmp" / "comparison.json").read_text())
    assert comp["filtered"]["n_runs"] == 2 and "max-probability accuracy" in comp["stratified"]["headline_mean"]
    assert (tmp_path / "cmp" / "filtered" / "filtered-seed1" / "evaluation" / "table.txt").is_file()


def test_dnn_feature_protocol_on_the_partition(gtzan, tmp_path):
    out = run(ROOT / "bin/dnn_features.py", "--dataset", "gtzan", "--data-root", gtzan, "--split", "filtered",
              "--units", "16", "--variants", "RS", "RSD", "--epochs", "1", "--segments-per-clip", "20",
              "--trees", "10", "--out", tmp_path / "df")
    assert "ReLU+SGD+Dropout" in out and "MFCC+ZCR minimum-Mahalanobis baseline" in out
    rows = json.loads((tmp_path / "df" / "dnn_features.json").read_text())["rows"]
    assert len(rows) == 16  # 2 variants x 4 layers x 2 aggregations
