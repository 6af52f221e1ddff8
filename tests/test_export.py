"""Export for deployment (issue 21, item 1): SavedModel, TFLite and ONNX files give the Keras
model's outputs on the embedded dataset's test clips, for k2c2, crnn and dnn."""

import json

import keras
import numpy as np
import pytest

from conftest import run_cli
from kerasmgr import export, models, pretrained
from kerasmgr.data import embedded


def _test_clips(sample_rate, n_samples, genres=("rock", "jazz", "techno")):
    """Test-subset clips of the embedded dataset (seed 0, 40 per genre: indices 32-39 are test)."""
    seconds = n_samples / sample_rate
    return np.stack([embedded.generate_clip(g, embedded.clip_seed(0, g, 39), sample_rate=sample_rate,
                                            duration=seconds + 0.01)[0][:n_samples] for g in genres]).astype(np.float32)


@pytest.fixture(scope="module")
def zoo():
    keras.utils.set_random_seed(0)
    dnn = models.build("dnn", n_outputs=10)
    return {"k2c2": pretrained.load("k2c2-embedded"), "crnn": pretrained.load("crnn-embedded"),
            "dnn": (dnn, {"model": "dnn", "sample_rate": 22050, "n_samples": int(dnn.input_shape[1]), "labels": None})}


@pytest.mark.parametrize("fmt", export.FORMATS)
@pytest.mark.parametrize("name", ["k2c2", "crnn", "dnn"])
def test_exported_models_match_keras_on_embedded_test_clips(zoo, name, fmt, tmp_path):
    model, meta = zoo[name]
    x = _test_clips(meta["sample_rate"], meta["n_samples"])
    paths = export.export(model, tmp_path, fmt, metadata=meta, name=name)
    err = export.check_export(model, paths[fmt], x)
    assert err <= export.TOLERANCE
    side = json.loads((tmp_path / f"{name}.json").read_text())
    assert side["export"][fmt]["input_shape"] == [None, meta["n_samples"]]
    assert side["sample_rate"] == meta["sample_rate"] and "path" not in side
    ref = np.asarray(model(x, training=False))
    assert np.argmax(export.run_exported(paths[fmt], x), axis=1).tolist() == np.argmax(ref, axis=1).tolist()


def test_deployment_view_has_no_complex_stft_and_equals_the_model(zoo):
    model, meta = zoo["k2c2"]
    view = export.deployment_view(model)
    names = [layer.name for layer in view.layers]
    assert "frontend_dft" in names and "frontend" not in names and "bn1" not in names
    x = _test_clips(meta["sample_rate"], meta["n_samples"], genres=("bossa",))
    np.testing.assert_allclose(view(x), model(x, training=False), atol=1e-5)


def test_sidecar_lists_every_format_exported_to_a_folder(zoo, tmp_path):
    model, meta = zoo["dnn"]
    export.export(model, tmp_path, "saved_model", metadata=meta, name="m")
    export.export(model, tmp_path, "tflite", metadata=meta, name="m")
    assert set(json.loads((tmp_path / "m.json").read_text())["export"]) == {"saved_model", "tflite"}


def test_cli_exports_checks_and_reports_bad_input(tmp_path):
    r = run_cli("export.py", "k2c2-embedded", "--format", "tflite", "--out", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert "checked: largest difference" in r.stdout and (tmp_path / "out" / "k2c2-embedded.tflite").is_file()
    r = run_cli("export.py", "k2c2-embedded", "--format", "coreml", "--out", tmp_path / "x")
    assert r.returncode == 2 and r.stderr.startswith("error: unknown export format 'coreml'") and "tflite" in r.stderr
    # a layer without a real-valued path: a constant-Q front-end
    cqt = models.build("schindler_shallow", frontend="cqt")
    cqt.save(tmp_path / "cqt.keras")
    r = run_cli("export.py", tmp_path / "cqt.keras", "--format", "tflite", "--out", tmp_path / "y")
    assert r.returncode == 2 and r.stderr.startswith("error:") and "constant-Q" in r.stderr
    assert "--format saved_model" in r.stderr
    r = run_cli("export.py", tmp_path / "missing.keras", "--format", "onnx", "--out", tmp_path / "z")
    assert r.returncode == 2 and "error:" in r.stderr and "missing.keras" in r.stderr
