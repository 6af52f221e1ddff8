"""Ports of older front-ends, for weights trained with them: Kapre 0.1's mel spectrogram."""

from __future__ import annotations

import librosa
import numpy as np
import tensorflow as tf

from .base import as_waveform3d, register
from .composite import Frontend
from .framing import framing_pads

__all__ = ["Kapre01Frontend"]


@register
class Kapre01Frontend(Frontend):
    """Kapre 0.1's ``Melspectrogram`` maths with its matrices as weights, for ports of weights
    trained with it (Choi's Compact-convnet).

    Kapre 0.1 computed the STFT as a strided convolution with windowed-DFT kernels
    (``cos(2 pi k n / N) hann[n]`` and ``sin(...)``, stored float32 in the weight files) and
    applied a stored frequency-to-mel matrix to the power spectrum. This layer does the same
    (in float64), with ``real_kernels`` (n_fft, n_fft/2+1), ``imag_kernels`` and ``freq2mel``
    (n_fft/2+1, n_mels) as non-trainable weights that a converter overwrites with the released
    values; everything after the mel power (dB, standardisation) is :class:`Frontend`'s. Only
    ``kind='mel'``, ``power=2`` and the 'tf_same'/'theano'/'valid' framings are supported.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("precision", "float64")
        super().__init__(**kwargs)
        if self.kind != "mel" or self.power != 2.0:
            raise ValueError("Kapre01Frontend reproduces mel power spectrograms only (kind='mel', power=2)")

    def build(self, input_shape):
        nb = self.n_fft // 2 + 1
        self.real_kernels = self.add_weight(name="real_kernels", shape=(self.n_fft, nb), initializer="zeros",
                                            trainable=False, dtype="float32")
        self.imag_kernels = self.add_weight(name="imag_kernels", shape=(self.n_fft, nb), initializer="zeros",
                                            trainable=False, dtype="float32")
        self.freq2mel = self.add_weight(name="freq2mel", shape=(nb, self.n_mels), initializer="zeros",
                                        trainable=False, dtype="float32")
        n = np.arange(self.n_fft)[:, None]
        k = np.arange(nb)[None, :]
        hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(self.n_fft) / self.n_fft)  # periodic
        self.real_kernels.assign((np.cos(2 * np.pi * k * n / self.n_fft) * hann[:, None]).astype("float32"))
        self.imag_kernels.assign((np.sin(2 * np.pi * k * n / self.n_fft) * hann[:, None]).astype("float32"))
        self.freq2mel.assign(self.filterbank_matrix().astype("float32"))
        super().build(input_shape)

    def filterbank_matrix(self):
        return librosa.filters.mel(sr=self.sample_rate, n_fft=self.n_fft, n_mels=self.n_mels,
                                   fmin=0.0 if self.fmin is None else self.fmin, fmax=self.fmax,
                                   htk=self.htk, norm=self.mel_norm).T

    def filterbank(self):
        return np.asarray(self.freq2mel)

    def spectrogram(self, x):
        x = tf.cast(as_waveform3d(x)[..., 0], tf.float64)
        left, right, n_frames = framing_pads(int(x.shape[1]), self.n_fft, self.hop_length, self.framing)
        x = tf.pad(x, [[0, 0], [left, right]])
        frames = tf.signal.frame(x, self.n_fft, self.hop_length)[:, :n_frames]  # (b, t, n_fft)
        re = tf.linalg.matmul(frames, tf.cast(self.real_kernels, tf.float64))
        im = tf.linalg.matmul(frames, tf.cast(self.imag_kernels, tf.float64))
        return tf.linalg.matmul(re * re + im * im, tf.cast(self.freq2mel, tf.float64))
