"""Model-sized windows of a clip: the one place that decides how a clip meets a fixed-length model.

Every job that feeds whole clips to a waveform model (evaluation, tagging, feature extraction,
activations, adversaries, auralisation) cuts them here, with named rules:

Short clips (shorter than one window), :data:`SHORT_RULES`:

- ``'pad'`` — zero-padded at the end (Choi's ``audio_processor.py``);
- ``'repeat'`` — tiled until one window is filled (no silence for the model to react to);
- ``'error'`` — refused (``ValueError``).

Long clips, :data:`LONG_RULES`:

- ``'all'`` — consecutive windows (``hop`` apart, default no overlap), the block centred on the
  clip so the same number of samples is dropped at both ends;
- ``'start'`` — the first window only;
- ``'centre'`` — the centre window only.

Training draws random windows instead (:mod:`kerasmgr.data.pipeline`), and seed 001's fixed
test segments are :func:`fixed_windows`.
"""

from __future__ import annotations

import numpy as np

from .audio import fix_length

__all__ = ["SHORT_RULES", "LONG_RULES", "lengthen", "clip_windows", "first_window", "fixed_windows",
           "segment_offset"]

SHORT_RULES = ("pad", "repeat", "error")
LONG_RULES = ("all", "start", "centre")


def _check(short, long):
    if short not in SHORT_RULES:
        raise ValueError(f"short must be one of {SHORT_RULES}, got {short!r}")
    if long not in LONG_RULES:
        raise ValueError(f"long must be one of {LONG_RULES}, got {long!r}")


def lengthen(y, n_samples, *, short="pad"):
    """A clip brought to at least ``n_samples`` by the short-clip rule (longer clips unchanged).

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    n_samples : int
    short : {'pad', 'repeat', 'error'}

    Returns
    -------
    np.ndarray, shape (max(n, n_samples),)
    """
    _check(short, "all")
    n = len(y)
    if n >= n_samples:
        return y
    if n == 0:
        raise ValueError("empty signal")
    if short == "error":
        raise ValueError(f"clip of {n} samples is shorter than one window ({n_samples} samples)")
    if short == "repeat":
        return np.tile(y, -(-n_samples // n))[:n_samples]
    return fix_length(y, n_samples, mode="start")


def clip_windows(y, n_samples, *, hop=None, short="pad", long="all", max_windows=None):
    """Model-sized windows covering a clip.

    Parameters
    ----------
    y : array-like, shape (n,)
        The clip (samples at the model's rate).
    n_samples : int
        Window length in samples (the model's input length).
    hop : int or None
        Hop between windows in samples, for ``long='all'`` (default ``n_samples``: no overlap).
    short : {'pad', 'repeat', 'error'}
        The short-clip rule.
    long : {'all', 'start', 'centre'}
        The long-clip rule.
    max_windows : int or None
        Keep at most this many evenly spaced windows (first and last included).

    Returns
    -------
    np.ndarray, float32, shape (n_windows, n_samples)
    """
    _check(short, long)
    n_samples = int(n_samples)
    y = lengthen(np.asarray(y, dtype=np.float32).reshape(-1), n_samples, short=short)
    n = len(y)
    if long == "start" or n == n_samples:
        w = y[None, :n_samples]
    elif long == "centre":
        start = (n - n_samples) // 2
        w = y[None, start : start + n_samples]
    else:
        hop = n_samples if hop is None else int(hop)
        if hop <= 0:
            raise ValueError(f"hop must be positive, got {hop}")
        k = (n - n_samples) // hop + 1
        start = (n - ((k - 1) * hop + n_samples)) // 2
        w = y[start + np.arange(k)[:, None] * hop + np.arange(n_samples)[None, :]]
    if max_windows is not None and len(w) > max_windows:
        w = w[np.linspace(0, len(w) - 1, max_windows).round().astype(int)]
    return w


def first_window(y, n_samples):
    """The first model-sized window of a clip, zero-padded at the end if short: shape (n_samples,)."""
    return clip_windows(y, n_samples, short="pad", long="start")[0]


def segment_offset(seed, clip, segment, stream=0):
    """Offset fraction (0..1) of a fixed segment: keyed by ``(seed, stream, clip, segment)`` only.

    ``stream`` separates independent draws (0: training clips, 1: test clips).
    """
    return float(np.random.default_rng([int(seed), 7919, int(stream), int(clip), int(segment)]).random())


def fixed_windows(clip, n_samples, n_segments, *, seed=0, clip_index=0, stream=1):
    """``n_segments`` windows of ``n_samples`` at fixed random offsets of a clip (drawn once, seeded).

    A clip shorter than one window gives zero-padded windows (the ``'pad'`` rule).

    Returns
    -------
    np.ndarray, shape (n_segments, n_samples), float32
    """
    y = np.asarray(clip, dtype=np.float32)
    slack = max(len(y) - n_samples, 0)
    out = []
    for j in range(int(n_segments)):
        off = min(int(segment_offset(seed, clip_index, j, stream) * (slack + 1)), slack) if slack else 0
        w = y[off : off + n_samples]
        out.append(fix_length(w, n_samples, mode="start") if len(w) < n_samples else w)
    return np.stack(out).astype(np.float32, copy=False)
