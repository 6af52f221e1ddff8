"""The seeds' protocol options: training subsets and repeats, fixed segments, model selection,
schedules, split lists, LMD, texture windows, baselines, the re-annotation statistics, the
deployed system under attack, the thesis' SVM grid and legacy batch normalisation."""

import csv
import json

import keras
import numpy as np
import pytest
import soundfile as sf

import kerasmgr  # noqa: F401  (registers the layers)
from conftest import run_cli
from kerasmgr import adversary, analysis, dnn_features, training, transfer
from kerasmgr.data.selection import DataSelection
from kerasmgr.data.splits import LMD_PROPORTIONS, SCHINDLER_PROPORTIONS
from kerasmgr.jobs import attack
from kerasmgr.jobs.train import train as train_run
from kerasmgr.data import datasets, embedded
from kerasmgr.data.pipeline import ClipStore, training_dataset
from kerasmgr.data.windows import fixed_windows
from kerasmgr.layers import LegacyBatchNorm
from kerasmgr.optimizers import EpochExponentialDecay

SMALL = dict(clips_per_genre=5, duration=3.0)


# ------------------------------------------------------------------------------ training data
def test_train_fraction_is_nested_and_seed_free():
    ds = datasets.Dataset("x", "", "train", [datasets.Item(f"f{i}.wav", "a") for i in range(100)], ["a"])
    small, big = training.fraction_of(ds, 0.16), training.fraction_of(ds, 0.32)
    assert len(small.items) == 16 and len(big.items) == 32
    assert {it.path for it in small.items} <= {it.path for it in big.items}
    assert training.fraction_of(ds, 0.16).items == small.items  # no dependence on a run's seed
    assert training.fraction_of(ds, 1.0) is ds
    with pytest.raises(ValueError, match="train_fraction"):
        training.resolve_config(train_fraction=0.0)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        p = root / f"c{i}.wav"
        sf.write(p, (0.1 * rng.standard_normal(8000)).astype(np.float32), 8000)
        paths.append(str(p))
    return ClipStore(paths, 8000, progress=False)


def _epochs(ds, steps, n_epochs):
    it = iter(ds)
    return [np.concatenate([next(it)[0].numpy() for _ in range(steps)]) for _ in range(n_epochs)]


def test_fixed_segments_are_drawn_once_and_reused(clips):
    targets = np.zeros(len(clips), dtype=np.int64)
    fixed, steps = training_dataset(clips, targets, 1000, segments_per_clip=4, batch_size=4, seed=3,
                                    fixed_segments=True)
    e1, e2 = _epochs(fixed, steps, 2)
    # the same 12 windows every epoch (in another order)
    assert sorted(map(lambda w: w.tobytes(), e1)) == sorted(map(lambda w: w.tobytes(), e2))
    free, _ = training_dataset(clips, targets, 1000, segments_per_clip=4, batch_size=4, seed=3)
    f1, f2 = _epochs(free, steps, 2)
    assert sorted(map(lambda w: w.tobytes(), f1)) != sorted(map(lambda w: w.tobytes(), f2))
    # evaluation windows: drawn once per clip, the same at every call, keyed by seed and clip
    a = fixed_windows(clips.get(0), 1000, 15, seed=3, clip_index=0)
    assert a.shape == (15, 1000) and np.array_equal(a, fixed_windows(clips.get(0), 1000, 15, seed=3, clip_index=0))
    assert not np.array_equal(a, fixed_windows(clips.get(0), 1000, 15, seed=4, clip_index=0))


def test_epoch_exponential_decay_counts_epochs_and_round_trips():
    s = EpochExponentialDecay(5e-5, steps_per_epoch=50, decay_epochs=3000, decay_rate=0.9)
    assert float(s(0)) == pytest.approx(5e-5) and float(s(49)) == pytest.approx(5e-5)  # constant within an epoch
    assert float(s(50)) == pytest.approx(5e-5 * 0.9 ** (1 / 3000))
    assert float(s(50 * 3000)) == pytest.approx(5e-5 * 0.9, rel=1e-5)
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(s))
    assert float(again(777)) == pytest.approx(float(s(777)))
    cfg = training.resolve_config(model="schindler_shallow", lr_decay_rate=0.9, lr_decay_steps=3000,
                                  lr_decay_unit="epoch", learning_rate=5e-5)
    sched = training.make_optimizer(cfg, 50)._learning_rate
    assert isinstance(sched, EpochExponentialDecay) and sched.steps_per_epoch == 50
    step = training.make_optimizer(training.resolve_config(lr_decay_rate=0.9, lr_decay_steps=3000), 50)._learning_rate
    assert isinstance(step, keras.optimizers.schedules.ExponentialDecay)
    with pytest.raises(ValueError, match="lr_decay_unit"):
        training.resolve_config(lr_decay_unit="batch")


# ------------------------------------------------------------------------- split lists, LMD
@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    return embedded.make_gtzan_standin(tmp_path_factory.mktemp("gtzan"), artists_per_genre=4, excerpts_per_artist=2,
                                       excerpt_seconds=2.0, progress=False)


def test_schindler_split_lists_750_0_250(standin, tmp_path):
    parts = datasets.write_split_lists(standin / "genres", tmp_path, "schindler",
                                       proportions=SCHINDLER_PROPORTIONS, seed=0)
    n = {k: len(v) for k, v in parts.items()}
    assert n == {"train": 48, "valid": 0, "test": 16}  # 8 per genre: 6 / 0 / 2
    assert (tmp_path / "valid_schindler.txt").read_text() == ""
    test = datasets.load_dataset("gtzan", standin, subset="test", split="schindler", split_dir=tmp_path)
    assert len(test) == 16 and len(datasets.load_dataset("gtzan", standin, subset="valid", split="schindler",
                                                         split_dir=tmp_path)) == 0
    again = datasets.write_split_lists(standin / "genres", tmp_path / "b", "schindler",
                                       proportions=SCHINDLER_PROPORTIONS, seed=0)
    assert again == parts  # seeded


def test_select_last_trains_without_validation_and_early_stopping_needs_it(standin, tmp_path):
    datasets.write_split_lists(standin / "genres", tmp_path / "s", "schindler",
                               proportions=SCHINDLER_PROPORTIONS, seed=0)
    kw = dict(model="schindler_shallow", dataset="gtzan", data_root=str(standin), split="schindler",
              split_dir=str(tmp_path / "s"), out=str(tmp_path / "runs"), epochs=2, batch_size=15, segments_per_clip=3,
              fixed_segments=True, select="last", early_stopping=0, verbose=0, backup=False)
    r = train_run(name="last", **kw)
    assert r.metrics["selection"] == "last" and r.metrics["best_epoch"] == 2
    assert r.metrics["other_aggregations"]["raw"]["n"] == 16 * 3  # the same 3 fixed segments per test track
    with pytest.raises(ValueError, match="validation"):
        train_run(name="es", **{**kw, "early_stopping": 2})


def test_lmd_loader_reads_the_first_seconds_and_artist_filtered_lists(tmp_path):
    root = embedded.make_lmd_standin(tmp_path / "lmd", song_seconds=4.0, progress=False)
    assert len(list(root.glob("*/*.mp3"))) == 8 * 3 * 2
    artists = datasets.read_artist_table(root / "artists.csv")
    parts = datasets.write_split_lists(root, tmp_path / "splits", "artist", proportions=LMD_PROPORTIONS,
                                       artists=root / "artists.csv")
    sides = {}
    for subset, files in parts.items():
        for f in files:
            sides.setdefault(artists[f], set()).add(subset)
    assert all(len(s) == 1 for s in sides.values())  # no artist on two sides
    ds = datasets.load_dataset("lmd", root, subset="train", split="artist", split_dir=tmp_path / "splits",
                               seconds=2.5)
    store = ClipStore([it.path for it in ds.items[:2]], 22050, max_seconds=ds.max_seconds, progress=False)
    assert abs(len(store.get(0)) - 2.5 * 22050) <= 1
    with pytest.raises(datasets.DatasetError, match="artist"):
        datasets.write_split_lists(root, tmp_path / "x", "bad", artists={"nope.mp3": "a"})
    (tmp_path / "bad.csv").write_text("file,who\nx,y\n")
    with pytest.raises(datasets.DatasetError, match="'path' and 'artist'"):
        datasets.read_artist_table(tmp_path / "bad.csv")


# ------------------------------------------------------------------- Kereliuk et al.'s systems
def test_texture_windows_and_the_mfcc_forest_baseline():
    class FE:
        sample_rate, hop_length = 22050, 512

    assert dnn_features.texture_window(FE()) == (215, 107)  # 5 s hopped by 50 %
    assert dnn_features.texture_window(FE(), None) == (200, 100)  # dnn-mgr's code
    rng = np.random.default_rng(0)
    sr = 22050
    t = np.arange(6 * sr) / sr
    clips = [0.3 * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(len(t)) for f in (220, 230, 880, 900)]
    m = dnn_features.baseline_experiment(clips[::2], [0, 1], clips[1::2], [0, 1], ["low", "high"],
                                         classifier="forest", n_estimators=20, progress=False)
    assert m["accuracy"] == 1.0
    with pytest.raises(ValueError, match="classifier"):
        dnn_features.baseline_experiment(clips, [0] * 4, clips, [0] * 4, ["a"], classifier="svm")


def test_binomial_test_against_chance():
    from scipy.stats import binom

    assert adversary.binomial_p(5, 10, 10) == pytest.approx(binom.sf(4, 10, 0.1))
    assert adversary.binomial_p(1, 10, 10) > 0.5 and adversary.binomial_p(10, 10, 10) < 1e-9


def test_deployed_forest_classifies_adversarial_audio(tmp_path):
    r = train_run(model="dnn", out=str(tmp_path), name="dnn", epochs=2, segments_per_clip=50, verbose=0,
                       model_kwargs={"n_units": 20}, dataset_kwargs=SMALL, backup=False)
    model = keras.models.load_model(r.model_path, compile=False)
    train = datasets.load_dataset("embedded", subset="train", sample_rate=22050, progress=False, **SMALL)
    store = ClipStore([it.path for it in train.items], 22050, progress=False)
    y = train.targets("genre")[store.index]
    forest = dnn_features.FeatureForest(model, n_estimators=10, texture_seconds=1.0).fit(list(store), y)
    assert 0 <= forest.predict_clip(store.get(0)) < 8
    s = attack.attack_dataset(model, tmp_path / "adv", DataSelection(dataset_kwargs=SMALL), limit=3, robustness_snrs=(),
                              figures=0, write_audio=False, max_iter=3, deployed=forest, progress=False,
                                 **adversary.PRESETS["seed"])
    rows = list(csv.DictReader(open(tmp_path / "adv" / "report.csv")))
    assert all(r["deployed_original_pred"] and r["deployed_adv_pred"] for r in rows)
    d = s["deployed"]
    assert d["original"]["n"] == 3 and 0 <= d["adversarial"]["binomial_p"] <= 1
    assert s["settings"]["momentum"] is False and s["settings"]["griffin_lim"] is True
    # the ensemble table: every label for each excerpt
    res = run_cli("adversary.py", "--model", r.model_path, "--out", tmp_path / "ens", "--ensemble", "--limit", "1",
                  "--iterations", "2", "--dataset-kwargs", json.dumps(SMALL))
    assert res.returncode == 0, res.stderr[-2000:]
    rows = list(csv.DictReader(open(tmp_path / "ens" / "ensemble.csv")))
    assert len(rows) == 8 and len({r["target"] for r in rows}) == 8
    assert "| excerpt (true) |" in (tmp_path / "ens" / "ensemble.md").read_text()


# ----------------------------------------------------------------------- thesis ch.3, ch.6
def test_reannotation_aucs_rho_and_popularity():
    G = np.array([[1, 0], [0, 1], [1, 1], [0, 0]])
    A = np.array([[1, 0], [1, 1], [1, 1], [0, 0]])
    S = np.array([[0.9, 0.1], [0.8, 0.7], [0.7, 0.8], [0.1, 0.2]])
    rows = analysis.reannotation_aucs(S, G, A, ["x", "y"])
    assert rows[0]["auc_annotation"] == 1.0 and rows[0]["auc_ground_truth"] == 0.75
    assert rows[0]["recall"] == pytest.approx(2 / 3)
    rel = analysis.evaluation_reliability([0.7, 0.8, 0.9], [0.6, 0.7, 0.8], [0.80, 0.85, 0.86])
    rho2 = np.corrcoef([0.6, 0.7, 0.8], [0.80, 0.85, 0.86])[0, 1]
    assert rel["rho1"] == pytest.approx(1.0) and rel["rho2"] == pytest.approx(rho2)
    assert np.isnan(analysis.evaluation_reliability([0.7, 0.8], [0.6, 0.7])["rho1"])  # too few experiments
    assert analysis.popularity_spearman([10, 20, 30, 40], [0.9, 0.8, 0.7, 0.6]) == pytest.approx(-1.0)


def test_reliability_cli(tmp_path):
    tags = ["a", "b"]
    rng = np.random.default_rng(1)
    G = rng.integers(0, 2, (30, 2))
    A = np.maximum(G, rng.integers(0, 2, (30, 2)))

    def write(name, M):
        with open(tmp_path / name, "w") as f:
            f.write("id," + ",".join(tags) + "\n")
            for i, row in enumerate(M):
                f.write(f"t{i}," + ",".join(str(v) for v in row) + "\n")

    write("gt.csv", G)
    write("ann.csv", A)
    for k in range(3):
        write(f"s{k}.csv", np.round(A * 0.2 * (k + 1) + rng.random((30, 2)), 3))
    r = run_cli("analyse.py", "reliability", "--ground-truth", tmp_path / "gt.csv", "--annotation", tmp_path / "ann.csv",
                "--scores", *(tmp_path / f"s{k}.csv" for k in range(3)), "--all-auc", "0.8", "0.82", "0.85",
                "--out", tmp_path / "rel")
    assert r.returncode == 0, r.stderr
    out = json.loads((tmp_path / "rel" / "reliability.json").read_text())
    assert np.isfinite(out["rho1"]) and np.isfinite(out["rho2"]) and (tmp_path / "rel" / "reliability.png").is_file()


def test_thesis_grid_has_no_scaling_axis():
    assert {g[3] for g in transfer._grid(32, transfer.GRIDS["thesis"])} == {False}
    assert len(transfer._grid(32, transfer.GRIDS["extended"])) == 2 * len(transfer._grid(32, transfer.GRIDS["thesis"]))
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 12)
    blocks = {f"L{k}": rng.standard_normal((24, 4)) + y[:, None] * k for k in (1, 2)}
    rows = transfer.run(blocks, y, layers=(1, 2), protocols=("thesis",), n_folds=3, progress=False)
    assert all(r["params"]["scaler"] is False for r in rows)
    ext = transfer.run(blocks, y, layers=(1, 2), protocols=("thesis",), n_folds=3, progress=False, grid="extended")
    assert all(e["score"] >= r["score"] - 1e-12 for e, r in zip(ext, rows))  # a superset grid never scores lower
    with pytest.raises(ValueError, match="grid"):
        transfer.run(blocks, y, layers=(1, 2), protocols=("thesis",), n_folds=3, progress=False, grid="mine")


def test_feature_crop_start_takes_the_first_window():
    from kerasmgr import models
    from kerasmgr.features import FeatureExtractor

    ext = FeatureExtractor(models.build("k2c2", n_outputs=2), layers="1", crop="start")
    y = np.arange(ext.n_samples + 1000, dtype=np.float32)
    assert ext.windows_of(y)[0, 0] == 0.0
    centre = FeatureExtractor(models.build("k2c2", n_outputs=2), layers="1")
    assert centre.windows_of(y)[0, 0] == 500.0
    with pytest.raises(ValueError, match="crop"):
        FeatureExtractor(models.build("k2c2", n_outputs=2), layers="1", crop="end")


# ------------------------------------------------------------------- legacy batch normalisation
def test_legacy_batch_norm_readings():
    x = np.array([[[1.0, 2.0], [3.0, 4.0]]], dtype=np.float32)
    w = [np.array([2.0, 1.0]), np.array([0.5, 0.0]), np.array([1.0, 1.0]), np.array([4.0, 0.25])]
    std = LegacyBatchNorm(axis=-1)
    var = LegacyBatchNorm(axis=-1, epsilon=1e-5, reading="variance")
    for layer in (std, var):
        layer.build(x.shape)
        layer.set_weights([np.asarray(v, np.float32) for v in w])
    np.testing.assert_allclose(std(x), np.array([2.0, 1.0]) * (x - 1) / (np.array([4.0, 0.25]) + 1e-6)
                               + np.array([0.5, 0.0]), rtol=1e-5)
    np.testing.assert_allclose(var(x), np.array([2.0, 1.0]) * (x - 1) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
                               + np.array([0.5, 0.0]), rtol=1e-5)
    assert LegacyBatchNorm.from_config(var.get_config()).reading == "variance"
    with pytest.raises(ValueError, match="reading"):
        LegacyBatchNorm(reading="mean")


# ----------------------------------------------------------------------- bugs (issue 18's list)
def test_unconstrained_waveform_adversary_and_clear_errors(tmp_path):
    from kerasmgr import models
    from kerasmgr.data.audio import AudioError, load_audio

    model = models.build("dnn", n_outputs=3, n_units=8)
    x = (0.1 * np.random.default_rng(0).standard_normal(22050)).astype(np.float32)
    r = adversary.waveform_adversary(model, x, 1, snr=None, max_iter=2)  # no SNR bound: no TypeError
    assert r.audio.shape == x.shape and np.abs(r.audio).max() <= 1.0
    fake = tmp_path / "song.mp3"
    fake.write_text("this is text, not audio\n")
    with pytest.raises(AudioError, match="not a decodable audio file") as e:
        load_audio(fake, 22050)
    assert "does not exist" not in str(e.value)
    folder = tmp_path / "folder"
    for c in ("a", "b"):
        (folder / c).mkdir(parents=True)
        for i in range(3):
            sf.write(folder / c / f"{i}.wav", (0.1 * np.random.default_rng(i).standard_normal(8000)), 8000)
    with pytest.raises(ValueError, match="pass --task genre"):
        train_run(model="k2c2", dataset="folder", data_root=str(folder), out=str(tmp_path / "r"), epochs=1,
                       verbose=0)
