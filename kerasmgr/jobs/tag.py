"""Tagging job: tag audio files with a saved or released model (``bin/tag.py``).

Files are decoded at the model's rate (any rate and channel count in). A file longer than the
model input is cut into windows (``window`` seconds, hopped by ``hop``; default: the model input,
no overlap) whose tag probabilities are averaged; a shorter file is zero-padded at the end
(``short='pad'``, as Choi's ``audio_processor``) or repeated to length (``short='repeat'``, as the
thesis' transfer features). Unreadable files are reported, never fatal.
"""

from __future__ import annotations

import collections
import csv
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..data.audio import AudioError, load_audio
from ..data.windows import clip_windows
from ..inference import batch_predictor, inference_batch_size

__all__ = ["segments", "tag_file", "tag_files", "write_csv", "format_result"]


def segments(y, sample_rate, n_samples, window=None, hop=None, short="pad"):
    """Model-sized segments of one decoded file.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        The waveform at ``sample_rate`` Hz.
    sample_rate : int
    n_samples : int
        The model's input length.
    window, hop : float or None
        Window and hop in seconds (default: the model input, no overlap). Windows are resized to
        the model input (the first ``n_samples``, or brought to length by ``short``).
    short : {'pad', 'repeat'}
        The short-clip rule (:mod:`kerasmgr.data.windows`).

    Returns
    -------
    np.ndarray, float32, shape (n_segments, n_samples)
    """
    w = n_samples if window is None else int(round(window * sample_rate))
    h = w if hop is None else int(round(hop * sample_rate))
    if w <= 0 or h <= 0:
        raise ValueError("window and hop must be positive")
    segs = clip_windows(y, w, hop=h, short=short)
    if w != n_samples:
        segs = np.stack([clip_windows(s, n_samples, short=short, long="start")[0] for s in segs])
    return segs


def tag_file(model, meta, path, *, window=None, hop=None, short="pad", batch_size=None):
    """Tag probabilities of one file.

    Parameters
    ----------
    model : keras.Model
        Waveform model ``(batch, n_samples)``.
    meta : dict
        Its sidecar (``sample_rate``, ``n_samples``, ``labels``).
    path : str or Path
    window, hop : float or None
        Window and hop in seconds (default: the model input length, no overlap). Windows are
        resized to the model input (cropped/padded) when they differ from it.
    short : {'pad', 'repeat'}
        How a file shorter than a window is brought to length.

    Returns
    -------
    np.ndarray, shape (n_labels,)
        Mean probabilities over the windows.

    Raises
    ------
    AudioError
        The file cannot be used (the message names it and the reason).
    """
    sr, n = int(meta["sample_rate"]), int(meta["n_samples"])
    y = load_audio(path, sr, allow_silent=False)
    segs = segments(y, sr, n, window, hop, short)
    return model.predict(segs, batch_size=batch_size or inference_batch_size(n, sr), verbose=0).mean(axis=0)


def tag_files(model, meta, files, *, top_n=5, progress=True, window=None, hop=None, short="pad",
              batch_size=None, workers=None):
    """:func:`tag_file` over many files, fast: decoding in parallel, segments of several files per batch.

    Files are decoded and resampled by ``workers`` threads (default: the CPU count) ahead of the
    network, whose forward pass is compiled once for ``batch_size`` segments; segments of
    consecutive files share batches. Results equal :func:`tag_file`'s (same windows, same mean).
    Failures are recorded, not raised.

    Returns
    -------
    list of dict
        Per file, in input order: ``path``, ``status`` ('ok' or 'error'), ``error`` (reason),
        ``scores`` (array or ``None``), ``top`` [(label, score), ...] (``top_n`` best).
    """
    labels = meta.get("labels") or [f"output_{i}" for i in range(model.output_shape[-1])]
    sr, n = int(meta["sample_rate"]), int(meta["n_samples"])
    files = [str(f) for f in files]
    batch_size = batch_size or inference_batch_size(n, sr)
    predict = batch_predictor(model, batch_size)
    out = [None] * len(files)
    pending = []  # (index, n_segments, segments) waiting for a full batch

    def decode(f):
        try:
            return segments(load_audio(f, sr, allow_silent=False), sr, n, window, hop, short), None
        except AudioError as e:
            return None, e.reason

    def flush(final=False):
        nonlocal pending
        total = sum(len(s) for _, s in pending)
        if not pending or (total < batch_size and not final):
            return
        scores = predict(np.concatenate([s for _, s in pending]))
        pos = 0
        for i, s in pending:
            sc = scores[pos:pos + len(s)].mean(axis=0)
            pos += len(s)
            order = np.argsort(-sc)[:top_n]
            out[i] = {"path": files[i], "status": "ok", "error": "", "scores": sc,
                      "top": [(labels[j], float(sc[j])) for j in order]}
        pending = []

    workers = workers or os.cpu_count() or 1
    with ThreadPoolExecutor(workers) as pool, tqdm(total=len(files), desc="tagging", unit="file",
                                                   disable=not progress) as bar:
        ahead = collections.deque()  # at most 2 × workers files decoded ahead: memory stays flat
        for i in range(len(files)):
            while len(ahead) < 2 * workers and i + len(ahead) < len(files):
                ahead.append(pool.submit(decode, files[i + len(ahead)]))
            segs, err = ahead.popleft().result()
            if segs is None:
                out[i] = {"path": files[i], "status": "error", "error": err, "scores": None, "top": []}
            else:
                pending.append((i, segs))
                flush()
            bar.update(1)
        flush(final=True)
    return out


def format_result(r):
    """musicnn-style text: the file, then one ``- tag score`` line per top tag."""
    if r["status"] != "ok":
        return f"{r['path']}\n  ! {r['error']}"
    return "\n".join([r["path"]] + [f"  - {t}: {s:.3f}" for t, s in r["top"]])


def write_csv(results, labels, path):
    """One row per file: path, status, error, then every label's score."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "status", "error", *labels])
        for r in results:
            scores = [] if r["scores"] is None else [f"{s:.6f}" for s in r["scores"]]
            w.writerow([r["path"], r["status"], r["error"], *scores])
