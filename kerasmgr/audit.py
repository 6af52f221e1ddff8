"""Validity measures: is a model listening to the music? (the computing behind ``bin/audit.py``).

Three kinds of evidence, each on arrays and models only (the job that reads a dataset and writes
the report is :mod:`kerasmgr.jobs.audit`):

- **Irrelevant transformations** (:data:`TRANSFORMS`): gain, filters, added noise, a shifted
  analysis window, time-stretch, pitch-shift, resampling, lossy re-encoding, DC offset and mild
  clipping, each at several strengths. Every strength carries a *perceptual* label: ``inaudible``
  (a listener would not hear it, or barely), ``irrelevant`` (audible, but no listener would change
  the genre or the tags for it) or ``audible`` (a real change of the signal; reported, never
  flagged). A model that changes its decisions under inaudible or irrelevant transformations has
  learned something other than the music (seed 004's "horse").
- **Uncertainty**: bootstrap intervals of accuracy / ROC-AUC over clips (:func:`bootstrap_ci`).
- **Paired comparisons** of two models on the same clips: McNemar's exact test on single-label
  decisions (:func:`mcnemar`) and a paired bootstrap of metric differences
  (:func:`paired_bootstrap`).

Verdict thresholds (:data:`THRESHOLDS`) are documented with the report: a transformation *fails*
when more than 15 % of decisions flip under a strength labelled inaudible or irrelevant, *warns*
above 5 %.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf
from scipy import signal, stats

from .data.audio import resample
from .data.windows import lengthen
from .metrics import classification_metrics

__all__ = ["Transform", "TRANSFORMS", "apply_transform", "transform_grid", "decisions", "flip_rate", "task_metric",
           "bootstrap_ci", "macro_roc_auc", "macro_average_precision", "mcnemar", "paired_bootstrap", "THRESHOLDS",
           "flag", "pink_noise", "EncoderMissing"]

#: Verdict thresholds. ``flip``: share of flipped decisions under inaudible/irrelevant
#: transformations (warn, fail); ``adversary_db``: the SNR bound (dB) at or above which an
#: adversary that takes the metric to chance makes the model fail (warn below it down to the
#: second value); ``leakage``: the drop of the headline metric from a random to a group-filtered
#: split (warn, fail).
THRESHOLDS = {"flip": (0.05, 0.15), "adversary_db": (30.0, 20.0), "leakage": (0.05, 0.15)}


class EncoderMissing(RuntimeError):
    """A lossy encoder this libsndfile build does not have (the message names it)."""


@dataclass(frozen=True)
class Transform:
    """A family of irrelevant transformations.

    ``strengths`` are in ``unit``; ``perceptual(strength, sample_rate)`` labels each one
    (``'inaudible'``, ``'irrelevant'`` or ``'audible'``).
    """

    name: str
    unit: str
    strengths: tuple
    fn: object
    perceptual: object
    description: str

    def applicable(self, strength, sample_rate):
        """Whether a strength makes sense at this sample rate (cut-offs below the Nyquist frequency)."""
        if self.name in ("lowpass", "highpass", "bandstop"):
            return float(strength) < 0.45 * sample_rate
        if self.name == "resample":
            return float(strength) < sample_rate
        return True


def _butter(y, sample_rate, kind, freq, order=4):
    if kind == "bandstop":  # one third of an octave around freq
        band = [freq / 2 ** (1 / 6), freq * 2 ** (1 / 6)]
        sos = signal.butter(order, band, "bandstop", fs=sample_rate, output="sos")
    else:
        sos = signal.butter(order, freq, kind, fs=sample_rate, output="sos")
    return signal.sosfilt(sos, y).astype(np.float32)


def pink_noise(n, rng):
    """``n`` samples of pink (1/f power) noise, unit variance: white noise shaped in the frequency domain."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(len(spec), dtype=np.float64)
    f[0] = 1.0
    y = np.fft.irfft(spec / np.sqrt(f), n)
    return (y / (np.std(y) + 1e-12)).astype(np.float32)


def _noise(y, snr_db, noise):
    p = float(np.mean(y.astype(np.float64) ** 2))
    if p == 0:
        return y
    return (y + noise * np.sqrt(p / 10 ** (snr_db / 10))).astype(np.float32)


def _codec(y, sample_rate, fmt, level):
    """Encode with libsndfile's MP3 (LAME) or Vorbis writer at ``level`` (0 best .. 1 worst), decode back."""
    if fmt not in sf.available_formats():
        raise EncoderMissing(f"this libsndfile ({sf.__libsndfile_version__}) has no {fmt} encoder")
    buf = io.BytesIO()
    peak = max(1.0, float(np.max(np.abs(y))))
    kw = dict(format="MP3", subtype="MPEG_LAYER_III", bitrate_mode="CONSTANT") if fmt == "MP3" else \
        dict(format="OGG", subtype="VORBIS")
    try:
        sf.write(buf, y / peak, sample_rate, compression_level=float(level), **kw)
        buf.seek(0)
        z, _ = sf.read(buf, dtype="float32")
    except (sf.LibsndfileError, RuntimeError) as e:
        raise EncoderMissing(f"{fmt} encoding at {sample_rate} Hz failed: {e}") from None
    z = z.mean(axis=1) if z.ndim == 2 else z
    return (lengthen(z, len(y))[: len(y)] * peak).astype(np.float32)


def _stretch(y, sample_rate, rate):
    import librosa  # deferred: librosa's effects import numba-compiled code on first use

    return librosa.effects.time_stretch(y, rate=float(rate)).astype(np.float32)


def _pitch(y, sample_rate, steps):
    import librosa

    return librosa.effects.pitch_shift(y, sr=sample_rate, n_steps=float(steps), res_type="soxr_hq").astype(np.float32)


def _label(inaudible, irrelevant):
    def perceptual(s, sample_rate):
        if inaudible(s, sample_rate):
            return "inaudible"
        return "irrelevant" if irrelevant(s, sample_rate) else "audible"
    return perceptual


def _never(s, sr):
    return False


def _always(s, sr):
    return True


TRANSFORMS = {t.name: t for t in [
    Transform("gain", "dB", (-20.0, -6.0, -1.0, 1.0, 6.0, 20.0), lambda y, sr, s, rng: (y * 10 ** (s / 20)).astype(np.float32),
              _label(lambda s, sr: abs(s) <= 1.0, _always), "level change"),
    Transform("lowpass", "Hz", (8000.0, 4000.0, 2000.0), lambda y, sr, s, rng: _butter(y, sr, "lowpass", s),
              _label(lambda s, sr: s >= 8000, lambda s, sr: s >= 4000), "4th-order Butterworth low-pass (seed 004's check)"),
    Transform("highpass", "Hz", (30.0, 60.0, 120.0), lambda y, sr, s, rng: _butter(y, sr, "highpass", s),
              _label(lambda s, sr: s <= 30, lambda s, sr: s <= 120), "4th-order Butterworth high-pass"),
    Transform("bandstop", "Hz", (500.0, 1000.0, 2000.0), lambda y, sr, s, rng: _butter(y, sr, "bandstop", s),
              _label(_never, _always), "one-third-octave band-stop around the frequency"),
    Transform("white_noise", "dB SNR", (50.0, 40.0, 30.0, 20.0),
              lambda y, sr, s, rng: _noise(y, s, rng.standard_normal(len(y)).astype(np.float32)),
              _label(lambda s, sr: s >= 40, lambda s, sr: s >= 30), "added white noise"),
    Transform("pink_noise", "dB SNR", (50.0, 40.0, 30.0, 20.0), lambda y, sr, s, rng: _noise(y, s, pink_noise(len(y), rng)),
              _label(lambda s, sr: s >= 40, lambda s, sr: s >= 30), "added pink noise"),
    Transform("time_shift", "s", (0.1, 0.5, 1.0, 2.0), lambda y, sr, s, rng: y[int(round(s * sr)):],
              _label(_never, _always), "the analysis window starts later in the clip"),
    Transform("time_stretch", "rate", (0.9, 0.95, 0.98, 1.02, 1.05, 1.1), lambda y, sr, s, rng: _stretch(y, sr, s),
              _label(lambda s, sr: abs(s - 1) <= 0.02, _always), "tempo change without pitch change (phase vocoder)"),
    Transform("pitch_shift", "semitones", (-2.0, -1.0, 1.0, 2.0), lambda y, sr, s, rng: _pitch(y, sr, s),
              _label(_never, _always), "transposition without tempo change"),
    Transform("resample", "Hz", (16000.0, 8000.0, 6000.0),
              lambda y, sr, s, rng: resample(resample(y, sr, int(s)), int(s), sr)[: len(y)],
              _label(lambda s, sr: s >= 16000, lambda s, sr: s >= 8000), "resampled down to the rate and back"),
    Transform("mp3", "compression level", (0.0, 0.5, 0.9), lambda y, sr, s, rng: _codec(y, sr, "MP3", s),
              _label(_never, lambda s, sr: s <= 0.5), "MP3 (LAME via libsndfile), constant bit rate; 0 best, 1 worst"),
    Transform("vorbis", "compression level", (0.0, 0.5, 0.9), lambda y, sr, s, rng: _codec(y, sr, "OGG", s),
              _label(lambda s, sr: s <= 0.0, _always), "OGG Vorbis via libsndfile; 0 best, 1 worst"),
    Transform("dc_offset", "offset", (0.01, 0.05), lambda y, sr, s, rng: (y + s).astype(np.float32),
              _label(_always, _always), "constant added to every sample"),
    Transform("clipping", "fraction of peak", (0.95, 0.8),
              lambda y, sr, s, rng: np.clip(y, -s * np.abs(y).max(), s * np.abs(y).max()),
              _label(lambda s, sr: s >= 0.95, _always), "hard clipping at a fraction of the clip's peak"),
]}


def apply_transform(name, y, sample_rate, strength, *, seed=0):
    """One transformation of a clip.

    Parameters
    ----------
    name : str
        A key of :data:`TRANSFORMS`.
    y : np.ndarray, shape (n_samples,)
        The clip at ``sample_rate`` Hz.
    strength : float
        In the transform's unit.
    seed : int
        Seed of the noise (the same noise for every clip position and strength).

    Returns
    -------
    np.ndarray, float32, shape (n_out,)
        The transformed clip (time-stretch and time-shift change its length).
    """
    t = TRANSFORMS[name]
    rng = np.random.default_rng([int(seed), 101])
    return np.asarray(t.fn(np.asarray(y, np.float32), int(sample_rate), float(strength), rng), dtype=np.float32)


def transform_grid(names=None, sample_rate=22050):
    """``[(name, strength, perceptual label)]`` of the transformations that apply at ``sample_rate``."""
    out = []
    for name in names or TRANSFORMS:
        t = TRANSFORMS[name]
        out += [(name, float(s), t.perceptual(float(s), sample_rate)) for s in t.strengths
                if t.applicable(s, sample_rate)]
    return out


def decisions(scores, task, threshold=0.5):
    """The model's decisions: class indices (genre, shape (n,)) or tag sets (tags, bool (n, n_tags))."""
    scores = np.asarray(scores)
    return scores.argmax(axis=1) if task == "genre" else scores >= threshold


def flip_rate(before, after, task):
    """Share of decisions that changed: clips whose class changed (genre) or (clip, tag) decisions
    that changed (tags)."""
    before, after = np.asarray(before), np.asarray(after)
    if task == "genre":
        return float(np.mean(before != after)) if len(before) else float("nan")
    return float(np.mean(before != after)) if before.size else float("nan")


def task_metric(task, y_true, scores):
    """The headline metric: accuracy (genre; ``y_true`` class indices) or macro ROC-AUC (tags;
    multi-hot ``y_true``; tags with one class only are left out)."""
    y_true, scores = np.asarray(y_true), np.asarray(scores)
    if task == "genre":
        return float(np.mean(scores.argmax(axis=1) == y_true)) if len(y_true) else float("nan")
    return macro_roc_auc(y_true, scores)


def macro_roc_auc(y_true, scores):
    """Macro ROC-AUC over the tags with both classes present (Mann-Whitney U from average ranks:
    equal to scikit-learn's ``roc_auc_score`` per tag, ties counted one half); NaN if none."""
    y, s = np.asarray(y_true) > 0, np.asarray(scores, dtype=np.float64)
    n_pos = y.sum(axis=0)
    n_neg = len(y) - n_pos
    ok = (n_pos > 0) & (n_neg > 0)
    if not ok.any():
        return float("nan")
    ranks = stats.rankdata(s[:, ok], axis=0)
    u = (ranks * y[:, ok]).sum(axis=0) - n_pos[ok] * (n_pos[ok] + 1) / 2
    return float(np.mean(u / (n_pos[ok] * n_neg[ok])))


def macro_average_precision(y_true, scores):
    """Macro average precision (PR-AUC as scikit-learn's ``average_precision_score``: precision
    summed over the recall steps at each distinct score) over the tags with a positive; NaN if none."""
    y, s = np.asarray(y_true) > 0, np.asarray(scores, dtype=np.float64)
    aps = []
    for j in range(y.shape[1]):
        n_pos = int(y[:, j].sum())
        if n_pos == 0:
            continue
        order = np.argsort(-s[:, j], kind="mergesort")
        sj, yj = s[order, j], y[order, j]
        last = np.r_[np.flatnonzero(np.diff(sj)), len(sj) - 1]  # the last index of each distinct score
        tp = np.cumsum(yj)[last]
        precision = tp / (last + 1)
        recall = tp / n_pos
        aps.append(float(np.sum(np.diff(np.r_[0.0, recall]) * precision)))
    return float(np.mean(aps)) if aps else float("nan")


def _metric_fn(task, name):
    if name == "accuracy" or (name is None and task == "genre"):
        return lambda y, s: float(np.mean(s.argmax(axis=1) == y))
    if name == "normalised_accuracy":
        return lambda y, s: float(classification_metrics(y, s, [str(i) for i in range(s.shape[1])])["normalised_accuracy"])
    if name in (None, "macro_roc_auc"):
        return macro_roc_auc
    if name == "macro_pr_auc":
        return macro_average_precision
    raise ValueError(f"unknown metric {name!r}")


def bootstrap_ci(task, y_true, scores, *, metric=None, n_boot=1000, level=0.95, seed=0):
    """Percentile bootstrap interval of a metric over clips (resampled with replacement).

    Parameters
    ----------
    task : {'genre', 'tags'}
    y_true : np.ndarray
        Class indices (n,) or multi-hot (n, n_tags).
    scores : np.ndarray, shape (n, n_outputs)
    metric : {'accuracy', 'normalised_accuracy', 'macro_roc_auc', 'macro_pr_auc'} or None
        Default: accuracy (genre), macro ROC-AUC (tags).
    n_boot : int
    level : float

    Returns
    -------
    dict
        ``value`` (on all clips), ``low``, ``high``, ``n_boot``.
    """
    y_true, scores = np.asarray(y_true), np.asarray(scores)
    fn = _metric_fn(task, metric)
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(int(n_boot)):
        idx = rng.integers(0, len(y_true), len(y_true))
        v = fn(y_true[idx], scores[idx])
        if np.isfinite(v):
            vals.append(v)
    a = (1 - level) / 2
    lo, hi = (np.quantile(vals, [a, 1 - a]) if vals else (np.nan, np.nan))
    return {"value": fn(y_true, scores), "low": float(lo), "high": float(hi), "n_boot": int(n_boot)}


def mcnemar(correct_a, correct_b):
    """McNemar's exact test on paired single-label decisions.

    Parameters
    ----------
    correct_a, correct_b : array of bool, shape (n,)
        Whether each model classified each clip correctly.

    Returns
    -------
    dict
        ``b`` (A right, B wrong), ``c`` (A wrong, B right), ``p`` (two-sided exact binomial p-value).
    """
    a, b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    n01, n10 = int(np.sum(a & ~b)), int(np.sum(~a & b))
    p = 1.0 if n01 + n10 == 0 else float(stats.binomtest(n01, n01 + n10, 0.5).pvalue)
    return {"b": n01, "c": n10, "p": p}


def paired_bootstrap(task, y_true, scores_a, scores_b, *, metric=None, n_boot=1000, level=0.95, seed=0):
    """Paired bootstrap of ``metric(A) − metric(B)`` over the same clips.

    Returns
    -------
    dict
        ``difference``, ``low``, ``high``, ``p`` (two-sided: twice the share of resamples on the
        other side of zero).
    """
    y_true, sa, sb = np.asarray(y_true), np.asarray(scores_a), np.asarray(scores_b)
    fn = _metric_fn(task, metric)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(int(n_boot)):
        idx = rng.integers(0, len(y_true), len(y_true))
        d = fn(y_true[idx], sa[idx]) - fn(y_true[idx], sb[idx])
        if np.isfinite(d):
            diffs.append(d)
    diffs = np.asarray(diffs)
    a = (1 - level) / 2
    d0 = fn(y_true, sa) - fn(y_true, sb)
    p = float(min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))) if len(diffs) else float("nan")
    lo, hi = (np.quantile(diffs, [a, 1 - a]) if len(diffs) else (np.nan, np.nan))
    return {"difference": float(d0), "low": float(lo), "high": float(hi), "p": p}


def flag(value, warn, fail, *, higher_is_worse=True):
    """``'pass'``, ``'warn'`` or ``'fail'`` of a figure under two thresholds."""
    if value is None or not np.isfinite(value):
        return "not run"
    if not higher_is_worse:
        value, warn, fail = -value, -warn, -fail
    return "fail" if value > fail else ("warn" if value > warn else "pass")
