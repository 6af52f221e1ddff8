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
  CQT's log axis); SpecAugment time and frequency masks (Kapre's ``SpecAugment`` layer).

Each transformation is applied to a clip with probability ``p``. Random draws use TensorFlow's
op-level seeds, which follow the global seed that ``bin/train.py --seed`` sets: the same seed gives
the same augmented stream on the same machine and TensorFlow build (not across versions).
Mixup (for tags) mixes examples of a batch in the input pipeline
(:func:`kerasmgr.data.pipeline.mixup`).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from kapre.augmentation import SpecAugment

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


def _apply(p, batch, augmented, original):
    """Per-example choice between the augmented and the original tensor (probability ``p``)."""
    keep = tf.random.uniform([batch]) < p
    shape = tf.concat([[batch], tf.ones([tf.rank(original) - 1], tf.int32)], 0)
    return tf.where(tf.reshape(keep, shape), augmented, original)


@register
class Augment(keras.layers.Layer):
    """The augmentations of :data:`DEFAULT_AUGMENT`, as a layer used by :class:`Frontend` (see the module docstring).

    ``waveform(x)`` takes ``(batch, n_samples[, 1])``; ``image(s, unit)`` the front-end's scaled
    spectrogram ``(batch, time, freq)`` (before weighting and standardisation). Both are the
    identity unless called with ``training=True``.
    """

    def __init__(self, settings=None, bins_per_octave=None, sample_rate=None, **kwargs):
        super().__init__(**kwargs)
        self.settings = resolve_augment(settings if settings is not None else {})
        self.bins_per_octave = bins_per_octave
        self.sample_rate = sample_rate
        self._masks = None

    def configure(self, n_frames, n_freq):
        """Size the SpecAugment masks to the image (called by the front-end's ``build``): a mask is
        at most a quarter of its axis, and an axis too short for that (one-frame models) gets none."""
        s = self.settings
        t_param = min(int(s["time_mask_param"]), (n_frames or 0) // 4) if s["time_masks"] else 0
        f_param = min(int(s["freq_mask_param"]), n_freq // 4) if s["freq_masks"] else 0
        if t_param >= 1 or f_param >= 1:
            self._masks = SpecAugment(freq_mask_param=max(f_param, 1), time_mask_param=max(t_param, 1),
                                      n_freq_masks=int(s["freq_masks"]) if f_param >= 1 else 0,
                                      n_time_masks=int(s["time_masks"]) if t_param >= 1 else 0,
                                      mask_value=0.0, name="spec_augment")

    def waveform(self, x, training=False):
        if not training:
            return x
        s = self.settings
        b = tf.shape(x)[0]
        extra = [1] * (len(x.shape) - 1)
        if s["shift_seconds"] and self.sample_rate:
            n = tf.shape(x)[1]
            most = int(round(s["shift_seconds"] * self.sample_rate))
            shift = tf.random.uniform([b], -most, most + 1, dtype=tf.int32)
            pos = tf.range(n)[None, :] - shift[:, None]  # output sample i takes input sample i - shift
            valid = (pos >= 0) & (pos < n)
            moved = tf.gather(x, tf.clip_by_value(pos, 0, n - 1), batch_dims=1)
            moved = tf.where(tf.reshape(valid, tf.shape(moved)), moved, tf.zeros_like(moved))
            x = _apply(s["p"], b, moved, x)
        if s["gain_db"]:
            g = tf.pow(10.0, tf.random.uniform([b], -s["gain_db"], s["gain_db"]) / 20.0)
            x = _apply(s["p"], b, x * tf.reshape(g, [-1, *extra]), x)
        if s["noise_p"]:
            lo, hi = s["noise_snr_db"]
            snr = tf.random.uniform([b], lo, hi)
            axes = list(range(1, len(x.shape)))
            power = tf.reduce_mean(tf.square(x), axis=axes)
            sd = tf.sqrt(power / tf.pow(10.0, snr / 10.0))
            noisy = x + tf.random.normal(tf.shape(x)) * tf.reshape(sd, [-1, *extra])
            x = _apply(s["noise_p"], b, noisy, x)
        return x

    def _resize(self, img, factor, axis):
        """Resample one axis of ``(batch, T, F)`` by ``factor`` per example, cropped/padded back."""
        size = tf.shape(img)[axis]

        def one(args):
            im, f = args
            im = im[..., None]
            n = tf.maximum(1, tf.cast(tf.round(tf.cast(size, tf.float32) * f), tf.int32))
            new = [n, tf.shape(im)[1]] if axis == 1 else [tf.shape(im)[0], n]
            r = tf.image.resize(im, new, method="bilinear")[..., 0]
            if axis == 1:
                r = r[:size]
                return tf.pad(r, [[0, size - tf.shape(r)[0]], [0, 0]], mode="SYMMETRIC")
            r = r[:, :size]
            return tf.pad(r, [[0, 0], [0, size - tf.shape(r)[1]]], mode="SYMMETRIC")

        return tf.map_fn(one, (img, factor), fn_output_signature=img.dtype)

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
            if unit == "db":
                eq = img + curve
            elif unit == "log":
                eq = img + curve * (2.302585093 / 20.0)  # ln(10^(c/20))
            else:
                eq = img * tf.pow(10.0, curve / 20.0)
            img = _apply(s["p"], b, eq, img)
        if s["time_stretch"]:
            rate = tf.random.uniform([b], 1 - s["time_stretch"], 1 + s["time_stretch"])
            img = _apply(s["p"], b, self._resize(img, rate, 1), img)
        if s["pitch_semitones"]:
            semis = tf.random.uniform([b], -s["pitch_semitones"], s["pitch_semitones"])
            img = _apply(s["p"], b, self._resize(img, tf.pow(2.0, semis / 12.0), 2), img)
        if self._masks is not None:  # masked cells take the example's mean value
            mean = tf.reduce_mean(img, axis=[1, 2], keepdims=True)
            img = self._masks((img - mean)[..., None], training=True)[..., 0] + mean
        return tf.cast(img, dtype)

    def call(self, x, training=False):  # the waveform stage (the image stage is :meth:`image`)
        return self.waveform(x, training=training)

    def get_config(self):
        return {**super().get_config(), "settings": self.settings, "bins_per_octave": self.bins_per_octave,
                "sample_rate": self.sample_rate}
