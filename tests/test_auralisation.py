"""Auralisation: a hand-computable one-layer case, the rules' depth behaviour, audio, Table 7-A."""

import keras
import numpy as np
import pytest
from scipy.signal import convolve2d

from kerasmgr import auralisation, models
from kerasmgr.frontends import Frontend


def tiny(n_conv, seed=0, activation="relu"):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((2048,))
    x = Frontend(kind="stft", sample_rate=8000, n_fft=64, hop_length=32, magnitude_scale="log", name="frontend")(inp)
    for k in range(1, n_conv + 1):
        x = keras.layers.Conv2D(3, 3, padding="same", name=f"conv{k}")(x)
        x = (keras.layers.ReLU if activation == "relu" else keras.layers.ELU)(name=f"act{k}")(x)
        x = keras.layers.MaxPooling2D(2, name=f"pool{k}")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(2, activation="softmax", name="output")(x))


def test_one_layer_deconvolution_by_hand():
    model = tiny(1)
    x = np.random.default_rng(0).standard_normal(2048).astype(np.float32) * 0.3
    maps, _ = auralisation.deconvolve(model, x, 1, [1])
    img = model.get_layer("frontend")(x[None]).numpy()[0, ..., 0]  # (T, F)
    conv = model.get_layer("conv1")
    W, b = (w.numpy() for w in conv.weights)
    pre = np.stack([_correlate_same(img, W[:, :, 0, c]) + b[c] for c in range(3)], -1)
    act = np.maximum(pre, 0)[..., 1]
    T, F = act.shape
    seed = np.zeros_like(act)  # unpool the pooled activations to their argmax (switches)
    for i in range(0, T - T % 2, 2):
        for j in range(0, F - F % 2, 2):
            block = act[i:i + 2, j:j + 2]
            u, v = np.unravel_index(np.argmax(block), block.shape)
            seed[i + u, j + v] = block[u, v]
    expected = convolve2d(seed, W[:, :, 0, 1], mode="same")  # transposed convolution
    np.testing.assert_allclose(maps[0], expected, atol=1e-4 * np.abs(expected).max())


def _correlate_same(img, w):
    from scipy.signal import correlate2d

    return correlate2d(img, w, mode="same")


@pytest.mark.parametrize("activation", ["relu", "elu"])
def test_rules_agree_at_depth_one_and_differ_from_depth_two(activation):
    x = np.random.default_rng(1).standard_normal(2048).astype(np.float32) * 0.3
    one = tiny(1, activation=activation)
    d1 = {r: auralisation.deconvolve(one, x, 1, [0, 2], rule=r)[0] for r in ("deconvnet", "guided")}
    np.testing.assert_allclose(d1["deconvnet"], d1["guided"], atol=1e-5)
    two = tiny(2, activation=activation)
    d2 = {r: auralisation.deconvolve(two, x, 2, [0, 1, 2], rule=r)[0] for r in auralisation.RULES}
    assert not np.allclose(d2["deconvnet"], d2["guided"], atol=1e-4)
    assert not np.allclose(d2["deconvnet"], d2["saliency"], atol=1e-4)


def test_auralised_audio_and_unit_mask_reconstructs():
    model = models.build("k2c2", n_outputs=3)
    n = int(model.input_shape[1])
    x = (0.1 * np.random.default_rng(2).standard_normal(n)).astype(np.float32)
    out = auralisation.auralise(model, x, 2, [0, 5])
    assert out["audio"].shape == (2, n) and np.isfinite(out["audio"]).all()
    assert out["masks"].shape[2] == 257 and out["tap"] == "pool2"
    fe = model.get_layer("frontend")
    import tensorflow as tf

    S = fe.stft(tf.constant(x[None]))
    np.testing.assert_allclose(fe.istft(S, n).numpy()[0], x, atol=1e-5)  # an all-ones mask gives the input back


def test_receptive_fields_reproduce_table_7a():
    # the thesis' auralisation convnet (§7.2): 5 x (3x3 conv, 2x2 max-pool) on an 11,025 Hz, 512/256 STFT
    model = models.build("choi_genre")
    rows = auralisation.receptive_fields(model)
    assert [r["effective_frames"] for r in rows] == [3, 6, 12, 24, 48]
    assert [r["rf_frames"] for r in rows] == [3, 8, 18, 38, 78]
    # Table 7-A: 93 162 302 580 1137 ms (the thesis rounds the hop to 23.2 ms) and 86 151 280 538 1270 Hz
    assert np.allclose([r["effective_ms"] for r in rows], [92.9, 162.5, 301.9, 580.5, 1137.8], atol=0.05)
    assert [round(r["effective_hz"]) for r in rows][:4] == [86, 151, 280, 538]
    assert round(rows[4]["effective_hz"]) == 1055  # the thesis prints 1270 (59 bins, off its 4-7-13-25 series)
    assert "conv5" in auralisation.receptive_field_table(model)
