"""Short training runs on tiny generated sets: every artifact of a run folder."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml

from conftest import run_cli
from kerasmgr import training
from kerasmgr.jobs.train import train
from kerasmgr.data import embedded

ROOT = Path(__file__).resolve().parents[1]


def event_tags(folder):
    """{tag: plugin name} over all TensorBoard event files below ``folder``."""
    tags = {}
    for f in Path(folder).rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(f)):
            for v in event.summary.value:
                tags[(f.parent.name, v.tag)] = v.metadata.plugin_data.plugin_name
    return tags


@pytest.fixture(scope="module")
def tagging_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return train(model="k2c2", out=str(out), name="tiny", epochs=2, batch_size=8, verbose=0,
                          dataset_kwargs=dict(clips_per_genre=3, duration=30.0))


def test_tagging_run_writes_every_artifact(tagging_run):
    d = tagging_run.run_dir
    for name in ("model.keras", "model.h5", "config.yaml", "history.csv", "metrics.json"):
        assert (d / name).is_file(), name
    m = json.loads((d / "metrics.json").read_text())
    assert m["task"] == "tags" and 0.0 <= m["macro_roc_auc"] <= 1.0
    assert set(m["per_tag"]) == set(embedded.TAGS)
    assert m["best_epoch"] in (1, 2)
    history = (d / "history.csv").read_text().splitlines()
    assert len(history) == 3 and "val_auc" in history[0] and "learning_rate" in history[0]
    cfg = yaml.safe_load((d / "config.yaml").read_text())
    assert cfg["model"] == "k2c2" and cfg["task"] == "tags" and cfg["epochs"] == 2


def test_tagging_run_tensorboard_tags(tagging_run):
    tags = event_tags(tagging_run.run_dir / "logs")
    for split, tag in [("train", "epoch_loss"), ("train", "epoch_auc"), ("train", "epoch_learning_rate"),
                       ("validation", "epoch_loss"), ("validation", "epoch_auc")]:
        assert tags.get((split, tag)) == "scalars", (split, tag)
    assert tags.get(("images", "input_spectrogram")) == "images"
    assert tags.get(("images", "conv1/kernel")) == "histograms"
    assert tags.get(("images", "output/bias")) == "histograms"


def test_saved_models_agree_and_load_without_custom_objects(tagging_run):
    d = tagging_run.run_dir
    a = keras.models.load_model(d / "model.keras", compile=False)
    b = keras.models.load_model(d / "model.h5", compile=False)
    x = np.random.default_rng(0).standard_normal((1, 348000)).astype("float32") * 0.1
    np.testing.assert_array_equal(a.predict(x, verbose=0), b.predict(x, verbose=0))


def test_config_file_reproduces_the_resolved_config(tagging_run):
    again = training.resolve_config(tagging_run.run_dir / "config.yaml")
    assert again == tagging_run.config


def test_classification_run_through_the_cli(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"model": "schindler_shallow", "epochs": 5, "learning_rate": 1e-3,
                                   "dataset_kwargs": {"clips_per_genre": 3, "duration": 3.0}}))
    proc = run_cli("train.py", "--config", cfg, "--out", tmp_path, "--name", "cls", "--epochs", "2",
                   "--segments-per-clip", "4", "--verbose", "2", "--lr-decay-rate", "0.5", "--lr-decay-steps", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "test accuracy" in proc.stdout and "Epoch 2/2" in proc.stdout
    d = tmp_path / "cls"
    m = json.loads((d / "metrics.json").read_text())
    assert m["task"] == "genre" and len(m["confusion_matrix"]) == 8 and 0 <= m["accuracy"] <= 1
    assert (d / "confusion_matrix.png").stat().st_size > 1000
    cfg_out = yaml.safe_load((d / "config.yaml").read_text())
    assert cfg_out["epochs"] == 2 and cfg_out["learning_rate"] == 1e-3  # CLI over config file
    tags = event_tags(d / "logs")
    assert tags.get(("images", "confusion_matrix")) == "images"
    assert tags.get(("validation", "epoch_accuracy")) == "scalars"
    lrs = [float(r.split(",")[header.index("learning_rate")]) for header in
           [(d / "history.csv").read_text().splitlines()[0].split(",")]
           for r in (d / "history.csv").read_text().splitlines()[1:]]
    assert lrs[1] < lrs[0] < 1e-3  # exponential decay per step


def test_frame_model_adapts_its_standardisation(tmp_path):
    r = train(model="dnn", out=str(tmp_path), name="dnn", epochs=1, segments_per_clip=20,
                       verbose=0, model_kwargs={"n_units": 50},
                       dataset_kwargs=dict(clips_per_genre=3, duration=3.0))
    model = keras.models.load_model(r.model_path)
    pre = model.get_layer("pre")
    assert np.asarray(pre.var).min() > 0 and np.asarray(pre.mean).max() > 0  # set from data, not 0/1
    assert r.metrics["task"] == "genre"


def test_same_seed_same_result(tmp_path):
    kw = dict(model="dnn", out=str(tmp_path), epochs=1, segments_per_clip=10, verbose=0, seed=3,
              model_kwargs={"n_units": 50}, dataset_kwargs=dict(clips_per_genre=3, duration=3.0))
    a = train(name="a", **kw)
    b = train(name="b", **kw)
    wa = keras.models.load_model(a.model_path).get_weights()
    wb = keras.models.load_model(b.model_path).get_weights()
    for x, y in zip(wa, wb):
        np.testing.assert_array_equal(x, y)


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="unknown option"):
        training.resolve_config({"model": "k2c2", "epoch": 3})
    with pytest.raises(ValueError, match="unknown model"):
        training.resolve_config(model="resnet")
    with pytest.raises(ValueError, match="optimizer"):
        training.resolve_config(optimizer="lbfgs")


def test_help_documents_every_option():
    out = subprocess.run([sys.executable, str(ROOT / "bin" / "train.py"), "--help"], capture_output=True,
                         text=True, check=True).stdout
    for f in training.TrainConfig.__dataclass_fields__:
        assert "--" + f.replace("_", "-") in out
    assert "--config" in out and "--repeats" in out


def test_dnn_mgr_schedules_change_lr_and_momentum(tmp_path):
    r = train(model="dnn", out=str(tmp_path), name="sched", epochs=3, segments_per_clip=10, verbose=0,
                       optimizer="sgd", learning_rate=0.1, lr_linear_saturate=2, lr_linear_final=0.01,
                       momentum_start=0.5, momentum=0.9, momentum_saturate=3, monitor="segment",
                       model_kwargs={"n_units": 50}, dataset_kwargs=dict(clips_per_genre=3, duration=3.0))
    rows = (r.run_dir / "history.csv").read_text().splitlines()
    header = rows[0].split(",")
    lrs = [float(x.split(",")[header.index("learning_rate")]) for x in rows[1:]]
    # LinearDecayOverEpoch(saturate=2, decay=0.01): epoch 1 -> 0.1 - 0.0495, epoch 2.. -> 0.001
    np.testing.assert_allclose(lrs, [0.0505, 0.001, 0.001], rtol=1e-5)
    # the saved optimizer (momentum in a variable) loads after a plain `import kerasmgr`
    code = ("import kerasmgr, keras; m = keras.models.load_model(%r); print(type(m.optimizer).__name__)"
            % str(r.model_path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.strip().endswith("ScheduledMomentumSGD"), out.stderr[-1500:]
    cb = training.LinearSchedules(r.config)
    assert [cb.momentum_at(e) for e in (1, 2, 3, 4)] == pytest.approx([0.5, 0.7, 0.9, 0.9])
    assert "val_accuracy" in header
