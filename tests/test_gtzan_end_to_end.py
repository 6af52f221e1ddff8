"""A GTZAN-layout folder of generated music with two partitions' split lists, run through every
protocol: training with segment aggregation, evaluation, partition comparison with repeats, the
DNN-feature random forests and the MFCC+ZCR baseline."""

import json
from pathlib import Path

import pytest
import soundfile as sf
import yaml

from conftest import run_cli
from kerasmgr.data import embedded
from kerasmgr.data.datasets import load_dataset

ROOT = Path(__file__).resolve().parents[1]
N_PER_GENRE = 4


@pytest.fixture(scope="module")
def gtzan(tmp_path_factory):
    """The generated GTZAN stand-in (.au files, dnn-mgr-style lists naming .wav): 4 one-excerpt
    artists per genre, so both partitions are 2/1/1 per genre."""
    return embedded.make_gtzan_standin(tmp_path_factory.mktemp("gtzan"), artists_per_genre=N_PER_GENRE,
                                       excerpts_per_artist=1, excerpt_seconds=6.0, progress=False)


def test_standin_layout_and_partitions(tmp_path):
    root = embedded.make_gtzan_standin(tmp_path, artists_per_genre=4, excerpts_per_artist=2, excerpt_seconds=1.0,
                                       sample_rate=8000, n_jobs=1, progress=False)
    files = sorted((root / "genres").rglob("*.au"))
    assert len(files) == len(embedded.GENRES) * 8
    info = sf.info(files[0])
    assert (info.samplerate, info.channels, info.format, info.frames) == (8000, 1, "AU", 8000)
    artist = {r.split(",")[0]: r.split(",")[2] for r in (root / "artists.csv").read_text().split()[1:]}
    for name in ("stratified", "filtered"):
        parts = {s: (root / "splits" / f"{s}_{name}.txt").read_text().split() for s in ("train", "valid", "test")}
        assert sorted(sum(parts.values(), [])) == sorted(artist)  # a partition of every file
        assert [len(parts[s]) for s in ("train", "valid", "test")] == [32, 16, 16]
        sides = {}
        for s, rels in parts.items():
            for r in rels:
                sides.setdefault(artist[r], set()).add(s)
        straddling = sum(len(v) > 1 for v in sides.values())
        if name == "filtered":
            assert straddling == 0
        else:
            assert straddling > 0  # the artist effect the filtered partition removes
    ds = load_dataset("gtzan", root, subset="test", split="filtered")
    assert len(ds) == 16 and ds.items[0].path.endswith(".au")


def run(script, *args):
    proc = run_cli(script, *args)
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
