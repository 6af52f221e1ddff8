"""On-graph audio front-ends: waveform batch in, ``(batch, time, freq, 1)`` image out.

Built on Kapre 0.4.1 (``kapre.STFT``, ``kapre.Magnitude``, ``kapre.ApplyFilterbank`` and
``kapre.backend.magnitude_to_decibel``) plus a few small registered layers for what Kapre lacks:
centred framing, arbitrary power/log scaling, A-weighting, per-frequency and per-sample
standardisation, a constant scaler (thesis chapter 5) and a constant-Q transform.

Every statistic is computed per clip (never over the batch), so each clip's output is the same
whatever the batch size or batch composition (up to float32 rounding of batched kernels).

The composite layer :class:`Frontend` wires these according to its arguments and is what the model
zoo puts first in every model (named ``"frontend"``).

Examples
--------
>>> import numpy as np, kerasmgr.frontends as fe
>>> mel = fe.Frontend(kind="mel", sample_rate=12000, n_fft=512, hop_length=256, n_mels=96)
>>> mel(np.zeros((2, 348000), "float32")).shape
TensorShape([2, 1360, 96, 1])
"""

from __future__ import annotations

import kapre
import keras
import librosa
import numpy as np
import tensorflow as tf

__all__ = ["Frontend", "Kapre01Frontend", "FramingPad", "framing_pads", "FRAMINGS", "Decibel", "NaturalLog",
           "FrequencyWeighting", "PerFrequencyStandardization", "PerSampleStandardization", "Scale", "ConstantQ",
           "cqt_kernel", "a_weighting_db", "KINDS", "MAGNITUDE_SCALES", "FREQUENCY_WEIGHTINGS", "find_frontend"]

KINDS = ("stft", "mel", "cqt")
MAGNITUDE_SCALES = ("db", "log", "linear")
FREQUENCY_WEIGHTINGS = ("none", "per_frequency", "a_weighting")

_register = keras.saving.register_keras_serializable(package="kerasmgr")


def _as_waveform3d(x):
    """(batch, n) or (batch, n, 1) -> (batch, n, 1)."""
    if len(x.shape) == 2:
        return tf.expand_dims(x, -1)
    return x


FRAMINGS = ("center", "valid", "tf_same", "theano")


def framing_pads(n_samples, n_fft, hop_length, framing):
    """Zero padding (left, right) in samples and the frame count of a framing convention.

    * ``'center'``: ``n_fft // 2`` each side, ``1 + n // hop`` frames (librosa ``center=True``);
    * ``'valid'``: none, ``1 + (n - n_fft) // hop`` frames;
    * ``'tf_same'``: TensorFlow 'SAME' padding of a strided convolution (Kapre 0.1's STFT):
      ``T = ceil(n / hop)``, ``pad_total = max((T - 1) * hop + n_fft - n, 0)`` split floor-left;
    * ``'theano'``: Kapre 0.1 on Theano (true convolution with 'half' padding): frame ``t``
      starts at sample ``t * hop - (n_fft // 2 + 1)``, ``T = ceil(n / hop)``.

    Returns
    -------
    (int, int, int)
        ``(pad_left, pad_right, n_frames)``.
    """
    if framing == "center":
        return n_fft // 2, n_fft // 2, 1 + n_samples // hop_length
    if framing == "valid":
        return 0, 0, 1 + (n_samples - n_fft) // hop_length
    t = -(-n_samples // hop_length)
    if framing == "tf_same":
        total = max((t - 1) * hop_length + n_fft - n_samples, 0)
        return total // 2, total - total // 2, t
    if framing == "theano":
        left = n_fft // 2 + 1
        return left, max((t - 1) * hop_length + n_fft - left - n_samples, 0), t
    raise ValueError(f"framing must be one of {FRAMINGS}, got {framing!r}")


@_register
class FramingPad(keras.layers.Layer):
    """Pad a waveform ``(batch, n, 1)`` for a framing convention (see :func:`framing_pads`).

    ``pad_mode`` 'constant' pads zeros; 'reflect' mirrors the signal (old librosa's centred
    STFT). The following STFT keeps the first ``n_frames`` frames.
    """

    def __init__(self, n_fft, hop_length, framing="center", pad_mode="constant", **kwargs):
        super().__init__(**kwargs)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.framing = framing
        self.pad_mode = pad_mode
        framing_pads(10 * self.n_fft, self.n_fft, self.hop_length, framing)  # validates
        if pad_mode not in ("constant", "reflect"):
            raise ValueError(f"pad_mode must be 'constant' or 'reflect', got {pad_mode!r}")

    def call(self, x):
        left, right, _ = framing_pads(int(x.shape[1]), self.n_fft, self.hop_length, self.framing)
        return tf.pad(x, [[0, 0], [left, right], [0, 0]], mode=self.pad_mode.upper())

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        if n is None:
            return input_shape
        left, right, _ = framing_pads(n, self.n_fft, self.hop_length, self.framing)
        return (input_shape[0], n + left + right, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "n_fft": self.n_fft, "hop_length": self.hop_length,
                "framing": self.framing, "pad_mode": self.pad_mode}


@_register
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


@_register
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


@_register
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


@_register
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


@_register
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


@_register
class Scale(keras.layers.Layer):
    """Multiply by a constant (the thesis' ``×10`` scaler: ``X -> 10 X``)."""

    def __init__(self, factor=10.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = float(factor)

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


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


@_register
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
        x = _as_waveform3d(x)[..., 0]
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


@_register
class Frontend(keras.layers.Layer):
    """Waveform -> time-frequency image, chosen by arguments (STFT, mel or constant-Q).

    Pipeline: [centre padding] -> representation -> ``|X| ** power`` -> magnitude scale ->
    frequency weighting -> [per-sample standardisation] -> [``×scale``] -> channel axis.
    The order of the last three steps follows the thesis (§5.2.3: log compression first).

    Parameters
    ----------
    kind : {'stft', 'mel', 'cqt'}
        Representation. 'stft' and 'mel' use ``kapre.STFT`` + ``kapre.Magnitude`` (+
        ``kapre.ApplyFilterbank``); 'cqt' uses :class:`ConstantQ`.
    sample_rate : int
        Sample rate of the input waveform in Hz.
    n_fft : int
        FFT length in samples (STFT and mel).
    hop_length : int
        Hop between frames in samples.
    win_length : int or None
        Window length in samples (default ``n_fft``); Hann window.
    center : bool
        Centred framing (librosa's default): ``1 + n // hop`` frames. Otherwise
        ``1 + (n - n_fft) // hop`` frames with no padding.
    framing : {None, 'center', 'valid', 'tf_same', 'theano'}
        Overrides ``center``; 'tf_same' and 'theano' reproduce Kapre 0.1's framings
        (:func:`framing_pads`), for ports of released weights.
    pad_mode : {'constant', 'reflect'}
        Padding of centred framing (librosa < 0.10 reflected).
    n_mels : int
        Number of mel bands (kind 'mel').
    fmin, fmax : float or None
        Frequency range in Hz of the mel filterbank (default 0 and ``sample_rate / 2``), or the
        lowest CQT bin (default C1).
    htk, mel_norm
        Mel scale formula and filter normalisation (as ``librosa.filters.mel``).
    n_bins, bins_per_octave : int
        Constant-Q bins (kind 'cqt').
    power : float
        Exponent applied to the magnitude: 1 magnitude, 2 power. For 'mel' it is applied
        before the filterbank (librosa's ``melspectrogram(power=...)``).
    magnitude_scale : {'db', 'log', 'linear'}
        'db': :class:`Decibel` (``(20/power) log10``, per-clip ``top_db`` floor);
        'log': natural ``log(S + log_offset)``; 'linear': none.
    db_ref, db_amin, top_db : float
        Decibel reference (or 'max'), floor and dynamic range (dB).
    db_power : float or None
        Exponent the dB conversion assumes (default ``power``); 1 gives ``20 log10`` of the
        spectrogram whatever its power (Choi's 2016 taggers squared the mel power again).
    db_scope : {'clip', 'batch'}
        Where the decibel maximum is taken ('batch' only for faithful ports of Kapre 0.1).
    log_offset : float
        Offset of the natural log.
    frequency_weighting : {'none', 'per_frequency', 'a_weighting'}
        'per_frequency': per-clip standardisation of each band over time; 'a_weighting':
        IEC 61672 A-weighting at each bin's centre frequency.
    sample_standardization : bool
        Per-clip standardisation over time and frequency.
    standardization_eps : float
        Added to the standard deviation (Kapre 0.1's ``Normalization2D``: 1e-10).
    scale : float
        Constant factor applied last (10 for the thesis' ×10 scaler; 1 = off).
    precision : {'float32', 'float64'}
        Arithmetic of the spectrogram and its scaling (the output is float32). float64 keeps
        bins far below the peak exact (float32 FFT rounding is ~1e-3 dB at -80 dB); the ports of
        released weights use it.

    Input ``(batch, n_samples)`` or ``(batch, n_samples, 1)`` float waveform in [-1, 1].
    Output ``(batch, n_frames, n_freq, 1)`` float32 where ``n_freq`` is ``n_fft // 2 + 1``,
    ``n_mels`` or ``n_bins``.
    """

    def __init__(
        self,
        kind="mel",
        sample_rate=12000,
        n_fft=512,
        hop_length=256,
        win_length=None,
        center=True,
        framing=None,
        pad_mode="constant",
        n_mels=96,
        fmin=None,
        fmax=None,
        htk=False,
        mel_norm="slaney",
        n_bins=84,
        bins_per_octave=12,
        power=2.0,
        magnitude_scale="db",
        db_ref=1.0,
        db_amin=1e-10,
        top_db=80.0,
        db_scope="clip",
        db_power=None,
        log_offset=1e-6,
        frequency_weighting="none",
        sample_standardization=False,
        standardization_eps=1e-6,
        scale=1.0,
        precision="float32",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if magnitude_scale not in MAGNITUDE_SCALES:
            raise ValueError(f"magnitude_scale must be one of {MAGNITUDE_SCALES}, got {magnitude_scale!r}")
        if frequency_weighting not in FREQUENCY_WEIGHTINGS:
            raise ValueError(
                f"frequency_weighting must be one of {FREQUENCY_WEIGHTINGS}, got {frequency_weighting!r}"
            )
        self.kind = kind
        self.sample_rate = int(sample_rate)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.win_length = None if win_length is None else int(win_length)
        self.framing = framing or ("center" if center else "valid")
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}, got {self.framing!r}")
        if kind == "cqt" and self.framing not in ("center", "valid"):
            raise ValueError("the constant-Q front-end supports framing 'center' or 'valid'")
        self.center = self.framing == "center"
        self.pad_mode = pad_mode
        self.n_mels = int(n_mels)
        self.fmin = None if fmin is None else float(fmin)
        self.fmax = None if fmax is None else float(fmax)
        self.htk = bool(htk)
        self.mel_norm = mel_norm
        self.n_bins = int(n_bins)
        self.bins_per_octave = int(bins_per_octave)
        self.power = float(power)
        self.magnitude_scale = magnitude_scale
        self.db_ref = db_ref if db_ref == "max" else float(db_ref)
        self.db_amin = float(db_amin)
        self.top_db = None if top_db is None else float(top_db)
        self.db_scope = db_scope
        self.db_power = None if db_power is None else float(db_power)
        self.log_offset = float(log_offset)
        self.frequency_weighting = frequency_weighting
        self.sample_standardization = bool(sample_standardization)
        self.standardization_eps = float(standardization_eps)
        self.scale = float(scale)
        if precision not in ("float32", "float64"):
            raise ValueError(f"precision must be 'float32' or 'float64', got {precision!r}")
        self.precision = precision

        sub = {"dtype": "float64"} if precision == "float64" else {}  # sub-layers compute in this
        if kind == "cqt":
            self._cqt = ConstantQ(
                sample_rate=self.sample_rate,
                hop_length=self.hop_length,
                fmin=self.fmin,
                n_bins=self.n_bins,
                bins_per_octave=self.bins_per_octave,
                center=self.center,
                name="cqt", **sub
            )
        else:
            if self.framing != "valid":
                self._pad = FramingPad(self.n_fft, self.hop_length, self.framing, self.pad_mode, name="framing_pad", **sub)
            self._stft = kapre.STFT(
                n_fft=self.n_fft,
                win_length=self.win_length,
                hop_length=self.hop_length,
                input_data_format="channels_last",
                output_data_format="channels_last",
                name="stft", **sub
            )
            self._mag = kapre.Magnitude(name="magnitude", **sub)
            if kind == "mel":
                self._mel = kapre.ApplyFilterbank(
                    type="mel",
                    filterbank_kwargs={
                        "sample_rate": self.sample_rate,
                        "n_freq": self.n_fft // 2 + 1,
                        "n_mels": self.n_mels,
                        "f_min": 0.0 if self.fmin is None else self.fmin,
                        "f_max": self.fmax,
                        "htk": self.htk,
                        "norm": self.mel_norm,
                    },
                    data_format="channels_last",
                    name="mel_filterbank",
                )
        if magnitude_scale == "db":
            self._scale_layer = Decibel(
                power=self.power if self.db_power is None else self.db_power, ref=self.db_ref, amin=self.db_amin, top_db=self.top_db, scope=self.db_scope,
                name="decibel", **sub
            )
        elif magnitude_scale == "log":
            self._scale_layer = NaturalLog(self.log_offset, name="log", **sub)
        if frequency_weighting == "a_weighting":
            self._weighting = FrequencyWeighting(
                a_weighting_db(self.frequencies()).tolist(),
                domain=magnitude_scale,
                power=self.power,
                name="a_weighting", **sub,
            )
        elif frequency_weighting == "per_frequency":
            self._weighting = PerFrequencyStandardization(name="per_frequency_standardization", **sub)
        if self.sample_standardization:
            self._sample_std = PerSampleStandardization(self.standardization_eps, name="per_sample_standardization", **sub)
        if self.scale != 1.0:
            self._scaler = Scale(self.scale, name="scale", **sub)

    def build(self, input_shape):
        # the sub-layers hold no weights; building them here keeps Keras' state tracking exact
        n = input_shape[1]
        shape3 = (input_shape[0], n, 1)
        if self.kind == "cqt":
            self._cqt.build(shape3)
        else:
            if self.framing != "valid":
                self._pad.build(shape3)
                shape3 = self._pad.compute_output_shape(shape3)
            self._stft.build(shape3)
            self._mag.build(None)
            if self.kind == "mel":
                self._mel.build(None)
        self.built = True

    # ----------------------------------------------------------------------------------------
    @property
    def n_freq(self):
        """Number of frequency bins of the output."""
        return {"stft": self.n_fft // 2 + 1, "mel": self.n_mels, "cqt": self.n_bins}[self.kind]

    def frequencies(self):
        """Centre frequency in Hz of each output bin, shape ``(n_freq,)``."""
        if self.kind == "stft":
            return librosa.fft_frequencies(sr=self.sample_rate, n_fft=self.n_fft)
        if self.kind == "mel":
            return librosa.mel_frequencies(
                n_mels=self.n_mels + 2,
                fmin=0.0 if self.fmin is None else self.fmin,
                fmax=self.sample_rate / 2 if self.fmax is None else self.fmax,
                htk=self.htk,
            )[1:-1]
        fmin = librosa.note_to_hz("C1") if self.fmin is None else self.fmin
        return librosa.cqt_frequencies(n_bins=self.n_bins, fmin=fmin, bins_per_octave=self.bins_per_octave)

    def n_frames(self, n_samples):
        """Number of output frames for a waveform of ``n_samples`` samples."""
        n_fft = self.n_fft if self.kind != "cqt" else self._cqt.n_fft
        if self.framing == "valid" and n_samples < n_fft:
            raise ValueError(f"{n_samples} samples are fewer than one frame of {n_fft}")
        return framing_pads(n_samples, n_fft, self.hop_length, self.framing)[2]

    def min_samples(self, n_frames):
        """Fewest samples that give ``n_frames`` frames."""
        if self.framing == "center":
            return (n_frames - 1) * self.hop_length
        if self.framing in ("tf_same", "theano"):
            return (n_frames - 1) * self.hop_length + 1
        n_fft = self.n_fft if self.kind != "cqt" else self._cqt.n_fft
        return (n_frames - 1) * self.hop_length + n_fft

    def filterbank(self):
        """The ``(n_fft // 2 + 1, n_mels)`` mel matrix (kind 'mel'), else ``None``."""
        if self.kind != "mel":
            return None
        return np.asarray(self._mel.filterbank)

    # ----------------------------------------------------------------------------------------
    def stft(self, x):
        """Complex STFT of the front-end's framing, shape ``(batch, n_frames, n_fft // 2 + 1)``.

        Kinds 'stft' and 'mel' only. ``|stft(x)|`` is what :meth:`from_magnitude` expects.
        """
        if self.kind == "cqt":
            raise ValueError("a constant-Q front-end has no STFT magnitude to work on")
        x = _as_waveform3d(x)
        if self.precision == "float64":
            x = tf.cast(x, tf.float64)
        n_frames = None if x.shape[1] is None else self.n_frames(int(x.shape[1]))
        if self.framing != "valid":
            x = self._pad(x)
        z = self._stft(x)[..., 0]  # (b, t, f)
        if self.framing in ("tf_same", "theano") and n_frames is not None:
            z = z[:, :n_frames]
        return z

    def istft(self, spectrum, n_samples):
        """Weighted overlap-add inverse of :meth:`stft` (dnn-mgr's ``overlap_add``).

        ``x[n] = Σ_k w[n − k·hop] frame_k[n − k·hop] / (Σ_k w²[n − k·hop] + 1e-12)``: exact
        wherever the frames' windows cover a sample (everywhere for centred framing; the first
        and last few samples of uncentred framing, under a single window's tail, are attenuated).
        A modified spectrum gives the least-squares signal of its frames (Griffin & Lim).

        Parameters
        ----------
        spectrum : tensor, shape (batch, n_frames, n_fft // 2 + 1), complex
        n_samples : int
            Length of the waveform the STFT was taken from.

        Returns
        -------
        tf.Tensor, shape (batch, n_samples), float32
        """
        if self.kind == "cqt":
            raise ValueError("a constant-Q front-end has no STFT to invert")
        n_fft, hop = self.n_fft, self.hop_length
        win = self.win_length or n_fft
        left, _, _ = framing_pads(n_samples, n_fft, hop, self.framing)
        frames = tf.signal.irfft(tf.cast(spectrum, tf.complex64), fft_length=[n_fft])[..., :win]
        w = tf.signal.hann_window(win, dtype=tf.float32)
        y = tf.signal.overlap_and_add(frames * w, hop)
        norm = tf.signal.overlap_and_add(tf.broadcast_to(w * w, tf.shape(frames)), hop)
        y = y / (norm + 1e-12)
        total = left + n_samples
        y = tf.pad(y, [[0, 0], [0, tf.maximum(total - tf.shape(y)[-1], 0)]])
        return y[:, left:total]

    def magnitude(self, x):
        """Linear STFT magnitude ``|X|``, shape ``(batch, n_frames, n_fft // 2 + 1)``."""
        return self._mag(self.stft(x)[..., None])[..., 0]

    def _power_filterbank(self, s):
        """``|X| -> |X| ** power`` (then the mel filterbank for kind 'mel'), shape (b, t, n_freq)."""
        if self.precision == "float64":
            s = tf.cast(s, tf.float64)
        if self.power != 1.0:
            s = tf.pow(s, self.power)
        if self.kind == "mel":
            if self.precision == "float64":
                return tf.tensordot(s, tf.cast(self._mel.filterbank, tf.float64), axes=[[2], [0]])
            return self._mel(s[..., None])[..., 0]
        return s

    def spectrogram(self, x):
        """``|X| ** power`` before any scaling, shape ``(batch, n_frames, n_freq)``."""
        if self.kind == "cqt":
            x = _as_waveform3d(x)
            if self.precision == "float64":
                x = tf.cast(x, tf.float64)
            s = self._cqt(x)
            return tf.pow(s, self.power) if self.power != 1.0 else s
        return self._power_filterbank(self.magnitude(x))

    def _finish(self, s):
        if self.magnitude_scale != "linear":
            s = self._scale_layer(s)
        if self.frequency_weighting != "none":
            s = self._weighting(s)
        if self.sample_standardization:
            s = self._sample_std(s)
        if self.scale != 1.0:
            s = self._scaler(s)
        return tf.expand_dims(tf.cast(s, self.compute_dtype), -1)

    def from_magnitude(self, magnitude):
        """The front-end's output from a linear STFT magnitude (differentiable).

        Parameters
        ----------
        magnitude : tensor, shape (batch, n_frames, n_fft // 2 + 1)
            ``|X|`` as returned by :meth:`magnitude`.

        Returns
        -------
        tensor, shape (batch, n_frames, n_freq, 1)
            Equal to ``self(x)`` when ``magnitude == self.magnitude(x)``.
        """
        if self.kind == "cqt":
            raise ValueError("a constant-Q front-end has no STFT magnitude to work on")
        return self._finish(self._power_filterbank(magnitude))

    def call(self, x):
        return self._finish(self.spectrogram(x))

    def compute_output_shape(self, input_shape):
        n = input_shape[1]
        return (input_shape[0], None if n is None else self.n_frames(n), self.n_freq, 1)

    def get_config(self):
        return {
            **super().get_config(),
            "kind": self.kind,
            "sample_rate": self.sample_rate,
            "n_fft": self.n_fft,
            "hop_length": self.hop_length,
            "win_length": self.win_length,
            "center": self.center,
            "framing": self.framing,
            "pad_mode": self.pad_mode,
            "n_mels": self.n_mels,
            "fmin": self.fmin,
            "fmax": self.fmax,
            "htk": self.htk,
            "mel_norm": self.mel_norm,
            "n_bins": self.n_bins,
            "bins_per_octave": self.bins_per_octave,
            "power": self.power,
            "magnitude_scale": self.magnitude_scale,
            "db_ref": self.db_ref,
            "db_amin": self.db_amin,
            "top_db": self.top_db,
            "db_scope": self.db_scope,
            "db_power": self.db_power,
            "log_offset": self.log_offset,
            "frequency_weighting": self.frequency_weighting,
            "sample_standardization": self.sample_standardization,
            "standardization_eps": self.standardization_eps,
            "scale": self.scale,
            "precision": self.precision,
        }


def find_frontend(model):
    """Return the :class:`Frontend` layer of a kerasmgr model, or ``None``."""
    for layer in model.layers:
        if isinstance(layer, Frontend):
            return layer
    return None


@_register
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
        x = tf.cast(_as_waveform3d(x)[..., 0], tf.float64)
        left, right, n_frames = framing_pads(int(x.shape[1]), self.n_fft, self.hop_length, self.framing)
        x = tf.pad(x, [[0, 0], [left, right]])
        frames = tf.signal.frame(x, self.n_fft, self.hop_length)[:, :n_frames]  # (b, t, n_fft)
        re = tf.linalg.matmul(frames, tf.cast(self.real_kernels, tf.float64))
        im = tf.linalg.matmul(frames, tf.cast(self.imag_kernels, tf.float64))
        return tf.linalg.matmul(re * re + im * im, tf.cast(self.freq2mel, tf.float64))
