"""Tag audio files with a released model (``bin/tag.py``).

Files are decoded at the model's rate (any rate and channel count in). A file longer than the
model input is cut into windows (``window`` seconds, hopped by ``hop``; default: the model input,
no overlap) whose tag probabilities are averaged; a shorter file is zero-padded at the end
(``short='pad'``, as Choi's ``audio_processor``) or repeated to length (``short='repeat'``, as the
thesis' transfer features). Unreadable files are reported, never fatal.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .data.audio import AudioError, fix_length, load_audio, windows  # noqa: F401 (AudioError: docs)

__all__ = ["tag_file", "tag_files", "write_csv", "format_result"]


def _fit(y, n, short):
    if len(y) >= n:
        return y
    if short == "repeat":
        return np.tile(y, -(-n // len(y)))[:n]
    return fix_length(y, n, mode="start")


def tag_file(model, meta, path, *, window=None, hop=None, short="pad", batch_size=8):
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
    w = n if window is None else int(round(window * sr))
    h = w if hop is None else int(round(hop * sr))
    if w <= 0 or h <= 0:
        raise ValueError("window and hop must be positive")
    segs = windows(_fit(y, w, short), w, hop=h)
    if w != n:
        segs = np.stack([_fit(fix_length(s, n, mode="start") if len(s) > n else s, n, short) for s in segs])
    return model.predict(segs.astype(np.float32), batch_size=batch_size, verbose=0).mean(axis=0)


def tag_files(model, meta, files, *, top_n=5, progress=True, **kwargs):
    """:func:`tag_file` over many files; failures are recorded, not raised.

    Returns
    -------
    list of dict
        Per file: ``path``, ``status`` ('ok' or 'error'), ``error`` (reason), ``scores``
        (array or ``None``), ``top`` [(label, score), ...] (``top_n`` best).
    """
    from tqdm.auto import tqdm

    labels = meta.get("labels") or [f"output_{i}" for i in range(model.output_shape[-1])]
    out = []
    for f in tqdm(list(files), desc="tagging", unit="file", disable=not progress):
        try:
            scores = tag_file(model, meta, f, **kwargs)
        except AudioError as e:
            out.append({"path": str(f), "status": "error", "error": e.reason, "scores": None, "top": []})
            continue
        order = np.argsort(-scores)[:top_n]
        out.append({"path": str(f), "status": "ok", "error": "", "scores": scores,
                    "top": [(labels[i], float(scores[i])) for i in order]})
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
