"""Seeded data augmentation: inert at inference, deterministic under a seed, saved with the model;
mixup of tag batches; the training options."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from kerasmgr import models, training
from kerasmgr.data.pipeline import mixup
from kerasmgr.frontends import Frontend
from kerasmgr.frontends.augment import DEFAULT_AUGMENT, resolve_augment


def _clips(n=3, seconds=2.0, sr=12000):
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    return np.stack([0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t) + 0.02 * rng.standard_normal(len(t))
                     for i in range(n)]).astype(np.float32)


def test_augmentation_is_inert_at_inference_and_seeded_in_training(tmp_path):
    x = _clips()
    plain = Frontend(kind="mel", sample_rate=12000, n_mels=32, magnitude_scale="db")
    aug = Frontend(kind="mel", sample_rate=12000, n_mels=32, magnitude_scale="db", augment={})
    np.testing.assert_array_equal(plain(x).numpy(), aug(x).numpy())  # inference: identical
    np.testing.assert_array_equal(aug(x, training=False).numpy(), aug(x).numpy())

    def draw(seed):
        keras.utils.set_random_seed(seed)
        f = Frontend(kind="mel", sample_rate=12000, n_mels=32, magnitude_scale="db", augment={"p": 1.0})
        return tf.function(lambda v: f(v, training=True))(x).numpy()

    a, b, c = draw(1), draw(1), draw(2)
    assert not np.allclose(a, plain(x).numpy())  # training: changed
    np.testing.assert_array_equal(a, b)  # same seed, same augmented batch
    assert not np.allclose(a, c)
    assert a.shape == plain(x).shape and np.isfinite(a).all()


def test_every_augmentation_alone_changes_the_image():
    x = _clips()
    base = Frontend(kind="mel", sample_rate=12000, n_mels=32, magnitude_scale="db")(x).numpy()
    off = {"gain_db": 0.0, "noise_p": 0.0, "eq_db": 0.0, "time_stretch": 0.0, "pitch_semitones": 0.0,
           "freq_masks": 0, "time_masks": 0, "p": 1.0}
    for key, value in [("gain_db", 6.0), ("noise_p", 1.0), ("shift_seconds", 0.5), ("eq_db", 6.0), ("time_stretch", 0.1),
                       ("pitch_semitones", 2.0), ("freq_masks", 1), ("time_masks", 1)]:
        keras.utils.set_random_seed(0)
        f = Frontend(kind="mel", sample_rate=12000, n_mels=32, magnitude_scale="db", augment={**off, key: value})
        out = f(x, training=True).numpy()
        assert out.shape == base.shape and not np.allclose(out, base, atol=1e-4), key
    with pytest.raises(ValueError, match="unknown augmentation"):
        resolve_augment({"reverb": 1})
    assert resolve_augment({}) == DEFAULT_AUGMENT and resolve_augment(None) is None


def test_augmented_model_round_trips_and_is_the_plain_model_at_inference(tmp_path):
    keras.utils.set_random_seed(0)
    m = models.build("dnn", n_outputs=3, n_units=8, frontend={"augment": {}})
    plain = models.build("dnn", n_outputs=3, n_units=8)
    plain.set_weights(m.get_weights())
    x = _clips(sr=22050)[:, :1024]
    ref = m(x).numpy()
    np.testing.assert_array_equal(ref, plain(x).numpy())
    for ext in ("keras", "h5"):
        m.save(tmp_path / f"m.{ext}")
        back = keras.models.load_model(tmp_path / f"m.{ext}")
        np.testing.assert_array_equal(back(x).numpy(), ref)
        assert back.get_layer("frontend").augment == resolve_augment({})


def test_mixup_mixes_examples_and_labels_deterministically():
    x = np.arange(4 * 5, dtype=np.float32).reshape(4, 5)
    y = np.eye(4, dtype=np.float32)
    ds = tf.data.Dataset.from_tensors((x, y)).repeat(3)
    a = [(u.numpy(), v.numpy()) for u, v in mixup(ds, 0.4, seed=3)]
    b = [(u.numpy(), v.numpy()) for u, v in mixup(ds, 0.4, seed=3)]
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa, xb) and np.testing.assert_array_equal(ya, yb)
    xm, ym = a[0]
    np.testing.assert_allclose(ym.sum(axis=1), 1.0, rtol=1e-6)  # convex combinations of two labels
    lam = ym.max(axis=1)
    assert ((lam >= 0.5 - 1e-6) & (lam <= 1 + 1e-6)).all()
    assert not np.array_equal(a[0][0], a[1][0])  # each batch its own draw


def test_training_options():
    cfg = training.resolve_config(model="k2c2", augment={"gain_db": 3.0})
    assert cfg.model_kwargs["frontend"]["augment"]["gain_db"] == 3.0
    cfg = training.resolve_config(model="schindler_shallow", model_kwargs={"frontend": "cqt"}, augment={})
    assert cfg.model_kwargs["frontend"]["kind"] == "cqt" and cfg.model_kwargs["frontend"]["augment"] == DEFAULT_AUGMENT
    with pytest.raises(ValueError, match="tags"):
        training.resolve_config(model="schindler_shallow", mixup_alpha=0.2)
    with pytest.raises(ValueError, match="unknown augmentation"):
        training.resolve_config(augment={"nope": 1})


def test_batched_resampling_matches_per_example_image_resize():
    """The batched time-stretch/pitch-shift equals resizing each example with tf.image.resize
    (bilinear) and cropping or mirror-padding it back; factor 1 is the identity."""
    from kerasmgr.frontends.augment import _resample_axis

    img = np.random.default_rng(0).standard_normal((4, 50, 24)).astype(np.float32)
    factors = np.array([0.9, 1.0, 1.07, 1.2], np.float32)
    for axis in (1, 2):
        out = _resample_axis(tf.constant(img), tf.constant(factors), axis).numpy()
        size = img.shape[axis]
        for i, f in enumerate(factors):
            n = max(1, int(np.round(size * f)))
            new = [n, img.shape[2]] if axis == 1 else [img.shape[1], n]
            r = tf.image.resize(img[i][..., None], new, method="bilinear")[..., 0].numpy()
            r = np.take(r, np.arange(min(n, size)), axis=axis - 1)
            pad = [(0, size - r.shape[axis - 1]), (0, 0)] if axis == 1 else [(0, 0), (0, size - r.shape[1])]
            np.testing.assert_allclose(out[i], np.pad(r, pad, mode="symmetric"), atol=1e-5)
        np.testing.assert_array_equal(out[1], img[1])


def test_masks_have_bounded_widths_inside_the_axis():
    from kerasmgr.frontends.augment import _masks

    tf.random.set_seed(0)
    img = tf.zeros((200, 30, 16))
    for axis, param in ((1, 7), (2, 4)):
        hit = _masks(img, 1, param, axis).numpy()
        widths = hit.reshape(200, -1).sum(axis=1)
        assert widths.max() <= param - 1 and widths.min() == 0 and len(set(widths)) == param
        # every mask is one run of cells
        runs = np.abs(np.diff(hit.reshape(200, -1).astype(int), axis=1)).sum(axis=1)
        assert (runs <= 2).all()
