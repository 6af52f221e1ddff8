"""Magnitude scaling and normalisation layers: decibels, natural log, A-weighting, per-frequency and
per-sample standardisation, a constant scaler (thesis chapter 5)."""

from __future__ import annotations

import kapre
import keras
import librosa
import numpy as np
import tensorflow as tf

from .base import register

__all__ = ["MAGNITUDE_SCALES", "FREQUENCY_WEIGHTINGS", "Decibel", "NaturalLog", "a_weighting_db", "FrequencyWeighting",
           "PerFrequencyStandardization", "PerSampleStandardization", "Scale"]

MAGNITUDE_SCALES = ("db", "log", "linear")
FREQUENCY_WEIGHTINGS = ("none", "per_frequency", "a_weighting")


@register
class Decibel(keras.layers.Layer):
    """Decibel scaling of a (power-``p``) spectrogram with a per-clip floor.

    Computes ``(20 / power) * log10(max(S, amin) / ref)`` — i.e. ``librosa.power_to_db`` for
    ``power=2`` and ``librosa.amplitude_to_db`` for ``power=1`` — then floors each clip at
    ``max(clip) - top_db``. The maximum is taken per clip, so no value depends on the batch.
    Uses ``kapre.backend.magnitude_to_decibel``. ``ref='max'`` subtracts the maximum (output
    in ``[-top_db, 0]``); ``scope='batch'`` takes that maximum over the whole batch tensor, as
    Kapre 0.1 did (its outputs then depend on the other clips; only for faithful ports).

    Parameters
    ----------
    power : float
        Exponent the spectrogram was raised to (1 = magnitude, 2 = power).
    ref : float or 'max'
        Reference value that maps to 0 dB (in units of ``S``), or the maximum.
    amin : float
        Floor of ``S`` before the logarithm (in units of ``S``).
    top_db : float or None
        Dynamic range in dB kept below each clip's maximum; ``None`` disables the floor.
    scope : {'clip', 'batch'}
        Where the maximum is taken.
    """

    def __init__(self, power=2.0, ref=1.0, amin=1e-10, top_db=80.0, scope="clip", **kwargs):
        super().__init__(**kwargs)
        self.power = float(power)
        self.ref = ref if ref == "max" else float(ref)
        self.amin = float(amin)
        self.top_db = None if top_db is None else float(top_db)
        if scope not in ("clip", "batch"):
            raise ValueError(f"scope must be 'clip' or 'batch', got {scope!r}")
        self.scope = scope

    def call(self, x):
        factor = 2.0 / self.power  # kapre's helper returns 10 log10
        if self.ref != "max" and self.scope == "clip":
            # a dynamic range wider than float32 can represent disables the floor
            rng = 1e30 if self.top_db is None else self.top_db / factor
            return factor * kapre.backend.magnitude_to_decibel(x, ref_value=self.ref, amin=self.amin, dynamic_range=rng)
        db = factor * 10.0 * tf.math.log(tf.maximum(x, self.amin)) / np.log(10.0)
        axes = list(range(1, len(x.shape))) if self.scope == "clip" else list(range(len(x.shape)))
        peak = tf.reduce_max(db, axis=axes, keepdims=True)
        if self.ref == "max":
            db = db - peak
            peak = tf.zeros_like(peak)
        else:
            db = db - factor * 10.0 * np.log10(max(self.amin, self.ref))
            peak = peak - factor * 10.0 * np.log10(max(self.amin, self.ref))
        if self.top_db is not None:
            db = tf.maximum(db, peak - self.top_db)
        return db

    def get_config(self):
        return {
            **super().get_config(),
            "power": self.power,
            "ref": self.ref,
            "amin": self.amin,
            "top_db": self.top_db,
            "scope": self.scope,
        }


@register
class NaturalLog(keras.layers.Layer):
    """``log(S + offset)`` (natural log), as in the Schindler et al. reproductions (offset 1e-6)."""

    def __init__(self, offset=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.offset = float(offset)

    def call(self, x):
        return tf.math.log(x + self.offset)

    def get_config(self):
        return {**super().get_config(), "offset": self.offset}


def a_weighting_db(frequencies, *, min_db=-80.0):
    """IEC 61672:2003 A-weighting in dB at the given frequencies (Hz).

    Parameters
    ----------
    frequencies : array_like, shape (n_freq,)
        Frequencies in Hz.
    min_db : float
        Lower clip of the weighting in dB (librosa's default -80 dB).

    Returns
    -------
    np.ndarray, shape (n_freq,)
        Weighting in dB (0 dB at 1 kHz).
    """
    with np.errstate(divide="ignore"):  # 0 Hz -> -inf, clipped to min_db
        return librosa.A_weighting(np.asarray(frequencies, dtype=np.float64), min_db=min_db)


@register
class FrequencyWeighting(keras.layers.Layer):
    """Multiply (or, in a log domain, add) a fixed per-frequency weighting in dB.

    Parameters
    ----------
    weights_db : list of float, length n_freq
        Weight of each frequency bin in dB (e.g. :func:`a_weighting_db`).
    domain : {'db', 'log', 'linear'}
        Scale of the input: 'db' adds ``weights_db``; 'log' (natural) adds
        ``weights_db * power / 20 * ln(10)``; 'linear' multiplies by ``10 ** (weights_db * power / 20)``.
    power : float
        Exponent of the spectrogram (1 magnitude, 2 power); used by 'log' and 'linear'.

    Input shape ``(batch, time, n_freq)``; output the same.
    """

    def __init__(self, weights_db, domain="db", power=2.0, **kwargs):
        super().__init__(**kwargs)
        self.weights_db = [float(w) for w in weights_db]
        self.domain = domain
        self.power = float(power)
        w = np.asarray(self.weights_db, dtype=np.float64)
        if domain == "db":
            v = w
        elif domain == "log":
            v = w * self.power / 20.0 * np.log(10.0)
        elif domain == "linear":
            v = 10.0 ** (w * self.power / 20.0)
        else:
            raise ValueError(f"domain must be 'db', 'log' or 'linear', got {domain!r}")
        self._w = tf.constant(v, dtype=tf.float32)

    def call(self, x):
        if self.domain == "linear":
            return x * self._w
        return x + self._w

    def get_config(self):
        return {
            **super().get_config(),
            "weights_db": self.weights_db,
            "domain": self.domain,
            "power": self.power,
        }


@register
class PerFrequencyStandardization(keras.layers.Layer):
    """Per-clip, per-frequency standardisation over time ("spectral whitening", thesis §5.2.3).

    Each frequency band of each clip gets zero mean and unit (population) standard deviation over
    the time axis: ``(x - mean_t) / (std_t + eps)``.

    Input ``(batch, time, freq)``; output the same.
    """

    def __init__(self, eps=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.eps = float(eps)

    def call(self, x):
        mean, var = tf.nn.moments(x, axes=[1], keepdims=True)
        return (x - mean) / (tf.sqrt(var) + self.eps)

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


@register
class PerSampleStandardization(keras.layers.Layer):
    """Per-clip standardisation over time and frequency (thesis "per-sample stdd").

    ``(x - mean) / (std + eps)`` with mean and population std over all bins of the clip
    (Kapre 0.1's ``Normalization2D(str_axis='data_sample')``, with ``eps`` 1e-10 there).

    Input ``(batch, time, freq)``; output the same.
    """

    def __init__(self, eps=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.eps = float(eps)

    def call(self, x):
        axes = list(range(1, len(x.shape)))
        mean, var = tf.nn.moments(x, axes=axes, keepdims=True)
        return (x - mean) / (tf.sqrt(var) + self.eps)

    def get_config(self):
        return {**super().get_config(), "eps": self.eps}


@register
class Scale(keras.layers.Layer):
    """Multiply by a constant (the thesis' ``×10`` scaler: ``X -> 10 X``)."""

    def __init__(self, factor=10.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
