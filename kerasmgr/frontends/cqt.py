"""The constant-Q transform as a layer: librosa-compatible kernels applied to a framed waveform."""

from __future__ import annotations

import keras
import librosa
import numpy as np
import tensorflow as tf

from .base import as_waveform3d, register

__all__ = ["cqt_kernel", "ConstantQ"]


def cqt_kernel(
    *,
    sample_rate,
    fmin=None,
    n_bins=84,
    bins_per_octave=12,
    filter_scale=1.0,
    norm=1,
    window="hann",
):
    """Frequency-domain constant-Q kernel (Brown & Puckette's efficient method).

    Uses librosa's CQT filter basis (``librosa.filters.wavelet``) at the full sample rate,
    renormalised to the FFT length and transformed to the frequency domain, exactly as
    ``librosa.cqt`` builds its per-octave kernels, but for all bins at once (no early
    downsampling).

    Parameters
    ----------
    sample_rate : float
        Sample rate in Hz.
    fmin : float or None
        Centre frequency of the lowest bin in Hz (default C1 = 32.70 Hz).
    n_bins : int
        Number of constant-Q bins.
    bins_per_octave : int
        Bins per octave.
    filter_scale : float
        Filter length scale (1 = librosa's default Q).
    norm : {1, 2, inf, None}
        Normalisation of each time-domain filter.
    window : str
        Window of each filter.

    Returns
    -------
    kernel : np.ndarray, complex64, shape (n_fft // 2 + 1, n_bins)
        Spectral kernel: ``cqt[t, k] = |sum_f STFT[t, f] * kernel[f, k]| / sqrt(lengths[k])``
        for an unwindowed, centred STFT of length ``n_fft``.
    n_fft : int
        FFT length in samples (next power of two above the longest filter).
    lengths : np.ndarray, shape (n_bins,)
        Filter lengths in samples.
    frequencies : np.ndarray, shape (n_bins,)
        Centre frequencies in Hz.
    """
    if fmin is None:
        fmin = librosa.note_to_hz("C1")
    freqs = librosa.cqt_frequencies(n_bins=n_bins, fmin=fmin, bins_per_octave=bins_per_octave)
    if freqs[-1] * (1 + 0.5 * (2 ** (1 / bins_per_octave) - 1)) > sample_rate / 2:
        raise ValueError(
            f"CQT with fmin={fmin:.2f} Hz, n_bins={n_bins}, bins_per_octave={bins_per_octave} "
            f"reaches {freqs[-1]:.0f} Hz, above the Nyquist frequency {sample_rate / 2:.0f} Hz"
        )
    # librosa's private helper, on purpose: its public CQT has no API for the filter bandwidths it uses,
    # and matching librosa.cqt needs exactly these
    alpha = librosa.filters._relative_bandwidth(freqs=freqs)
    basis, lengths = librosa.filters.wavelet(
        freqs=freqs,
        sr=sample_rate,
        filter_scale=filter_scale,
        norm=norm,
        pad_fft=True,
        window=window,
        alpha=alpha,
    )
    n_fft = basis.shape[1]
    basis = basis * (lengths[:, None] / float(n_fft))
    fft_basis = np.fft.fft(basis, n=n_fft, axis=1)[:, : n_fft // 2 + 1]
    return fft_basis.T.astype(np.complex64), int(n_fft), lengths.astype(np.float64), freqs


@register
class ConstantQ(keras.layers.Layer):
    """Constant-Q magnitude of a waveform: a CQT kernel applied to an unwindowed STFT.

    Equivalent to ``np.abs(librosa.cqt(y, sr=sample_rate, hop_length=hop_length, fmin=fmin,
    n_bins=n_bins, bins_per_octave=bins_per_octave))`` computed without librosa's early
    downsampling (one FFT size for every octave), with centred, zero-padded frames. The
    differences from ``librosa.cqt`` come only from librosa's resampling of the lower octaves;
    ``tests/test_frontends.py`` checks them (see the README for the tolerance).

    Parameters
    ----------
    sample_rate : float
        Sample rate in Hz.
    hop_length : int
        Hop between frames in samples.
    fmin, n_bins, bins_per_octave, filter_scale, norm, window
        See :func:`cqt_kernel`.
    center : bool
        Pad ``n_fft // 2`` zeros at both ends so frame ``t`` is centred on sample ``t * hop``.

    Input ``(batch, n_samples, 1)``; output ``(batch, n_frames, n_bins)`` magnitudes
    (``n_frames = 1 + n_samples // hop_length`` when centred).
    """

    def __init__(
        self,
        sample_rate,
        hop_length=512,
        fmin=None,
        n_bins=84,
        bins_per_octave=12,
        filter_scale=1.0,
        norm=1,
        window="hann",
        center=True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.sample_rate = float(sample_rate)
        self.hop_length = int(hop_length)
        self.fmin = float(librosa.note_to_hz("C1") if fmin is None else fmin)
        self.n_bins = int(n_bins)
        self.bins_per_octave = int(bins_per_octave)
        self.filter_scale = float(filter_scale)
        self.norm = norm
        self.window = window
        self.center = bool(center)
        kernel, self.n_fft, lengths, self.frequencies = cqt_kernel(
            sample_rate=self.sample_rate,
            fmin=self.fmin,
            n_bins=self.n_bins,
            bins_per_octave=self.bins_per_octave,
            filter_scale=self.filter_scale,
            norm=self.norm,
            window=self.window,
        )
        self._kr = tf.constant(kernel.real, tf.float32)
        self._ki = tf.constant(kernel.imag, tf.float32)
        self._inv_sqrt_len = tf.constant(1.0 / np.sqrt(lengths), tf.float32)

    def call(self, x):
        x = as_waveform3d(x)[..., 0]
        if self.center:
            p = self.n_fft // 2
            x = tf.pad(x, [[0, 0], [p, p]])
        spec = tf.signal.stft(
            x, frame_length=self.n_fft, frame_step=self.hop_length, fft_length=self.n_fft,
            window_fn=None,
        )
        re, im = tf.math.real(spec), tf.math.imag(spec)
        out_re = tf.linalg.matmul(re, self._kr) - tf.linalg.matmul(im, self._ki)
        out_im = tf.linalg.matmul(re, self._ki) + tf.linalg.matmul(im, self._kr)
        return tf.sqrt(out_re * out_re + out_im * out_im) * self._inv_sqrt_len

    def get_config(self):
        return {
            **super().get_config(),
            "sample_rate": self.sample_rate,
            "hop_length": self.hop_length,
            "fmin": self.fmin,
            "n_bins": self.n_bins,
            "bins_per_octave": self.bins_per_octave,
            "filter_scale": self.filter_scale,
            "norm": self.norm,
            "window": self.window,
            "center": self.center,
        }
