"""Presets (issue 21, item 2): keras-hub-style folders, sha256 verification before loading,
model cards, and the released models listed with name, version and metrics."""

import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from conftest import make_signal, run_cli
from kerasmgr import models, presets, pretrained

ROOT = Path(__file__).resolve().parents[1]


def test_available_lists_name_version_and_metrics():
    releases = {r.name: r for r in pretrained.available()}
    assert {"k2c2-embedded", "crnn-embedded"} <= set(releases)
    r = releases["k2c2-embedded"]
    assert r.version == "1" and r.metrics["macro_roc_auc"] > 0.75 and Path(r.path).exists()


def test_released_embedded_models_are_presets_with_honest_model_cards():
    for name in ("k2c2-embedded", "crnn-embedded"):
        folder = ROOT / "weights" / name
        meta = presets.read_preset(folder)
        for key in ("labels", "sample_rate", "n_samples", "frontend", "training_data", "metrics", "kerasmgr_version",
                    "sha256", "version"):
            assert key in meta, (name, key)
        card = (folder / "README.md").read_text()
        assert "generated music" in card and "not a real-music tagger" in card
        for section in ("## Intended use", "## Training data", "## Metrics", "## Limitations"):
            assert section in card
    # the preset and the single .h5 file are the same model
    x = make_signal("mix", 12000, 29.0)[None]
    a = models.from_preset("k2c2-embedded").predict(x, verbose=0)
    b = keras.models.load_model(ROOT / "weights" / "k2c2-embedded.h5").predict(x, verbose=0)
    np.testing.assert_array_equal(a, b)


def test_save_preset_round_trip(tmp_path):
    keras.utils.set_random_seed(0)
    m = models.build("schindler_shallow", n_outputs=3)
    meta = {"labels": ["a", "b", "c"], "sample_rate": 22050, "n_samples": int(m.input_shape[1]), "task": "genre",
            "training_data": {"dataset": "gtzan"}, "metrics": {"accuracy": 0.5},
            "card": {"limitations": "A test model with random weights."}}
    folder = presets.save_preset(m, tmp_path / "p", meta)
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "metadata.json", "model.weights.h5"]
    assert "A test model with random weights." in (folder / "README.md").read_text()
    x = np.random.default_rng(0).standard_normal((2, m.input_shape[1])).astype("float32")
    loaded, got = pretrained.load(folder)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), m.predict(x, verbose=0))
    assert got["labels"] == ["a", "b", "c"] and got["path"] == str(folder) and got["name"] == "p"


@pytest.fixture
def weights_copy(tmp_path, monkeypatch):
    dst = tmp_path / "weights"
    shutil.copytree(ROOT / "weights", dst)
    monkeypatch.setenv("KERASMGR_WEIGHTS", str(dst))
    return dst


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_a_tampered_preset_never_loads(weights_copy, damage, monkeypatch):
    target = weights_copy / "k2c2-embedded" / "model.weights.h5"
    if damage == "flip":
        data = bytearray(target.read_bytes())
        data[len(data) // 2] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "truncate":
        target.write_bytes(target.read_bytes()[:1000])
    else:
        target.unlink()
    calls = []
    monkeypatch.setattr(keras.saving, "deserialize_keras_object", lambda *a, **k: calls.append(a))
    with pytest.raises(presets.PresetError, match="model.weights.h5") as e:
        models.from_preset(weights_copy / "k2c2-embedded")
    assert calls == []  # nothing was deserialised
    assert ("missing" in str(e.value)) if damage == "delete" else ("modified or truncated" in str(e.value))


def test_a_tampered_released_h5_file_never_loads_and_the_cli_says_so(weights_copy, tmp_path):
    h5 = weights_copy / "k2c2-embedded.h5"
    data = bytearray(h5.read_bytes())
    data[-100] ^= 0x01
    h5.write_bytes(bytes(data))
    with pytest.raises(presets.PresetError, match="k2c2-embedded.h5"):
        pretrained.load(h5)
    cfg = weights_copy / "crnn-embedded" / "config.json"
    cfg.write_text(cfg.read_text().replace('"gru1"', '"gru9"'))
    wav = tmp_path / "a.wav"
    import soundfile as sf

    sf.write(wav, make_signal("mix", 12000, 3.0), 12000)
    r = run_cli("tag.py", wav, "--weights", "crnn-embedded")
    assert r.returncode == 2 and r.stderr.startswith("error:") and "config.json" in r.stderr


def test_missing_or_foreign_presets_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError, match="available"):
        models.from_preset("no-such-preset")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "metadata.json").write_text(json.dumps({"name": "p"}))
    (tmp_path / "p" / "config.json").write_text("{}")
    with pytest.raises(presets.PresetError, match="no sha256"):
        models.from_preset(tmp_path / "p")
