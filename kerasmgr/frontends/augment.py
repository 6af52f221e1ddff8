"""Seeded data augmentation inside the front-end: active in training only, inert at inference.

:class:`Augment` is built by :class:`~kerasmgr.frontends.Frontend` from its ``augment`` setting
(a dict; ``{}`` means :data:`DEFAULT_AUGMENT`) and applied in two places of the graph, so every
model of the zoo gets it and the training feed stays at full speed (no per-example Python work):

- on the waveform: a random gain (± ``gain_db``), with probability ``noise_p`` white noise at an
  SNR drawn from ``noise_snr_db``, and a time shift of up to ``shift_seconds`` (zero-filled; off by
  default, since training already draws its windows at random offsets of each clip);
- on the front-end's scaled spectrogram (time, frequency; before its frequency weighting and
  standardisation): a random smooth equaliser (``eq_db``: a filter
  curve of a few random bands, in dB on a dB/log image, as a factor on a linear one); a
  time-stretch (the time axis resampled by a rate in ``1 ± time_stretch``, cropped or padded
  back); a pitch-shift (the frequency axis resampled by ``2^(s/12)``, ``s`` within
  ``± pitch_semitones``: exact on a linear STFT axis, approximate on mel bands and exact on a
  CQT's log axis); SpecAugment time and frequency masks (the semantics of Kapre's ``SpecAugment``
  layer, drawn for the whole batch at once: Kapre's layer loops over examples with ``tf.map_fn``,
  which cost more than the rest of the augmentation together).

Each transformation is applied to a clip with probability ``p``. Random draws use TensorFlow's
op-level seeds, which follow the global seed that ``bin/train.py --seed`` sets: the same seed gives
the same augmented stream on the same machine and TensorFlow build (not across versions).
Mixup (for tags) mixes examples of a batch in the input pipeline
(:func:`kerasmgr.data.pipeline.mixup`).
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .base import register

__all__ = ["Augment", "DEFAULT_AUGMENT", "resolve_augment"]

#: The settings ``augment={}`` stands for.
DEFAULT_AUGMENT = {
    "p": 0.5,
    "gain_db": 6.0,
    "noise_snr_db": [30.0, 50.0],
    "noise_p": 0.3,
    "shift_seconds": 0.0,
    "eq_db": 6.0,
    "eq_bands": 4,
    "time_stretch": 0.08,
    "pitch_semitones": 1.0,
    "freq_masks": 1,
    "freq_mask_param": 8,
    "time_masks": 1,
    "time_mask_param": 40,
}


def resolve_augment(augment):
    """``None`` (off), or :data:`DEFAULT_AUGMENT` updated by ``augment``'s keys (unknown keys refused)."""
    if augment is None or augment is False:
        return None
    augment = {} if augment is True else dict(augment)
    unknown = sorted(set(augment) - set(DEFAULT_AUGMENT))
    if unknown:
        raise ValueError(f"unknown augmentation setting(s) {unknown}; known: {sorted(DEFAULT_AUGMENT)}")
    out = {**DEFAULT_AUGMENT, **augment}
    lo, hi = out["noise_snr_db"]
    if lo > hi or not 0 <= out["p"] <= 1 or not 0 <= out["noise_p"] <= 1 or out["time_stretch"] >= 1:
        raise ValueError(f"invalid augmentation settings {out}")
    return out


def _chosen(p, values, neutral):
    """Per-example parameters: ``values`` where the example is augmented (probability ``p``),
    ``neutral`` (the parameter that leaves it unchanged) elsewhere. Choosing the parameter instead of
    the output keeps every transformation one pass over the batch."""
    keep = tf.random.uniform(tf.shape(values)) < p
    return tf.where(keep, values, tf.cast(neutral, values.dtype))


def _resample_axis(img, factor, axis):
    """Resample axis ``axis`` (1: time, 2: frequency) of ``(batch, T, F)`` by ``factor`` per example,
    then crop or mirror-pad back to its length, as one batched gather.

    Bilinear with half-pixel centres: example ``b``'s output cell ``j`` reads the input at
    ``(k + 1/2) · size / n_b − 1/2`` with ``n_b = round(size · factor_b)`` cells and ``k = j`` below
    ``n_b``, ``2 n_b − 1 − j`` above (symmetric padding). A factor of 1 is the identity exactly.
    """
    if axis == 2:  # gathering whole rows is much faster than gathering along the innermost axis
        return tf.transpose(_resample_axis(tf.transpose(img, [0, 2, 1]), factor, 1), [0, 2, 1])
    size = tf.shape(img)[1]
    size_f = tf.cast(size, tf.float32)
    n = tf.maximum(1.0, tf.round(size_f * factor))[:, None]  # (batch, 1) resampled lengths
    j = tf.cast(tf.range(size), tf.float32)[None, :]
    k = tf.clip_by_value(tf.where(j < n, j, 2.0 * n - 1.0 - j), 0.0, n - 1.0)
    src = tf.clip_by_value((k + 0.5) * (size_f / n) - 0.5, 0.0, size_f - 1.0)  # (batch, size)
    lo = tf.floor(src)
    w = src - lo
    i0 = tf.cast(lo, tf.int32)
    i1 = tf.minimum(i0 + 1, size - 1)
    a = tf.gather(img, i0, axis=1, batch_dims=1)
    b = tf.gather(img, i1, axis=1, batch_dims=1)
    return a + (b - a) * w[:, :, None]


def _masks(img, count, param, axis):
    """``count`` SpecAugment masks per example along ``axis`` of ``(batch, T, F)``: each of a width
    drawn from ``0 .. param - 1`` cells at a uniform start (Park et al. 2019; Kapre's ``SpecAugment``
    semantics), as a boolean ``(batch, T, 1)`` or ``(batch, 1, F)`` mask."""
    b = tf.shape(img)[0]
    size = tf.shape(img)[axis]
    width = tf.random.uniform([b, count], 0, param, dtype=tf.int32)
    start = tf.cast(tf.random.uniform([b, count]) * tf.cast(size - width + 1, tf.float32), tf.int32)
    idx = tf.range(size)[None, None, :]
    hit = tf.reduce_any((idx >= start[..., None]) & (idx < (start + width)[..., None]), axis=1)  # (batch, size)
    return hit[:, :, None] if axis == 1 else hit[:, None, :]


@register
class Augment(keras.layers.Layer):
    """The augmentations of :data:`DEFAULT_AUGMENT`, as a layer used by :class:`Frontend` (see the module docstring).

    ``waveform(x)`` takes ``(batch, n_samples[, 1])``; ``image(s, unit)`` the front-end's scaled
    spectrogram ``(batch, time, freq)`` (before weighting and standardisation). Both are the
    identity unless called with ``training=True``. Every transformation is a batched tensor
    operation (no per-example loop), so the graph's cost stays a few per cent of a training step.
    """

    def __init__(self, settings=None, bins_per_octave=None, sample_rate=None, **kwargs):
        super().__init__(**kwargs)
        self.settings = resolve_augment(settings if settings is not None else {})
        self.bins_per_octave = bins_per_octave
        self.sample_rate = sample_rate
        self._time_mask = self._freq_mask = 0

    def configure(self, n_frames, n_freq):
        """Size the SpecAugment masks to the image (called by the front-end's ``build``): a mask is
        at most a quarter of its axis, and an axis too short for that (one-frame models) gets none."""
        s = self.settings
        self._time_mask = min(int(s["time_mask_param"]), (n_frames or 0) // 4) if s["time_masks"] else 0
        self._freq_mask = min(int(s["freq_mask_param"]), n_freq // 4) if s["freq_masks"] else 0

    def waveform(self, x, training=False):
        if not training:
            return x
        s = self.settings
        b = tf.shape(x)[0]
        per_example = [-1] + [1] * (len(x.shape) - 1)
        if s["shift_seconds"] and self.sample_rate:
            n = tf.shape(x)[1]
            most = int(round(s["shift_seconds"] * self.sample_rate))
            shift = _chosen(s["p"], tf.random.uniform([b], -most, most + 1, dtype=tf.int32), 0)
            pos = tf.range(n)[None, :] - shift[:, None]  # output sample i takes input sample i - shift
            valid = (pos >= 0) & (pos < n)
            moved = tf.gather(x, tf.clip_by_value(pos, 0, n - 1), batch_dims=1)
            x = tf.where(tf.reshape(valid, tf.shape(moved)), moved, tf.zeros_like(moved))
        if s["gain_db"]:
            g = _chosen(s["p"], tf.random.uniform([b], -s["gain_db"], s["gain_db"]), 0.0)
            x = x * tf.reshape(tf.pow(10.0, g / 20.0), per_example)
        if s["noise_p"]:
            lo, hi = s["noise_snr_db"]
            snr = tf.random.uniform([b], lo, hi)
            power = tf.reduce_mean(tf.square(x), axis=list(range(1, len(x.shape))))
            # uniform samples on [-√3, √3] have unit variance: white noise as flat as Gaussian noise
            # (and Gaussian after any STFT frame's sum), at a third of the cost of drawing normals
            sd = _chosen(s["noise_p"], tf.sqrt(power / tf.pow(10.0, snr / 10.0)), 0.0) * 3.0 ** 0.5
            x = x + tf.random.uniform(tf.shape(x), -1.0, 1.0) * tf.reshape(sd, per_example)
        return x

    def image(self, img, unit="db", training=False):
        """Augment a scaled spectrogram ``(batch, time, freq)`` whose values are in ``unit``
        (``'db'``, ``'log'`` — natural log — or ``'linear'`` magnitude)."""
        if not training:
            return img
        s = self.settings
        b = tf.shape(img)[0]
        dtype = img.dtype
        img = tf.cast(img, tf.float32)
        if s["eq_db"]:
            n_freq = tf.shape(img)[2]
            bands = tf.random.uniform([b, int(s["eq_bands"]), 1, 1], -s["eq_db"], s["eq_db"])
            curve = tf.reshape(tf.image.resize(bands, [n_freq, 1], method="bicubic")[:, :, 0, 0], [b, 1, n_freq])
            curve = curve * _chosen(s["p"], tf.ones([b]), 0.0)[:, None, None]
            if unit == "db":
                img = img + curve
            elif unit == "log":
                img = img + curve * (2.302585093 / 20.0)  # ln(10^(c/20))
            else:
                img = img * tf.pow(10.0, curve / 20.0)
        if s["time_stretch"]:
            rate = tf.random.uniform([b], 1 - s["time_stretch"], 1 + s["time_stretch"])
            img = _resample_axis(img, _chosen(s["p"], rate, 1.0), 1)
        if s["pitch_semitones"]:
            semis = tf.random.uniform([b], -s["pitch_semitones"], s["pitch_semitones"])
            img = _resample_axis(img, _chosen(s["p"], tf.pow(2.0, semis / 12.0), 1.0), 2)
        if self._time_mask >= 1 or self._freq_mask >= 1:  # masked cells take the example's mean value
            hit = tf.zeros([b, 1, 1], tf.bool)
            if self._time_mask >= 1:
                hit = hit | _masks(img, int(s["time_masks"]), self._time_mask, 1)
            if self._freq_mask >= 1:
                hit = hit | _masks(img, int(s["freq_masks"]), self._freq_mask, 2)
            img = tf.where(hit, tf.reduce_mean(img, axis=[1, 2], keepdims=True), img)
        return tf.cast(img, dtype)

    def call(self, x, training=False):  # the waveform stage (the image stage is :meth:`image`)
        return self.waveform(x, training=training)

    def get_config(self):
        return {**super().get_config(), "settings": self.settings, "bins_per_octave": self.bins_per_octave,
                "sample_rate": self.sample_rate}
