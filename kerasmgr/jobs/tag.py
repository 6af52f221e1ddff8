"""Tagging job: tag audio files with a saved or released model (``bin/tag.py``).

Files are decoded at the model's rate (any rate and channel count in). A file longer than the
model input is cut into windows (``window`` seconds, hopped by ``hop``; default: the model input,
no overlap) whose tag probabilities are averaged; a shorter file is zero-padded at the end
(``short='pad'``, as Choi's ``audio_processor``) or repeated to length (``short='repeat'``, as the
thesis' transfer features). Unreadable files are reported, never fatal.
"""

from __future__ import annotations

import csv
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ..data.audio import AudioError, load_audio
from ..data.windows import clip_windows
from ..inference import batch_predictor, inference_batch_size
from ..parts import PartError, finish_part, load_parts, output_stem, start_part
from .records import read_csv_rows

__all__ = ["tag_labels", "segments", "tag_file", "tag_files", "write_csv", "format_result", "CHUNK_FILES_PER_WORKER",
           "GROUP_FILES", "tag_part", "merge_tags"]

#: Files decoded per decoding thread before the network runs on them. Decoding and the forward
#: pass take turns on all cores instead of overlapping: on 2 cores, TensorFlow's intra-op threads
#: and the decoding threads slowed each other down (k2c2's forward pass 7 → 15 ms per clip while
#: files were decoded beside it, 61 clips/s in all); taking turns gives the sum of the two alone
#: (~6 ms decode + ~7 ms network per 30-s file, ~80 clips/s). 4 per thread keeps the decoded
#: audio in memory small (8 files on 2 cores: ~11 MB of 30-s clips at 12 kHz).
CHUNK_FILES_PER_WORKER = 4

#: Files whose segments share forward passes: the list is cut into groups of ``GROUP_FILES`` at
#: multiples of it (whatever the number of cores), and a file's scores depend only on its group.
#: Job-array parts (:func:`tag_part`) and resumed parts start at group boundaries, so that their
#: merge is byte-identical to a single run. (Most models give the same scores in any batch — see
#: :class:`kerasmgr.inference.BatchPredictor` — but recurrent and 1-D front-ends such as CRNN,
#: k2c1 and musicnn move by ~1e-7 with the batch shape.)
GROUP_FILES = 8


def tag_labels(model, meta):
    """The model's tag names: its sidecar's ``labels``, else ``output_0``, ``output_1``, ..."""
    return meta.get("labels") or [f"output_{i}" for i in range(model.output_shape[-1])]


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

    Files are decoded and resampled by ``workers`` threads (default: the CPU count), about
    :data:`CHUNK_FILES_PER_WORKER` × ``workers`` files at a time (whole groups of
    :data:`GROUP_FILES`), then the network, whose forward pass is compiled once for
    ``batch_size`` segments, runs on them; segments of the files of one group share batches.
    Results equal :func:`tag_file`'s (same windows, same mean) to float rounding. Failures are
    recorded, not raised.

    Returns
    -------
    list of dict
        Per file, in input order: ``path``, ``status`` ('ok' or 'error'), ``error`` (reason),
        ``scores`` (array or ``None``), ``top`` [(label, score), ...] (``top_n`` best).
    """
    labels = tag_labels(model, meta)
    sr, n = int(meta["sample_rate"]), int(meta["n_samples"])
    files = [str(f) for f in files]
    batch_size = batch_size or inference_batch_size(n, sr)
    predict = batch_predictor(model, batch_size)
    out = [None] * len(files)
    pending = []  # (index, segments) of the decoded chunk

    def decode(f):
        try:
            return segments(load_audio(f, sr, allow_silent=False), sr, n, window, hop, short), None
        except AudioError as e:
            return None, e.reason

    def flush():
        nonlocal pending
        if not pending:
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
    chunk = GROUP_FILES * -(-CHUNK_FILES_PER_WORKER * workers // GROUP_FILES)  # whole groups
    with ThreadPoolExecutor(workers) as pool, tqdm(total=len(files), desc="tagging", unit="file",
                                                   disable=not progress) as bar:
        for start in range(0, len(files), chunk):
            # decode a chunk on every core, then run the network on every core: alternating is
            # faster than overlapping the two (see CHUNK_FILES_PER_WORKER)
            decoded = list(pool.map(decode, files[start:start + chunk]))  # the whole chunk first
            for i, (segs, err) in enumerate(decoded, start):
                if segs is None:
                    out[i] = {"path": files[i], "status": "error", "error": err, "scores": None, "top": []}
                else:
                    pending.append((i, segs))
                if (i + 1) % GROUP_FILES == 0:
                    flush()  # the group's segments in batches of batch_size
            flush()
            bar.update(len(decoded))
    return out


def format_result(r):
    """musicnn-style text: the file, then one ``- tag score`` line per top tag."""
    if r["status"] != "ok":
        return f"{r['path']}\n  ! {r['error']}"
    return "\n".join([r["path"]] + [f"  - {t}: {s:.3f}" for t, s in r["top"]])


def _row(r):
    scores = [] if r["scores"] is None else [f"{s:.6f}" for s in r["scores"]]
    return [r["path"], r["status"], r["error"], *scores]


def write_csv(results, labels, path):
    """One row per file: path, status, error, then every label's score."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "status", "error", *labels])
        w.writerows(_row(r) for r in results)


def tag_part(model, meta, files, out, part, *, settings, block=256, overwrite=False, progress=True, **kwargs):
    """Part ``K`` of ``N`` of tagging ``files`` into the CSV ``out`` (a job-array task), resumable.

    Tags the ``K``-th contiguous block of ``files`` (:func:`kerasmgr.parts.part_bounds` on the
    grid of :data:`GROUP_FILES`) into ``OUT.part-K-of-N.csv`` (the rows :func:`write_csv` writes,
    appended ``block`` files at a time) with ``OUT.part-K-of-N.part.json``. Re-running a killed
    part keeps the whole groups already written (a torn last line and a group cut short are
    tagged again) and continues.

    Parameters
    ----------
    model, meta
        As :func:`tag_files`.
    files : list of str
        The whole input list, the same (in the same order) for every part.
    out : str or Path
        The single run's CSV.
    part : (int, int)
    settings : dict
        What must be equal across parts (weights, window, hop, short, batch size).
    block : int
        Files per append (rounded up to whole groups).
    overwrite : bool
    **kwargs
        :func:`tag_files` options (``window``, ``hop``, ``short``, ``batch_size``, ``workers``).

    Returns
    -------
    dict
        ``n`` (files in this part), ``n_failed``, ``csv``, ``part_json``.
    """
    files = [str(f) for f in files]
    labels = tag_labels(model, meta)
    stem, pmeta = start_part(output_stem(out, ".csv"), files, *part, settings, grid=GROUP_FILES, overwrite=overwrite)
    mine = files[pmeta["start"]:pmeta["stop"]]
    block = GROUP_FILES * max(1, -(-int(block) // GROUP_FILES))  # whole groups
    path = Path(f"{stem}.csv")
    header = ["path", "status", "error", *labels]
    rows = []
    if path.is_file() and not overwrite:
        found, _ = read_csv_rows(path)  # without a line cut by a kill
        if found and found[0] != header:
            raise PartError(f"{path}: written for other labels; pass --overwrite")
        for i, r in enumerate(found[1:]):  # keep whole rows of the right files
            if i >= len(mine) or r[:1] != [mine[i]] or len(r) not in (3, len(header)):
                break
            rows.append(r)
    if len(rows) < len(mine):
        del rows[len(rows) - len(rows) % GROUP_FILES:]  # a group cut short is tagged again whole
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    failed = sum(r[1] != "ok" for r in rows)
    with tqdm(total=len(mine), initial=len(rows), desc=f"tagging part {part[0]}/{part[1]}", unit="file",
              disable=not progress) as bar:
        for start in range(len(rows), len(mine), block):
            results = tag_files(model, meta, mine[start:start + block], progress=False, **kwargs)
            with open(path, "a", newline="") as f:
                csv.writer(f).writerows(_row(r) for r in results)
            failed += sum(r["status"] != "ok" for r in results)
            bar.update(len(results))
    finish_part(stem, pmeta)
    return {"n": len(mine), "n_failed": failed, "csv": str(path), "part_json": f"{stem}.part.json"}


def merge_tags(out):
    """Merge the parts of a tagging run into the single run's CSV (byte-identical to it).

    Raises
    ------
    PartError
        Missing, overlapping, unfinished or mismatched parts (named).

    Returns
    -------
    dict
        ``n`` files, ``n_parts``, ``csv``, ``failed`` [(path, reason)]: the files no part could read.
    """
    stem = output_stem(out, ".csv")
    ordered = load_parts(stem)
    path = Path(f"{stem}.csv")
    failed = []
    with open(path, "w", newline="") as f:
        for i, m in enumerate(ordered):
            with open(f"{m['stem']}.csv", newline="") as g:
                lines = g.read().splitlines(keepends=True)
            if len(lines) - 1 != m["stop"] - m["start"]:
                raise PartError(f"{m['stem']}.csv: {len(lines) - 1} rows, part {m['part']}/{m['n_parts']} should have "
                                f"{m['stop'] - m['start']}; re-run it")
            f.writelines(lines if i == 0 else lines[1:])
            failed += [(r[0], r[2]) for r in csv.reader(lines[1:]) if r[1] != "ok"]
    return {"n": ordered[0]["n_items"], "n_parts": ordered[0]["n_parts"], "csv": str(path), "failed": failed}
