"""The composite :class:`Frontend`: waveform in, ``(batch, time, freq, 1)`` image out, wired from its
arguments (Kapre's STFT/magnitude/filterbank plus the layers of this package). Every model of the
zoo puts one first, named ``"frontend"``."""

from __future__ import annotations

import kapre
import keras
import librosa
import numpy as np
import tensorflow as tf

from .augment import Augment, resolve_augment
from .base import as_waveform3d, dtype_policy, is_mixed_policy, register
from .cqt import ConstantQ
from .framing import FRAMINGS, FramingPad, framing_pads
from .scaling import (
    FREQUENCY_WEIGHTINGS,
    MAGNITUDE_SCALES,
    Decibel,
    FrequencyWeighting,
    NaturalLog,
    PerFrequencyStandardization,
    PerSampleStandardization,
    Scale,
    a_weighting_db,
)

__all__ = ["KINDS", "Frontend", "find_frontend"]

KINDS = ("stft", "mel", "cqt")


@register
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
    augment : dict or None
        Training-time data augmentation (:mod:`kerasmgr.frontends.augment`; ``{}``: the default
        set). Inert at inference.

    Input ``(batch, n_samples)`` or ``(batch, n_samples, 1)`` float waveform in [-1, 1].
    Output ``(batch, n_frames, n_freq, 1)`` float32 where ``n_freq`` is ``n_fft // 2 + 1``,
    ``n_mels`` or ``n_bins``.
    """

    def __init__(self, *args, **kwargs):
        if not is_mixed_policy():
            self._setup(*args, **kwargs)
            return
        # under a mixed-precision policy the front-end (FFTs, filterbanks, dB) stays in float32:
        # the network after it computes in the low precision (kerasmgr.models.build(mixed_precision=...))
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "float32"
        with dtype_policy("float32"):
            self._setup(*args, **kwargs)

    def _setup(
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
        augment=None,
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
        self.augment = resolve_augment(augment)
        self._augment = None if self.augment is None else Augment(self.augment, sample_rate=self.sample_rate,
                                                                  name="augment")

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
                power=self.power if self.db_power is None else self.db_power, ref=self.db_ref, amin=self.db_amin,
                top_db=self.top_db, scope=self.db_scope,
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
        if self._augment is not None:
            self._augment.configure(None if n is None else self.n_frames(n), self.n_freq)
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
    def analysis_window(self):
        """The STFT's analysis window (Kapre's, a periodic Hann by default), float64, shape (win_length,)."""
        win = self.win_length or self.n_fft
        return np.asarray(self._stft.window_fn(win, dtype=tf.float32), np.float64)

    def framed_input(self, x):
        """The waveform as the STFT frames it: ``(batch, n, 1)`` padded for the framing
        convention, and the number of frames to keep (``None`` for an unknown length). Frames
        are ``win_length`` samples every ``hop_length`` from the start of the padded signal."""
        x = as_waveform3d(x)
        if self.precision == "float64":
            x = tf.cast(x, tf.float64)
        n_frames = None if x.shape[1] is None else self.n_frames(int(x.shape[1]))
        if self.framing != "valid":
            x = self._pad(x)
        return x, n_frames

    def stft(self, x):
        """Complex STFT of the front-end's framing, shape ``(batch, n_frames, n_fft // 2 + 1)``.

        Kinds 'stft' and 'mel' only. ``|stft(x)|`` is what :meth:`from_magnitude` expects.
        """
        if self.kind == "cqt":
            raise ValueError("a constant-Q front-end has no STFT magnitude to work on")
        x, n_frames = self.framed_input(x)
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
        return self._filterbank(s)

    def _filterbank(self, s):
        """The mel filterbank applied to ``s`` (b, t, n_fft // 2 + 1) for kind 'mel'; ``s`` otherwise."""
        if self.kind == "mel":
            if self.precision == "float64":
                return tf.tensordot(s, tf.cast(self._mel.filterbank, tf.float64), axes=[[2], [0]])
            return self._mel(s[..., None])[..., 0]
        return s

    def spectrogram(self, x):
        """``|X| ** power`` before any scaling, shape ``(batch, n_frames, n_freq)``."""
        if self.kind == "cqt":
            x = as_waveform3d(x)
            if self.precision == "float64":
                x = tf.cast(x, tf.float64)
            s = self._cqt(x)
            return tf.pow(s, self.power) if self.power != 1.0 else s
        if self.power == 2.0 and self.precision != "float64":
            # |X|² as re² + im²: no square root to square again (half the cost of |X| then pow)
            z = self.stft(x)
            return self._filterbank(tf.math.square(tf.math.real(z)) + tf.math.square(tf.math.imag(z)))
        return self._power_filterbank(self.magnitude(x))

    def finish(self, s, training=False):
        """The front-end's output from ``|X| ** power`` after the filterbank, shape (b, t, n_freq):
        magnitude scaling, weighting, standardisation, a channel axis -> (b, t, n_freq, 1)."""
        return self._finish(s, training=training)

    def _finish(self, s, training=False):
        if self.magnitude_scale != "linear":
            s = self._scale_layer(s)
        if self._augment is not None:
            s = self._augment.image(s, unit=self.magnitude_scale, training=training)
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

    def call(self, x, training=False):
        if self._augment is not None:
            x = self._augment.waveform(x, training=training)
        return self._finish(self.spectrogram(x), training=training)

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
            "augment": self.augment,
        }


def find_frontend(model):
    """Return the :class:`Frontend` layer of a kerasmgr model, or ``None``."""
    for layer in model.layers:
        if isinstance(layer, Frontend):
            return layer
    return None
