"""Auralisation of convnet features (thesis chapter 7; Choi et al., ISMIR 2015 LBD).

For a chosen conv block and feature map of a kerasmgr conv model, the feature's own activations
are sent back to the front-end image by ``tf.GradientTape`` with a modified activation gradient
(``specs/choi_weights.md`` §5, checked there against Choi's ``get_deconve_mask``):

* ``'deconvnet'`` (Choi's method, Zeiler & Fergus): the backward signal is rectified at every
  ReLU/ELU, ignoring the forward pattern; max-pooling routes it to the argmax (switches);
  convolutions are transposed; batch normalisation (inference) is the affine map;
* ``'guided'`` (guided backprop): additionally zero where the forward pre-activation was ≤ 0;
* ``'saliency'``: the plain gradient (forward mask, no rectification).

At depth 1 the three coincide (the seed is ≥ 0 and sits at the pooling switches); from depth 2
on, deconvnet and guided differ. The image-domain map is projected to the linear STFT bins (for
mel models through the column-normalised filterbank), applied as a real mask to the complex STFT
of the original (original phase; negative values flip it) and inverted to audio.

:func:`receptive_fields` gives thesis Table 7-A for any conv model: the "effective" kernel size
(kernel × the pooling below it, Choi's table) and the full receptive field, in frames/bins, ms
and Hz.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from .data.windows import first_window
from .frontends import find_frontend

__all__ = ["RULES", "excerpt", "conv_blocks", "feature_activity", "deconvolve", "auralise", "receptive_fields",
           "receptive_field_table"]

RULES = ("deconvnet", "guided", "saliency")
_ACTIVATIONS = (keras.layers.ELU, keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.Activation)


class _RuleActivation(keras.layers.Layer):
    """An activation layer whose backward pass follows a visualisation rule (transient, never saved)."""

    def __init__(self, activation, rule, **kwargs):
        super().__init__(**kwargs)
        self.activation, self.rule = activation, rule

    def call(self, x):
        @tf.custom_gradient
        def f(z):
            def grad(dy):
                g = tf.nn.relu(dy)  # deconvnet: rectify the backward signal, ignore the forward pattern
                if self.rule == "guided":
                    g = g * tf.cast(z > 0, dy.dtype)
                return g

            return self.activation(z), grad

        return f(x)


def conv_blocks(model):
    """Conv blocks of a model in order: ``[(conv layer name, tap layer name), ...]``.

    A block's tap is the last 4-D layer after its Conv2D before the next Conv2D (the pooled,
    activated map — Choi's "deepest pooled layer"), following ``model.layers`` order; suited
    to models whose conv blocks form one chain (Choi's convnets, the CDNN).
    """
    layers = model.layers
    convs = [i for i, l in enumerate(layers) if isinstance(l, keras.layers.Conv2D)]
    if not convs:
        raise ValueError(f"model {model.name!r} has no Conv2D layer")
    out = []
    for n, i in enumerate(convs):
        stop = convs[n + 1] if n + 1 < len(convs) else len(layers)
        tap = i
        for j in range(i + 1, stop):
            shape = layers[j].output.shape
            if len(shape) != 4:
                break
            tap = j
        out.append((layers[i].name, layers[tap].name))
    return out


def excerpt(audio, n_samples):
    """The model-sized excerpt auralisation works on: the first window (zero-padded at the end), float32."""
    return first_window(audio, n_samples)


def _tap(model, layer):
    """The layer name whose output a conv block (1-based int) or a layer name denotes."""
    blocks = conv_blocks(model)
    if isinstance(layer, (int, np.integer)):
        if not 1 <= int(layer) <= len(blocks):
            raise ValueError(f"layer {layer} outside 1..{len(blocks)} (conv blocks of {model.name!r})")
        return blocks[int(layer) - 1][1]
    for conv, tap in blocks:
        if layer in (conv, tap):
            return tap
    return layer  # any 4-D layer by name


def feature_activity(model, audio, layer):
    """Total (rectified) activation of every channel of a layer for one excerpt, shape (channels,)."""
    x = excerpt(audio, int(model.input_shape[1]))
    acts = keras.Model(model.input, model.get_layer(_tap(model, layer)).output)(x[None], training=False)
    return tf.reduce_sum(tf.nn.relu(acts[0]), axis=(0, 1)).numpy()


def _rule_model(model, tap, rule):
    """Front-end image -> tap output, with activations replaced by rule activations."""
    fe = find_frontend(model)
    if fe is None:
        raise ValueError("auralisation needs a waveform model with a Frontend layer")
    sub = keras.Model(fe.output, model.get_layer(tap).output)
    if rule == "saliency":
        return sub

    def clone(layer):
        if isinstance(layer, _ACTIVATIONS):
            return _RuleActivation(layer, rule, name=f"{layer.name}_{rule}")
        return layer  # shared: same weights

    return keras.models.clone_model(sub, clone_function=clone)


def deconvolve(model, audio, layer, features=None, *, rule="deconvnet"):
    """Deconvolved front-end images of chosen features of one layer.

    Parameters
    ----------
    model : keras.Model
        A kerasmgr waveform conv model (input ``(batch, n_samples)``).
    audio : np.ndarray, shape (n_samples,)
        One model-sized excerpt at the model's rate (shorter ones are zero-padded).
    layer : int or str
        Conv block (1-based) or a layer name.
    features : sequence of int or None
        Feature maps (channels) of the layer; default all.
    rule : {'deconvnet', 'guided', 'saliency'}

    Returns
    -------
    maps : np.ndarray, shape (n_features, n_frames, n_freq)
        Deconvolved maps in the front-end image's layout (time, frequency bins).
    activations : np.ndarray, shape (n_channels,)
        Total activation of every channel of the layer for this excerpt.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
    fe = find_frontend(model)
    n = int(model.input_shape[1])
    x = excerpt(audio, n)
    img = fe(tf.constant(x[None]))
    tap = _tap(model, layer)
    sub = _rule_model(model, tap, rule)
    acts = sub(img, training=False)
    n_ch = int(acts.shape[-1])
    features = list(range(n_ch)) if features is None else [int(f) for f in features]
    for f in features:
        if not 0 <= f < n_ch:
            raise ValueError(f"feature {f} outside 0..{n_ch - 1} of layer {tap!r}")
    batch = tf.repeat(img, len(features), axis=0)
    with tf.GradientTape() as tape:
        tape.watch(batch)
        A = sub(batch, training=False)
    sel = tf.one_hot(features, n_ch, dtype=A.dtype)[:, None, None, :]  # seed: the feature's activations
    g = tape.gradient(A, batch, output_gradients=tf.stop_gradient(A) * sel)
    totals = tf.reduce_sum(tf.nn.relu(acts[0]), axis=(0, 1)).numpy()
    return g.numpy()[..., 0], totals


def _to_linear_bins(fe, maps):
    """(k, T, n_freq) image-domain maps -> (k, T, n_fft // 2 + 1) linear-bin masks."""
    if fe.kind == "stft":
        return maps
    if fe.kind != "mel":
        raise ValueError("auralisation maps STFT and mel front-ends back to audio (not constant-Q)")
    fb = np.asarray(fe.filterbank(), np.float64)  # (n_lin, n_mels)
    fb = fb / np.maximum(fb.max(axis=0, keepdims=True), 1e-12)  # column-normalised
    return np.einsum("ktm,lm->ktl", maps, fb)


def auralise(model, audio, layer, features=None, *, rule="deconvnet"):
    """Auralised signals of chosen features: the deconvolved mask applied to the original STFT.

    Parameters
    ----------
    model, audio, layer, features, rule
        As :func:`deconvolve`.

    Returns
    -------
    dict
        ``audio``: (n_features, n_samples) float32 waveforms (not normalised);
        ``masks``: (n_features, n_frames, n_fft // 2 + 1) linear-bin masks;
        ``spectrogram``: (n_frames, n_fft // 2 + 1) original |STFT|; ``maps``: image-domain maps;
        ``features``: the feature indices; ``activations``: per-channel totals; ``tap``: layer name.
    """
    fe = find_frontend(model)
    n = int(model.input_shape[1])
    x = excerpt(audio, n)
    maps, totals = deconvolve(model, x, layer, features, rule=rule)
    tap = _tap(model, layer)
    features = list(range(maps.shape[0])) if features is None else [int(f) for f in features]
    S = fe.stft(tf.constant(x[None]))[0]  # (T, n_lin) complex
    masks = _to_linear_bins(fe, maps).astype(np.float32)
    spec = tf.cast(S[None], tf.complex64) * tf.complex(tf.constant(masks), 0.0)
    y = fe.istft(spec, n).numpy()
    return {"audio": y, "masks": masks, "spectrogram": np.abs(S.numpy()), "maps": maps, "features": features,
            "activations": totals, "tap": tap}


def receptive_fields(model):
    """Thesis Table 7-A for any kerasmgr conv model.

    Walks ``model.layers`` from the front-end: each Conv2D grows the receptive field by
    ``(kernel − 1) × jump``, each pooling by ``(pool − 1) × jump`` and multiplies the jump by its
    stride (time = image axis 1, frequency = axis 2).

    Returns
    -------
    list of dict
        One per conv block: ``layer``, ``kernel`` (t, f), ``jump`` (frames, bins between adjacent
        inputs of the kernel), ``effective_frames``/``effective_bins`` (kernel × jump: Choi's
        "effective size"), ``rf_frames``/``rf_bins`` (full receptive field), and the same in
        ``*_ms`` (``(frames − 1) × hop + window`` samples) and ``*_hz`` (STFT: ``(bins + 1) ×``
        bin width, the convention that reproduces Table 7-A's heights, as ``(frames + 1) × hop``
        does its widths when the window is two hops; mel/CQT: the span from the lowest band,
        ``*_hz_top`` from the highest).
    """
    fe = find_frontend(model)
    if fe is None:
        raise ValueError("receptive fields are measured on the front-end image: the model needs a Frontend")
    sr, hop = fe.sample_rate, fe.hop_length
    win = fe.win_length or fe.n_fft
    freqs = np.asarray(fe.frequencies(), np.float64)
    rf, jump, rows = [1, 1], [1, 1], []
    started = False
    for l in model.layers:
        if l is fe:
            started = True
            continue
        if not started:
            continue
        if isinstance(l, keras.layers.Conv2D):
            k = l.kernel_size
            eff = [k[0] * jump[0], k[1] * jump[1]]
            rf = [rf[0] + (k[0] - 1) * jump[0], rf[1] + (k[1] - 1) * jump[1]]
            s = l.strides
            rows.append({"layer": l.name, "kernel": list(k), "jump": list(jump), "effective_frames": eff[0],
                         "effective_bins": eff[1], "rf_frames": rf[0], "rf_bins": rf[1]})
            jump = [jump[0] * s[0], jump[1] * s[1]]
        elif isinstance(l, (keras.layers.MaxPooling2D, keras.layers.AveragePooling2D)):
            p, s = l.pool_size, l.strides
            rf = [rf[0] + (p[0] - 1) * jump[0], rf[1] + (p[1] - 1) * jump[1]]
            jump = [jump[0] * s[0], jump[1] * s[1]]
    ms = lambda frames: ((frames - 1) * hop + win) / sr * 1000.0  # noqa: E731
    for r in rows:
        r["effective_ms"], r["rf_ms"] = ms(r["effective_frames"]), ms(r["rf_frames"])
        for key in ("effective", "rf"):
            b = min(r[f"{key}_bins"], len(freqs))
            if fe.kind == "stft":  # the thesis' convention, the frequency twin of (frames + 1) hops
                r[f"{key}_hz"] = (r[f"{key}_bins"] + 1) * sr / fe.n_fft
                r[f"{key}_hz_top"] = r[f"{key}_hz"]
            else:
                r[f"{key}_hz"] = float(freqs[b - 1] - freqs[0]) if b > 1 else 0.0
                r[f"{key}_hz_top"] = float(freqs[-1] - freqs[-b]) if b > 1 else 0.0
    return rows


def receptive_field_table(model):
    """:func:`receptive_fields` as a text table."""
    rows = receptive_fields(model)
    head = (f"{'layer':<10}{'kernel':>8}{'eff. width':>12}{'eff. height':>13}{'RF width':>11}"
            f"{'RF height (low..high)':>26}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r['layer']:<10}{'x'.join(map(str, r['kernel'])):>8}{r['effective_ms']:>9.0f} ms"
                     f"{r['effective_hz']:>10.0f} Hz{r['rf_ms']:>8.0f} ms"
                     f"{r['rf_hz']:>12.0f}..{r['rf_hz_top']:.0f} Hz")
    return "\n".join(lines)
