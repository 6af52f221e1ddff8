"""SVM transfer protocols: ranking of a known informative layer subset, protocols, splits."""

import numpy as np
import pytest

from conftest import run_cli
from kerasmgr import plots, transfer


def synthetic(n=150, informative=(2, 4), seed=0, n_classes=3, d=16, strength=0.7):
    """5 blocks of ``d`` dims; only the informative layers carry the class."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    centres = rng.standard_normal((n_classes, d))
    blocks = {}
    for k in range(1, 6):
        X = rng.standard_normal((n, d))
        if k in informative:
            X += centres[y] * strength
        blocks[f"L{k}"] = X
    return blocks, y


def test_layer_combinations():
    combos = transfer.layer_combinations()
    assert len(combos) == 31 and combos[0] == (1,) and combos[-1] == (1, 2, 3, 4, 5)
    names = [fs.name for fs in transfer.feature_sets((1, 2, 3, 4, 5), random=True, mfcc=True)]
    assert len(names) == 64 and "random 135" in names and names[-2:] == ["mfcc", "mfcc+12345"]


def test_search_ranks_the_informative_subset_first():
    blocks, y = synthetic()
    rows = transfer.run(blocks, y, protocols=("thesis",), n_folds=3, n_jobs=2, progress=False)
    assert transfer.rank(rows)[0]["feature_set"] == "24", transfer.results_table(rows)
    by = {r["feature_set"]: r["score"] for r in rows}
    for name, score in by.items():  # every set lacking layer 2 or 4 is strictly worse
        if not {"2", "4"} <= set(name):
            assert score < by["24"], name
    assert by["135"] < 0.5  # noise layers only: near chance (1/3)


def test_nested_is_not_more_optimistic_and_reports_fold_order():
    blocks, y = synthetic(n=90)
    small = {k: blocks[k] for k in ("L1", "L2")}
    rows = transfer.run(small, y, layers=(1, 2), protocols=("thesis", "nested"), n_folds=3, n_jobs=1,
                        progress=False)
    by = {(r["feature_set"], r["protocol"]): r for r in rows}
    for fs in ("1", "2", "12"):
        assert by[fs, "nested"]["score"] <= by[fs, "thesis"]["score"] + 0.05
        assert by[fs, "nested"]["outer_folds"] == "file order" and len(by[fs, "nested"]["params"]) == 3
    shuffled = transfer.run(small, y, layers=(1, 2), protocols=("nested",), n_folds=3, shuffle=True, n_jobs=1,
                            progress=False)
    assert shuffled[0]["outer_folds"] == "shuffled"


def test_groups_and_predefined_split_and_regression():
    blocks, y = synthetic(n=90)
    groups = np.arange(90) // 3  # three segments per recording
    splits = transfer.cv_splits(y, task="classification", n_folds=3, groups=groups)
    for tr, te in splits:
        assert not set(groups[tr]) & set(groups[te])
    split = np.array(["train"] * 60 + ["valid"] * 15 + ["test"] * 15)
    rows = transfer.run({"L1": blocks["L1"], "L2": blocks["L2"]}, y, layers=(1, 2), protocols=("thesis",),
                        subsets=split, n_jobs=1, progress=False)
    assert all(r["outer_folds"] == "predefined split" for r in rows)
    target = blocks["L2"][:, 0] * 2.0 + 0.1 * np.random.default_rng(1).standard_normal(90)
    reg = transfer.run({"L1": blocks["L1"], "L2": blocks["L2"]}, target, layers=(1, 2), protocols=("thesis",),
                       n_folds=3, n_jobs=1, progress=False)
    by = {r["feature_set"]: r for r in reg}
    assert by["2"]["metric"] == "r2" and by["2"]["score"] > 0.8 > by["1"]["score"]


def test_plot_and_table(tmp_path):
    blocks, y = synthetic(n=60)
    blocks = {"L1": blocks["L1"], "L2": blocks["L2"], "R1": blocks["L3"], "R2": blocks["L5"],
              "MFCC": np.random.default_rng(0).standard_normal((60, 6))}
    rows = transfer.run(blocks, y, layers=(1, 2), protocols=("thesis",), n_folds=3, n_jobs=1, progress=False)
    assert {r["kind"] for r in rows} == {"convnet", "random", "mfcc", "mfcc+convnet"}
    plots.save_figure(plots.transfer_figure(rows, transfer.rank(rows, "thesis")), tmp_path / "bars.png")
    assert (tmp_path / "bars.png").stat().st_size > 5000
    assert "mfcc+12" in transfer.results_table(rows)


def test_extract_then_transfer_end_to_end_on_the_embedded_dataset(tmp_path):
    import csv
    import json

    from kerasmgr.data.datasets import load_dataset

    kw = {"clips_per_genre": 3, "duration": 4.0}
    base = ["extract_features.py", "--dataset", "embedded", "--dataset-kwargs",
            json.dumps({**kw, "sample_rate": 22050}), "--subset", "all"]
    for extra, name in (([], "conv"), (["--mfcc"], "mfcc"), (["--random"], "random")):
        proc = run_cli(*base, *extra, "--out", tmp_path / f"{name}.npy")
        assert proc.returncode == 0, proc.stderr[-2000:]
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label"])
        for s in ("train", "valid", "test"):
            for it in load_dataset("embedded", subset=s, sample_rate=22050, progress=False, **kw).items:
                w.writerow([it.path, it.label])
    proc = run_cli("transfer.py", "--features", tmp_path / "conv.npy", "--mfcc", tmp_path / "mfcc.npy",
                   "--random", tmp_path / "random.npy", "--labels", tmp_path / "labels.csv", "--folds", "3",
                   "--out", tmp_path / "res")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads((tmp_path / "res" / "results.json").read_text())
    assert len(rows) == 2 * 64 and {r["protocol"] for r in rows} == {"thesis", "nested"}
    assert (tmp_path / "res" / "bars_thesis.png").stat().st_size > 5000
    assert "mfcc+12345" in (tmp_path / "res" / "table.txt").read_text()


def test_fold_kernels_keep_features_only_and_make_each_sets_kernels():
    """Per split only the scaled features are stored (memory independent of the number of
    folds, layers and sets); a set's kernels equal those of its concatenated features."""
    rng = np.random.default_rng(0)
    blocks = {"L1": rng.standard_normal((40, 3)), "L2": rng.standard_normal((40, 5))}
    fit, ev = np.arange(30), np.arange(30, 40)
    fk = transfer._FoldKernels(blocks, fit, ev, scales=(True, False))
    assert all(v.shape[0] == 40 and v.shape[1] in (3, 5) for v in fk.features.values())
    X = np.hstack([blocks["L1"], blocks["L2"]])
    mu, sd = X[:30].mean(0), X[:30].std(0)
    for scale, Z in ((False, X), (True, (X - mu) / sd)):
        keys = [("linear", None), ("rbf", 2.0 ** -5), ("rbf", 2.0 ** -3), ("rbf", 0.1)]
        D = ((Z[:, None, :] - Z[None, :30, :]) ** 2).sum(-1)
        for (kind, gamma), K in fk.kernels(("L1", "L2"), scale, keys):
            expected = Z @ Z[:30].T if kind == "linear" else np.exp(-gamma * D)
            np.testing.assert_allclose(K, expected, rtol=1e-9, atol=1e-12)


def test_only_named_feature_sets_are_evaluated():
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    blocks = {f"L{k}": rng.standard_normal((60, 4)) + 0.8 * rng.standard_normal((3, 4))[y] for k in (1, 2)}
    rows = transfer.run(blocks, y, layers=(1, 2), protocols=("thesis",), n_folds=3, progress=False, only=["12"])
    assert [r["feature_set"] for r in rows] == ["12"]
    with pytest.raises(ValueError, match="unknown feature set"):
        transfer.run(blocks, y, layers=(1, 2), protocols=("thesis",), n_folds=3, progress=False, only=["9"])
