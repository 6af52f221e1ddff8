"""Released weights (weights/), kerasmgr.pretrained, and bin/tag.py."""

import csv
import json
from pathlib import Path

import keras
import numpy as np
import pytest
import soundfile as sf

from kerasmgr import pretrained
from kerasmgr.jobs import tag as tagging
from kerasmgr.data import embedded
from conftest import SHARED, make_signal, run_cli

ROOT = Path(__file__).resolve().parents[1]


def test_project_weights_are_released_with_sidecars():
    assert {"k2c2-embedded", "crnn-embedded"} <= {r.name for r in pretrained.available()}
    for name in ("k2c2-embedded", "crnn-embedded"):
        meta = json.loads((ROOT / "weights" / f"{name}.json").read_text())
        for key in ("model", "task", "labels", "sample_rate", "n_samples", "frontend", "training_data", "metrics",
                    "kerasmgr_version"):
            assert key in meta, (name, key)
        assert meta["labels"] == list(embedded.TAGS) and meta["sample_rate"] == 12000
        assert meta["metrics"]["macro_roc_auc"] > 0.75


def test_load_by_name_and_by_path_agree():
    model, meta = pretrained.load("k2c2-embedded")
    assert meta["n_samples"] == model.input_shape[1] == 348000
    plain = keras.models.load_model(ROOT / "weights" / "k2c2-embedded.h5")
    x = make_signal("mix", 12000, 29.0)[None]
    np.testing.assert_array_equal(model.predict(x, verbose=0), plain.predict(x, verbose=0))
    with pytest.raises(FileNotFoundError, match="available"):
        pretrained.load("no-such-model")


def test_save_and_load_round_trip_metadata(tmp_path):
    from kerasmgr import models

    m = models.build("schindler_shallow", n_outputs=3)
    meta = {"model": "schindler_shallow", "labels": ["a", "b", "c"], "sample_rate": 22050, "n_samples": 20224,
            "task": "genre"}
    paths = pretrained.save(m, tmp_path / "x", meta)
    assert set(paths) == {"keras", "h5", "json"}
    for ext in ("keras", "h5"):
        loaded, got = pretrained.load(paths[ext])
        assert {k: got[k] for k in meta} == meta and got["path"] == str(paths[ext])


def test_repeated_saves_keep_the_optimizer(tmp_path):
    """Keras' .h5 writer drops the optimizer from the model's compile config; save() must not let it."""
    from kerasmgr import models

    m = models.build("schindler_shallow", n_outputs=3)
    m.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.5), loss="sparse_categorical_crossentropy")
    for k in range(2):
        pretrained.save(m, tmp_path / f"m{k}")
        for ext in ("keras", "h5"):
            loaded = keras.models.load_model(tmp_path / f"m{k}.{ext}")
            assert type(loaded.optimizer).__name__ == "SGD", (k, ext)
            assert loaded.optimizer.get_config()["momentum"] == 0.5


@pytest.fixture
def audio_files(tmp_path):
    """A 35-s stereo 44.1 kHz file, an 8-kHz 10-s file, a short clip, a silent and a broken file."""
    y, _ = embedded.generate_clip("rock", embedded.clip_seed(5, "rock", 0), sample_rate=44100, duration=35.0)
    sf.write(tmp_path / "long.wav", np.stack([y, 0.5 * y], axis=1), 44100)
    sf.write(tmp_path / "low.flac", make_signal("mix", 8000, 10.0), 8000)
    sf.write(tmp_path / "short.wav", make_signal("chirp", 22050, 2.0), 22050)
    sf.write(tmp_path / "silent.wav", np.zeros(22050, dtype=np.float32), 22050)
    (tmp_path / "broken.mp3").write_text("not audio")
    return tmp_path


def test_tag_files_windows_padding_and_errors(audio_files):
    model, meta = pretrained.load("k2c2-embedded")
    files = [audio_files / n for n in ("long.wav", "low.flac", "short.wav", "silent.wav", "broken.mp3")]
    res = tagging.tag_files(model, meta, files, top_n=3, progress=False)
    assert [r["status"] for r in res] == ["ok", "ok", "ok", "error", "error"]
    assert "silent" in res[3]["error"] and "decode" in res[4]["error"]
    assert len(res[0]["top"]) == 3 and res[0]["top"][0][1] >= res[0]["top"][1][1]
    # default: one centred 29-s window of the 35-s file; with a 6-s hop, two overlapping windows
    long_scores = tagging.tag_file(model, meta, files[0], window=29.0, hop=6.0)
    assert long_scores.shape == (16,) and not np.allclose(long_scores, res[0]["scores"])
    rep = tagging.tag_file(model, meta, files[2], short="repeat")
    assert not np.allclose(rep, res[2]["scores"])
    # the batched, parallel path gives tag_file's result whatever the batch composition
    for r, f in zip(res[:3], files[:3]):
        np.testing.assert_allclose(r["scores"], tagging.tag_file(model, meta, f), atol=1e-5)
    res4 = tagging.tag_files(model, meta, files[:3], progress=False, batch_size=2, workers=1)
    for a, b in zip(res, res4):
        np.testing.assert_allclose(a["scores"], b["scores"], atol=1e-5)


def test_tag_cli_prints_saves_and_reports(audio_files, tmp_path):
    proc = run_cli("tag.py", audio_files / "long.wav", audio_files / "broken.mp3", "--top-n", "4",
                   "--save", tmp_path / "out.csv")
    assert proc.returncode == 1  # one file failed, reported, not fatal
    lines = proc.stdout.splitlines()
    assert lines[0].endswith("long.wav") and len([l for l in lines[1:5] if l.startswith("  - ")]) == 4
    assert "broken.mp3" in proc.stdout and "1 of 2" in proc.stderr
    rows = list(csv.DictReader(open(tmp_path / "out.csv")))
    assert rows[0]["status"] == "ok" and float(rows[0]["drums"]) >= 0 and rows[1]["status"] == "error"


@pytest.mark.skipif(not (SHARED / "data" / "choi2017").is_dir(),
                    reason="Choi's released weights (../shared/data/choi2017) are absent")
def test_tag_cli_with_a_converted_model(audio_files, tmp_path):
    conv = run_cli("convert_weights.py", "choi2017-keras2", SHARED / "data" / "choi2017" / "keras2_model_best.hdf5",
                   tmp_path / "compact", "--mode", "per_clip")
    assert conv.returncode == 0, conv.stderr[-2000:]
    proc = run_cli("tag.py", audio_files / "low.flac", "--weights", tmp_path / "compact.h5")
    assert proc.returncode == 0, proc.stderr[-2000:]
    from kerasmgr.data.datasets import MSD_TAGS

    tags = [l.split(":")[0].strip(" -") for l in proc.stdout.splitlines()[1:6]]
    assert len(tags) == 5 and set(tags) <= set(MSD_TAGS)
