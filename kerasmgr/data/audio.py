"""Audio decoding, resampling and length fixing, with clear errors for bad input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

__all__ = ["AudioError", "load_audio", "check_samples", "decode_error", "mix_down", "resample", "fix_length"]


class AudioError(ValueError):
    """A file that cannot be used as audio; the message names the file and the reason."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


def load_audio(path, sample_rate, *, mono=True, max_seconds=None, min_seconds=0.0, allow_silent=True):
    """Decode an audio file, mix to mono and resample.

    Parameters
    ----------
    path : str or Path
        wav, au, flac, ogg, mp3 ... (anything libsndfile reads).
    sample_rate : int
        Target sample rate in Hz; resampling uses soxr HQ (:func:`resample`).
    mono : bool
        Average the channels.
    max_seconds : float or None
        Read at most this many seconds from the start. Files longer than
        :data:`STREAM_SECONDS` are otherwise decoded block by block (streamed): only the mono
        output at ``sample_rate`` is held whole.
    min_seconds : float
        Shorter files are rejected ("too short").
    allow_silent : bool
        If False, all-zero files are rejected ("is silent").

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
        The waveform at ``sample_rate`` Hz, nominally in [-1, 1].

    Raises
    ------
    AudioError
        Missing or unreadable path, undecodable data, no samples, non-finite samples, too short
        or (if not allowed) silent.
    """
    import soundfile as sf

    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise AudioError(path, "broken or looping symbolic link")
    if not path.exists():
        raise AudioError(path, "no such file")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    if not os.access(path, os.R_OK):
        raise AudioError(path, "not readable (permission denied)")
    try:
        with sf.SoundFile(path) as f:
            native_sr = f.samplerate
            frames = -1 if max_seconds is None else int(np.ceil(max_seconds * native_sr))
            if mono and native_sr != sample_rate and f.frames > STREAM_SECONDS * native_sr and frames < 0:
                return _load_streamed(path, f, sample_rate, min_seconds=min_seconds, allow_silent=allow_silent)
            # 16-bit sources (most WAV and FLAC files) are read as integers and mixed exactly in
            # integer arithmetic: the same float32 numbers as reading floats and averaging, at a
            # fraction of libsndfile's float conversion (1 ms instead of 6.5 ms for 30 s of
            # 44.1-kHz stereo here)
            as_int = mono and f.subtype == "PCM_16"
            y = f.read(frames=frames, dtype="int16" if as_int else "float32", always_2d=True)
    except AudioError:
        raise
    except Exception as e:  # libsndfile's messages vary by format
        raise decode_error(path, e) from None
    check_samples(path, y, native_sr, min_seconds=min_seconds, allow_silent=allow_silent)
    if as_int:
        y = _mix_down_int16(y)
    else:
        y = mix_down(y) if mono else y.T
    return resample(y, native_sr, sample_rate)


def _mix_down_int16(y):
    """The channel mean of 16-bit samples (frames, channels) as float32 in [-1, 1), bit-equal to
    libsndfile's float conversion (``i / 32768``) followed by ``mean(axis=1)``.

    Both are exact until the division by the channel count: the integer sum of up to 512
    channels is exact in float32, as are the float partial sums, and scaling by 2⁻¹⁵ commutes
    with rounding; so ``(Σ i / k) · 2⁻¹⁵`` rounds once, where the float path does.
    """
    k = y.shape[1]
    # integer sums below 2^24 are exact in float32; converting the contiguous array first is 2×
    # faster than numpy's casting add on the strided columns
    total = _column_sum(y.astype(np.float32), np.float32)
    if k > 1:
        total /= np.float32(k)
    total *= np.float32(1.0 / 32768.0)
    return total


def _column_sum(y, dtype):
    """The channels of ``y`` (frames, channels) added column by column in order, in ``dtype``."""
    if y.shape[1] == 1:
        return y[:, 0].astype(dtype)
    acc = np.add(y[:, 0], y[:, 1], dtype=dtype)  # one pass: no converted copy of the first column
    for c in range(2, y.shape[1]):
        np.add(acc, y[:, c], out=acc, dtype=dtype)
    return acc


def mix_down(y):
    """The channel mean of ``y`` (frames, channels), float32: equal to ``y.mean(axis=1)`` bit for
    bit, at a fraction of its cost.

    numpy reduces the short, strided channel axis of a frames-first array one frame at a time
    (20 ms for 30 s of 44.1-kHz stereo here, more than decoding and resampling together); adding
    whole channel columns in the same order (first + second + ..., then ÷ channels, as numpy does
    for fewer than 8 channels) vectorises and gives the same numbers.
    """
    k = y.shape[1]
    if k == 1:
        return np.ascontiguousarray(y[:, 0])
    if k >= 8:  # numpy sums 8 or more elements pairwise: leave it to numpy
        return y.mean(axis=1)
    out = _column_sum(y, y.dtype)
    out /= y.dtype.type(k)
    return out


def decode_error(path, error):
    """The :class:`AudioError` of a file libsndfile could not open or read.

    For an existing regular file whose content is in no format libsndfile knows (e.g. text named
    ``.mp3``), libsndfile says "File does not exist or is not a regular file (possibly a pipe?)";
    the reason given here says what it is instead.
    """
    msg = str(error)
    if ("not a regular file" in msg or "Format not recognised" in msg) and Path(path).is_file():
        msg = "not a decodable audio file: its content is in no format libsndfile reads"
    return AudioError(path, f"cannot decode audio ({msg})")


def check_samples(path, y, sample_rate, *, min_seconds=0.0, allow_silent=True):
    """Raise :class:`AudioError` naming ``path`` if decoded samples ``y`` (frames first, any
    channels, at ``sample_rate`` Hz) are empty, non-finite, shorter than ``min_seconds`` or (if not
    allowed) silent."""
    if y.shape[0] == 0:
        raise AudioError(path, "contains no samples")
    if y.dtype.kind == "f" and not np.isfinite(y).all():  # integer samples are always finite
        raise AudioError(path, "contains NaN or infinite samples")
    if y.shape[0] < min_seconds * sample_rate:
        raise AudioError(path, f"too short ({y.shape[0] / sample_rate:.2f} s < {min_seconds:.2f} s)")
    if not allow_silent and not np.any(y):
        raise AudioError(path, "is silent (all samples are zero)")


def resample(y, orig_rate, sample_rate):
    """``y`` (..., n) from ``orig_rate`` to ``sample_rate`` Hz, float32 contiguous.

    soxr's HQ quality, called directly: the same numbers as
    ``librosa.resample(y, orig_sr=orig_rate, target_sr=sample_rate, res_type='soxr_hq')`` (the
    output is ``ceil(n · sample_rate / orig_rate)`` samples, zero-padded or cropped to that length
    as librosa does), without importing librosa (and numba) in processes that need only this.
    """
    if orig_rate != sample_rate:
        import soxr

        y = np.asarray(y)
        n_out = int(np.ceil(y.shape[-1] * (float(sample_rate) / orig_rate)))  # librosa's rounding, exactly
        rows = y.reshape(-1, y.shape[-1])
        out = np.zeros((rows.shape[0], n_out), dtype=y.dtype)
        for i, row in enumerate(rows):
            r = soxr.resample(row, orig_rate, sample_rate, quality="soxr_hq")
            out[i, : min(n_out, len(r))] = r[:n_out]
        y = out.reshape(*y.shape[:-1], n_out)
    return np.ascontiguousarray(y, dtype=np.float32)


#: Files longer than this (seconds) are decoded block by block: each block is mixed to mono and
#: resampled as a stream, so the native-rate multi-channel signal is never in memory whole.
STREAM_SECONDS = 300.0


def _load_streamed(path, f, sr, *, min_seconds, allow_silent, block_seconds=30.0):
    """:func:`load_audio` for long files (mono output): read, check, mix and resample per block."""
    import soxr

    native_sr = f.samplerate
    if f.frames < min_seconds * native_sr:
        raise AudioError(path, f"too short ({f.frames / native_sr:.2f} s < {min_seconds:.2f} s)")
    stream = soxr.ResampleStream(native_sr, sr, 1, dtype="float32", quality="HQ")
    out, any_sound = [], False
    for block in f.blocks(blocksize=int(block_seconds * native_sr), dtype="float32", always_2d=True):
        if not np.isfinite(block).all():
            raise AudioError(path, "contains NaN or infinite samples")
        any_sound = any_sound or bool(np.any(block))
        out.append(stream.resample_chunk(mix_down(block)))
    out.append(stream.resample_chunk(np.zeros(0, np.float32), last=True))
    if not allow_silent and not any_sound:
        raise AudioError(path, "is silent (all samples are zero)")
    return np.ascontiguousarray(np.concatenate(out), dtype=np.float32)


def fix_length(y, n_samples, *, mode="center"):
    """Crop or zero-pad the last axis to ``n_samples``.

    Parameters
    ----------
    y : np.ndarray, shape (..., n)
    n_samples : int
    mode : {'center', 'start'}
        Where to crop (centre or keep the start); padding is always at the end, as Choi's
        ``audio_processor.py`` does.
    """
    n = y.shape[-1]
    if n > n_samples:
        start = (n - n_samples) // 2 if mode == "center" else 0
        return y[..., start : start + n_samples]
    if n < n_samples:
        pad = [(0, 0)] * (y.ndim - 1) + [(0, n_samples - n)]
        return np.pad(y, pad)
    return y
