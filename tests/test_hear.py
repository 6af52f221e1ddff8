"""The HEAR 2021 API (issue 21, item 5) checked against the spec's contract: attributes, shapes,
dtypes, millisecond timestamps, batching, any kerasmgr model or preset."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import make_signal
from kerasmgr import hear, models, pretrained


@pytest.fixture(scope="module")
def k2c2():
    return hear.load_model("k2c2-embedded")


def _contract(model, audio):
    """Everything HEAR's validator checks of a model and its two embedding functions."""
    assert model.sample_rate in (16000, 22050, 44100, 48000)
    assert isinstance(model.scene_embedding_size, int) and isinstance(model.timestamp_embedding_size, int)
    scene = hear.get_scene_embeddings(audio, model)
    assert isinstance(scene, tf.Tensor) and scene.dtype == tf.float32
    assert tuple(scene.shape) == (audio.shape[0], model.scene_embedding_size)
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert isinstance(emb, tf.Tensor) and emb.dtype == tf.float32 and ts.dtype == tf.float32
    assert emb.shape[0] == ts.shape[0] == audio.shape[0] and emb.shape[1] == ts.shape[1]
    assert emb.shape[2] == model.timestamp_embedding_size
    t = ts.numpy()
    duration_ms = audio.shape[1] / model.sample_rate * 1000
    assert t[0, 0] == 0 and t[0, -1] <= duration_ms and duration_ms - t[0, -1] < model.hop * 1000
    assert np.allclose(np.diff(t, axis=1), model.hop * 1000) and (t == t[:1]).all()
    assert np.isfinite(emb.numpy()).all() and np.isfinite(scene.numpy()).all()
    return scene.numpy(), emb.numpy()


def test_k2c2_preset_follows_the_hear_contract(k2c2):
    assert k2c2.sample_rate == 16000 and k2c2.scene_embedding_size == 160 and k2c2.hop == 0.5
    sr = k2c2.sample_rate
    audio = tf.constant(np.stack([make_signal("mix", sr, 4.0), make_signal("chirp", sr, 4.0, seed=1) * 0.5]))
    scene, emb = _contract(k2c2, audio)
    # batched = one at a time; numpy input = tensor input
    alone, _ = _contract(k2c2, audio.numpy()[1:])
    np.testing.assert_allclose(scene[1:], alone, atol=1e-5)
    assert not np.allclose(scene[0], scene[1])


def test_scene_embedding_is_the_models_transfer_feature(k2c2):
    from kerasmgr.data.audio import resample
    from kerasmgr.features import FeatureExtractor

    model, meta = pretrained.load("k2c2-embedded")
    y = make_signal("mix", 16000, 31.0)
    ref = FeatureExtractor(model, long="average").transform([resample(y, 16000, 12000)])
    np.testing.assert_allclose(hear.get_scene_embeddings(y[None], k2c2).numpy(), ref, rtol=1e-5, atol=1e-5)


def test_any_model_frame_dnn_and_penultimate_embeddings():
    keras.utils.set_random_seed(0)
    dnn = hear.HearModel(models.build("dnn", n_outputs=10), 22050)
    assert dnn.sample_rate == 22050 and dnn.hop == 0.05  # a 46-ms input: HEAR's suggested 50-ms hop
    audio = np.stack([make_signal("noise", 22050, 1.0), make_signal("sine", 22050, 1.0)]).astype(np.float32)
    _, emb = _contract(dnn, audio)
    assert emb.shape[1] == 21  # 0, 50, ..., 1000 ms
    pen = hear.HearModel(models.build("k2c2", n_outputs=4), 12000, embedding="penultimate", hop=1.0)
    assert pen.scene_embedding_size == 32
    _contract(pen, np.stack([make_signal("mix", 16000, 2.5)]).astype(np.float32))


def test_bad_audio_is_refused(k2c2):
    with pytest.raises(ValueError, match="n_sounds, n_samples"):
        hear.get_scene_embeddings(np.zeros(100, np.float32), k2c2)
    with pytest.raises(ValueError, match="NaN"):
        hear.get_scene_embeddings(np.full((1, 1600), np.nan, np.float32), k2c2)
    with pytest.raises(ValueError, match="hop"):
        hear.HearModel(models.build("dnn", n_outputs=2), 22050, hop=0)
